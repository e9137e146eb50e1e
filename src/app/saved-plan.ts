/**
 * Saved plans (DESIGN 7.3): the document `plan --json` prints and `plan -out FILE` saves, read back by
 * `show FILE` and `apply FILE`. Its schema (zod, with a description on every key) parses a plan file at
 * the edge and is published as schema/astro-trust-plan.schema.json. `apply FILE` writes exactly the saved
 * `after` documents: it refuses the whole file for another config, another astro-trust version or a plan
 * older than `--max-age`, and each role whose live policy changed since the plan.
 */
import { z } from 'zod';
import type { Finding, RolePlan } from '../domain/plan.js';
import { parseTrustPolicy, type PolicyDocument } from '../domain/policy.js';
import { describeError, isRetryable, StalePlanError, UsageError } from '../errors.js';
import type { TrustStore } from './ports.js';
import { applyRoles, type ApplyResult, type Plan, type Progress } from './reconcile.js';

/** Bumped only when a field changes meaning or goes away; new fields keep it. */
export const PLAN_FORMAT_VERSION = 1;
export const PLAN_SCHEMA_ID = 'urn:astro-trust:plan:1';

const stringOrList = z.union([z.string(), z.array(z.string())]);
const principal = z.union([z.literal('*'), z.record(z.string(), stringOrList)]);

const statement = z
  .looseObject({
    Sid: z
      .string()
      .optional()
      .describe('The statement id; astro-trust owns the statements whose Sid starts with AstroTrust.'),
    Effect: z.string().describe('Allow or Deny.'),
    Principal: principal
      .optional()
      .describe('Who the statement is about: AWS, Federated or Service principals, or "*".'),
    NotPrincipal: principal.optional().describe('Everyone except these principals.'),
    Action: stringOrList.optional().describe('sts:AssumeRole, sts:AssumeRoleWithWebIdentity, ...'),
    NotAction: stringOrList.optional().describe('Every action except these.'),
    Condition: z
      .record(z.string(), z.record(z.string(), z.unknown()))
      .optional()
      .describe('Condition operators and their keys, as IAM holds them.'),
  })
  .describe('One statement of a trust policy, as IAM holds it.');

const policyDocument = z
  .looseObject({
    Version: z.string().optional().describe('The policy language version (2012-10-17).'),
    Id: z.string().optional().describe('The policy id, when the role has one.'),
    Statement: z.array(statement).describe('The statements, in the order IAM returned them.'),
  })
  .describe('A whole trust policy document.');

const deploymentRef = z.looseObject({
  id: z.string().describe('The Deployment id.'),
  name: z.string().describe('The Deployment name.'),
});

const change = z
  .looseObject({
    principal: z.string().describe('The identity role ARN, or for OIDC the service-account subject (sub).'),
    issuer: z.string().optional().describe('OIDC only: the issuer (host/path) the subject belongs to.'),
    deploymentIds: z.array(z.string()).describe('The Deployments this principal is for.'),
    deployments: z.array(deploymentRef.describe('One of them.')).optional().describe('The same, with names.'),
    reason: z.string().optional().describe('Removals: why the principal goes.'),
  })
  .describe('A principal added to or removed from the statements astro-trust owns.');

const finding = z
  .looseObject({
    id: z
      .string()
      .describe('Stable fingerprint of the role, kind, principal and grant: acknowledge by it (docs/findings.md).'),
    kind: z.string().describe('What kind of trust it is (docs/findings.md).'),
    principal: z.string().describe('The principal the finding is about.'),
    sid: z.string().optional().describe('The Sid of the statement it was found in.'),
    statement: z
      .number()
      .optional()
      .describe('The position of that statement in the trust policy as read (0 is the first).'),
    condition: z
      .record(z.string(), z.record(z.string(), z.array(z.string())))
      .nullable()
      .describe('The statement conditions in canonical form (operator, lower-cased key, values); null when none.'),
    detail: z.string().describe('What it means, for a person.'),
    deployments: z
      .array(deploymentRef.describe('One of them.'))
      .optional()
      .describe('shared-identity: the Deployments that share the identity.'),
    acknowledged: z.boolean().describe('True when findings.acknowledge covers it and has not expired.'),
    acknowledgement: z
      .looseObject({
        reason: z.string().describe('Why it may stay.'),
        expires: z.string().describe('YYYY-MM-DD (UTC).'),
        daysLeft: z.number().describe('Days until it expires.'),
      })
      .optional()
      .describe('The acknowledgement, when acknowledged.'),
  })
  .describe('Trust a person should look at, found in a statement astro-trust does not own.');

const role = z
  .looseObject({
    role: z
      .string()
      .describe('The role as the config names it: its name, or <account>/<name> for a role with account.'),
    account: z
      .string()
      .nullable()
      .describe("The role's account (from its ARN once read); null: the home account, not read."),
    roleName: z.string().describe('The IAM role name.'),
    arn: z.string().nullable().describe('The role ARN; null when the role was not read.'),
    trust: z.enum(['workload-identity', 'oidc']).describe('The trust kind the config declares.'),
    mode: z.enum(['enforce', 'observe']).describe('enforce: apply writes it; observe: reported only.'),
    status: z
      .enum(['in-sync', 'changes', 'blocked', 'denied', 'missing', 'unreachable'])
      .describe(
        'in-sync, changes, blocked (a guard), missing (no such role in IAM), unreachable (its account could not be read).',
      ),
    declared: z
      .array(
        z
          .looseObject({
            id: z.string().describe('The Deployment id.'),
            name: z.string().describe('The Deployment name.'),
            matchedBy: z.string().describe('The selector that declared it.'),
          })
          .describe('A declared Deployment.'),
      )
      .describe('The Deployments the config declares for the role.'),
    add: z.array(change).describe('Principals apply adds to the owned statements.'),
    remove: z.array(change).describe('Principals apply removes from the owned statements.'),
    rewritesOwned: z.boolean().describe('Owned statements were edited by hand and are rewritten to the declared form.'),
    findings: z.array(finding).describe('Trust found in statements astro-trust does not own.'),
    skipped: z
      .array(
        z
          .looseObject({
            deploymentId: z.string().describe('The Deployment id.'),
            name: z.string().describe('The Deployment name.'),
            reason: z.string().describe('Why astro-trust will not trust it.'),
          })
          .describe('A declared Deployment left out.'),
      )
      .describe('Declared Deployments astro-trust will not trust, each with the reason.'),
    notFitting: z
      .array(deploymentRef.describe('A Deployment waiting for room.'))
      .describe('Declared Deployments left out for lack of room.'),
    guard: z
      .looseObject({
        kind: z.string().describe('policy-too-large or too-many-removals.'),
        message: z.string().describe('What stopped the write and what to do.'),
      })
      .nullable()
      .describe('The guard that stopped the write, or null.'),
    error: z
      .looseObject({
        message: z.string().describe('Why the role could not be read.'),
        retryable: z.boolean().describe('Whether trying again may help.'),
      })
      .nullable()
      .describe('With status unreachable: why; else null.'),
    policy: z
      .looseObject({
        currentChars: z.number().optional().describe('Characters of the policy IAM holds (whitespace not counted).'),
        proposedChars: z.number().describe('Characters of the policy apply would write.'),
        limit: z.number().describe('maxPolicyChars for the role.'),
      })
      .describe('Sizes against the trust policy length quota.'),
    oidcIssuers: z.array(z.string()).describe('OIDC issuers the after document trusts.'),
    missingOidcProviders: z.array(z.string()).describe('Of those, the issuers whose IAM OIDC provider apply creates.'),
    write: z.boolean().describe('True when apply writes this role: its after document differs from before.'),
    liveDigest: z
      .string()
      .nullable()
      .describe(
        'sha256 of the canonical form of the policy read at plan time (before); apply FILE refuses the role when IAM holds another.',
      ),
    before: policyDocument
      .nullable()
      .describe('The whole trust policy IAM held at plan time; null when the role was not read.'),
    after: policyDocument
      .nullable()
      .describe(
        'The whole trust policy the role holds after apply: what apply FILE writes when write is true, else before.',
      ),
  })
  .describe('One declared role.');

export const savedPlanSchema = z
  .looseObject({
    formatVersion: z.literal(PLAN_FORMAT_VERSION).describe('This document format: 1.'),
    toolVersion: z.string().describe('The astro-trust version that made the plan; apply FILE needs the same.'),
    createdAt: z.iso.datetime().describe('When the plan was made (UTC); apply FILE refuses it after --max-age.'),
    config: z
      .looseObject({
        file: z.string().describe('The config file the plan was made with, as given.'),
        digest: z.string().describe("sha256 of that file's bytes; apply FILE refuses another config."),
      })
      .describe('The config the plan was made with.'),
    organizationId: z.string().describe('The Astro organization.'),
    inventory: z
      .looseObject({
        source: z.string().describe('Where the Deployments were listed.'),
        deployments: z.number().describe('How many were listed.'),
        warnings: z
          .array(
            z
              .looseObject({
                deploymentId: z.string().describe('The Deployment id.'),
                message: z.string().describe('What is wrong with it.'),
              })
              .describe('A Deployment the listing could not use.'),
          )
          .describe('Deployments the listing could not use.'),
      })
      .describe('The Deployment listing the plan was made from.'),
    summary: z.record(z.string(), z.number()).describe('Counts over the roles (toChange, inSync, blocked, ...).'),
    roles: z.array(role).describe('One entry per declared role (or per --role).'),
    apply: z
      .looseObject({
        outcomes: z
          .array(
            z
              .looseObject({
                role: z.string().describe('The role key.'),
                result: z.string().describe('unchanged, written, observed, blocked, failed, held or refused.'),
                message: z.string().optional().describe('Why, when it was not written as planned.'),
              })
              .describe('What apply did to one role.'),
          )
          .describe('Per role, in plan order.'),
        createdOidcProviders: z.array(z.string()).describe('Issuers whose IAM OIDC provider apply created.'),
        notFitting: z.number().describe('Declared Deployments left out for lack of room over the written roles.'),
        converged: z.boolean().describe('True when nothing failed, was blocked, refused or left out.'),
      })
      .optional()
      .describe('apply --json only: what apply did.'),
  })
  .describe('An astro-trust plan: what plan --json prints and plan -out saves.');

export type SavedPlan = z.infer<typeof savedPlanSchema>;
export type SavedRole = SavedPlan['roles'][number];

/** The plan document's JSON Schema (schema/astro-trust-plan.schema.json, `npm run schema`). */
export function planJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(savedPlanSchema, { io: 'output' });
  return { $schema, $id: PLAN_SCHEMA_ID, title: 'astro-trust plan', ...rest };
}

/** Reads a saved plan: JSON, this format, every key as the schema says; any other file is a usage error naming it. */
export function parseSavedPlan(text: string, file: string): SavedPlan {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      `${file}: not a saved plan (not JSON: ${(err as Error).message}); make one with astro-trust plan -out ${file}`,
    );
  }
  const version = (data as { formatVersion?: unknown } | null)?.formatVersion;
  if (version !== undefined && version !== PLAN_FORMAT_VERSION)
    throw new UsageError(
      `${file}: plan format ${String(version)}; this astro-trust reads format ${PLAN_FORMAT_VERSION}: plan again`,
    );
  const parsed = savedPlanSchema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new UsageError(
      `${file}: not an astro-trust saved plan (${first.join('; ')}); make one with astro-trust plan -out ${file}`,
    );
  }
  // Each trust policy is parsed once, here, into the domain's model.
  for (const r of parsed.data.roles) {
    try {
      if (r.before) r.before = parseTrustPolicy(r.before) as typeof r.before;
      if (r.after) r.after = parseTrustPolicy(r.after) as typeof r.after;
    } catch (err) {
      throw new UsageError(`${file}: role ${r.role}: ${(err as Error).message}`, { cause: err });
    }
    if (r.write && (!r.after || !r.before || !r.liveDigest))
      throw new UsageError(`${file}: role ${r.role} is to be written but has no before, after or liveDigest`);
  }
  return parsed.data;
}

export interface SavedPlanContext {
  planFile: string;
  configFile: string;
  configDigest: string;
  toolVersion: string;
  nowMs: number;
  maxAgeMs: number;
}

/** A duration for a person: `1h 5m`, `45s`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const parts = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor((s % 86_400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ] as const;
  const shown = parts.filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`);
  return shown.length ? shown.slice(0, 2).join(' ') : '0s';
}

/**
 * The refusals of the whole file (DESIGN 7.3), each naming what changed; nothing is written after one:
 * another astro-trust version (as Terraform refuses a plan from another Terraform), another config, or a
 * plan older than `--max-age`.
 */
export function checkSavedPlan(plan: SavedPlan, c: SavedPlanContext): void {
  const again = `plan again (astro-trust plan -out ${c.planFile}); nothing was written`;
  if (plan.toolVersion !== c.toolVersion)
    throw new StalePlanError(
      `${c.planFile} was made by astro-trust ${plan.toolVersion}, and this is astro-trust ${c.toolVersion}: ${again}`,
    );
  if (plan.config.digest !== c.configDigest)
    throw new StalePlanError(
      `${c.planFile} was made with another config: ${plan.config.file} was ${plan.config.digest.slice(0, 19)}..., ` +
        `${c.configFile} is ${c.configDigest.slice(0, 19)}... now: ${again}`,
    );
  const age = c.nowMs - Date.parse(plan.createdAt);
  if (age > c.maxAgeMs)
    throw new StalePlanError(
      `${c.planFile} is ${formatDuration(age)} old (made ${plan.createdAt}), older than --max-age ${formatDuration(c.maxAgeMs)}: ${again}, or pass a larger --max-age`,
    );
}

/**
 * `apply FILE`: writes each saved `after` document whose role the plan writes, after checking its live
 * policy is still the one planned against (TrustStore.writeSavedTrust); creates the OIDC providers the plan
 * says are missing, and nothing else. A refused role is not written and fails the run (exit 1); the other
 * roles are written as planned: each role's check stands alone.
 */
export async function applySavedPlan(
  plan: SavedPlan,
  store: TrustStore,
  opts: { progress?: Progress; concurrency?: number } = {},
): Promise<ApplyResult> {
  return applyRoles(plan.roles, store, {
    ...opts,
    missing: 'the role did not exist in IAM when planned',
    issuers: (r) => r.missingOidcProviders,
    write: (r) =>
      r.write
        ? store.writeSavedTrust(r.role, {
            document: r.after as PolicyDocument,
            planned: r.before as PolicyDocument,
            liveDigest: r.liveDigest!,
          })
        : Promise.resolve('written'),
    failure: (r, err) =>
      err instanceof StalePlanError
        ? { role: r.role, result: 'refused', message: err.message }
        : { role: r.role, result: 'failed', message: describeError(err), retryable: isRetryable(err) },
  });
}

/** A saved plan as the domain's plan, for rendering it as `plan` would (`show FILE`). */
export function planFromSaved(plan: SavedPlan): Plan {
  return {
    organizationId: plan.organizationId,
    inventory: {
      source: plan.inventory.source,
      deployments: plan.inventory.deployments,
      warnings: plan.inventory.warnings,
    },
    roles: plan.roles.map((r): RolePlan => ({
      role: r.role,
      ...(r.account ? { account: r.account } : {}),
      ...(r.arn ? { arn: r.arn } : {}),
      trust: r.trust,
      mode: r.mode,
      status: r.status,
      declared: r.declared,
      add: r.add,
      remove: r.remove,
      rewritesOwned: r.rewritesOwned,
      // The document's findings are the domain's, plus `acknowledged`; kinds are the domain's own strings.
      findings: r.findings.map(({ acknowledged: _a, ...f }) => f as unknown as Finding),
      skipped: r.skipped,
      notFitting: r.notFitting,
      ...(r.guard ? { guard: r.guard as RolePlan['guard'] } : {}),
      ...(r.error ? { error: r.error } : {}),
      policy: r.policy,
      oidcIssuers: r.oidcIssuers,
      missingOidcProviders: r.missingOidcProviders,
      ...(r.before ? { current: r.before as PolicyDocument } : {}),
      ...(r.after ? { proposed: r.after as PolicyDocument } : {}),
    })),
  };
}
