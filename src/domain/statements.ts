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
    out.push({
      Sid: WORKLOAD_IDENTITY_SID,
      Effect: 'Allow',
      Principal: { AWS: [...new Set(arns)].sort() },
      Action: 'sts:AssumeRole',
    });
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

/** Every principal the Allow statements of a policy trust (without NotPrincipal), as trust entries, owned or not. */
export function entriesTrusted(statements: Statement[]): TrustEntry[] {
  const out = new Map<string, TrustEntry>();
  for (const s of statements) {
    if (s.Effect !== 'Allow' || s.Principal === undefined || s.NotPrincipal !== undefined) continue;
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

/** Trust entries found in owned statements: what astro-trust granted, or what a hand edit put there. */
export function entriesInOwned(statements: Statement[]): TrustEntry[] {
  return entriesTrusted(statements.filter(isOwned));
}

/**
 * The role's trust policy with its owned statements replaced (DESIGN 6.3): `Version`, `Id` and every
 * statement astro-trust does not own stay exactly as read, in their order. IAM rejects an empty trust
 * policy, so a role left with nothing gets a deny-only placeholder.
 */
export function withOwned(current: PolicyDocument, owned: Statement[]): PolicyDocument {
  const statements = [...current.Statement.filter((s) => !isOwned(s)), ...owned];
  if (statements.length === 0)
    statements.push({ Sid: NO_TRUST_SID, Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' });
  return { ...current, Statement: statements };
}

/** The statements astro-trust owns in a document (the placeholder included). */
export function ownedOf(document: PolicyDocument): Statement[] {
  return document.Statement.filter(isOwned);
}

export interface PackInput {
  partition: string;
  accountId: string;
  /** The policy as read: its owned statements are replaced, everything else is kept as it is. */
  current: PolicyDocument;
  /** The desired entries. */
  entries: TrustEntry[];
  /** Keys (`entryKey`) of the entries the owned statements trust today: they keep their place. */
  trusted: Set<string>;
  /** Deployment ids, oldest first: the order in which new Deployments get the room that is left. */
  order: string[];
  maxPolicyChars: number;
  /** Characters of the policy in IAM today: a policy no larger than it is accepted by IAM whatever the limit. */
  currentChars?: number;
}

export interface PackResult {
  /** The policy to write: foreign statements, then owned statements for the entries that fit. */
  document: PolicyDocument;
  chars: number;
  /** Desired entries the document trusts. */
  kept: TrustEntry[];
  /** Declared Deployments (ids, oldest first) with a desired entry left out for lack of room. */
  notFitting: string[];
  /** False when even the entries trusted today do not fit and the document is larger than today's: nothing may be written. */
  writable: boolean;
  foreignChars: number;
}

function assemble(input: PackInput, entries: TrustEntry[]): PolicyDocument {
  return withOwned(input.current, ownedStatements(input.partition, input.accountId, entries));
}

/**
 * Builds the proposed trust policy under the size quota (DESIGN 6.1, no hostages): entries no longer
 * desired are always dropped; desired entries trusted today keep their place; new Deployments are added
 * oldest first while the policy fits in `maxPolicyChars` (counted as IAM counts); the rest are `notFitting`.
 */
export function packTrust(input: PackInput): PackResult {
  const foreign = input.current.Statement.filter((s) => !isOwned(s));
  const foreignChars = foreign.length > 0 ? policyChars({ ...input.current, Statement: foreign }) : 0;
  const kept = new Map(input.entries.filter((e) => input.trusted.has(entryKey(e))).map((e) => [entryKey(e), e]));
  const fits = (doc: PolicyDocument) => policyChars(doc) <= input.maxPolicyChars;
  let document = assemble(input, [...kept.values()]);
  const baseFits = fits(document);
  const byDeployment = new Map<string, TrustEntry[]>();
  for (const e of input.entries) {
    if (kept.has(entryKey(e))) continue;
    for (const id of e.deploymentIds) byDeployment.set(id, [...(byDeployment.get(id) ?? []), e]);
  }
  const order = [
    ...input.order.filter((id) => byDeployment.has(id)),
    ...[...byDeployment.keys()].filter((id) => !input.order.includes(id)).sort(),
  ];
  if (baseFits) {
    for (const id of order) {
      const trial = new Map(kept);
      for (const e of byDeployment.get(id)!) trial.set(entryKey(e), e);
      const doc = assemble(input, [...trial.values()]);
      // Strictly oldest first: a younger Deployment never takes the room an older one is waiting for.
      if (!fits(doc)) break;
      trial.forEach((e, k) => kept.set(k, e));
      document = doc;
    }
  }
  const chars = policyChars(document);
  const notFitting = order.filter((id) => byDeployment.get(id)!.some((e) => !kept.has(entryKey(e))));
  const writable = baseFits || (input.currentChars !== undefined && chars <= input.currentChars);
  return { document, chars, kept: [...kept.values()], notFitting, writable, foreignChars };
}
