/**
 * The plan of one role: what apply would change in the owned statements, the trust found that the config
 * does not declare, and the guards that stop a write. A plan is a value: printed, applied and alerted as is.
 */
import type { Deployment, RoleArn } from './deployment.js';
import { desiredTrust, entryKey, type DeclaredDeployment, type Mode, type RoleSpec, type TrustEntry, type TrustKind } from './desired.js';
import { asList, canonicalKey, isOwned, policyChars, type PolicyDocument, type Statement } from './policy.js';
import { entriesInOwned, issuerOfProviderArn, packTrust, subjectsOf } from './statements.js';

export type FindingKind =
  | 'undeclared-astro-identity'
  | 'undeclared-namespace'
  | 'namespace-wildcard'
  | 'orphaned-principal'
  | 'wildcard-principal';

/** Trust found in a statement astro-trust does not own that the config does not declare: alerted, never edited. */
export interface Finding {
  kind: FindingKind;
  principal: string;
  sid?: string;
  detail: string;
}

export type GuardKind = 'policy-too-large' | 'too-many-removals';
export interface Guard {
  kind: GuardKind;
  message: string;
  /** policy-too-large: the declared Deployments (last by id) that would have to go for the policy to fit. */
  deploymentsNotFitting?: string[];
}

export type RoleStatus = 'in-sync' | 'changes' | 'blocked' | 'missing';

export interface PrincipalChange {
  principal: string;
  /** For OIDC: the issuer the subject belongs to. */
  issuer?: string;
  deploymentIds: string[];
  reason?: string;
}

export interface RolePlan {
  role: string;
  arn?: string;
  trust: TrustKind;
  mode: Mode;
  status: RoleStatus;
  declared: { id: string; name: string; matchedBy: string }[];
  add: PrincipalChange[];
  remove: PrincipalChange[];
  /** True when owned statements change shape although no principal is added or removed (hand edit of Effect, Action...). */
  rewritesOwned: boolean;
  unexpected: Finding[];
  skipped: { deploymentId: string; reason: string }[];
  guard?: Guard;
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

const UNIQUE_ID = /^A[A-Z0-9]{3}[A-Z0-9]{12,}$/;
const ASTRO_IDENTITY = /^arn:[a-z-]+:iam::\d{12}:role\/(?:.*\/)?astro-[^/]+$/;

/** Identities counted against `maxRemovals`: one per role ARN, one per (issuer, namespace) for OIDC. */
function removalUnits(entries: TrustEntry[]): number {
  return new Set(entries.map((e) => (e.kind === 'aws' ? e.arn : `${e.issuer} ${namespaceOf(e.sub) ?? e.sub}`))).size;
}

/** Namespace of a `system:serviceaccount:<ns>:<name>` subject. */
export function namespaceOf(sub: string): string | undefined {
  const m = /^system:serviceaccount:([^:]*)(?::|$)/.exec(sub);
  return m ? m[1] : undefined;
}

function isWildcardSubject(sub: string): boolean {
  const ns = namespaceOf(sub);
  return ns === undefined ? /[*?]/.test(sub) : /[*?]/.test(ns) || ns === '';
}

/**
 * Inspects statements astro-trust does not own: an undeclared Astro identity (`role/astro-*`), a subject of
 * a known Astro issuer in an undeclared namespace, a namespace wildcard (it trusts every tenant of a
 * shared cluster), an orphaned principal (a deleted role shows as its unique id `AROA...`) or `*`.
 */
export function findUnexpected(
  foreign: Statement[],
  desired: TrustEntry[],
  knownIssuers: Set<string>,
): Finding[] {
  const out: Finding[] = [];
  const desiredArns = new Set(desired.flatMap((e) => (e.kind === 'aws' ? [e.arn] : [])));
  const desiredNs = new Set(desired.flatMap((e) => (e.kind === 'oidc' ? [`${e.issuer} ${namespaceOf(e.sub)}`] : [])));
  for (const s of foreign) {
    if (s.Effect !== 'Allow' || s.Principal === undefined) continue;
    const sid = s.Sid;
    const principal = s.Principal === '*' ? { AWS: '*' } : s.Principal;
    for (const p of asList(principal.AWS)) {
      if (p === '*') {
        out.push({ kind: 'wildcard-principal', principal: p, sid, detail: 'trusts every AWS principal' });
      } else if (UNIQUE_ID.test(p)) {
        out.push({ kind: 'orphaned-principal', principal: p, sid, detail: 'a unique id in place of an ARN: the trusted role or user was deleted, so this trust is broken' });
      } else if (ASTRO_IDENTITY.test(p) && !desiredArns.has(p)) {
        out.push({ kind: 'undeclared-astro-identity', principal: p, sid, detail: 'an Astro Deployment identity that the config does not declare for this role' });
      }
    }
    for (const fed of asList(principal.Federated)) {
      const issuer = issuerOfProviderArn(fed);
      if (!issuer) continue;
      const subs = subjectsOf(s, issuer);
      const astro = knownIssuers.has(issuer);
      if (subs.length === 0 && astro) {
        out.push({ kind: 'namespace-wildcard', principal: fed, sid, detail: 'no sub condition: every service account of the Astro cluster can assume this role' });
      }
      for (const sub of subs) {
        if (isWildcardSubject(sub)) {
          out.push({ kind: 'namespace-wildcard', principal: `${issuer}:sub=${sub}`, sid, detail: 'a namespace wildcard trusts every tenant of the cluster' });
        } else if (astro && !desiredNs.has(`${issuer} ${namespaceOf(sub)}`)) {
          out.push({ kind: 'undeclared-namespace', principal: `${issuer}:sub=${sub}`, sid, detail: `namespace ${namespaceOf(sub) ?? '?'} on an Astro cluster issuer is not declared for this role` });
        }
      }
    }
  }
  return out;
}

function change(e: TrustEntry, reason?: string): PrincipalChange {
  const base = e.kind === 'aws' ? { principal: e.arn } : { principal: e.sub, issuer: e.issuer };
  return { ...base, deploymentIds: e.deploymentIds, ...(reason ? { reason } : {}) };
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
  state: RoleState | undefined;
  /** Issuers (host/path) of every Deployment in the inventory: how Astro clusters are recognised. */
  knownIssuers: Set<string>;
  /** Issuers that have an IAM OIDC provider in the account; undefined when unknown (offline snapshot). */
  oidcProviders?: Set<string>;
}

/** Plans one role: desired trust vs the owned statements in IAM, foreign statements kept and inspected, guards applied. */
export function planRole({ spec, deployments, state, knownIssuers, oidcProviders }: PlanRoleInput): RolePlan {
  const base = { role: spec.name, trust: spec.trust, mode: spec.mode };
  if (!state) {
    return {
      ...base, status: 'missing', declared: [], add: [], remove: [], rewritesOwned: false, unexpected: [], skipped: [],
      policy: { proposedChars: 0, limit: spec.maxPolicyChars }, oidcIssuers: [], missingOidcProviders: [],
    };
  }
  const { arn, document } = state;
  const desired = desiredTrust(spec, deployments, arn);
  const foreign = document.Statement.filter((s) => !isOwned(s));
  const actual = entriesInOwned(document.Statement);
  const desiredKeys = new Set(desired.entries.map(entryKey));
  const actualKeys = new Set(actual.map(entryKey));
  const add = desired.entries.filter((e) => !actualKeys.has(entryKey(e)));
  const removed = actual.filter((e) => !desiredKeys.has(entryKey(e)));
  const packed = packTrust({
    version: document.Version ?? '2012-10-17',
    partition: arn.partition,
    accountId: arn.accountId,
    foreign,
    entries: desired.entries,
    maxPolicyChars: spec.maxPolicyChars,
  });
  const oidcIssuers = [...new Set(desired.entries.flatMap((e) => (e.kind === 'oidc' ? [e.issuer] : [])))].sort();
  const missingOidcProviders = oidcProviders ? oidcIssuers.filter((i) => !oidcProviders.has(i)) : [];
  const policyChanges = canonicalKey(packed.document) !== canonicalKey(document);
  const changed = policyChanges || missingOidcProviders.length > 0;
  const currentChars = policyChars(document);

  let guard: Guard | undefined;
  if (changed && !packed.ok) {
    guard = {
      kind: 'policy-too-large',
      message:
        `the trust policy would be ${packed.chars} characters, over the limit of ${spec.maxPolicyChars} ` +
        `(maxPolicyChars; the account's "Role trust policy length" quota) by ${packed.chars - spec.maxPolicyChars}: ` +
        (packed.foreignChars > spec.maxPolicyChars
          ? `statements astro-trust does not own already take ${packed.foreignChars} characters. `
          : `${packed.deploymentsOver} of ${desired.declared.length} declared Deployments do not fit ` +
            `(${packed.notFitting.slice(0, 20).join(', ')}${packed.notFitting.length > 20 ? `, and ${packed.notFitting.length - 20} more` : ''}). `) +
        `Narrow the role's selectors, or ask AWS to raise the quota and set maxPolicyChars to it.`,
      deploymentsNotFitting: packed.notFitting,
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
  return {
    ...base,
    arn: arn.arn,
    status: !changed ? 'in-sync' : guard ? 'blocked' : 'changes',
    declared: declared.map(({ deployment, matchedBy }) => ({ id: deployment.id, name: deployment.name, matchedBy })),
    add: add.map((e) => change(e)),
    remove: removed.map((e) => change(e, removalReason(e, knownIssuers))),
    rewritesOwned: policyChanges && add.length === 0 && removed.length === 0,
    unexpected: findUnexpected(foreign, desired.entries, knownIssuers),
    skipped: desired.skipped,
    ...(guard ? { guard } : {}),
    policy: { currentChars, proposedChars: packed.chars, limit: spec.maxPolicyChars },
    oidcIssuers,
    missingOidcProviders,
    current: document,
    proposed: packed.document,
  };
}

/** Issuers of all Deployments in the inventory, primary and DR. */
export function knownIssuersOf(deployments: Deployment[]): Set<string> {
  return new Set(deployments.flatMap((d) => [d.oidcIssuer, d.drOidcIssuer].filter((i): i is string => !!i)));
}
