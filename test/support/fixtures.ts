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
