/**
 * The plan of one role: what apply would change in the owned statements, the trust found that the config
 * does not declare, and the guards that stop a write. A plan is a value: printed, applied and alerted as is.
 */
import type { Deployment, RoleArn } from './deployment.js';
import {
  desiredTrust,
  entryKey,
  indexDeployments,
  issuerAllowed,
  NO_RULES,
  type DeclaredDeployment,
  type DeploymentIndex,
  type IdentityRules,
  type Mode,
  type RoleSpec,
  type SkippedDeployment,
  type TrustEntry,
  type TrustKind,
} from './desired.js';
import { canonicalKey, policyChars, type PolicyDocument } from './policy.js';
import { entriesInOwned, packTrust } from './statements.js';
import {
  acknowledge,
  ASTRO_IDENTITY,
  astroAccountsOf,
  astroIssuersOf,
  dedupe,
  findDenied,
  findForeign,
  findingId,
  isWildcardSubject,
  namespaceOf,
  NO_FINDING_RULES,
  standing,
  UNIQUE_ID,
  type Finding,
  type FindingContext,
  type FindingRules,
} from './findings.js';
import { parseGrant, type Grant } from './grant.js';

export type { Finding, FindingKind } from './findings.js';

export type GuardKind = 'policy-too-large' | 'too-many-removals';
export interface Guard {
  kind: GuardKind;
  message: string;
  /** policy-too-large: the declared Deployments that do not fit (oldest first). */
  deploymentsNotFitting?: string[];
}

/** A declared Deployment left untrusted because the policy is full (it gets in when room frees up, oldest first). */
export interface NotFitting {
  id: string;
  name: string;
}

/**
 * `unreachable`: the role's account could not be read (its member role could not be assumed, DESIGN 3.6).
 * `denied`: nothing to write, but the policy does not let a declared identity in (a `declared-trust-denied`
 * finding not acknowledged, DESIGN 7.1): apply cannot fix it, a person must.
 */
export type RoleStatus = 'in-sync' | 'changes' | 'blocked' | 'missing' | 'unreachable' | 'denied';

export interface PrincipalChange {
  principal: string;
  /** For OIDC: the issuer the subject belongs to. */
  issuer?: string;
  deploymentIds: string[];
  /** The same Deployments with their names, for people. */
  deployments?: { id: string; name: string }[];
  reason?: string;
}

export interface RolePlan {
  /** The role as the config names it: `name`, or `<account>/<name>` (DESIGN 3.6). */
  role: string;
  /** The account the config names for the role (the ARN says it for every role that was read). */
  account?: string;
  arn?: string;
  trust: TrustKind;
  mode: Mode;
  status: RoleStatus;
  declared: { id: string; name: string; matchedBy: string }[];
  add: PrincipalChange[];
  remove: PrincipalChange[];
  /** True when owned statements change shape although no principal is added or removed (hand edit of Effect, Action...). */
  rewritesOwned: boolean;
  /** What a person must look at (DESIGN 3.5, 7.1), each with its id; acknowledged ones carry `acknowledgement`. */
  findings: Finding[];
  skipped: SkippedDeployment[];
  /** Declared Deployments the written policy leaves out for lack of room: exactly the ones not trusted afterwards. */
  notFitting: NotFitting[];
  guard?: Guard;
  /** With status `unreachable`: why the role's account could not be read and what to deploy. */
  error?: { message: string; retryable: boolean };
  policy: { currentChars?: number; proposedChars: number; limit: number };
  /** OIDC issuers whose IAM identity provider must exist before the proposed policy can be written. */
  oidcIssuers: string[];
  /** Of those, the ones whose provider is missing from the account (deleted?): the trust is broken until it exists. */
  missingOidcProviders: string[];
  current?: PolicyDocument;
  proposed?: PolicyDocument;
}

export interface RoleState {
  arn: RoleArn;
  document: PolicyDocument;
}

/** A role in an account astro-trust could not read: why, and whether trying again may help. */
export interface Unreachable {
  unreachable: string;
  retryable: boolean;
}

/** What reading a role gave: its state, undefined when it does not exist, or why its account could not be read. */
export type RoleRead = RoleState | Unreachable | undefined;

export function isUnreachable(read: RoleRead): read is Unreachable {
  return read !== undefined && 'unreachable' in read;
}

/** Identities counted against `maxRemovals`: one per role ARN, one per (issuer, namespace) for OIDC. */
function removalUnits(entries: TrustEntry[]): number {
  return new Set(entries.map((e) => (e.kind === 'aws' ? e.arn : `${e.issuer} ${namespaceOf(e.sub) ?? e.sub}`))).size;
}

function change(e: TrustEntry, names: Map<string, string>, reason?: string): PrincipalChange {
  const base = e.kind === 'aws' ? { principal: e.arn } : { principal: e.sub, issuer: e.issuer };
  const deployments = e.deploymentIds.map((id) => ({ id, name: names.get(id) ?? id }));
  return {
    ...base,
    deploymentIds: e.deploymentIds,
    ...(deployments.length ? { deployments } : {}),
    ...(reason ? { reason } : {}),
  };
}

function removalReason(e: TrustEntry, knownIssuers: Set<string>): string {
  if (e.kind === 'aws') {
    if (e.arn === '*') return 'wildcard principal';
    if (UNIQUE_ID.test(e.arn)) return 'orphaned principal (deleted role)';
    return ASTRO_IDENTITY.test(e.arn) ? 'no declared Deployment has this identity' : 'not declared';
  }
  if (isWildcardSubject(e.sub)) return 'namespace wildcard';
  return knownIssuers.has(e.issuer) ? 'namespace not declared' : 'issuer of no Deployment in the inventory';
}

export interface PlanRoleInput {
  spec: RoleSpec;
  deployments: Deployment[];
  /** Undefined when the role does not exist in IAM. */
  state: RoleRead;
  /** Issuers (host/path) of every Deployment in the inventory: how Astro clusters are recognised. */
  knownIssuers: Set<string>;
  /** Issuers that have an IAM OIDC provider in the account; undefined when unknown (offline snapshot). */
  oidcProviders?: Set<string>;
  /** Which identities and issuers may be trusted at all (6.2); default: Astro-managed identities and EKS issuers. */
  rules?: IdentityRules;
  /** Trusted accounts and acknowledged findings (3.5). */
  findingRules?: FindingRules;
  /** Now, in ms: when acknowledgements expire. */
  nowMs?: number;
  /** `deployments` indexed once for the whole plan (`indexDeployments`); built here when left out. */
  index?: DeploymentIndex;
}

/** Deployment ids oldest first (`createdAt`, then id; no `createdAt` counts as newest): who gets room first. */
export function ageOrder(deployments: Deployment[]): string[] {
  const key = (d: Deployment) =>
    d.createdAt && !Number.isNaN(Date.parse(d.createdAt)) ? Date.parse(d.createdAt) : Infinity;
  return [...deployments].sort((a, b) => key(a) - key(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((d) => d.id);
}

// The grant a shared identity gets: the owned workload-identity statement (Allow sts:AssumeRole, no condition).
const OWNED_GRANT = JSON.stringify({ Effect: 'Allow', Action: ['sts:assumerole'], Condition: null });

function sharedFindings(role: string, shared: ReturnType<typeof desiredTrust>['shared']): Finding[] {
  return shared.map((s) => ({
    // Who else the identity lets in is part of what is acknowledged: one more Deployment sharing it is a new id.
    id: findingId(role, 'shared-identity', s.arn, `${OWNED_GRANT} ${JSON.stringify(s.others.map((o) => o.id).sort())}`),
    kind: 'shared-identity',
    principal: s.arn,
    condition: null,
    detail:
      `trusting it for ${s.declaredIds.join(', ')} also trusts ${s.others.length} Deployment${s.others.length === 1 ? '' : 's'} the role does not declare ` +
      `(${s.others
        .slice(0, 10)
        .map((o) => `${o.name} (${o.id})`)
        .join(', ')}${s.others.length > 10 ? `, ... and ${s.others.length - 10} more` : ''}): ` +
      'declare them too, or give the Deployment an identity of its own',
    deployments: s.others,
  }));
}

/** Plans one role: desired trust vs the owned statements in IAM, foreign statements kept and inspected, guards applied. */
export function planRole({
  spec,
  deployments,
  state,
  knownIssuers,
  oidcProviders,
  rules = NO_RULES,
  findingRules = NO_FINDING_RULES,
  nowMs = 0,
  index,
}: PlanRoleInput): RolePlan {
  const base = {
    role: spec.name,
    ...(spec.account ? { account: spec.account } : {}),
    trust: spec.trust,
    mode: spec.mode,
  };
  if (!state || isUnreachable(state)) {
    return {
      ...base,
      status: state ? 'unreachable' : 'missing',
      ...(state ? { error: { message: state.unreachable, retryable: state.retryable } } : {}),
      declared: [],
      add: [],
      remove: [],
      rewritesOwned: false,
      findings: [],
      skipped: [],
      notFitting: [],
      policy: { proposedChars: 0, limit: spec.maxPolicyChars },
      oidcIssuers: [],
      missingOidcProviders: [],
    };
  }
  const { arn, document } = state;
  const inventory = index ?? indexDeployments(deployments);
  const desired = desiredTrust(spec, deployments, arn, rules, inventory);
  // Every statement read, parsed once into what it grants; the proposed policy reuses the foreign ones as read.
  const grantOf = new Map<object, Grant>(document.Statement.map((s, i) => [s, parseGrant(s, i)]));
  const actual = entriesInOwned(document.Statement);
  const actualKeys = new Set(actual.map(entryKey));
  const currentChars = policyChars(document);
  const packed = packTrust({
    partition: arn.partition,
    accountId: arn.accountId,
    current: document,
    entries: desired.entries,
    trusted: actualKeys,
    order: ageOrder(desired.declared.map((d) => d.deployment)),
    maxPolicyChars: spec.maxPolicyChars,
    currentChars,
  });
  // What the written policy changes: entries it adds, and trusted entries it no longer holds.
  const keptKeys = new Set(packed.kept.map(entryKey));
  const add = packed.kept.filter((e) => !actualKeys.has(entryKey(e)));
  const removed = actual.filter((e) => !keptKeys.has(entryKey(e)));
  const byId = new Map(desired.declared.map((d) => [d.deployment.id, d.deployment]));
  const names = inventory.names;
  const notFitting = packed.notFitting.map((id) => ({ id, name: byId.get(id)?.name ?? id }));
  const oidcIssuers = [...new Set(packed.kept.flatMap((e) => (e.kind === 'oidc' ? [e.issuer] : [])))].sort();
  const missingOidcProviders = oidcProviders ? oidcIssuers.filter((i) => !oidcProviders.has(i)) : [];
  const policyChanges = canonicalKey(packed.document) !== canonicalKey(document);
  const changed = policyChanges || missingOidcProviders.length > 0;

  const list = (ids: NotFitting[]) =>
    `${ids
      .slice(0, 20)
      .map((d) => `${d.name} (${d.id})`)
      .join(', ')}${ids.length > 20 ? `, ... and ${ids.length - 20} more` : ''}`;
  const sizeAdvice = "Narrow the role's selectors, or ask AWS to raise the quota and set maxPolicyChars to it.";
  let guard: Guard | undefined;
  const overLimit = packed.chars > spec.maxPolicyChars;
  if (!packed.writable || (overLimit && !changed && notFitting.length > 0)) {
    guard = {
      kind: 'policy-too-large',
      message:
        `the trust policy would be ${packed.chars} characters, over the limit of ${spec.maxPolicyChars} ` +
        `(maxPolicyChars; the account's "Role trust policy length" quota): ` +
        (packed.foreignChars > spec.maxPolicyChars
          ? `statements astro-trust does not own already take ${packed.foreignChars} characters. `
          : `the principals trusted today do not fit the limit. `) +
        (notFitting.length > 0 ? `Not trusted for lack of room: ${list(notFitting)}. ` : '') +
        sizeAdvice,
      deploymentsNotFitting: notFitting.map((d) => d.id),
    };
  } else if (!changed && notFitting.length > 0) {
    // Full: nothing to remove, and the oldest new Deployment does not fit. Nothing to write.
    guard = {
      kind: 'policy-too-large',
      message: `the trust policy has no room left (${currentChars} of ${spec.maxPolicyChars} characters) for ${notFitting.length} declared Deployment${notFitting.length === 1 ? '' : 's'}: ${list(notFitting)}. ${sizeAdvice}`,
      deploymentsNotFitting: notFitting.map((d) => d.id),
    };
  } else if (changed && removalUnits(removed) > spec.maxRemovals) {
    guard = {
      kind: 'too-many-removals',
      message:
        `the plan removes ${removalUnits(removed)} trusted identities, more than maxRemovals (${spec.maxRemovals}). ` +
        `If this is intended, raise maxRemovals for this role (or in defaults) and apply again; ` +
        `if not, check the inventory (an empty or partial Deployment list looks like this).`,
    };
  }
  const declared: DeclaredDeployment[] = desired.declared;
  const ctx: FindingContext = {
    role: spec.name,
    roleAccount: arn.accountId,
    partition: arn.partition,
    desired: desired.entries,
    astroIssuers: astroIssuersOf(deployments, rules),
    astroAccounts: new Set([...astroAccountsOf(deployments, rules)].filter((a) => a !== arn.accountId)),
    trustedAccounts: findingRules.trustedAccounts,
    trustedOrganizations: findingRules.trustedOrganizations,
  };
  const proposedGrants = packed.document.Statement.map((s, i) => grantOf.get(s) ?? parseGrant(s, i));
  const findings = acknowledge(
    dedupe([
      ...findForeign([...grantOf.values()], ctx),
      ...findDenied(proposedGrants, packed.kept, names, ctx, nowMs),
      ...sharedFindings(spec.name, desired.shared),
    ]),
    findingRules.acknowledge,
    nowMs,
  );
  const denied = standing(findings).some((f) => f.kind === 'declared-trust-denied');
  return {
    ...base,
    arn: arn.arn,
    status: guard ? 'blocked' : changed ? 'changes' : denied ? 'denied' : 'in-sync',
    declared: declared.map(({ deployment, matchedBy }) => ({ id: deployment.id, name: deployment.name, matchedBy })),
    add: add.map((e) => change(e, names)),
    remove: removed.map((e) => change(e, names, removalReason(e, knownIssuers))),
    rewritesOwned: policyChanges && add.length === 0 && removed.length === 0,
    findings,
    skipped: desired.skipped,
    notFitting,
    ...(guard ? { guard } : {}),
    policy: { currentChars, proposedChars: packed.chars, limit: spec.maxPolicyChars },
    oidcIssuers,
    missingOidcProviders,
    current: document,
    proposed: packed.document,
  };
}

/** Issuers of all Deployments in the inventory, primary and DR, that may be trusted at all (6.2). */
export function knownIssuersOf(deployments: Deployment[], rules: IdentityRules = NO_RULES): Set<string> {
  return new Set(
    deployments.flatMap((d) =>
      [d.oidcIssuer, d.drOidcIssuer].filter((i): i is string => !!i && issuerAllowed(i, rules)),
    ),
  );
}
