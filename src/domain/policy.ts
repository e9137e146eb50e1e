import { PolicyParseError } from '../errors.js';

/**
 * The IAM trust-policy model: parsing whatever IAM or a person hands us, a canonical form to compare
 * documents the way IAM evaluates them, and the character count IAM's size quota uses.
 */

export type StringOrList = string | string[];
export type ConditionBlock = Record<string, Record<string, unknown>>;

export interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: '*' | Record<string, StringOrList>;
  NotPrincipal?: '*' | Record<string, StringOrList>;
  Action?: StringOrList;
  NotAction?: StringOrList;
  Resource?: StringOrList;
  NotResource?: StringOrList;
  Condition?: ConditionBlock;
}

export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: Statement[];
}

export { PolicyParseError };

/** Sid prefix of the statements astro-trust owns; every other statement is kept exactly as found. */
export const OWNED_SID_PREFIX = 'AstroTrust';

/** True when astro-trust owns the statement (its Sid starts with `AstroTrust`). */
export function isOwned(statement: Statement): boolean {
  return typeof statement.Sid === 'string' && statement.Sid.startsWith(OWNED_SID_PREFIX);
}

/**
 * Parses a trust policy as IAM returns it (`GetRole` gives it URL-encoded and the SDK v3 does not decode
 * it), as the CLI prints it (already an object) or as a person writes it (a single Statement object).
 */
export function parseTrustPolicy(input: unknown): PolicyDocument {
  let value: unknown = input;
  if (typeof value === 'string') {
    const text = value.trim();
    const json = text.startsWith('{') ? text : safeDecode(text);
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new PolicyParseError(`trust policy is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!isRecord(value)) throw new PolicyParseError('trust policy must be a JSON object');
  const raw = value.Statement;
  const statements = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  statements.forEach((s, i) => {
    if (!isRecord(s)) throw new PolicyParseError(`Statement[${i}] must be an object`);
    if (typeof s.Effect !== 'string') throw new PolicyParseError(`Statement[${i}].Effect must be a string`);
  });
  const doc: PolicyDocument = { ...(value as object), Statement: structuredClone(statements) as Statement[] };
  return doc;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch (err) {
    throw new PolicyParseError('trust policy is neither JSON nor URL-encoded JSON', { cause: err });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string or list as IAM treats it: a set. */
export function asList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  // An object where a string belongs (a malformed statement) is kept as its JSON, never thrown on.
  return (Array.isArray(value) ? value : [value]).map((v) =>
    typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v),
  );
}

function sortedSet(values: string[]): string[] {
  return [...new Set(values)].sort();
}

function canonicalPrincipal(p: unknown): Record<string, string[]> | undefined {
  if (p === undefined) return undefined;
  // IAM treats "Principal": "*" and {"AWS": "*"} the same.
  if (p === '*') return { AWS: ['*'] };
  if (!isRecord(p)) return { '?': [JSON.stringify(p)] };
  const out: Record<string, string[]> = {};
  for (const key of Object.keys(p).sort()) out[key] = sortedSet(asList(p[key]));
  return out;
}

function canonicalCondition(c: unknown): Record<string, Record<string, string[]>> | undefined {
  if (c === undefined) return undefined;
  if (!isRecord(c)) return { '?': { '?': [JSON.stringify(c)] } };
  const out: Record<string, Record<string, string[]>> = {};
  for (const op of Object.keys(c).sort()) {
    const block = c[op];
    const keys: Record<string, string[]> = {};
    if (isRecord(block)) {
      // Condition keys are case-insensitive in IAM; values are compared as given.
      const entries = Object.entries(block).map(([k, v]) => [k.toLowerCase(), v] as const);
      for (const [k, v] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        keys[k] = sortedSet([...(keys[k] ?? []), ...asList(v)]);
      }
    }
    out[op] = keys;
  }
  return out;
}

/** One statement in canonical form: lists as sorted sets, actions lower-cased (IAM matches them case-insensitively). */
export function canonicalStatement(s: Statement, withSid = true): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (withSid && s.Sid !== undefined) out.Sid = s.Sid;
  out.Effect = s.Effect;
  const principal = canonicalPrincipal(s.Principal);
  if (principal) out.Principal = principal;
  const notPrincipal = canonicalPrincipal(s.NotPrincipal);
  if (notPrincipal) out.NotPrincipal = notPrincipal;
  if (s.Action !== undefined) out.Action = sortedSet(asList(s.Action).map((a) => a.toLowerCase()));
  if (s.NotAction !== undefined) out.NotAction = sortedSet(asList(s.NotAction).map((a) => a.toLowerCase()));
  if (s.Resource !== undefined) out.Resource = sortedSet(asList(s.Resource));
  if (s.NotResource !== undefined) out.NotResource = sortedSet(asList(s.NotResource));
  const condition = canonicalCondition(s.Condition);
  if (condition) out.Condition = condition;
  return out;
}

/**
 * A string that is equal for two trust policies exactly when IAM evaluates them the same: IAM may
 * reorder statements and list values and turn one-element lists into strings, so strings of the raw
 * JSON are never compared. Sids are kept (`withSid`) because ownership hangs on them.
 */
export function canonicalKey(doc: PolicyDocument, withSid = true): string {
  const statements = doc.Statement.map((s) => JSON.stringify(canonicalStatement(s, withSid))).sort();
  // A missing Version means IAM's default, 2008-10-17.
  return JSON.stringify({ Version: doc.Version ?? '2008-10-17', Statement: statements });
}

/** True when IAM would treat both documents (Sids included) the same. */
export function samePolicy(a: PolicyDocument, b: PolicyDocument): boolean {
  return canonicalKey(a) === canonicalKey(b);
}

/** The minified JSON astro-trust sends to `UpdateAssumeRolePolicy`. */
export function serializePolicy(doc: PolicyDocument): string {
  return JSON.stringify(doc);
}

/** Characters counted against IAM's "Role trust policy length" quota: whitespace is not counted. */
export function policyChars(doc: PolicyDocument): number {
  return serializePolicy(doc).replace(/\s/g, '').length;
}
