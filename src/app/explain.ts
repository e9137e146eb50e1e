/**
 * `explain` and `connections`: why a Deployment is (or is not) trusted by each role, with the live state
 * in IAM, and the Airflow connections a Deployment needs to use the roles it is declared on.
 */
import type { InventorySource, TrustStore } from './ports.js';
import type { Config } from '../config/config.js';
import { parseRoleArn, type Deployment, type RoleArn } from '../domain/deployment.js';
import { declaredDeployments, desiredTrust, entryKey, usesRoleAsIdentity, type RoleSpec } from '../domain/desired.js';
import { isUnreachable, knownIssuersOf, planRole, type RolePlan } from '../domain/plan.js';
import { entriesInOwned } from '../domain/statements.js';
import { UsageError } from '../errors.js';
import { resolveOneRole, type HomeAccount } from './roles.js';

export interface Deps {
  config: Config;
  inventory: InventorySource;
  store: TrustStore;
}

export interface DeploymentOnRole {
  role: string;
  roleArn?: string;
  trust: RoleSpec['trust'];
  mode: RoleSpec['mode'];
  declared: boolean;
  /** Which selector matched, or why none did. */
  why: string;
  /** The principals this Deployment gets on the role (identity ARNs or OIDC subjects). */
  principals: { principal: string; issuer?: string; inIam: boolean }[];
  skipped: string[];
  /** Live: all of them trusted now, some missing, or the role does not exist. */
  live: 'trusted' | 'partly trusted' | 'not trusted' | 'role missing in IAM' | 'account not read';
  usesRoleAsIdentity: boolean;
}

export interface DeploymentExplanation {
  deployment: Deployment;
  roles: DeploymentOnRole[];
}

async function load(deps: Deps, roles: RoleSpec[]) {
  const inventory = await deps.inventory.list();
  const states = await deps.store.readRoles(roles.map((r) => r.name));
  return { inventory, states };
}

function findDeployment(deployments: Deployment[], id: string, source: string): Deployment {
  const d = deployments.find((x) => x.id === id);
  if (!d)
    throw new UsageError(
      `Deployment ${id} is not in the inventory (${source}); check the id (astro deployment list) or the organization`,
    );
  return d;
}

function whyNot(spec: RoleSpec, d: Deployment): string {
  if (!spec.deployments)
    return `the role trusts only Deployments that use it as their workload identity; this one's identity is ${d.workloadIdentity ?? 'not set'}`;
  const sel = spec.deployments.map((s) =>
    Object.entries(s)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
      .join(' and '),
  );
  return `no selector matches (id ${JSON.stringify(d.id)}, workspaceId ${JSON.stringify(d.workspaceId)}, name ${JSON.stringify(d.name)}; selectors: ${sel.join('; ')})`;
}

/** Why a Deployment is or is not trusted by each declared role, and whether IAM has it now. */
export async function explainDeployment(deps: Deps, deploymentId: string): Promise<DeploymentExplanation> {
  const { inventory, states } = await load(deps, deps.config.roles);
  const d = findDeployment(inventory.deployments, deploymentId, deps.inventory.description);
  const roles = deps.config.roles.map((spec): DeploymentOnRole => {
    const read = states.get(spec.name);
    const state = isUnreachable(read) ? undefined : read;
    const arn: RoleArn =
      state?.arn ?? parseRoleArn(`arn:aws:iam::${spec.account ?? '000000000000'}:role/${spec.roleName}`)!;
    const match = declaredDeployments(spec, [d], arn)[0];
    // The whole inventory decides what may be trusted (shared identities, namespace look-alikes); keep this Deployment's part.
    const desired = desiredTrust(spec, inventory.deployments, arn, deps.config.identityRules);
    const actual = new Set(state ? entriesInOwned(state.document.Statement).map(entryKey) : []);
    const principals = desired.entries
      .filter((e) => e.deploymentIds.includes(d.id))
      .map((e) => ({
        principal: e.kind === 'aws' ? e.arn : e.sub,
        ...(e.kind === 'oidc' ? { issuer: e.issuer } : {}),
        inIam: actual.has(entryKey(e)),
      }));
    const inIam = principals.filter((p) => p.inIam).length;
    return {
      role: spec.name,
      ...(state ? { roleArn: state.arn.arn } : {}),
      trust: spec.trust,
      mode: spec.mode,
      declared: match !== undefined,
      why: match ? match.matchedBy : whyNot(spec, d),
      principals,
      skipped: desired.skipped.filter((s) => s.deploymentId === d.id).map((s) => s.reason),
      live: isUnreachable(read)
        ? 'account not read'
        : !state
          ? 'role missing in IAM'
          : principals.length > 0 && inIam === principals.length
            ? 'trusted'
            : inIam > 0
              ? 'partly trusted'
              : 'not trusted',
      usesRoleAsIdentity: state ? usesRoleAsIdentity(d, state.arn) : false,
    };
  });
  return { deployment: d, roles };
}

/** What a role trusts and why: its plan (declared Deployments with the selector that matched, changes, findings). */
export async function explainRole(deps: Deps, role: string, home?: HomeAccount): Promise<RolePlan> {
  const spec = await resolveOneRole(deps.config, role, home);
  const { inventory, states } = await load(deps, [spec]);
  const rules = deps.config.identityRules;
  return planRole({
    spec,
    deployments: inventory.deployments,
    state: states.get(spec.name),
    knownIssuers: knownIssuersOf(inventory.deployments, rules),
    rules,
    findingRules: deps.config.findings,
    nowMs: Date.now(),
  });
}

export interface AirflowConnection {
  connId: string;
  role: string;
  /** The connection as Airflow's JSON form: what the UI, a secrets backend or AIRFLOW_CONN_* take. */
  connection: { conn_type: 'aws'; extra: Record<string, string> };
  envVar: string;
  note: string;
}

export interface ConnectionsAnswer {
  deployment: Deployment;
  connections: AirflowConnection[];
  /** Roles that need no connection: the Deployment's own customer-managed identity. */
  noConnectionNeeded: { role: string; why: string }[];
  precedence: string;
}

export const CONNECTION_PRECEDENCE =
  'When one connection id is defined in several places, Airflow on Astro uses the first it finds: a secrets backend, then the Astro Environment Manager, then environment variables (AIRFLOW_CONN_*), then the Airflow metadata database.';

/** Airflow connection ids: lower case, `aws_` + the role name with other characters as `_`. */
export function connectionId(role: string): string {
  return `aws_${role
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '')}`;
}

/** The Airflow connections (Amazon Web Services type) a Deployment needs, one per role it is declared on. */
export async function connectionsFor(deps: Deps, deploymentId: string, region: string): Promise<ConnectionsAnswer> {
  const explained = await explainDeployment(deps, deploymentId);
  const connections: AirflowConnection[] = [];
  const noConnectionNeeded: ConnectionsAnswer['noConnectionNeeded'] = [];
  for (const r of explained.roles.filter((x) => x.declared)) {
    const roleArn = r.roleArn ?? `arn:aws:iam::<account-id>:role/${r.role}`;
    if (r.usesRoleAsIdentity) {
      noConnectionNeeded.push({
        role: r.role,
        why: "it is the Deployment's own workload identity: the default credentials (aws_default, or no connection) already are this role",
      });
      continue;
    }
    const extra: Record<string, string> =
      r.trust === 'workload-identity'
        ? { role_arn: roleArn, region_name: region }
        : {
            role_arn: roleArn,
            region_name: region,
            assume_role_method: 'assume_role_with_web_identity',
            assume_role_with_web_identity_federation: 'file',
            assume_role_with_web_identity_token_file: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
          };
    const connId = connectionId(r.role);
    const connection = { conn_type: 'aws' as const, extra };
    connections.push({
      connId,
      role: r.role,
      connection,
      // Single-quoted for a shell or .env file: the JSON holds no single quote (ARNs and regions cannot).
      envVar: `AIRFLOW_CONN_${connId.toUpperCase()}='${JSON.stringify(connection)}'`,
      note:
        r.trust === 'workload-identity'
          ? `the Deployment's identity assumes ${r.role} (sts:AssumeRole); ${r.live === 'trusted' ? 'IAM trusts it now' : `IAM does not trust it yet (${r.live}): run astro-trust apply`}`
          : `the Deployment's pods assume ${r.role} with their service-account token (sts:AssumeRoleWithWebIdentity); ${r.live === 'trusted' ? 'IAM trusts it now' : `IAM does not trust it yet (${r.live})`}`,
    });
  }
  return { deployment: explained.deployment, connections, noConnectionNeeded, precedence: CONNECTION_PRECEDENCE };
}
