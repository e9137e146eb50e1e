/**
 * Does a role's trust policy let one caller assume the role? IAM's evaluation logic for a trust policy (explicit
 * deny wins; otherwise an allow is needed), over the grant model (grant.ts), in three-valued logic: a condition on a
 * request-context key astro-trust cannot know (the caller's source IP, its organization, its session tags...) is
 * `unknown`, and so is every answer that depends on it. Checked against `@cloud-copilot/iam-simulate` by property
 * tests (test/domain/evaluate.test.ts): wherever this answers yes or no, iam-simulate agrees for every value the
 * unknown keys may take.
 */
import { coversAction, globMatch, isNegated, type Clause, type Grant, type Principal } from './grant.js';

/** Three-valued: true, false, or it depends on what astro-trust cannot know. */
export type Tri = boolean | 'unknown';

const and = (a: Tri, b: Tri): Tri =>
  a === false || b === false ? false : a === 'unknown' || b === 'unknown' ? 'unknown' : true;
const or = (a: Tri, b: Tri): Tri =>
  a === true || b === true ? true : a === 'unknown' || b === 'unknown' ? 'unknown' : false;
const not = (a: Tri): Tri => (a === 'unknown' ? 'unknown' : !a);

/** Who calls STS: an AWS role (any session of it), or a web identity through a federated provider. */
export type Caller =
  | { kind: 'aws'; arn: string; account: string; roleName: string }
  | { kind: 'federated'; provider: string; account?: string };

export interface RequestContext {
  /** Keys present in the request (lower-cased) and their value: a string, or a list for a multi-valued key. */
  present: ReadonlyMap<string, string | readonly string[]>;
  /** For a key not in `present`: true when it is known to be absent; false when astro-trust cannot know. */
  absent(key: string): boolean;
}

export interface AssumeRequest {
  action: string;
  caller: Caller;
  context: RequestContext;
}

export interface Decision {
  /** IAM allows the call (true), does not (false), or it depends on keys astro-trust cannot know. */
  allowed: Tri;
  /** The Deny statement that blocks the call (or may block it, when `allowed` is unknown). */
  deniedBy?: Grant;
  /** Why it is not allowed: an explicit deny, a deny that may apply, or no statement that allows it. */
  reason: 'allowed' | 'explicit-deny' | 'maybe-denied' | 'no-allow' | 'maybe-no-allow';
  /** The request-context keys the answer depends on (lower-cased), or why a statement could not be judged. */
  unknowns: string[];
}

type PrincipalMatch = 'match' | 'account' | 'no' | 'unknown';

function matchPrincipal(p: Principal, caller: Caller): PrincipalMatch {
  switch (p.type) {
    case 'any':
    case 'aws-any':
      // iam-simulate (and IAM for "*") match every caller, federated ones included.
      return 'match';
    case 'account':
      return caller.account === p.account ? 'account' : 'no';
    case 'role':
      return caller.kind === 'aws' && p.text === caller.arn ? 'match' : 'no';
    case 'assumed-role':
      // One session of the role: which session the caller has is not known.
      return caller.kind === 'aws' && p.account === caller.account && p.role === caller.roleName ? 'unknown' : 'no';
    case 'oidc':
    case 'saml':
    case 'cognito':
    case 'web-identity':
    case 'federated-other':
      return caller.kind === 'federated' && p.text === caller.provider ? 'match' : 'no';
    default:
      return 'no';
  }
}

/**
 * Whether the statement's principal element covers the caller. An account principal needs the caller's own
 * identity policy to allow too: astro-trust judges the trust policy alone, so it counts for an AWS caller (whose
 * permissions are its account's business) and, as iam-simulate does, never grants a web identity on its own.
 */
function principalApplies(g: Grant, caller: Caller): Tri {
  const list = g.principals ?? g.notPrincipals ?? [];
  let any: Tri = false;
  for (const p of list) {
    const m = matchPrincipal(p, caller);
    const hit: Tri =
      m === 'match'
        ? true
        : m === 'unknown'
          ? 'unknown'
          : m === 'account'
            ? !!g.notPrincipals || g.effect === 'Deny' || caller.kind === 'aws'
            : false;
    any = or(any, hit);
    if (any === true) break;
  }
  return g.notPrincipals ? not(any) : any;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/;
function ipv4(text: string): { addr: number; bits: number } | undefined {
  const m = IPV4.exec(text.trim());
  if (!m) return undefined;
  const parts = m.slice(1, 5).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  const bits = m[5] === undefined ? 32 : Number(m[5]);
  if (bits > 32) return undefined;
  return { addr: ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0, bits };
}
function inCidr(cidr: string, ip: string): Tri {
  const net = ipv4(cidr);
  const addr = ipv4(ip);
  // IPv6 (or anything else) is not judged here.
  if (!net || !addr) return 'unknown';
  const mask = net.bits === 0 ? 0 : (0xffffffff << (32 - net.bits)) >>> 0;
  return (net.addr & mask) >>> 0 === (addr.addr & mask) >>> 0;
}

function parseNumber(text: string): number | undefined {
  return /^[-+]?(\d+\.?\d*|\.\d+)$/.test(text.trim()) ? Number(text) : undefined;
}
function parseDate(text: string): number | undefined {
  // A number is epoch seconds; anything else an ISO 8601 date.
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

function arnMatch(pattern: string, value: string): boolean {
  const split = (arn: string) => {
    const parts = arn.split(':');
    return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(':')];
  };
  const p = split(pattern);
  const v = split(value);
  if (!p || !v || p[0] !== 'arn' || v[0] !== 'arn') return false;
  return p.every((part, i) => globMatch(part, v[i]!));
}

/** One request value against one policy value, for the operator without its negation. */
function positive(base: Clause['base'], policy: string, value: string): Tri {
  switch (base) {
    case 'StringEquals':
    case 'StringNotEquals':
    case 'BinaryEquals':
      return policy === value;
    case 'StringEqualsIgnoreCase':
    case 'StringNotEqualsIgnoreCase':
      return policy.toLowerCase() === value.toLowerCase();
    case 'StringLike':
    case 'StringNotLike':
      return globMatch(policy, value);
    case 'ArnEquals':
    case 'ArnLike':
    case 'ArnNotEquals':
    case 'ArnNotLike':
      return arnMatch(policy, value);
    case 'Bool': {
      const a = policy.toLowerCase();
      const b = value.toLowerCase();
      if (!['true', 'false'].includes(a) || !['true', 'false'].includes(b)) return 'unknown';
      return a === b;
    }
    case 'IpAddress':
    case 'NotIpAddress':
      return inCidr(policy, value);
    default: {
      const numeric = base.startsWith('Numeric');
      const pv = numeric ? parseNumber(policy) : parseDate(policy);
      const rv = numeric ? parseNumber(value) : parseDate(value);
      if (pv === undefined || rv === undefined) return 'unknown';
      const op = base.replace(/^(Numeric|Date)/, '');
      return op === 'Equals' || op === 'NotEquals'
        ? rv === pv
        : op === 'LessThan'
          ? rv < pv
          : op === 'LessThanEquals'
            ? rv <= pv
            : op === 'GreaterThan'
              ? rv > pv
              : rv >= pv;
    }
  }
}

/** The operator on one request value: any policy value matches (negated: none does). */
function onValue(c: Clause, value: string): Tri {
  let any: Tri = false;
  for (const p of c.values) any = or(any, positive(c.base, p, value));
  return isNegated(c.base) ? not(any) : any;
}

/** One clause against the request, as IAM evaluates it (and iam-simulate models it). */
function clauseHolds(c: Clause, ctx: RequestContext, unknowns: Set<string>): Tri {
  // A policy variable (${aws:username}) is resolved from the request: not judged here.
  if (c.values.some((v) => v.includes('${'))) {
    unknowns.add(`${c.key} (policy variable)`);
    return 'unknown';
  }
  const value = ctx.present.get(c.key);
  const values = value === undefined ? undefined : typeof value === 'string' ? [value] : value;
  if (values === undefined && !ctx.absent(c.key)) {
    unknowns.add(c.key);
    return 'unknown';
  }
  if (c.base === 'Null') {
    const want = values === undefined ? 'true' : 'false';
    return c.values.some((v) => v.toLowerCase() === want);
  }
  if (c.set === 'ForAnyValue') {
    if (values === undefined) return false;
    let any: Tri = false;
    for (const v of values) any = or(any, onValue(c, v));
    return any;
  }
  if (c.set === 'ForAllValues') {
    if (values === undefined) return true;
    let all: Tri = true;
    for (const v of values) all = and(all, onValue(c, v));
    return all;
  }
  // Without a set operator: a missing key matches only IfExists and the negated operators.
  if (values === undefined) return c.ifExists || isNegated(c.base);
  // A single-valued operator never matches a multi-valued key (a list, even of one value).
  if (typeof value !== 'string') return false;
  const result = onValue(c, value);
  if (result === 'unknown') unknowns.add(`${c.key} (${c.operator} value)`);
  return result;
}

/** Whether one statement applies to the request: its action, its principal and every condition. */
export function statementApplies(g: Grant, req: AssumeRequest, unknowns: Set<string>): Tri {
  if (g.problems.length > 0) {
    unknowns.add(`statement ${g.sid ?? `#${g.index}`}: ${g.problems[0]}`);
    return 'unknown';
  }
  if (!coversAction(g, req.action)) return false;
  let result = principalApplies(g, req.caller);
  for (const c of g.clauses) {
    if (result === false) return false;
    result = and(result, clauseHolds(c, req.context, unknowns));
  }
  return result;
}

/** A statement that blocks a call, or may: a Deny that applies (`true`) or may apply (`unknown`, with the keys it depends on). */
export interface Denial {
  grant: Grant;
  applies: true | 'unknown';
  unknowns: string[];
}

/**
 * Every statement that denies the call or may deny it (a Deny, or a statement whose effect cannot be read), in policy
 * order. `evaluate` stops at the first; a person acknowledging one must still be told of the others.
 */
export function denials(grants: readonly Grant[], req: AssumeRequest): Denial[] {
  const out: Denial[] = [];
  for (const g of grants) {
    if (g.effect === 'Allow') continue;
    const unknowns = new Set<string>();
    const applies = statementApplies(g, req, unknowns);
    if (applies === true && g.effect === 'Deny') out.push({ grant: g, applies, unknowns: [] });
    else if (applies !== false) out.push({ grant: g, applies: 'unknown', unknowns: [...unknowns].sort() });
  }
  return out;
}

/**
 * IAM's decision for one call on a role's trust policy: an explicit deny wins; otherwise a statement must allow
 * it. The caller's own identity policy is assumed to allow the call (the trust policy is what astro-trust owns).
 */
export function evaluate(grants: readonly Grant[], req: AssumeRequest): Decision {
  const denyUnknowns = new Set<string>();
  let maybeDeny: Grant | undefined;
  for (const g of grants) {
    // Deny statements, and statements whose effect cannot be read (they might be one).
    if (g.effect === 'Allow') continue;
    const unknowns = new Set<string>();
    const applies = statementApplies(g, req, unknowns);
    if (applies === true && g.effect === 'Deny')
      return { allowed: false, deniedBy: g, reason: 'explicit-deny', unknowns: [] };
    if (applies === 'unknown' && !maybeDeny) {
      maybeDeny = g;
      unknowns.forEach((u) => denyUnknowns.add(u));
    }
  }
  let allow: Tri = false;
  const allowUnknowns = new Set<string>();
  for (const g of grants) {
    if (g.effect !== 'Allow') continue;
    allow = or(allow, statementApplies(g, req, allowUnknowns));
    if (allow === true) break;
  }
  if (maybeDeny)
    return allow === false
      ? { allowed: false, reason: 'no-allow', unknowns: [] }
      : { allowed: 'unknown', deniedBy: maybeDeny, reason: 'maybe-denied', unknowns: [...denyUnknowns].sort() };
  if (allow === true) return { allowed: true, reason: 'allowed', unknowns: [] };
  return allow === false
    ? { allowed: false, reason: 'no-allow', unknowns: [] }
    : { allowed: 'unknown', reason: 'maybe-no-allow', unknowns: [...allowUnknowns].sort() };
}
