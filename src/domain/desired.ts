/**
 * Declared trust: which Deployments a role trusts (config selectors x inventory) and the principals that
 * follows from it, per Astronomer's workload-identity docs.
 */
import { compileGlob } from './glob.js';
import { airflowMajor, parseRoleArn, type Deployment, type RoleArn } from './deployment.js';

export type TrustKind = 'workload-identity' | 'oidc';
export type Mode = 'enforce' | 'observe';
export const COMPONENTS = ['scheduler', 'worker', 'triggerer', 'dag-processor', 'apiserver', 'kpo'] as const;
export type Component = (typeof COMPONENTS)[number];

/** A selector matches when every key it sets matches; a role declares a Deployment when any selector matches. */
export interface Selector {
  id?: string;
  workspaceId?: string;
  name?: string;
}

/** A role as declared in the config, with defaults applied. */
export interface RoleSpec {
  /**
   * How astro-trust names the role everywhere (plan, JSON, events, Slack, queues): the IAM role name, or
   * `<account>/<name>` for a role declared with `account` (DESIGN 3.6), so one name in two accounts is two roles.
   */
  name: string;
  /** The IAM role name. */
  roleName: string;
  /** The role's AWS account when the config names one; undefined: the account astro-trust runs in. */
  account?: string;
  trust: TrustKind;
  mode: Mode;
  maxPolicyChars: number;
  maxRemovals: number;
  /** Flap guard: more reverts of this role in an hour mean another writer fights astro-trust; it stops reverting. */
  maxRevertsPerHour: number;
  /** Undefined: every Deployment whose workload identity is this role (customer-managed identity). */
  deployments?: Selector[];
  serviceAccounts: 'all' | Component[];
}

/** One trusted principal: an identity role for `sts:AssumeRole`, or an (issuer, service account) for OIDC. */
export type TrustEntry =
  | { kind: 'aws'; arn: string; deploymentIds: string[] }
  | { kind: 'oidc'; issuer: string; sub: string; deploymentIds: string[] };

export function entryKey(e: TrustEntry): string {
  return e.kind === 'aws' ? `aws ${e.arn}` : `oidc ${e.issuer} ${e.sub}`;
}

export interface DeclaredDeployment {
  deployment: Deployment;
  /** Human-readable reason, e.g. `name "prod-*"`. */
  matchedBy: string;
}

/** Which Deployment identities and OIDC issuers may be trusted at all (DESIGN 6.2), from `inventory:` in the config. */
export interface IdentityRules {
  /** AWS accounts whose roles may be Deployment identities; unset: Astro-managed identities in any account. */
  identityAccounts?: string[];
  /** Issuers (host/path) trusted besides EKS cluster issuers. */
  oidcIssuers: string[];
}

export const NO_RULES: IdentityRules = { oidcIssuers: [] };

export interface SkippedDeployment {
  deploymentId: string;
  name: string;
  reason: string;
}

/** A declared identity that other Deployments, not declared for the role, use too: trusting it trusts them. */
export interface SharedIdentity {
  arn: string;
  declaredIds: string[];
  others: { id: string; name: string }[];
}

export interface DesiredTrust {
  declared: DeclaredDeployment[];
  entries: TrustEntry[];
  /** Deployments declared but not trusted: no identity or issuer, or one astro-trust refuses (6.2). */
  skipped: SkippedDeployment[];
  shared: SharedIdentity[];
}

function describe(sel: Selector): string {
  return Object.entries(sel)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
    .join(' and ');
}

const matcherCache = new Map<string, (s: string) => boolean>();
function globMatch(glob: string, value: string): boolean {
  let m = matcherCache.get(glob);
  if (!m) {
    m = compileGlob(glob);
    matcherCache.set(glob, m);
  }
  return m(value);
}

/** True when the Deployment's workload identity (or DR identity) is this very role. */
export function usesRoleAsIdentity(d: Deployment, role: RoleArn): boolean {
  return [d.workloadIdentity, d.drWorkloadIdentity].some((arn) => {
    const parsed = arn ? parseRoleArn(arn) : undefined;
    return parsed !== undefined && parsed.accountId === role.accountId && parsed.name === role.name;
  });
}

/** The first of the role's selectors that matches the Deployment, described; undefined when none does or the role has none. */
export function matchingSelector(spec: RoleSpec, d: Deployment): string | undefined {
  const sel = spec.deployments?.find((s) => selectorMatches(s, d));
  return sel ? describe(sel) : undefined;
}

/**
 * The inventory indexed once per plan (DESIGN 7.4): a role's `id` and `workspaceId` selectors, the roles
 * whose Deployments use them as their identity, and the identities Deployments share are looked up, not
 * scanned, so planning R roles over D Deployments grows with R + D, not R x D.
 */
export interface DeploymentIndex {
  all: Deployment[];
  byId: Map<string, Deployment[]>;
  byWorkspace: Map<string, Deployment[]>;
  /** By the identity role (primary or DR) as `usesRoleAsIdentity` compares it: `<account>:<name>`. */
  byIdentityRole: Map<string, Deployment[]>;
  /** By the identity ARN (primary or DR) as written. */
  byIdentityArn: Map<string, Deployment[]>;
  names: Map<string, string>;
  namespaces: Set<string>;
}

/** Builds the per-plan index of the inventory (each list in inventory order). */
export function indexDeployments(deployments: Deployment[]): DeploymentIndex {
  const ix: DeploymentIndex = {
    all: deployments,
    byId: new Map(),
    byWorkspace: new Map(),
    byIdentityRole: new Map(),
    byIdentityArn: new Map(),
    names: new Map(),
    namespaces: new Set(),
  };
  const push = <K>(map: Map<K, Deployment[]>, key: K, d: Deployment) => {
    const list = map.get(key);
    if (list) list.push(d);
    else map.set(key, [d]);
  };
  for (const d of deployments) {
    push(ix.byId, d.id, d);
    if (d.workspaceId !== undefined) push(ix.byWorkspace, d.workspaceId, d);
    if (!ix.names.has(d.id)) ix.names.set(d.id, d.name);
    ix.namespaces.add(d.namespace);
    const roles = new Set<string>();
    for (const arn of new Set([d.workloadIdentity, d.drWorkloadIdentity])) {
      if (!arn) continue;
      push(ix.byIdentityArn, arn, d);
      const parsed = parseRoleArn(arn);
      if (parsed) roles.add(`${parsed.accountId}:${parsed.name}`);
    }
    for (const r of roles) push(ix.byIdentityRole, r, d);
  }
  return ix;
}

function selectorMatches(s: Selector, d: Deployment): boolean {
  return (
    (s.id === undefined || s.id === d.id) &&
    (s.workspaceId === undefined || s.workspaceId === d.workspaceId) &&
    (s.name === undefined || globMatch(s.name, d.name))
  );
}

/** The Deployments a role declares, each with the selector that matched first. */
export function declaredDeployments(
  spec: RoleSpec,
  deployments: Deployment[],
  role: RoleArn,
  index: DeploymentIndex = indexDeployments(deployments),
): DeclaredDeployment[] {
  const matched = new Map<Deployment, string>();
  if (!spec.deployments) {
    for (const d of index.byIdentityRole.get(`${role.accountId}:${role.name}`) ?? [])
      matched.set(d, 'uses this role as its workload identity');
  } else {
    // Selectors in order: a Deployment keeps the first that matches it. Only a name-only selector scans.
    for (const s of spec.deployments) {
      const candidates =
        s.id !== undefined
          ? (index.byId.get(s.id) ?? [])
          : s.workspaceId !== undefined
            ? (index.byWorkspace.get(s.workspaceId) ?? [])
            : index.all;
      let described: string | undefined;
      for (const d of candidates)
        if (!matched.has(d) && selectorMatches(s, d)) matched.set(d, (described ??= describe(s)));
    }
  }
  return [...matched]
    .map(([deployment, matchedBy]) => ({ deployment, matchedBy }))
    .sort((a, b) => (a.deployment.id < b.deployment.id ? -1 : 1));
}

/**
 * Kubernetes service accounts of an Astro Deployment namespace that may assume the role. The API server's
 * account is `<ns>-apiserver-serviceaccount` on Airflow 3 and `<ns>-webserver-serviceaccount` on Airflow 2.
 */
export function serviceAccountSubs(d: Deployment, accounts: 'all' | Component[]): string[] {
  const prefix = `system:serviceaccount:${d.namespace}:`;
  if (accounts === 'all') return [`${prefix}*`];
  return accounts.map((c) => {
    if (c === 'kpo') return `${prefix}${d.namespace}-kpo`;
    if (c === 'apiserver') {
      const name = airflowMajor(d) === 2 ? 'webserver' : 'apiserver';
      return `${prefix}${d.namespace}-${name}-serviceaccount`;
    }
    return `${prefix}${d.namespace}-${c}-serviceaccount`;
  });
}

// EKS cluster issuers: oidc.eks.<region>.amazonaws.com/id/<32 hex>, `.com.cn` in the China regions.
const EKS_ISSUER = /^oidc\.eks\.[a-z]{2}(?:-[a-z]+)+-\d{1,2}\.amazonaws\.com(?:\.cn)?\/id\/[0-9A-F]{32}$/i;

/** True when IAM may trust the issuer: an EKS cluster issuer, or one listed in `inventory.oidcIssuers` (6.2). */
export function issuerAllowed(issuer: string, rules: IdentityRules): boolean {
  return EKS_ISSUER.test(issuer) || rules.oidcIssuers.includes(issuer);
}

/** True when the identity has the Astro-managed form `role/astro-<namespace>` (or `-<suffix>`, as DR identities may). */
function astroManagedName(d: Deployment, arn: RoleArn): boolean {
  if (arn.path !== '/') return false;
  const own = `astro-${d.namespace}`;
  return (
    arn.name === own ||
    (arn.name.startsWith(`${own}-`) && /^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(arn.name.slice(own.length + 1)))
  );
}

/**
 * Why a Deployment's workload identity may not be trusted by a role, or undefined when it may (6.2): it is
 * Astro-managed (`role/astro-<its own namespace>[-<suffix>]`) and `identityAccounts` is unset or lists its
 * account; or it is in the managed role's own account; or its account is in `identityAccounts`.
 */
export function identityRefusal(
  d: Deployment,
  identity: RoleArn,
  role: RoleArn,
  rules: IdentityRules,
  namespaces: Set<string>,
): string | undefined {
  if (identity.partition !== role.partition)
    return `identity ${identity.arn} is in partition ${identity.partition}, the role in ${role.partition}`;
  if (identity.accountId === role.accountId && identity.name === role.name)
    return 'uses this role itself as its identity (declare the role with trust: oidc)';
  const listed = rules.identityAccounts?.includes(identity.accountId) ?? false;
  if (astroManagedName(d, identity)) {
    // `astro-<ns>-<suffix>` must not be another Deployment's own `astro-<ns-suffix>`.
    const other = identity.name.slice('astro-'.length);
    if (other !== d.namespace && namespaces.has(other))
      return `identity ${identity.arn} is the workload identity of the Deployment in namespace ${other}`;
    if (rules.identityAccounts === undefined || listed) return undefined;
    return `identity ${identity.arn} is in account ${identity.accountId}, which inventory.identityAccounts does not list`;
  }
  if (identity.accountId === role.accountId || listed) return undefined;
  return (
    `identity ${identity.arn} is neither Astro-managed (role/astro-${d.namespace}) nor in the role's account ${role.accountId}; ` +
    'if that account is yours, list it in inventory.identityAccounts'
  );
}

/** Why a Deployment cannot be trusted by any IAM role, or undefined: it does not run on AWS. */
function providerRefusal(d: Deployment): string | undefined {
  const provider = d.cloudProvider?.toUpperCase();
  return provider && provider !== 'AWS'
    ? `runs on ${provider}: only Deployments on AWS can be trusted by an IAM role`
    : undefined;
}

/** Desired trust entries of one role: Astro identities for `workload-identity`, OIDC subjects for `oidc`. */
export function desiredTrust(
  spec: RoleSpec,
  deployments: Deployment[],
  role: RoleArn,
  rules: IdentityRules = NO_RULES,
  index: DeploymentIndex = indexDeployments(deployments),
): DesiredTrust {
  const declared = declaredDeployments(spec, deployments, role, index);
  const byKey = new Map<string, TrustEntry>();
  const skipped: SkippedDeployment[] = [];
  const skip = (d: Deployment, reason: string) => skipped.push({ deploymentId: d.id, name: d.name, reason });
  const namespaces = index.namespaces;
  const add = (e: TrustEntry) => {
    const k = entryKey(e);
    const existing = byKey.get(k);
    if (existing) existing.deploymentIds = [...new Set([...existing.deploymentIds, ...e.deploymentIds])];
    else byKey.set(k, e);
  };
  for (const { deployment: d } of declared) {
    const notOnAws = providerRefusal(d);
    if (notOnAws) {
      skip(d, notOnAws);
      continue;
    }
    if (spec.trust === 'workload-identity') {
      const arns = [d.workloadIdentity, d.drWorkloadIdentity].filter((a): a is string => !!a);
      if (arns.length === 0) skip(d, 'has no workload identity');
      for (const arn of arns) {
        const refusal = identityRefusal(d, parseRoleArn(arn)!, role, rules, namespaces);
        if (refusal) skip(d, refusal);
        else add({ kind: 'aws', arn, deploymentIds: [d.id] });
      }
    } else {
      const issuers = [d.oidcIssuer, d.drOidcIssuer].filter((i): i is string => !!i);
      if (issuers.length === 0) skip(d, 'has no OIDC issuer URL');
      for (const issuer of issuers) {
        if (!issuerAllowed(issuer, rules)) {
          skip(
            d,
            `OIDC issuer ${issuer} is not an EKS cluster issuer (oidc.eks.<region>.amazonaws.com/id/<32 hex>) nor listed in inventory.oidcIssuers`,
          );
          continue;
        }
        for (const sub of serviceAccountSubs(d, spec.serviceAccounts))
          add({ kind: 'oidc', issuer, sub, deploymentIds: [d.id] });
      }
    }
  }
  const entries = [...byKey.values()].sort((a, b) => (entryKey(a) < entryKey(b) ? -1 : 1));
  return { declared, entries, skipped, shared: sharedIdentities(entries, declared, index) };
}

/** Trusted identities that Deployments the role does not declare use too (a Hybrid cluster's shared role, one customer role for several Deployments). */
function sharedIdentities(
  entries: TrustEntry[],
  declared: DeclaredDeployment[],
  index: DeploymentIndex,
): SharedIdentity[] {
  const declaredIds = new Set(declared.map((d) => d.deployment.id));
  const out: SharedIdentity[] = [];
  for (const e of entries) {
    if (e.kind !== 'aws') continue;
    const others = (index.byIdentityArn.get(e.arn) ?? [])
      .filter((d) => !declaredIds.has(d.id))
      .map((d) => ({ id: d.id, name: d.name }));
    if (others.length > 0) out.push({ arn: e.arn, declaredIds: e.deploymentIds, others });
  }
  return out;
}
