/**
 * Findings (DESIGN 3.5, 7.1): trust a person must look at, judged by what a statement grants (grant.ts), never by
 * how its principal reads. Found in statements astro-trust does not own (alerted, never edited), in a declared
 * identity that undeclared Deployments share, or in a declared identity the whole policy does not let in. Each has
 * a stable id (a fingerprint of the role, the kind, the principal and the grant); a person acknowledges a finding by
 * that id, with a reason and an expiry, and any change to the grant is a new finding.
 */
import { createHash } from 'node:crypto';
import { parseRoleArn, type Deployment } from './deployment.js';
import type { IdentityRules, TrustEntry } from './desired.js';
import { denials, evaluate, type Caller, type RequestContext } from './evaluate.js';
import {
  coversAssume,
  grantKey,
  isNegated,
  pinnedValues,
  UNIQUE_ID,
  type CanonicalCondition,
  type Grant,
  type Principal,
} from './grant.js';

export { UNIQUE_ID };

export type FindingKind =
  | 'undeclared-astro-identity'
  | 'undeclared-namespace'
  | 'namespace-wildcard'
  | 'orphaned-principal'
  | 'wildcard-principal'
  | 'external-account'
  | 'not-principal'
  | 'shared-identity'
  | 'astro-account-principal'
  | 'unrestricted-federation'
  | 'declared-trust-denied'
  | 'unevaluable-statement';

export interface Finding {
  /** Stable fingerprint of role, kind, principal and the grant (Effect, Action, Condition; not the Sid): acknowledge by it. */
  id: string;
  kind: FindingKind;
  principal: string;
  sid?: string;
  /** Position of the statement in the role's trust policy as read (0 is the first). */
  statement?: number;
  /** The statement's conditions in canonical form (operator -> lower-cased key -> values); null when none. */
  condition: CanonicalCondition | null;
  detail: string;
  /** shared-identity: the Deployments that use the identity undeclared; declared-trust-denied: the Deployments locked out. */
  deployments?: { id: string; name: string }[];
  /** Set when a person acknowledged it in the config and the acknowledgement has not expired. */
  acknowledgement?: { reason: string; expires: string; daysLeft: number };
}

/** `findings.acknowledge` in the config: a known finding (by id), why it stays, until when (YYYY-MM-DD, UTC). */
export interface Acknowledgement {
  finding: string;
  reason: string;
  expires: string;
}

export interface FindingRules {
  /** Accounts that may appear in foreign statements without an `external-account` finding (never an Astro identity account). */
  trustedAccounts: string[];
  /** AWS Organizations (`o-...`) that confine a `*` principal through `aws:PrincipalOrgID`. */
  trustedOrganizations: string[];
  acknowledge: Acknowledgement[];
}

export const NO_FINDING_RULES: FindingRules = { trustedAccounts: [], trustedOrganizations: [], acknowledge: [] };

/** A plan says so when an acknowledgement runs out within this many days. */
export const EXPIRY_WARNING_DAYS = 14;

export const ASTRO_IDENTITY = /^arn:[a-z-]+:iam::\d{12}:role\/(?:.*\/)?astro-[^/]+$/;
const PRINCIPAL_ACCOUNT = /^arn:[a-z-]+:(?:iam|sts)::(\d{12}):/;

/** Length of a finding id (hex characters of a SHA-256). */
export const FINDING_ID_LENGTH = 16;

/** The id of a finding: SHA-256 of role key, kind, principal and the grant's canonical Effect, Action and Condition. */
export function findingId(role: string, kind: FindingKind, principal: string, grant: string): string {
  return createHash('sha256')
    .update(JSON.stringify([role, kind, principal, grant]))
    .digest('hex')
    .slice(0, FINDING_ID_LENGTH);
}

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

function astroManaged(d: Deployment, arn: string): string | undefined {
  const role = parseRoleArn(arn);
  if (!role || role.path !== '/') return undefined;
  const own = `astro-${d.namespace}`;
  return role.name === own || role.name.startsWith(`${own}-`) ? role.accountId : undefined;
}

const listingAccounts = new WeakMap<readonly Deployment[], Set<string>>();
const listingIssuers = new WeakMap<readonly Deployment[], Set<string>>();

/**
 * Astro's identity accounts (DESIGN 7.1): every `inventory.identityAccounts` entry and the account of every
 * Astro-managed identity (`role/astro-<its namespace>`) in the listing. Shared by every Astro customer.
 */
export function astroAccountsOf(deployments: readonly Deployment[], rules: IdentityRules): Set<string> {
  let fromListing = listingAccounts.get(deployments);
  if (!fromListing) {
    fromListing = new Set(
      deployments.flatMap((d) =>
        [d.workloadIdentity, d.drWorkloadIdentity].flatMap((arn) => (arn ? (astroManaged(d, arn) ?? []) : [])),
      ),
    );
    listingAccounts.set(deployments, fromListing);
  }
  return new Set([...fromListing, ...(rules.identityAccounts ?? [])]);
}

/** Astro's OIDC issuers (DESIGN 7.1): the issuers of the listed Deployments, primary and DR, and `inventory.oidcIssuers`. */
export function astroIssuersOf(deployments: readonly Deployment[], rules: IdentityRules): Set<string> {
  let fromListing = listingIssuers.get(deployments);
  if (!fromListing) {
    fromListing = new Set(deployments.flatMap((d) => [d.oidcIssuer, d.drOidcIssuer].filter((i): i is string => !!i)));
    listingIssuers.set(deployments, fromListing);
  }
  return new Set([...fromListing, ...rules.oidcIssuers]);
}

export interface FindingContext {
  /** The role as the config names it: part of every finding's id. */
  role: string;
  /** The managed role's own account. */
  roleAccount: string;
  partition: string;
  desired: TrustEntry[];
  /** Issuers of Astro clusters (astroIssuersOf). */
  astroIssuers: ReadonlySet<string>;
  /** Astro identity accounts (astroAccountsOf); the role's own account is never one. */
  astroAccounts: ReadonlySet<string>;
  trustedAccounts: readonly string[];
  trustedOrganizations: readonly string[];
}

function where(g: Grant): string {
  return g.sid ? `statement ${JSON.stringify(g.sid)}` : `Statement[${g.index}] (no Sid)`;
}

/** A condition in one line, for people: `StringEquals aws:principalorgid=o-abc; Bool aws:securetransport=true`. */
export function conditionText(c: CanonicalCondition | null): string {
  if (!c) return '';
  return Object.entries(c)
    .flatMap(([op, keys]) => Object.entries(keys).map(([k, v]) => `${op} ${k}=${v.join('|')}`))
    .join('; ');
}

// Operators that pin a key to the values listed: a missing key does not match them.
const CONFINING = new Set(['StringEquals', 'StringEqualsIgnoreCase', 'StringLike', 'ArnEquals', 'ArnLike']);
const literal = (v: string) => !/[*?]/.test(v) && !v.includes('${');

/**
 * True when a condition confines a `*` principal to trusted principals (DESIGN 7.1): `aws:PrincipalOrgID` in
 * `trustedOrganizations`, or `aws:PrincipalAccount`, `aws:SourceAccount` or `aws:PrincipalArn` whose every value is
 * in this account or a trusted one (never an Astro identity account), under StringEquals/ArnEquals/ArnLike (not
 * IfExists, not ForAllValues: both match when the key is missing).
 */
function confinesToTrusted(g: Grant, ctx: FindingContext): boolean {
  const accounts = new Set([ctx.roleAccount, ...ctx.trustedAccounts].filter((a) => !ctx.astroAccounts.has(a)));
  const orgs = new Set(ctx.trustedOrganizations);
  return g.clauses.some((c) => {
    if (c.ifExists || c.set === 'ForAllValues' || isNegated(c.base) || !CONFINING.has(c.base) || c.values.length === 0)
      return false;
    if (c.key === 'aws:principalorgid') return c.values.every((v) => literal(v) && orgs.has(v));
    if (c.key === 'aws:principalaccount' || c.key === 'aws:sourceaccount')
      return c.values.every((v) => literal(v) && accounts.has(v));
    if (c.key === 'aws:principalarn')
      return c.values.every((v) => {
        const account = /^arn:[^:]*:(?:iam|sts)::(\d{12}):/.exec(v)?.[1];
        return account !== undefined && accounts.has(account);
      });
    return false;
  });
}

const GITHUB = /^token\.actions\.githubusercontent\.com(\/.*)?$/;
// A GitHub Actions subject that names one owner (organization or user): repo:<owner>/..., or a customized claim.
const OWNER_PINNED = /^(?:repo:[^*?/:]+\/|repository_owner:[^*?:]+(?::|$)|repository_owner_id:[^*?:]+(?::|$))/;

/** The audience key of a web identity provider IAM knows without an OIDC provider ARN. */
const AUDIENCE_KEY: Record<string, string> = {
  'cognito-identity.amazonaws.com': 'cognito-identity.amazonaws.com:aud',
  'accounts.google.com': 'accounts.google.com:aud',
  'graph.facebook.com': 'graph.facebook.com:app_id',
  'www.amazon.com': 'www.amazon.com:app_id',
};

// A wildcard pins nothing: "?*" or "**" is any audience, "us-east-1:*" every Cognito identity pool of the region.
const wildcard = (v: string) => /[*?]/.test(v);

function pinned(values: string[] | undefined): boolean {
  return values !== undefined && values.length > 0 && values.every((v) => v !== '' && !wildcard(v));
}

/** Why a grant to a non-Astro federated principal trusts more than one audience or repository owner, or undefined. */
function unrestricted(g: Grant, p: Principal & { type: 'oidc' | 'cognito' | 'web-identity' }): string | undefined {
  const issuer = p.type === 'oidc' ? p.issuer : p.text;
  const audKey = p.type === 'oidc' ? `${issuer}:aud` : AUDIENCE_KEY[issuer]!;
  const reasons: string[] = [];
  const auds = pinnedValues(g, audKey);
  const wild = (auds ?? []).filter(wildcard);
  if (wild.length > 0)
    reasons.push(
      `${audKey} ${wild.map((a) => JSON.stringify(a)).join(', ')} is a wildcard: ` +
        (p.type === 'cognito'
          ? 'users of other Cognito identity pools (of any account) match'
          : 'tokens of this issuer issued for other audiences match'),
    );
  else if (!pinned(auds))
    reasons.push(
      p.type === 'cognito'
        ? `no ${audKey} condition: a user of any Cognito identity pool can assume the role`
        : `no audience condition (${audKey}): a token of this issuer issued for any audience is accepted`,
    );
  if (p.type === 'oidc' && GITHUB.test(issuer)) {
    const subs = pinnedValues(g, `${issuer}:sub`);
    if (!subs) reasons.push(`no ${issuer}:sub condition: a workflow of any repository on GitHub can assume the role`);
    else {
      const open = subs.filter((s) => !OWNER_PINNED.test(s));
      if (open.length)
        reasons.push(
          `${issuer}:sub ${open.map((s) => JSON.stringify(s)).join(', ')} does not pin a repository owner: workflows of other owners' repositories match`,
        );
    }
  }
  return reasons.length ? reasons.join('; ') : undefined;
}

/**
 * Inspects the statements astro-trust does not own, by what each grants (DESIGN 7.1). Deny statements grant
 * nothing (they are judged by `findDenied`); an Allow that covers no assume action grants no way in.
 */
export function findForeign(grants: readonly Grant[], ctx: FindingContext): Finding[] {
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
  for (const g of grants) {
    if (g.owned) continue;
    const key = grantKey(g);
    // `idOf`: what the id fingerprints when the principal as shown is not the whole of it, or not stable.
    const add = (kind: FindingKind, principal: string, detail: string, idOf = principal) =>
      out.push({
        id: findingId(ctx.role, kind, idOf, key),
        kind,
        principal,
        ...(g.sid !== undefined ? { sid: g.sid } : {}),
        statement: g.index,
        condition: g.condition,
        detail,
      });
    if (g.problems.length > 0) {
      // Shown by its Sid or position; fingerprinted by its content alone (the key holds the whole statement but its Sid).
      add(
        'unevaluable-statement',
        g.sid ?? `Statement[${g.index}]`,
        `astro-trust cannot apply IAM's rules to this statement (${g.problems.join('; ')}): check what it grants by hand`,
        'statement',
      );
      continue;
    }
    if (g.effect !== 'Allow' || !coversAssume(g)) continue;
    if (g.notPrincipals) {
      // The id takes every exception, as a set: one fewer is a wider grant, whatever its place in the list.
      const except = [...new Set(g.notPrincipals.map((p) => p.text))].sort();
      const all = `NotPrincipal ${except.join(', ')}`;
      add(
        'not-principal',
        all.length > 300 ? `${all.slice(0, 300)}... (${except.length} principals)` : all,
        'Allow with NotPrincipal trusts every principal except the ones listed',
        all,
      );
      continue;
    }
    for (const p of g.principals ?? []) {
      switch (p.type) {
        case 'any':
        case 'aws-any':
          if (!confinesToTrusted(g, ctx))
            add(
              'wildcard-principal',
              p.type === 'any' ? '*' : 'AWS:*',
              `${p.type === 'any' ? 'trusts everyone' : 'trusts every AWS principal'}` +
                (g.condition
                  ? `; its condition (${conditionText(g.condition)}) does not confine it to this account, findings.trustedAccounts or findings.trustedOrganizations`
                  : ': no condition confines it'),
            );
          break;
        case 'unique-id':
          add(
            'orphaned-principal',
            p.text,
            'a unique id in place of an ARN: the trusted role or user was deleted, so this trust is broken',
          );
          break;
        case 'account':
        case 'role':
        case 'user':
        case 'assumed-role':
        case 'aws-other': {
          const account = p.account;
          if (account === undefined) {
            add(
              'unevaluable-statement',
              p.text,
              'an AWS principal that is neither an account id, an ARN of this partition nor a unique id: check it by hand',
            );
          } else if (ctx.astroAccounts.has(account) && account !== ctx.roleAccount) {
            if (p.type === 'role' && desiredArns.has(p.text)) break;
            if (p.type === 'role' && ASTRO_IDENTITY.test(p.text))
              add(
                'undeclared-astro-identity',
                p.text,
                'an Astro Deployment identity that the config does not declare for this role',
              );
            else
              add(
                'astro-account-principal',
                p.text,
                `account ${account} holds the identities of every Astro customer: ${p.type === 'account' ? 'trusting its root trusts every tenant' : 'only the identities of Deployments this role declares may be trusted there'} (findings.trustedAccounts never exempts it)`,
              );
          } else if (p.type === 'role' && ASTRO_IDENTITY.test(p.text) && !desiredArns.has(p.text)) {
            add(
              'undeclared-astro-identity',
              p.text,
              'an Astro Deployment identity that the config does not declare for this role',
            );
          } else if (!known.has(account)) {
            add(
              'external-account',
              p.text,
              `account ${account} is not this role's account, the account of a declared Deployment's identity, nor listed in findings.trustedAccounts${p.type === 'account' ? ' (the account root: every principal that account allows)' : ''}`,
            );
          }
          break;
        }
        case 'oidc': {
          if (ctx.astroIssuers.has(p.issuer)) {
            const subs = pinnedValues(g, `${p.issuer}:sub`);
            if (!subs) {
              add(
                'namespace-wildcard',
                p.text,
                'no sub condition: every service account of the Astro cluster can assume this role',
              );
              break;
            }
            for (const sub of subs) {
              if (isWildcardSubject(sub))
                add(
                  'namespace-wildcard',
                  `${p.issuer}:sub=${sub}`,
                  'a namespace wildcard trusts every tenant of the Astro cluster',
                );
              else if (!desiredNs.has(`${p.issuer} ${namespaceOf(sub)}`))
                add(
                  'undeclared-namespace',
                  `${p.issuer}:sub=${sub}`,
                  `namespace ${namespaceOf(sub) ?? '?'} on an Astro cluster issuer is not declared for this role`,
                );
            }
            break;
          }
          const why = unrestricted(g, p);
          if (why) add('unrestricted-federation', p.text, why);
          break;
        }
        case 'cognito':
        case 'web-identity': {
          const why = unrestricted(g, p);
          if (why) add('unrestricted-federation', p.text, why);
          break;
        }
        case 'federated-other':
          add(
            'unevaluable-statement',
            p.text,
            'a Federated principal that is neither an IAM OIDC or SAML provider ARN nor a web identity provider astro-trust knows: check it by hand',
          );
          break;
        default:
          // Service principals, SAML providers (always in the role's own account), canonical users.
          break;
      }
    }
  }
  return out;
}

// Keys of a web identity token (`<issuer>:<claim>`): their prefix is a host name, never a service prefix.
const claimKey = (key: string) => /^[^:]*\.[^:]*:/.test(key);
// Not aws:FederatedProvider: a role session opened through an OIDC provider (IRSA on Astro's clusters) carries it into
// its sts:AssumeRole calls, and how Astro opens a Deployment identity's session is not astro-trust's to know.
const ABSENT_FOR_ROLES = new Set([
  'aws:sourcearn',
  'aws:sourceaccount',
  'aws:sourceorgid',
  'aws:sourceorgpaths',
  'aws:username',
  'aws:calledvia',
  'aws:calledviafirst',
  'aws:calledvialast',
  'aws:principalservicename',
  'aws:principalservicenameslist',
]);
// AssumeRoleWithWebIdentity is not signed with AWS credentials: no principal keys, no MFA, no session context.
const ABSENT_FOR_WEB =
  /^aws:(principal|source(arn|account|org)|username|userid|calledvia|viaawsservice|multifactorauth|tokenissuetime)/;

function context(present: [string, string][], absent: (key: string) => boolean): RequestContext {
  return { present: new Map(present.map(([k, v]) => [k.toLowerCase(), v])), absent };
}

const timeKeys = (nowMs: number): [string, string][] => [
  ['aws:CurrentTime', new Date(nowMs).toISOString()],
  ['aws:EpochTime', String(Math.floor(nowMs / 1000))],
  ['aws:SecureTransport', 'true'],
];

/**
 * What astro-trust knows of a declared Astro identity's `sts:AssumeRole` call (docs/findings.md): the caller's ARN,
 * account and type, that it is no AWS service and calls STS itself, over TLS, now. Absent: the keys of web identity
 * and SAML tokens, and those only services set. Everything else (aws:PrincipalOrgID, aws:FederatedProvider,
 * aws:SourceIp, session tags, MFA, sts:ExternalId, the region...) is unknown.
 */
export function roleCallContext(arn: string, account: string, roleAccount: string, nowMs: number): RequestContext {
  return context(
    [
      ['aws:PrincipalArn', arn],
      ['aws:PrincipalAccount', account],
      ['aws:PrincipalType', 'AssumedRole'],
      ['aws:PrincipalIsAWSService', 'false'],
      ['aws:ViaAWSService', 'false'],
      ['aws:ResourceAccount', roleAccount],
      ...timeKeys(nowMs),
    ],
    (key) => claimKey(key) || key.startsWith('saml:') || ABSENT_FOR_ROLES.has(key),
  );
}

/**
 * What astro-trust knows of a declared service account's `sts:AssumeRoleWithWebIdentity` call: the token's `aud`
 * (sts.amazonaws.com) and `sub`, over TLS, now. Absent: every principal and session key (the call is not signed
 * with AWS credentials), other issuers' and SAML keys. Everything else (other claims, aws:SourceIp...) is unknown.
 */
export function webIdentityCallContext(
  issuer: string,
  sub: string,
  roleAccount: string,
  nowMs: number,
): RequestContext {
  const own = `${issuer.toLowerCase()}:`;
  return context(
    [
      [`${issuer}:aud`, 'sts.amazonaws.com'],
      [`${issuer}:sub`, sub],
      ['aws:ResourceAccount', roleAccount],
      ...timeKeys(nowMs),
    ],
    (key) => (claimKey(key) && !key.startsWith(own)) || key.startsWith('saml:') || ABSENT_FOR_WEB.test(key),
  );
}

/** Service accounts probed for a namespace-wide subject (`system:serviceaccount:<ns>:*`): the ones Astro runs (DESIGN 4.2). */
function probeSubjects(sub: string): string[] {
  const ns = namespaceOf(sub);
  if (ns === undefined || !sub.endsWith(':*')) return [sub];
  return ['scheduler', 'worker', 'triggerer', 'dag-processor', 'apiserver', 'webserver']
    .map((c) => `system:serviceaccount:${ns}:${ns}-${c}-serviceaccount`)
    .concat(`system:serviceaccount:${ns}:${ns}-kpo`);
}

/**
 * Declared identities the whole proposed policy does not let in (DESIGN 7.1), by IAM's evaluation rules: an
 * explicit deny wins (a foreign Deny, a NotPrincipal deny), a condition may exclude the caller. A deny that applies
 * only for request values astro-trust cannot know (docs/findings.md) is reported too: it says which keys.
 */
export function findDenied(
  grants: readonly Grant[],
  kept: readonly TrustEntry[],
  names: ReadonlyMap<string, string>,
  ctx: FindingContext,
  nowMs: number,
): Finding[] {
  // Only a Deny (or a statement whose effect cannot be read) can take away what the owned statements allow.
  if (!grants.some((g) => g.effect !== 'Allow')) return [];
  // By id: the same statement blocking several service accounts of a namespace is one finding, named by the probe it
  // blocks for certain where there is one.
  const out = new Map<string, { finding: Finding; certain: boolean }>();
  for (const e of kept) {
    const probes: { caller: Caller; action: string; context: RequestContext; who: string }[] =
      e.kind === 'aws'
        ? [
            {
              caller: {
                kind: 'aws',
                arn: e.arn,
                account: accountOfPrincipal(e.arn) ?? '',
                roleName: e.arn.split('/').pop()!,
              },
              action: 'sts:AssumeRole',
              context: roleCallContext(e.arn, accountOfPrincipal(e.arn) ?? '', ctx.roleAccount, nowMs),
              who: e.arn,
            },
          ]
        : probeSubjects(e.sub).map((sub) => ({
            caller: {
              kind: 'federated' as const,
              provider: `arn:${ctx.partition}:iam::${ctx.roleAccount}:oidc-provider/${e.issuer}`,
              account: ctx.roleAccount,
            },
            action: 'sts:AssumeRoleWithWebIdentity',
            context: webIdentityCallContext(e.issuer, sub, ctx.roleAccount, nowMs),
            who: sub,
          }));
    const principal = e.kind === 'aws' ? e.arn : `${e.issuer}:sub=${e.sub}`;
    const deployments = e.deploymentIds.map((id) => ({ id, name: names.get(id) ?? id }));
    const push = (g: Grant | undefined, certain: boolean, detail: string) => {
      const id = findingId(ctx.role, 'declared-trust-denied', principal, g ? grantKey(g) : 'no-allow');
      if (out.has(id) && (out.get(id)!.certain || !certain)) return;
      const finding: Finding = {
        id,
        kind: 'declared-trust-denied',
        principal,
        ...(g?.sid !== undefined ? { sid: g.sid } : {}),
        ...(g && !g.owned ? { statement: g.index } : {}),
        condition: g?.condition ?? null,
        detail,
        deployments,
      };
      out.set(id, { finding, certain });
    };
    // Every probe (each service account of a namespace-wide subject), and every statement that blocks it: a person
    // who acknowledges one blocking statement is still told of another (the same statement is one id, deduped).
    for (const probe of probes) {
      const d = evaluate(grants, probe);
      if (d.allowed === true) continue;
      const as = e.kind === 'oidc' ? ` (as ${probe.who})` : '';
      const blocking = d.reason === 'explicit-deny' || d.reason === 'maybe-denied' ? denials(grants, probe) : [];
      if (blocking.length === 0)
        push(undefined, d.allowed === false, `no statement lets this declared identity${as} assume the role`);
      for (const b of blocking)
        push(
          b.grant,
          b.applies === true,
          b.applies === true
            ? `${where(b.grant)} denies this declared identity${as}: explicit deny wins, so the Deployment cannot assume the role`
            : `${where(b.grant)} may deny this declared identity${as}: it depends on ${b.unknowns.join(', ')}, which astro-trust cannot know (docs/findings.md); check that the Deployment can assume the role`,
        );
    }
  }
  return [...out.values()].map((v) => v.finding);
}

/** Findings with one id once (two identical statements are one grant). */
export function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => !seen.has(f.id) && !!seen.add(f.id));
}

const DAY_MS = 86_400_000;

/**
 * Marks the findings a person acknowledged by id, while the acknowledgement has not expired: it runs until 00:00
 * UTC of its `expires` date, then the finding is back. A changed grant is a new id: never acknowledged by an old one.
 */
export function acknowledge(findings: Finding[], acks: Acknowledgement[], nowMs: number): Finding[] {
  return findings.map((f) => {
    const ack = acks.find((a) => a.finding === f.id && nowMs < Date.parse(`${a.expires}T00:00:00Z`));
    if (!ack) return f;
    const daysLeft = Math.ceil((Date.parse(`${ack.expires}T00:00:00Z`) - nowMs) / DAY_MS);
    return { ...f, acknowledgement: { reason: ack.reason, expires: ack.expires, daysLeft } };
  });
}

/** Findings that still need a person: not acknowledged, or acknowledged no longer. */
export function standing(findings: Finding[]): Finding[] {
  return findings.filter((f) => !f.acknowledgement);
}
