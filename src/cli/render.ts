/** How a plan and an apply look to a person (text, colour on a TTY) and to a program (`--json`). */
import { styleText } from 'node:util';
import type { PrincipalChange, RolePlan } from '../domain/plan.js';
import { conditionText, EXPIRY_WARNING_DAYS, standing } from '../domain/findings.js';
import { splitRoleKey } from '../domain/role-key.js';
import { samePolicy } from '../domain/policy.js';
import { policyDigest } from '../domain/saved-plan.js';
import type { ApplyResult, Plan } from '../app/reconcile.js';
import type { ConnectionsAnswer, DeploymentExplanation } from '../app/explain.js';

type Style = Parameters<typeof styleText>[0];
export type Paint = (style: Style, text: string) => string;
export const plain: Paint = (_s, t) => t;
// The caller decides (TTY, NO_COLOR); styleText must not second-guess it from process.stdout.
export const coloured: Paint = (s, t) => styleText(s, t, { validateStream: false });

function deployments(ids: string[]): string {
  if (ids.length === 0) return '';
  return ids.length === 1 ? `  (Deployment ${ids[0]})` : `  (Deployments ${ids.join(', ')})`;
}

function sizeLine(r: RolePlan): string {
  const { currentChars, proposedChars, limit } = r.policy;
  const pct = Math.round((proposedChars / limit) * 100);
  const from = currentChars !== undefined && currentChars !== proposedChars ? `${currentChars} -> ` : '';
  return `trust policy ${from}${proposedChars} of ${limit} characters (${pct}%)`;
}

/** The readable per-role diff. */
export function renderRole(r: RolePlan, paint: Paint): string {
  const lines: string[] = [];
  const head = `${r.role} (${r.trust}, ${r.mode})`;
  const note =
    r.mode === 'observe' && r.status === 'changes' ? paint('yellow', '  observe: reported, never written') : '';
  switch (r.status) {
    case 'missing':
      lines.push(
        `${paint('red', '?')} ${paint('bold', head)}: ${paint('red', 'the role does not exist in IAM')} (create it, or remove it from the config)`,
      );
      return lines.join('\n');
    case 'unreachable':
      lines.push(
        `${paint('red', '!')} ${paint('bold', head)}: ${paint('red', 'not read')}: ${r.error?.message ?? 'its account could not be read'}`,
      );
      return lines.join('\n');
    case 'in-sync':
      lines.push(
        `${paint('green', '=')} ${paint('bold', head)}: in sync, ${r.declared.length} Deployment${r.declared.length === 1 ? '' : 's'}, ${sizeLine(r)}`,
      );
      break;
    case 'changes':
      lines.push(`${paint('yellow', '~')} ${paint('bold', head)}${note}`);
      break;
    case 'blocked':
      lines.push(`${paint('red', 'x')} ${paint('bold', head)}: ${paint('red', 'blocked')}`);
      break;
    case 'denied':
      lines.push(
        `${paint('red', '!')} ${paint('bold', head)}: ${paint('red', 'declared trust denied')} (a statement astro-trust does not own keeps a declared Deployment out; apply cannot fix it)`,
      );
      break;
  }
  if (r.status !== 'in-sync' && r.status !== 'denied') {
    let issuer: string | undefined;
    const under = (c: PrincipalChange) => {
      if (c.issuer && c.issuer !== issuer) lines.push(paint('dim', `    OIDC issuer ${c.issuer}:`));
      issuer = c.issuer;
      return c.issuer ? '  ' : '';
    };
    for (const c of r.add)
      lines.push(paint('green', `    ${under(c)}+ ${c.principal}`) + paint('dim', deployments(c.deploymentIds)));
    issuer = undefined;
    for (const c of r.remove)
      lines.push(paint('red', `    ${under(c)}- ${c.principal}`) + paint('dim', `  (${c.reason})`));
    if (r.rewritesOwned)
      lines.push(paint('yellow', '    ~ owned statements were edited by hand; rewritten to the declared form'));
    for (const i of r.missingOidcProviders)
      lines.push(
        paint('yellow', `    ~ IAM OIDC provider for ${i} is missing (trust through it is broken); apply creates it`),
      );
    lines.push(paint('dim', `    ${sizeLine(r)}`));
  }
  if (r.guard) lines.push(paint('red', `    ${r.guard.kind}: ${r.guard.message}`));
  else if (r.notFitting.length > 0) {
    lines.push(
      paint(
        'yellow',
        `    ${r.notFitting.length} declared Deployment${r.notFitting.length === 1 ? '' : 's'} left out for lack of room (added oldest first as room frees up; raise maxPolicyChars with the quota):`,
      ),
    );
    for (const d of r.notFitting.slice(0, 20)) lines.push(paint('yellow', `      ${d.name} (${d.id})`));
    if (r.notFitting.length > 20) lines.push(paint('yellow', `      ... and ${r.notFitting.length - 20} more`));
  }
  for (const f of r.findings) {
    const where =
      f.kind === 'shared-identity' || f.kind === 'declared-trust-denied'
        ? ''
        : f.sid
          ? ` in statement ${JSON.stringify(f.sid)}`
          : f.statement !== undefined
            ? ` in Statement[${f.statement}] (no Sid)`
            : '';
    const suffix =
      f.kind === 'shared-identity'
        ? ''
        : f.kind === 'declared-trust-denied'
          ? ' (fix or remove that statement by hand: astro-trust never edits it)'
          : ' (not owned by astro-trust: alert only)';
    const text = `${f.kind}: ${f.principal}${where}: ${f.detail}${suffix}`;
    // The id is what findings.acknowledge names; the condition is part of what it fingerprints.
    const idLine = paint('dim', `      id ${f.id}${f.condition ? `, condition ${conditionText(f.condition)}` : ''}`);
    const ack = f.acknowledgement;
    if (!ack) {
      lines.push(paint('magenta', `    ! ${text}`), idLine);
      continue;
    }
    lines.push(paint('dim', `    ✓ acknowledged until ${ack.expires} (${ack.reason}): ${text}`), idLine);
    if (ack.daysLeft <= EXPIRY_WARNING_DAYS)
      lines.push(
        paint(
          'yellow',
          `      the acknowledgement expires in ${ack.daysLeft} day${ack.daysLeft === 1 ? '' : 's'}: renew it in findings.acknowledge, or fix the finding`,
        ),
      );
  }
  for (const s of r.skipped)
    lines.push(
      paint('yellow', `    ? Deployment ${s.name} (${s.deploymentId}) is declared but not trusted: ${s.reason}`),
    );
  return lines.join('\n');
}

export interface PlanSummary {
  toChange: number;
  inSync: number;
  blocked: number;
  missing: number;
  unreachable: number;
  /** Roles with nothing to write whose policy keeps a declared identity out (status `denied`). */
  denied: number;
  observeOnly: number;
  add: number;
  remove: number;
  /** Findings that need a person (not acknowledged). */
  unexpected: number;
  acknowledged: number;
  notFitting: number;
}

export function summarize(plan: Plan): PlanSummary {
  const s: PlanSummary = {
    toChange: 0,
    inSync: 0,
    blocked: 0,
    missing: 0,
    unreachable: 0,
    denied: 0,
    observeOnly: 0,
    add: 0,
    remove: 0,
    unexpected: 0,
    acknowledged: 0,
    notFitting: 0,
  };
  for (const r of plan.roles) {
    if (r.status === 'in-sync') s.inSync++;
    else if (r.status === 'blocked') s.blocked++;
    else if (r.status === 'missing') s.missing++;
    else if (r.status === 'unreachable') s.unreachable++;
    else if (r.status === 'denied') s.denied++;
    else if (r.mode === 'observe') s.observeOnly++;
    else s.toChange++;
    // Counted for what apply would write: enforce roles with changes.
    if (r.status === 'changes' && r.mode === 'enforce') {
      s.add += r.add.length;
      s.remove += r.remove.length;
    }
    s.unexpected += standing(r.findings).length;
    s.acknowledged += r.findings.length - standing(r.findings).length;
    s.notFitting += r.notFitting.length;
  }
  return s;
}

/**
 * `plan --detailed-exitcode` (DESIGN 3.2): 2 when apply would write (an enforce role changes, or an OIDC
 * provider is missing); else 3 when apply has nothing to do but a person must act (an observe role differs,
 * a guard stopped a role, Deployments do not fit, a declared identity is denied, an unacknowledged finding); else 0.
 */
export function detailedExitCode(plan: Plan): 0 | 2 | 3 {
  const s = summarize(plan);
  if (s.toChange > 0) return 2;
  return s.observeOnly + s.blocked + s.denied + s.unexpected + s.notFitting > 0 ? 3 : 0;
}

export function renderPlan(plan: Plan, paint: Paint): string {
  const out: string[] = [];
  const inv = plan.inventory;
  out.push(paint('dim', `organization ${plan.organizationId} · ${inv.source}: ${inv.deployments} Deployments`));
  for (const w of inv.warnings) out.push(paint('yellow', `inventory: Deployment ${w.deploymentId} ${w.message}`));
  out.push('');
  for (const r of plan.roles) out.push(renderRole(r, paint));
  out.push('');
  const s = summarize(plan);
  const parts = [
    `${s.toChange} to change (+${s.add} -${s.remove} principals)`,
    `${s.inSync} in sync`,
    s.observeOnly ? `${s.observeOnly} observe-only with changes` : '',
    s.blocked ? paint('red', `${s.blocked} blocked by a guard`) : '',
    s.missing ? paint('red', `${s.missing} missing in IAM`) : '',
    s.unreachable ? paint('red', `${s.unreachable} not read (account unreachable)`) : '',
    s.denied ? paint('red', `${s.denied} denying a declared Deployment`) : '',
    s.unexpected ? paint('magenta', `${s.unexpected} finding${s.unexpected === 1 ? '' : 's'} to look at`) : '',
    s.acknowledged ? `${s.acknowledged} acknowledged` : '',
  ].filter(Boolean);
  out.push(`${paint('bold', 'Plan:')} ${parts.join(', ')}.`);
  return out.join('\n');
}

export function renderApply(result: ApplyResult, paint: Paint): string {
  const out: string[] = [];
  for (const p of result.createdOidcProviders)
    out.push(paint('green', `created IAM OIDC provider https://${p} (audience sts.amazonaws.com)`));
  for (const o of result.outcomes) {
    if (o.result === 'written') out.push(paint('green', `wrote   ${o.role}`));
    else if (o.result === 'observed') out.push(paint('yellow', `skipped ${o.role}: observe mode, not written`));
    else if (o.result === 'blocked') out.push(paint('red', `blocked ${o.role}: ${o.message}`));
    else if (o.result === 'failed') out.push(paint('red', `failed  ${o.role}: ${o.message}`));
    else if (o.result === 'held') out.push(paint('yellow', `held    ${o.role}: ${o.message}`));
    else if (o.result === 'refused') out.push(paint('red', `refused ${o.role}: ${o.message}`));
  }
  const count = (k: string) => result.outcomes.filter((o) => o.result === k).length;
  if (result.notFitting > 0)
    out.push(
      paint(
        'yellow',
        `${result.notFitting} declared Deployment${result.notFitting === 1 ? ' was' : 's were'} left out for lack of room (see the plan above).`,
      ),
    );
  out.push(
    `${paint('bold', 'Apply:')} ${count('written')} written, ${count('unchanged')} unchanged, ${count('observed')} observe-only, ` +
      `${count('blocked')} blocked, ${count('failed')} failed${count('refused') ? `, ${count('refused')} refused (changed since the plan)` : ''}.` +
      `${result.converged ? '' : paint('red', ' Not converged.')}`,
  );
  return out.join('\n');
}

/** What makes a plan document a saved plan (DESIGN 7.3): who made it, when, from which config. */
export interface PlanMeta {
  toolVersion: string;
  createdAt: string;
  config: { file: string; digest: string };
}

/**
 * The `--json` document (schema/astro-trust-plan.schema.json): per role its status, principals to add and
 * remove, findings, size and limit, and the whole trust policy before and after; with `meta` it is also
 * what `plan -out` saves.
 */
export function planJson(plan: Plan, meta?: PlanMeta) {
  return {
    formatVersion: 1,
    ...meta,
    organizationId: plan.organizationId,
    inventory: plan.inventory,
    summary: summarize(plan),
    roles: plan.roles.map(rolePlanJson),
  };
}

/** One role of the `--json` document. */
export function rolePlanJson(r: RolePlan) {
  return {
    role: r.role,
    // The role's account: from its ARN when it was read, else as the config names it (null: the home account, not read).
    account: r.arn?.split(':')[4] ?? r.account ?? null,
    roleName: splitRoleKey(r.role).name,
    arn: r.arn ?? null,
    trust: r.trust,
    mode: r.mode,
    status: r.status,
    declared: r.declared,
    add: r.add,
    remove: r.remove,
    rewritesOwned: r.rewritesOwned,
    findings: r.findings.map(({ acknowledgement, ...f }) => ({
      ...f,
      acknowledged: acknowledgement !== undefined,
      ...(acknowledgement ? { acknowledgement } : {}),
    })),
    skipped: r.skipped,
    notFitting: r.notFitting,
    guard: r.guard ?? null,
    error: r.error ?? null,
    policy: r.policy,
    ...beforeAfter(r),
  };
}

/** What apply does to the role's document: the whole policy before, after, and the digest apply FILE checks. */
function beforeAfter(r: RolePlan) {
  const write =
    r.status === 'changes' &&
    r.mode === 'enforce' &&
    r.current !== undefined &&
    r.proposed !== undefined &&
    !samePolicy(r.current, r.proposed);
  return {
    oidcIssuers: r.oidcIssuers,
    missingOidcProviders: r.missingOidcProviders,
    write,
    liveDigest: r.current ? policyDigest(r.current) : null,
    before: r.current ?? null,
    after: (write ? r.proposed : r.current) ?? null,
  };
}

/** `explain --deployment`: per role, declared or not and why, the principals and whether IAM has them. */
export function renderDeploymentExplanation(x: DeploymentExplanation, paint: Paint): string {
  const d = x.deployment;
  const out = [
    `${paint('bold', `Deployment ${d.name}`)} (${d.id})`,
    `  workspace ${d.workspaceId}, namespace ${d.namespace}, Airflow ${d.airflowVersion ?? 'unknown'}`,
    `  workload identity ${d.workloadIdentity ?? 'none'}${d.drWorkloadIdentity ? `, DR ${d.drWorkloadIdentity}` : ''}`,
    `  OIDC issuer ${d.oidcIssuer ?? 'none'}${d.drOidcIssuer ? `, DR ${d.drOidcIssuer}` : ''}`,
    '',
  ];
  for (const r of x.roles) {
    const mark = !r.declared ? paint('dim', '-') : r.live === 'trusted' ? paint('green', '=') : paint('yellow', '~');
    out.push(
      `${mark} ${paint('bold', r.role)} (${r.trust}, ${r.mode}): ${r.declared ? `declared by ${r.why}` : `not declared: ${r.why}`}`,
    );
    if (!r.declared) continue;
    if (r.usesRoleAsIdentity) out.push("    this role is the Deployment's own workload identity (customer-managed)");
    for (const p of r.principals)
      out.push(
        `    ${p.inIam ? paint('green', 'in IAM     ') : paint('yellow', 'not in IAM ')} ${p.issuer ? `${p.issuer} ` : ''}${p.principal}`,
      );
    for (const s of r.skipped) out.push(paint('yellow', `    cannot be trusted: ${s}`));
    out.push(
      `    live: ${r.live}${r.live !== 'trusted' && r.mode === 'enforce' ? ' (astro-trust apply, or the next event, converges it)' : ''}`,
    );
  }
  return out.join('\n');
}

/** `explain --role`: what the role trusts and why, then its plan. */
export function renderRoleExplanation(r: RolePlan, paint: Paint): string {
  const out = [`${paint('bold', r.role)} (${r.trust}, ${r.mode})${r.arn ? ` ${r.arn}` : ''}`];
  if (r.declared.length === 0) out.push('  declares no Deployment in the inventory');
  for (const d of r.declared) out.push(`  ${d.name} (${d.id}): ${d.matchedBy}`);
  out.push('', renderRole(r, paint));
  return out.join('\n');
}

/** `connections --format env`: lines for a .env file or the Astro Environment Manager. */
export function renderConnectionsEnv(a: ConnectionsAnswer): string {
  const out = [`# Airflow connections for Deployment ${a.deployment.name} (${a.deployment.id})`, `# ${a.precedence}`];
  for (const c of a.connections) out.push(`# ${c.role}: ${c.note}`, c.envVar);
  for (const n of a.noConnectionNeeded) out.push(`# ${n.role}: no connection needed: ${n.why}`);
  if (a.connections.length === 0 && a.noConnectionNeeded.length === 0)
    out.push('# no declared role trusts this Deployment');
  return out.join('\n');
}
