/**
 * Findings: trust a person must look at (DESIGN 3.5). Found in statements astro-trust does not own (alerted,
 * never edited), or a declared identity that undeclared Deployments share. A person may acknowledge one
 * in the config, with a reason and an expiry; it comes back when the acknowledgement expires.
 */
import type { TrustEntry } from './desired.js';
import { asList, type Statement } from './policy.js';
import { issuerOfProviderArn, subjectsOf } from './statements.js';

export type FindingKind =
  | 'undeclared-astro-identity'
  | 'undeclared-namespace'
  | 'namespace-wildcard'
  | 'orphaned-principal'
  | 'wildcard-principal'
  | 'external-account'
  | 'not-principal'
  | 'shared-identity';

export interface Finding {
  kind: FindingKind;
  principal: string;
  sid?: string;
  detail: string;
  /** shared-identity: the Deployments that use the identity without being declared for the role. */
  deployments?: { id: string; name: string }[];
  /** Set when a person acknowledged it in the config and the acknowledgement has not expired. */
  acknowledgement?: { reason: string; expires: string; daysLeft: number };
}

/** `findings.acknowledge` in the config: a known finding, why it stays, until when (YYYY-MM-DD, UTC). */
export interface Acknowledgement {
  role: string;
  principal: string;
  reason: string;
  expires: string;
}

export interface FindingRules {
  /** Accounts that may appear in foreign statements without an `external-account` finding. */
  trustedAccounts: string[];
  acknowledge: Acknowledgement[];
}

export const NO_FINDING_RULES: FindingRules = { trustedAccounts: [], acknowledge: [] };

/** A plan says so when an acknowledgement runs out within this many days. */
export const EXPIRY_WARNING_DAYS = 14;

export const UNIQUE_ID = /^A[A-Z0-9]{3}[A-Z0-9]{12,}$/;
export const ASTRO_IDENTITY = /^arn:[a-z-]+:iam::\d{12}:role\/(?:.*\/)?astro-[^/]+$/;
const PRINCIPAL_ACCOUNT = /^arn:[a-z-]+:(?:iam|sts)::(\d{12}):/;

/** Namespace of a `system:serviceaccount:<ns>:<name>` subject. */
export function namespaceOf(sub: string): string | undefined {
  const m = /^system:serviceaccount:([^:]*)(?::|$)/.exec(sub);
  return m ? m[1] : undefined;
}

export function isWildcardSubject(sub: string): boolean {
  const ns = namespaceOf(sub);
  return ns === undefined ? /[*?]/.test(sub) : /[*?]/.test(ns) || ns === '';
}

/** The account an AWS principal belongs to (`123456789012`, `arn:aws:iam::123456789012:root`, a role, a user), or undefined. */
export function accountOfPrincipal(principal: string): string | undefined {
  if (/^\d{12}$/.test(principal)) return principal;
  return PRINCIPAL_ACCOUNT.exec(principal)?.[1];
}

export interface FindingContext {
  desired: TrustEntry[];
  /** Issuers (host/path) of the Deployments in the inventory: how Astro clusters are recognised. */
  knownIssuers: Set<string>;
  /** The managed role's own account. */
  roleAccount: string;
  trustedAccounts: string[];
}

/**
 * Inspects statements astro-trust does not own: an undeclared Astro identity (`role/astro-*`), a subject of
 * a known Astro issuer in an undeclared namespace, a namespace wildcard (it trusts every tenant of a
 * shared cluster), an orphaned principal (a deleted role shows as its unique id `AROA...`), `*`, a principal
 * of an account that is neither the role's, a declared Deployment's identity account nor trusted (a
 * backdoor), and `Allow` with `NotPrincipal` (it trusts nearly everyone).
 */
export function findUnexpected(foreign: Statement[], ctx: FindingContext): Finding[] {
  const out: Finding[] = [];
  const desiredArns = new Set(ctx.desired.flatMap((e) => (e.kind === 'aws' ? [e.arn] : [])));
  const desiredNs = new Set(
    ctx.desired.flatMap((e) => (e.kind === 'oidc' ? [`${e.issuer} ${namespaceOf(e.sub)}`] : [])),
  );
  const known = new Set([
    ctx.roleAccount,
    ...ctx.trustedAccounts,
    ...[...desiredArns].flatMap((a) => accountOfPrincipal(a) ?? []),
  ]);
  for (const s of foreign) {
    if (s.Effect !== 'Allow') continue;
    const sid = s.Sid;
    if (s.NotPrincipal !== undefined) {
      const except = s.NotPrincipal === '*' ? ['*'] : Object.values(s.NotPrincipal).flatMap((v) => asList(v));
      out.push({
        kind: 'not-principal',
        principal: `NotPrincipal ${except.join(', ')}`.slice(0, 300),
        sid,
        detail: 'Allow with NotPrincipal trusts every principal except the ones listed',
      });
    }
    if (s.Principal === undefined) continue;
    const principal = s.Principal === '*' ? { AWS: '*' } : s.Principal;
    for (const p of asList(principal.AWS)) {
      if (p === '*') {
        out.push({ kind: 'wildcard-principal', principal: p, sid, detail: 'trusts every AWS principal' });
      } else if (UNIQUE_ID.test(p)) {
        out.push({
          kind: 'orphaned-principal',
          principal: p,
          sid,
          detail: 'a unique id in place of an ARN: the trusted role or user was deleted, so this trust is broken',
        });
      } else if (ASTRO_IDENTITY.test(p) && !desiredArns.has(p)) {
        out.push({
          kind: 'undeclared-astro-identity',
          principal: p,
          sid,
          detail: 'an Astro Deployment identity that the config does not declare for this role',
        });
      } else {
        const account = accountOfPrincipal(p);
        if (account && !known.has(account)) {
          out.push({
            kind: 'external-account',
            principal: p,
            sid,
            detail: `account ${account} is not this role's account, the account of a declared Deployment's identity, nor listed in findings.trustedAccounts${/:root$|^\d{12}$/.test(p) ? ' (the account root: every principal that account allows)' : ''}`,
          });
        }
      }
    }
    for (const fed of asList(principal.Federated)) {
      const issuer = issuerOfProviderArn(fed);
      if (!issuer) continue;
      const subs = subjectsOf(s, issuer);
      const astro = ctx.knownIssuers.has(issuer);
      if (subs.length === 0 && astro) {
        out.push({
          kind: 'namespace-wildcard',
          principal: fed,
          sid,
          detail: 'no sub condition: every service account of the Astro cluster can assume this role',
        });
      }
      for (const sub of subs) {
        if (isWildcardSubject(sub)) {
          out.push({
            kind: 'namespace-wildcard',
            principal: `${issuer}:sub=${sub}`,
            sid,
            detail: 'a namespace wildcard trusts every tenant of the cluster',
          });
        } else if (astro && !desiredNs.has(`${issuer} ${namespaceOf(sub)}`)) {
          out.push({
            kind: 'undeclared-namespace',
            principal: `${issuer}:sub=${sub}`,
            sid,
            detail: `namespace ${namespaceOf(sub) ?? '?'} on an Astro cluster issuer is not declared for this role`,
          });
        }
      }
    }
  }
  return out;
}

const DAY_MS = 86_400_000;

/**
 * Marks the findings a person acknowledged for this role (same principal), while the acknowledgement has
 * not expired: it runs until 00:00 UTC of its `expires` date, then the finding is back.
 */
export function acknowledge(findings: Finding[], role: string, acks: Acknowledgement[], nowMs: number): Finding[] {
  return findings.map((f) => {
    const ack = acks.find(
      (a) => a.role === role && a.principal === f.principal && nowMs < Date.parse(`${a.expires}T00:00:00Z`),
    );
    if (!ack) return f;
    const daysLeft = Math.ceil((Date.parse(`${ack.expires}T00:00:00Z`) - nowMs) / DAY_MS);
    return { ...f, acknowledgement: { reason: ack.reason, expires: ack.expires, daysLeft } };
  });
}

/** Findings that still need a person: not acknowledged, or acknowledged no longer. */
export function standing(findings: Finding[]): Finding[] {
  return findings.filter((f) => !f.acknowledgement);
}

/** A stable fingerprint of one role's standing findings: the same set is alerted once per window. */
export function findingsFingerprint(role: string, findings: Finding[]): string {
  return [
    role,
    ...standing(findings)
      .map((f) => `${f.kind} ${f.sid ?? ''} ${f.principal}`)
      .sort(),
  ].join('|');
}
