/**
 * Declared trust: which Deployments a role trusts (config selectors x inventory) and the principals that
 * follows from it, per Astronomer's workload-identity docs.
 */
import picomatch from 'picomatch';
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
  name: string;
  trust: TrustKind;
  mode: Mode;
  maxPolicyChars: number;
  maxRemovals: number;
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

export interface DesiredTrust {
  declared: DeclaredDeployment[];
  entries: TrustEntry[];
  /** Deployments declared but impossible to trust (no identity, no issuer, other partition). */
  skipped: { deploymentId: string; reason: string }[];
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
    m = picomatch(glob, { strictBrackets: true, dot: true });
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
  const sel = spec.deployments?.find(
    (s) =>
      (s.id === undefined || s.id === d.id) &&
      (s.workspaceId === undefined || s.workspaceId === d.workspaceId) &&
      (s.name === undefined || globMatch(s.name, d.name)),
  );
  return sel ? describe(sel) : undefined;
}

/** The Deployments a role declares, each with the selector that matched first. */
export function declaredDeployments(spec: RoleSpec, deployments: Deployment[], role: RoleArn): DeclaredDeployment[] {
  const out: DeclaredDeployment[] = [];
  for (const d of deployments) {
    const matchedBy = spec.deployments ? matchingSelector(spec, d) : usesRoleAsIdentity(d, role) ? 'uses this role as its workload identity' : undefined;
    if (matchedBy) out.push({ deployment: d, matchedBy });
  }
  return out.sort((a, b) => (a.deployment.id < b.deployment.id ? -1 : 1));
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

/** Desired trust entries of one role: Astro identities for `workload-identity`, OIDC subjects for `oidc`. */
export function desiredTrust(spec: RoleSpec, deployments: Deployment[], role: RoleArn): DesiredTrust {
  const declared = declaredDeployments(spec, deployments, role);
  const byKey = new Map<string, TrustEntry>();
  const skipped: DesiredTrust['skipped'] = [];
  const add = (e: TrustEntry) => {
    const k = entryKey(e);
    const existing = byKey.get(k);
    if (existing) existing.deploymentIds = [...new Set([...existing.deploymentIds, ...e.deploymentIds])];
    else byKey.set(k, e);
  };
  for (const { deployment: d } of declared) {
    if (spec.trust === 'workload-identity') {
      const arns = [d.workloadIdentity, d.drWorkloadIdentity].filter((a): a is string => !!a);
      if (arns.length === 0) skipped.push({ deploymentId: d.id, reason: 'has no workload identity' });
      for (const arn of arns) {
        const parsed = parseRoleArn(arn)!;
        if (parsed.partition !== role.partition) {
          skipped.push({ deploymentId: d.id, reason: `identity ${arn} is in partition ${parsed.partition}, the role in ${role.partition}` });
        } else if (parsed.accountId === role.accountId && parsed.name === role.name) {
          skipped.push({ deploymentId: d.id, reason: 'uses this role itself as its identity (declare the role with trust: oidc)' });
        } else {
          add({ kind: 'aws', arn, deploymentIds: [d.id] });
        }
      }
    } else {
      const issuers = [d.oidcIssuer, d.drOidcIssuer].filter((i): i is string => !!i);
      if (issuers.length === 0) skipped.push({ deploymentId: d.id, reason: 'has no OIDC issuer URL' });
      for (const issuer of issuers) {
        for (const sub of serviceAccountSubs(d, spec.serviceAccounts)) add({ kind: 'oidc', issuer, sub, deploymentIds: [d.id] });
      }
    }
  }
  const entries = [...byKey.values()].sort((a, b) => (entryKey(a) < entryKey(b) ? -1 : 1));
  return { declared, entries, skipped };
}
