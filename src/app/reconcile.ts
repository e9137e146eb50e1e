/**
 * The use cases behind `plan` and `apply` (and, later, every event path): read the inventory and IAM,
 * plan each declared role, and converge the ones in `enforce` mode that no guard stopped.
 */
import type { Config } from '../config/config.js';
import { parseRoleArn, type InventoryWarning } from '../domain/deployment.js';
import { pool } from '../pool.js';
import { indexDeployments } from '../domain/desired.js';
import { knownIssuersOf, planRole, type RolePlan } from '../domain/plan.js';
import { samePolicy } from '../domain/policy.js';
import { ownedOf } from '../domain/statements.js';
import { describeError, isRetryable, UsageError } from '../errors.js';
import type { EventPublisher, RevertLog, TrustStore } from './ports.js';
import { listInventory, refusalEvent, type ListingDeps } from './inventory.js';
import { eventsForReconcile, type AstroTrustEvent, type ReconcileRequest } from '../domain/events.js';

export interface Plan {
  organizationId: string;
  inventory: { source: string; deployments: number; warnings: InventoryWarning[] };
  roles: RolePlan[];
}

export interface Progress {
  (phase: 'inventory' | 'read' | 'write', done: number, total: number): void;
}

export interface PlanDeps extends ListingDeps {
  store: TrustStore;
  progress?: Progress;
  /** The clock acknowledgements expire by (tests run a day on a fake one). */
  now?: () => number;
}

function undeclared(config: Config, unknown: string[]): UsageError {
  return new UsageError(
    `--role ${unknown.join(', ')}: not declared in ${config.file}; declared roles: ${config.roles.map((r) => r.name).join(', ')}`,
  );
}

/**
 * Selects the declared roles to work on by their key (`name`, or `<account>/<name>`), exactly: a request
 * for one role never plans a same-named role of another account. An undeclared key is a usage error.
 */
export function selectRoles(config: Config, only?: string[]) {
  if (!only || only.length === 0) return config.roles;
  const unknown = only.filter((n) => !config.roles.some((r) => r.name === n));
  if (unknown.length > 0) throw undeclared(config, unknown);
  return config.roles.filter((r) => only.includes(r.name));
}

/** Reads fresh state and plans every selected role. Writes nothing. */
export async function planRoles(deps: PlanDeps, only?: string[]): Promise<Plan> {
  const specs = selectRoles(deps.config, only);
  deps.progress?.('inventory', 0, 1);
  const inventory = await listInventory(deps);
  deps.progress?.('inventory', 1, 1);
  const states = await deps.store.readRoles(
    specs.map((s) => s.name),
    (done, total) => deps.progress?.('read', done, total),
  );
  const rules = deps.config.identityRules;
  const knownIssuers = knownIssuersOf(inventory.deployments, rules);
  // Indexed once: each role's selectors are looked up, not scanned over every Deployment (DESIGN 7.4).
  const index = indexDeployments(inventory.deployments);
  const nowMs = (deps.now ?? Date.now)();
  // OIDC providers are per account: read once for each account that has an oidc role.
  const providers = new Map<string, Set<string> | undefined>();
  for (const account of new Set(specs.filter((s) => s.trust === 'oidc').map((s) => s.account ?? ''))) {
    providers.set(account, await deps.store.listOidcProviders(account || undefined));
  }
  return {
    organizationId: deps.config.organizationId,
    inventory: {
      source: deps.inventory.description,
      deployments: inventory.deployments.length,
      warnings: inventory.warnings,
    },
    roles: specs.map((spec) =>
      planRole({
        spec,
        deployments: inventory.deployments,
        state: states.get(spec.name),
        knownIssuers,
        oidcProviders: providers.get(spec.account ?? ''),
        rules,
        findingRules: deps.config.findings,
        nowMs,
        index,
      }),
    ),
  };
}

export type RoleOutcome =
  | { role: string; result: 'unchanged' | 'written' | 'observed' }
  /** The flap guard held a revert: another writer keeps changing the role (DESIGN 3.5). */
  | { role: string; result: 'held'; message: string }
  | { role: string; result: 'blocked' | 'failed'; message: string; retryable?: boolean }
  /** `apply FILE`: the role changed since the saved plan was made; nothing written to it (DESIGN 7.3). */
  | { role: string; result: 'refused'; message: string };

export interface ApplyResult {
  outcomes: RoleOutcome[];
  createdOidcProviders: string[];
  /** Declared Deployments left untrusted for lack of room, over all written roles. */
  notFitting: number;
  /** True when every role is in sync or observed: nothing blocked, failed or left out for lack of room. */
  converged: boolean;
}

/** What both apply paths know of a role: a plan as made now (`applyPlan`) or as saved (`applySavedPlan`). */
export interface ApplyRole {
  role: string;
  status: RolePlan['status'];
  mode: RolePlan['mode'];
  arn?: string | null;
  notFitting: unknown[];
  guard?: { message: string } | null;
  error?: { message: string; retryable?: boolean } | null;
}

export interface ApplySteps<R extends ApplyRole> {
  /** Why a role that does not exist is not written (astro-trust never creates roles). */
  missing: string;
  /** Flap guard: roles whose revert is held, with why. */
  hold?: Map<string, string>;
  /** OIDC issuers whose IAM provider must exist (created first, per account) before the role is written. */
  issuers: (r: R) => string[];
  /** Writes one role; what it throws becomes the role's outcome through `failure`. */
  write: (r: R) => Promise<'written' | 'unchanged'>;
  failure?: (r: R, err: unknown) => RoleOutcome;
  progress?: Progress;
  concurrency?: number;
}

const failed = (role: string, err: unknown): RoleOutcome => ({
  role,
  result: 'failed',
  message: describeError(err),
  retryable: isRetryable(err),
});

/**
 * The one apply loop: roles that need no write get their outcome; the OIDC providers the others need are
 * created first, once per account (a failure there fails only that account's roles); then each role is
 * written once, up to `concurrency` at a time, guards and observe mode honoured.
 */
export async function applyRoles<R extends ApplyRole>(
  roles: R[],
  store: TrustStore,
  o: ApplySteps<R>,
): Promise<ApplyResult> {
  const outcomes = new Map<string, RoleOutcome>();
  const toWrite: R[] = [];
  for (const r of roles) {
    const held = o.hold?.get(r.role);
    // `denied`: nothing astro-trust owns differs; the statement keeping a declared identity out is a person's to fix.
    if (r.status === 'in-sync' || r.status === 'denied') outcomes.set(r.role, { role: r.role, result: 'unchanged' });
    else if (held && r.status === 'changes' && r.mode === 'enforce')
      outcomes.set(r.role, { role: r.role, result: 'held', message: held });
    else if (r.status === 'missing') outcomes.set(r.role, { role: r.role, result: 'failed', message: o.missing });
    else if (r.status === 'unreachable')
      outcomes.set(r.role, {
        role: r.role,
        result: 'failed',
        message: r.error?.message ?? 'its account could not be read',
        retryable: r.error?.retryable ?? false,
      });
    else if (r.status === 'blocked')
      outcomes.set(r.role, { role: r.role, result: 'blocked', message: r.guard?.message ?? 'a guard stopped it' });
    else if (r.mode === 'observe') outcomes.set(r.role, { role: r.role, result: 'observed' });
    else toWrite.push(r);
  }

  // OIDC statements need the account's identity provider for the issuer; create missing ones first.
  const created: string[] = [];
  const byAccount = new Map<string, { partition: string; accountId: string; issuers: Set<string>; roles: R[] }>();
  for (const r of toWrite) {
    const issuers = o.issuers(r);
    const arn = r.arn ? parseRoleArn(r.arn) : undefined;
    if (issuers.length === 0 || !arn) continue;
    const key = `${arn.partition}:${arn.accountId}`;
    const entry = byAccount.get(key) ?? {
      partition: arn.partition,
      accountId: arn.accountId,
      issuers: new Set(),
      roles: [],
    };
    issuers.forEach((i) => entry.issuers.add(i));
    entry.roles.push(r);
    byAccount.set(key, entry);
  }
  const failedRoles = new Set<string>();
  for (const a of byAccount.values()) {
    try {
      created.push(...(await store.ensureOidcProviders(a.partition, a.accountId, [...a.issuers].sort())).created);
    } catch (err) {
      for (const r of a.roles) {
        failedRoles.add(r.role);
        outcomes.set(r.role, failed(r.role, err));
      }
    }
  }

  let done = 0;
  const writes = toWrite.filter((r) => !failedRoles.has(r.role));
  await pool(writes, o.concurrency ?? 4, async (r) => {
    try {
      outcomes.set(r.role, { role: r.role, result: await o.write(r) });
    } catch (err) {
      outcomes.set(r.role, o.failure?.(r, err) ?? failed(r.role, err));
    }
    o.progress?.('write', ++done, writes.length);
  });

  const ordered = roles.map((r) => outcomes.get(r.role)!);
  const notFitting = roles.reduce((n, r, i) => n + (ordered[i]!.result === 'written' ? r.notFitting.length : 0), 0);
  return {
    outcomes: ordered,
    createdOidcProviders: created,
    notFitting,
    converged: notFitting === 0 && ordered.every((x) => !['blocked', 'failed', 'held', 'refused'].includes(x.result)),
  };
}

/** Applies a plan as planned: writes each `enforce` role with changes, one write per role, guards honoured. */
export async function applyPlan(
  plan: Plan,
  store: TrustStore,
  opts: { progress?: Progress; concurrency?: number; hold?: Map<string, string> } = {},
): Promise<ApplyResult> {
  return applyRoles(plan.roles, store, {
    ...opts,
    missing: 'the role does not exist in IAM; astro-trust never creates roles',
    issuers: (r) => r.oidcIssuers,
    // A role whose only change was a missing OIDC provider keeps its policy: no write. Otherwise only the
    // owned statements are written, merged into the role as read at write time (a plan is never written blindly).
    write: async (r) => {
      if (!samePolicy(r.current!, r.proposed!))
        await store.writeTrust(r.role, { statements: ownedOf(r.proposed!), maxPolicyChars: r.policy.limit });
      return 'written';
    },
  });
}

export interface ReconcileDeps extends PlanDeps {
  events: EventPublisher;
  /** The flap guard's memory; without it, reverts are not limited. */
  reverts?: RevertLog;
  /**
   * Called before IAM is written, with the events the writes will publish if they succeed (`serve` records
   * them: killed after the write and before the alerts are recorded, its restart still delivers them).
   */
  beforeWrite?: (events: AstroTrustEvent[]) => Promise<void>;
}

const HOUR_MS = 60 * 60_000;

export interface ReconcileResult {
  plan: RolePlan | undefined;
  outcome: RoleOutcome | undefined;
  events: AstroTrustEvent[];
}

/**
 * The single writer's step for one role: read fresh state, plan, write when enforce and unguarded,
 * publish what happened. A request for an undeclared role is ignored (the config may have changed).
 */
export async function reconcileRole(deps: ReconcileDeps, request: ReconcileRequest): Promise<ReconcileResult> {
  const spec = deps.config.roles.find((r) => r.name === request.role);
  if (!spec) return { plan: undefined, outcome: undefined, events: [] };
  let plan: Plan;
  try {
    plan = await planRoles(deps, [request.role]);
  } catch (err) {
    // Reading the inventory or IAM failed, or the listing was refused: nothing was written. Say so, then
    // let the caller retry. A refused listing is one alert for the inventory, not one per role.
    const retryable = isRetryable(err);
    const failed: AstroTrustEvent = refusalEvent(err, request.reason, spec.name) ?? {
      type: 'ReconcileFailed',
      detail: { role: spec.name, mode: spec.mode, reason: request.reason, error: describeError(err), retryable },
    };
    await deps.events.publish([failed]).catch(() => {});
    throw err;
  }
  // Flap guard: a drift revert beyond maxRevertsPerHour means another writer (Terraform, CloudFormation)
  // re-applies its version each time; stop fighting for the rest of the hour and say so.
  const rolePlan = plan.roles[0]!;
  const now = (deps.now ?? Date.now)();
  const reverting = request.drift !== undefined && rolePlan.status === 'changes' && rolePlan.mode === 'enforce';
  const hold = new Map<string, string>();
  if (reverting && deps.reverts && (await deps.reverts.count(spec.name, now - HOUR_MS)) >= spec.maxRevertsPerHour) {
    hold.set(
      spec.name,
      `not reverted: ${spec.maxRevertsPerHour} reverts of this role in the last hour (maxRevertsPerHour); another writer keeps changing it`,
    );
  }
  const [result] = await convergeAndReport(deps, plan, (role) => ({ ...request, role }), hold);
  if (reverting && result!.outcome?.result === 'written') await deps.reverts?.record(spec.name, now);
  return result!;
}

/** The backfill: every declared role (or `roles`), planned from one inventory listing; `dryRun` writes nothing. */
export async function reconcileAll(
  deps: ReconcileDeps,
  opts: { roles?: string[]; dryRun?: boolean; reason?: ReconcileRequest['reason'] } = {},
): Promise<{ plan: Plan; results: ReconcileResult[] }> {
  let plan: Plan;
  try {
    plan = await planRoles(deps, opts.roles);
  } catch (err) {
    const refused = refusalEvent(err, opts.reason ?? 'resync');
    if (refused) await deps.events.publish([refused]).catch(() => {});
    throw err;
  }
  if (opts.dryRun) return { plan, results: plan.roles.map((p) => ({ plan: p, outcome: undefined, events: [] })) };
  const results = await convergeAndReport(deps, plan, (role) => ({ role, reason: opts.reason ?? 'resync' }));
  return { plan, results };
}

async function convergeAndReport(
  deps: ReconcileDeps,
  plan: Plan,
  requestFor: (role: string) => ReconcileRequest,
  hold?: Map<string, string>,
): Promise<ReconcileResult[]> {
  if (deps.beforeWrite) {
    const writing = plan.roles.filter((r) => r.status === 'changes' && r.mode === 'enforce' && !hold?.has(r.role));
    if (writing.length > 0)
      await deps.beforeWrite(writing.flatMap((r) => eventsForReconcile(r, requestFor(r.role), { written: true })));
  }
  const applied = await applyPlan(plan, deps.store, { progress: deps.progress, ...(hold ? { hold } : {}) });
  const results = plan.roles.map((rolePlan, i) => {
    const outcome = applied.outcomes[i]!;
    const error =
      outcome.result === 'failed' && rolePlan.status !== 'missing' && rolePlan.status !== 'unreachable'
        ? { message: outcome.message, retryable: outcome.retryable ?? false }
        : undefined;
    const events = eventsForReconcile(rolePlan, requestFor(rolePlan.role), {
      written: outcome.result === 'written',
      flapping: outcome.result === 'held',
      ...(error ? { error } : {}),
    });
    return { plan: rolePlan, outcome, events };
  });
  await deps.events.publish(results.flatMap((r) => r.events));
  return results;
}
