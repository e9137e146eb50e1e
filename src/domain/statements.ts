/**
 * The statements astro-trust writes (its own, Sid `AstroTrust...`), reading trust entries back out of
 * them, and packing them next to the foreign statements under the size quota.
 */
import { entryKey, type TrustEntry } from './desired.js';
import { asList, isOwned, policyChars, type PolicyDocument, type Statement } from './policy.js';

export const WORKLOAD_IDENTITY_SID = 'AstroTrustWorkloadIdentity';
export const OIDC_SID_PREFIX = 'AstroTrustOidc';
/** Written only when a role would otherwise have no statement at all: IAM rejects an empty trust policy. */
export const NO_TRUST_SID = 'AstroTrustNone';

/** FNV-1a, 32 bit: a short, stable, dependency-free hash for Sids (not for security). */
function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Sid of the statement for one OIDC issuer: `AstroTrustOidc<hash of issuer>` (Sids allow only [A-Za-z0-9]). */
export function oidcSid(issuer: string): string {
  return `${OIDC_SID_PREFIX}${shortHash(issuer)}`;
}

/** ARN of the account's IAM OIDC identity provider for an issuer host/path. */
export function oidcProviderArn(partition: string, accountId: string, issuer: string): string {
  return `arn:${partition}:iam::${accountId}:oidc-provider/${issuer}`;
}

/** Issuer host/path of an `oidc-provider/...` ARN, or undefined. */
export function issuerOfProviderArn(arn: string): string | undefined {
  const m = /^arn:[a-z-]+:iam::\d{12}:oidc-provider\/(.+)$/.exec(arn);
  return m ? m[1] : undefined;
}

/** Subjects (`<issuer>:sub` values) an OIDC statement allows, from StringEquals and StringLike alike. */
export function subjectsOf(statement: Statement, issuer: string): string[] {
  const out: string[] = [];
  for (const [op, block] of Object.entries(statement.Condition ?? {})) {
    if (!/^String(Equals|Like)(IgnoreCase)?$/.test(op.replace(/^ForAnyValue:|^ForAllValues:/, ''))) continue;
    for (const [key, value] of Object.entries(block)) {
      if (key.toLowerCase() === `${issuer}:sub`.toLowerCase()) out.push(...asList(value));
    }
  }
  return out;
}

/** Statements for a set of desired entries: one `sts:AssumeRole` statement, one statement per OIDC issuer. */
export function ownedStatements(partition: string, accountId: string, entries: TrustEntry[]): Statement[] {
  const out: Statement[] = [];
  const arns = entries.filter((e) => e.kind === 'aws').map((e) => e.arn);
  if (arns.length > 0) {
    out.push({ Sid: WORKLOAD_IDENTITY_SID, Effect: 'Allow', Principal: { AWS: [...new Set(arns)].sort() }, Action: 'sts:AssumeRole' });
  }
  const byIssuer = new Map<string, string[]>();
  for (const e of entries) if (e.kind === 'oidc') byIssuer.set(e.issuer, [...(byIssuer.get(e.issuer) ?? []), e.sub]);
  for (const issuer of [...byIssuer.keys()].sort()) {
    out.push({
      Sid: oidcSid(issuer),
      Effect: 'Allow',
      Principal: { Federated: oidcProviderArn(partition, accountId, issuer) },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: { [`${issuer}:aud`]: 'sts.amazonaws.com' },
        StringLike: { [`${issuer}:sub`]: [...new Set(byIssuer.get(issuer))].sort() },
      },
    });
  }
  return out;
}

/** Trust entries found in owned statements (Allow only): what astro-trust granted, or what a hand edit put there. */
export function entriesInOwned(statements: Statement[]): TrustEntry[] {
  const out = new Map<string, TrustEntry>();
  for (const s of statements) {
    if (!isOwned(s) || s.Effect !== 'Allow' || s.Principal === undefined) continue;
    const principal = s.Principal === '*' ? { AWS: '*' } : s.Principal;
    for (const arn of asList(principal.AWS)) {
      const e: TrustEntry = { kind: 'aws', arn, deploymentIds: [] };
      out.set(entryKey(e), e);
    }
    for (const fed of asList(principal.Federated)) {
      const issuer = issuerOfProviderArn(fed);
      if (!issuer) continue;
      for (const sub of subjectsOf(s, issuer)) {
        const e: TrustEntry = { kind: 'oidc', issuer, sub, deploymentIds: [] };
        out.set(entryKey(e), e);
      }
    }
  }
  return [...out.values()];
}

export interface PackInput {
  version: string;
  partition: string;
  accountId: string;
  /** Statements astro-trust does not own, kept as they are and in their order. */
  foreign: Statement[];
  entries: TrustEntry[];
  maxPolicyChars: number;
}

export type PackResult =
  | { ok: true; document: PolicyDocument; chars: number }
  | { ok: false; document: PolicyDocument; chars: number; deploymentsOver: number; notFitting: string[]; foreignChars: number };

function assemble(input: PackInput, entries: TrustEntry[]): PolicyDocument {
  const statements = [...input.foreign, ...ownedStatements(input.partition, input.accountId, entries)];
  if (statements.length === 0) {
    statements.push({ Sid: NO_TRUST_SID, Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' });
  }
  return { Version: input.version, Statement: statements };
}

/**
 * Builds the proposed trust policy: foreign statements first, then the packed owned ones. When it does
 * not fit in `maxPolicyChars` (counted as IAM counts), reports how many declared Deployments would have
 * to go for it to fit; the caller must not write it.
 */
export function packTrust(input: PackInput): PackResult {
  const document = assemble(input, input.entries);
  const chars = policyChars(document);
  if (chars <= input.maxPolicyChars) return { ok: true, document, chars };
  const ids = [...new Set(input.entries.flatMap((e) => e.deploymentIds))].sort();
  let lo = 1;
  let hi = ids.length;
  // Fewest Deployments to drop (from the end of the sorted list) so that the policy fits: binary search.
  let over = ids.length + 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const keep = new Set(ids.slice(0, ids.length - mid));
    const kept = input.entries.filter((e) => e.deploymentIds.some((id) => keep.has(id)));
    if (policyChars(assemble(input, kept)) <= input.maxPolicyChars) {
      over = mid;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  const foreignChars = input.foreign.length > 0 ? policyChars({ Version: input.version, Statement: input.foreign }) : 0;
  const deploymentsOver = Math.min(over, ids.length);
  return { ok: false, document, chars, deploymentsOver, notFitting: ids.slice(ids.length - deploymentsOver), foreignChars };
}
