/**
 * What a trust-policy statement grants, parsed once into a normalised value (after AWS CDK's aws-iam
 * `PolicyStatement`): its effect, the principals it names (typed, `NotPrincipal` first-class), its actions
 * (`NotAction` first-class) and the conditions that confine it, all in canonical form. Findings and the
 * evaluator work on this value, never on the statement's text.
 */
import { asList, isOwned, type PolicyDocument, type Statement } from './policy.js';

/** A principal as IAM reads it, typed. `text` is the principal as written (the ARN, the service, `*`). */
export type Principal =
  /** `"Principal": "*"`: everyone, federated and service callers included. */
  | { type: 'any'; text: '*' }
  /** `{"AWS": "*"}`. */
  | { type: 'aws-any'; text: '*' }
  /** `123456789012` or `arn:aws:iam::123456789012:root`: every principal that account allows. */
  | { type: 'account'; text: string; account: string }
  | { type: 'role'; text: string; account: string; name: string }
  | { type: 'user'; text: string; account: string }
  | { type: 'assumed-role'; text: string; account: string; role: string; session: string }
  /** A deleted role or user shows as its unique id (`AROA...`, `AIDA...`). */
  | { type: 'unique-id'; text: string }
  /** Any other `AWS` value (a federated-user session, something IAM would not accept). */
  | { type: 'aws-other'; text: string; account?: string }
  /** `arn:aws:iam::<account>:oidc-provider/<issuer>`. */
  | { type: 'oidc'; text: string; account: string; issuer: string }
  | { type: 'saml'; text: string; account: string }
  /** `cognito-identity.amazonaws.com`: Amazon Cognito identity pools (any pool, unless `aud` says which). */
  | { type: 'cognito'; text: string }
  /** `accounts.google.com`, `graph.facebook.com`, `www.amazon.com`: web identity without an IAM provider. */
  | { type: 'web-identity'; text: string }
  | { type: 'federated-other'; text: string }
  | { type: 'service'; text: string }
  | { type: 'canonical-user'; text: string };

export const BASE_OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnLike',
  'ArnNotEquals',
  'ArnNotLike',
  'Null',
] as const;
export type BaseOperator = (typeof BASE_OPERATORS)[number];
const BASE_BY_LOWER = new Map<string, BaseOperator>(BASE_OPERATORS.map((o) => [o.toLowerCase(), o]));

/** Operators that match when the value does NOT match (and, as IAM does, when the key is absent). */
export function isNegated(base: BaseOperator): boolean {
  return /Not/.test(base);
}

/** One key under one operator: `StringLike: {"x:sub": ["a", "b"]}`. */
export interface Clause {
  /** Canonical operator: `[ForAnyValue:|ForAllValues:]<Base>[IfExists]`. */
  operator: string;
  base: BaseOperator;
  set?: 'ForAnyValue' | 'ForAllValues';
  ifExists: boolean;
  /** Condition keys are case-insensitive in IAM: lower-cased. */
  key: string;
  /** The values, ORed by IAM: a sorted set of strings. */
  values: string[];
}

/** The conditions of a statement in canonical form: operator -> key (lower-cased) -> sorted values. */
export type CanonicalCondition = Record<string, Record<string, string[]>>;

export interface Grant {
  /** Position of the statement in the policy it was read from. */
  index: number;
  sid?: string;
  /** `Allow` or `Deny` (anything else is a problem). */
  effect: string;
  principals?: Principal[];
  notPrincipals?: Principal[];
  /** Lower-cased, sorted (IAM matches actions case-insensitively). */
  actions?: string[];
  notActions?: string[];
  clauses: Clause[];
  /** Canonical conditions; null when the statement has none. */
  condition: CanonicalCondition | null;
  /** Why IAM's rules cannot be applied to this statement (an unknown operator, a malformed element); empty when they can. */
  problems: string[];
  owned: boolean;
  /** The statement as read. */
  statement: Statement;
}

const ACCOUNT = /^\d{12}$/;
const IAM_ARN = /^arn:([a-z-]+):(iam|sts)::(\d{12}):(.+)$/;
export const UNIQUE_ID = /^A[A-Z0-9]{3}[A-Z0-9]{12,}$/;
const WEB_IDENTITY = new Set(['accounts.google.com', 'graph.facebook.com', 'www.amazon.com']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An `AWS` principal value, typed. */
export function awsPrincipal(text: string): Principal {
  if (text === '*') return { type: 'aws-any', text: '*' };
  if (ACCOUNT.test(text)) return { type: 'account', text, account: text };
  if (UNIQUE_ID.test(text)) return { type: 'unique-id', text };
  const m = IAM_ARN.exec(text);
  if (!m) return { type: 'aws-other', text };
  const [, , service, account, resource] = m as unknown as [string, string, string, string, string];
  if (service === 'iam' && resource === 'root') return { type: 'account', text, account };
  if (service === 'iam' && resource.startsWith('role/'))
    return { type: 'role', text, account, name: resource.slice(resource.lastIndexOf('/') + 1) };
  if (service === 'iam' && resource.startsWith('user/')) return { type: 'user', text, account };
  const session = /^assumed-role\/([^/]+)\/(.+)$/.exec(resource);
  if (service === 'sts' && session)
    return { type: 'assumed-role', text, account, role: session[1]!, session: session[2]! };
  return { type: 'aws-other', text, account };
}

/** A `Federated` principal value, typed. */
export function federatedPrincipal(text: string): Principal {
  const m = /^arn:[a-z-]+:iam::(\d{12}):(oidc-provider|saml-provider)\/(.+)$/.exec(text);
  if (m)
    return m[2] === 'oidc-provider'
      ? { type: 'oidc', text, account: m[1]!, issuer: m[3]! }
      : { type: 'saml', text, account: m[1]! };
  if (text === 'cognito-identity.amazonaws.com') return { type: 'cognito', text };
  if (WEB_IDENTITY.has(text)) return { type: 'web-identity', text };
  return { type: 'federated-other', text };
}

function principals(raw: unknown, element: string, problems: string[]): Principal[] {
  if (raw === '*') return [{ type: 'any', text: '*' }];
  if (!isRecord(raw)) {
    problems.push(`${element} must be "*" or an object of AWS, Federated, Service, CanonicalUser`);
    return [];
  }
  const out: Principal[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0 || list.some((v) => typeof v !== 'string')) {
      problems.push(`${element}.${key} must be a string or a list of strings`);
      continue;
    }
    for (const text of list as string[]) {
      if (key === 'AWS') out.push(awsPrincipal(text));
      else if (key === 'Federated') out.push(federatedPrincipal(text));
      else if (key === 'Service') out.push({ type: 'service', text });
      else if (key === 'CanonicalUser') out.push({ type: 'canonical-user', text });
      else problems.push(`${element} has an unknown principal type ${JSON.stringify(key)}`);
    }
  }
  return out;
}

function stringList(raw: unknown, element: string, problems: string[]): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0 || list.some((v) => typeof v !== 'string')) {
    problems.push(`${element} must be a string or a list of strings`);
    return [];
  }
  return [...new Set((list as string[]).map((a) => a.toLowerCase()))].sort();
}

/** `ForAnyValue:StringLikeIfExists` -> its parts, or undefined for an operator IAM does not have. */
export function parseOperator(raw: string): Omit<Clause, 'key' | 'values'> | undefined {
  let rest = raw;
  let set: Clause['set'];
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const prefix = rest.slice(0, colon).toLowerCase();
    if (prefix === 'foranyvalue') set = 'ForAnyValue';
    else if (prefix === 'forallvalues') set = 'ForAllValues';
    else return undefined;
    rest = rest.slice(colon + 1);
  }
  let ifExists = false;
  if (rest.toLowerCase().endsWith('ifexists')) {
    ifExists = true;
    rest = rest.slice(0, -'ifexists'.length);
  }
  const base = BASE_BY_LOWER.get(rest.toLowerCase());
  if (!base) return undefined;
  // IAM has no NullIfExists, and Null tests presence: a set operator makes no sense with it.
  if (base === 'Null' && (ifExists || set)) return undefined;
  return {
    operator: `${set ? `${set}:` : ''}${base}${ifExists ? 'IfExists' : ''}`,
    base,
    ...(set ? { set } : {}),
    ifExists,
  };
}

function conditions(raw: unknown, problems: string[]): { clauses: Clause[]; condition: CanonicalCondition | null } {
  if (raw === undefined) return { clauses: [], condition: null };
  if (!isRecord(raw)) {
    problems.push('Condition must be an object');
    return { clauses: [], condition: null };
  }
  const byKey = new Map<string, Clause>();
  for (const [op, block] of Object.entries(raw)) {
    const parsed = parseOperator(op);
    if (!parsed) {
      problems.push(`unknown condition operator ${JSON.stringify(op)}`);
      continue;
    }
    if (!isRecord(block)) {
      problems.push(`Condition.${op} must be an object of condition keys`);
      continue;
    }
    for (const [key, value] of Object.entries(block)) {
      const list = Array.isArray(value) ? value : [value];
      if (list.some((v) => !['string', 'number', 'boolean'].includes(typeof v))) {
        problems.push(`Condition.${op}.${key} must be a string, number, boolean or a list of them`);
        continue;
      }
      // The same operator and key written twice (another case, another spelling of the operator): IAM ORs nothing
      // across them; it would be a duplicate key. Values are merged, which is what a reader means.
      const k = `${parsed.operator} ${key.toLowerCase()}`;
      const values = list.map((v) => String(v));
      const existing = byKey.get(k);
      if (existing) existing.values = [...new Set([...existing.values, ...values])].sort();
      else byKey.set(k, { ...parsed, key: key.toLowerCase(), values: [...new Set(values)].sort() });
    }
  }
  const clauses = [...byKey.values()].sort((a, b) => (`${a.operator} ${a.key}` < `${b.operator} ${b.key}` ? -1 : 1));
  if (clauses.length === 0) return { clauses, condition: Object.keys(raw).length === 0 ? null : {} };
  const condition: CanonicalCondition = {};
  for (const c of clauses) (condition[c.operator] ??= {})[c.key] = c.values;
  return { clauses, condition };
}

const KNOWN_ELEMENTS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Condition']);

/** Parses one statement into what it grants. Never throws: whatever IAM's rules cannot be applied to is a problem. */
export function parseGrant(statement: Statement, index: number): Grant {
  const problems: string[] = [];
  const s = statement as unknown as Record<string, unknown>;
  const effect = typeof s.Effect === 'string' ? s.Effect : JSON.stringify(s.Effect);
  if (effect !== 'Allow' && effect !== 'Deny') problems.push(`Effect must be "Allow" or "Deny", not ${effect}`);
  for (const key of Object.keys(s))
    if (!KNOWN_ELEMENTS.has(key))
      problems.push(
        key === 'Resource' || key === 'NotResource'
          ? `${key} is not allowed in a trust policy`
          : `unknown element ${JSON.stringify(key)}`,
      );
  const hasP = s.Principal !== undefined;
  const hasNotP = s.NotPrincipal !== undefined;
  if (hasP === hasNotP) problems.push('a trust policy statement needs exactly one of Principal and NotPrincipal');
  const hasA = s.Action !== undefined;
  const hasNotA = s.NotAction !== undefined;
  if (hasA === hasNotA) problems.push('a statement needs exactly one of Action and NotAction');
  const { clauses, condition } = conditions(s.Condition, problems);
  return {
    index,
    ...(typeof s.Sid === 'string' ? { sid: s.Sid } : {}),
    effect,
    ...(hasP ? { principals: principals(s.Principal, 'Principal', problems) } : {}),
    ...(hasNotP ? { notPrincipals: principals(s.NotPrincipal, 'NotPrincipal', problems) } : {}),
    ...(hasA ? { actions: stringList(s.Action, 'Action', problems) } : {}),
    ...(hasNotA ? { notActions: stringList(s.NotAction, 'NotAction', problems) } : {}),
    clauses,
    condition,
    problems,
    owned: isOwned(statement),
    statement,
  };
}

/** Every statement of a policy, parsed once. */
export function parseGrants(doc: PolicyDocument): Grant[] {
  return doc.Statement.map((s, i) => parseGrant(s, i));
}

/**
 * IAM's wildcard match (`*` any run, `?` one character), optionally case-insensitive. Patterns come from statements
 * anyone with iam:UpdateAssumeRolePolicy writes: matched in O(pattern x value) by going back only to the last `*`,
 * never by a regular expression, whose backtracking on `*?*?*?...` runs for hours and stalls every plan of the role.
 */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  let pi = 0;
  let vi = 0;
  // The last `*` seen, and where in the value its run would end next if what follows it fails.
  let star = -1;
  let resume = 0;
  while (vi < v.length) {
    if (pi < p.length && p[pi] === '*') {
      star = pi++;
      resume = vi;
    } else if (pi < p.length && (p[pi] === '?' || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++resume;
    } else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** The trust actions a grant may allow or deny: sts:AssumeRole, ...WithWebIdentity, ...WithSAML. */
export const ASSUME_ACTIONS = ['sts:AssumeRole', 'sts:AssumeRoleWithWebIdentity', 'sts:AssumeRoleWithSAML'] as const;

/** True when the grant's Action (or NotAction) covers the action, as IAM matches actions: case-insensitive wildcards. */
export function coversAction(g: Grant, action: string): boolean {
  if (g.actions) return g.actions.some((a) => globMatch(a, action, true));
  if (g.notActions) return !g.notActions.some((a) => globMatch(a, action, true));
  return false;
}

/** True when the grant covers any of the assume actions: a statement that does not, grants no way in. */
export function coversAssume(g: Grant): boolean {
  return ASSUME_ACTIONS.some((a) => coversAction(g, a));
}

/**
 * The grant in canonical form without its Sid: what a finding's id fingerprints. A statement IAM's rules
 * cannot be applied to is fingerprinted whole, as read (keys sorted).
 */
export function grantKey(g: Grant): string {
  if (g.problems.length > 0) return `raw ${stableJson({ ...g.statement, Sid: undefined })}`;
  return JSON.stringify({
    Effect: g.effect,
    ...(g.actions ? { Action: g.actions } : { NotAction: g.notActions }),
    Condition: g.condition,
  });
}

/** JSON with object keys sorted at every level, so two readings of one statement give one string. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (isRecord(value))
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/** Values of a key under positive string-matching operators (what a condition pins the key to), lower-cased key. */
export function pinnedValues(g: Grant, key: string): string[] | undefined {
  const k = key.toLowerCase();
  const found = g.clauses.filter(
    (c) => c.key === k && !isNegated(c.base) && (c.base.startsWith('String') || c.base.startsWith('Arn')),
  );
  return found.length ? found.flatMap((c) => c.values) : undefined;
}

export { asList };
