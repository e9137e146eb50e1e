/** Small builders for domain tests: Deployments in the Astro API shape, role specs, role states. */
import { normalizeDeployments, parseRoleArn, type Deployment } from '../../src/domain/deployment';
import type { RoleSpec } from '../../src/domain/desired';
import type { RoleState } from '../../src/domain/plan';
import type { Statement } from '../../src/domain/policy';

export const ACCOUNT = '123456789012';
export const ASTRO_ACCOUNT = '111928029897';
export const ISSUER = 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789';
export const ISSUER_DR = 'oidc.eks.us-west-2.amazonaws.com/id/FEDCBA9876543210FEDCBA9876543210';

export const astroRole = (ns: string) => `arn:aws:iam::${ASTRO_ACCOUNT}:role/astro-${ns}`;

/** A raw Astro API Deployment object. */
export function apiDeployment(n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const namespace = `stellar-orbit-${1000 + n}`;
  return {
    id: `cldep${String(n).padStart(6, '0')}x`,
    name: `deployment-${n}`,
    namespace,
    workspaceId: 'clws0000000001',
    clusterId: 'clcl0000000001',
    type: 'DEDICATED',
    status: 'HEALTHY',
    airflowVersion: '3.0.1',
    effectiveWorkloadIdentity: astroRole(namespace),
    oidcIssuerUrl: `https://${ISSUER}`,
    ...extra,
  };
}

export function deployments(...raw: Record<string, unknown>[]): Deployment[] {
  const inv = normalizeDeployments(raw);
  if (inv.warnings.length > 0) throw new Error(`fixture warnings: ${JSON.stringify(inv.warnings)}`);
  return inv.deployments;
}

export function spec(over: Partial<RoleSpec> = {}): RoleSpec {
  return {
    name: 'data-reader',
    trust: 'workload-identity',
    mode: 'enforce',
    maxPolicyChars: 2048,
    maxRemovals: 5,
    maxRevertsPerHour: 3,
    deployments: [{ workspaceId: 'clws0000000001' }],
    serviceAccounts: 'all',
    ...over,
    roleName: over.roleName ?? (over.name ?? 'data-reader').split('/').pop()!,
  };
}

export function roleState(name: string, statements: Statement[]): RoleState {
  return {
    arn: parseRoleArn(`arn:aws:iam::${ACCOUNT}:role/${name}`)!,
    document: { Version: '2012-10-17', Statement: statements },
  };
}

/**
 * `n` Deployments shaped like a real Astro estate: cuid ids, namespaces and identities with their entropy
 * (a regular `cldep000001x` series compresses a hundredfold and would hide size limits). Seeded: the same
 * `n` and `seed` give the same Deployments.
 */
export function estateDeployments(n: number, seed = 1): Deployment[] {
  let s = seed >>> 0;
  const next = () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const base36 = (len: number) => Array.from({ length: len }, () => Math.floor(next() * 36).toString(36)).join('');
  const workspaces = Array.from({ length: Math.max(1, Math.ceil(n / 400)) }, () => `cl${base36(23)}`);
  const clusters = Array.from({ length: Math.max(1, Math.ceil(n / 2000)) }, () => `cl${base36(23)}`);
  const words = ['orbit', 'nebula', 'quasar', 'pulsar', 'comet', 'zenith', 'aurora', 'meteor', 'nova', 'vega'];
  return Array.from({ length: n }, (_, i): Deployment => {
    const namespace = `${words[Math.floor(next() * words.length)]}-${words[Math.floor(next() * words.length)]}-${base36(4)}${i.toString(36)}`;
    return {
      id: `cl${base36(23)}`,
      name: `${['prod', 'stage', 'dev'][i % 3]}-${words[i % words.length]}-${i}`,
      namespace,
      workspaceId: workspaces[Math.floor(next() * workspaces.length)]!,
      clusterId: clusters[Math.floor(next() * clusters.length)]!,
      type: 'DEDICATED',
      status: 'HEALTHY',
      airflowVersion: '3.0.1',
      astroRuntimeVersion: '3.0-2',
      cloudProvider: 'AWS',
      createdAt: new Date(Date.UTC(2024, 0, 1) + Math.floor(next() * 6e10)).toISOString(),
      workloadIdentity: astroRole(namespace),
      oidcIssuer: ISSUER,
    };
  });
}
