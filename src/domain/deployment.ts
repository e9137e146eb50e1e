import { InconsistentListingError } from '../errors.js';

/**
 * Astro Deployments as astro-trust sees them: the fields of the Astro API v1 Deployment object that
 * decide trust, checked so that no inventory value can inject a wildcard or a foreign principal.
 */

export type DeploymentType = 'STANDARD' | 'DEDICATED' | 'HYBRID';

export interface Deployment {
  id: string;
  name: string;
  namespace: string;
  workspaceId: string;
  clusterId?: string;
  type?: string;
  status?: string;
  airflowVersion?: string;
  /** Astro Runtime version, e.g. `3.0-2` or `12.5.0`: its major gives Airflow's when `airflowVersion` is `NA`. */
  astroRuntimeVersion?: string;
  /**
   * `AWS`, `AZURE` or `GCP`: only AWS Deployments can be trusted by an IAM role. The API documents the
   * Deployment's own `cloudProvider` for Standard Deployments only; a Dedicated or Hybrid one runs in its
   * cluster's cloud (`clusterClouds`).
   */
  cloudProvider?: string;
  /** ISO time the Deployment was created: when a role is full, older Deployments are trusted first. */
  createdAt?: string;
  /** The Deployment's AWS identity: an Astro-managed `role/astro-<ns>` or a customer role. */
  workloadIdentity?: string;
  /** Issuer host/path of the cluster's OIDC provider, without `https://`. */
  oidcIssuer?: string;
  drWorkloadIdentity?: string;
  drOidcIssuer?: string;
}

export interface InventoryWarning {
  deploymentId: string;
  message: string;
}

export interface NormalizedInventory {
  deployments: Deployment[];
  warnings: InventoryWarning[];
}

// Kubernetes namespaces are DNS-1123 labels; anything else (a `*`, `:`, quote) is refused, not escaped.
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/((?:[\w+=,.@-]+\/)*)([\w+=,.@-]{1,64})$/;
const ISSUER_URL = /^https:\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)+(?:\/[A-Za-z0-9._~-]+)*)\/?$/;
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

export interface RoleArn {
  partition: string;
  accountId: string;
  path: string;
  name: string;
  arn: string;
}

/** Splits an IAM role ARN (`arn:<partition>:iam::<account>:role/<path><name>`), or undefined when it is not one. */
export function parseRoleArn(arn: string): RoleArn | undefined {
  const m = ROLE_ARN.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, accountId: m[2]!, path: `/${m[3]!}`, name: m[4]!, arn };
}

/** The issuer as IAM names it in provider ARNs and condition keys: host and path, no `https://`. */
export function issuerHostPath(url: string): string | undefined {
  const m = ISSUER_URL.exec(url.trim());
  return m ? m[1] : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

const CLOUDS = new Set(['AWS', 'AZURE', 'GCP']);

/** Deployment types that run in their cluster's cloud: the API gives `cloudProvider` only for STANDARD ones. */
const CLOUD_OF_CLUSTER = new Set(['DEDICATED', 'HYBRID']);

/** True when some Deployment of a raw listing takes its cloud from its cluster (so the clusters are worth listing). */
export function needsClusterClouds(raw: unknown[]): boolean {
  return raw.some((item) => CLOUD_OF_CLUSTER.has(String((item as { type?: unknown } | null)?.type).toUpperCase()));
}

/**
 * The cloud of each cluster (`GET /v1/organizations/{id}/clusters`: `id`, `cloudProvider` AWS|AZURE|GCP), by
 * cluster id. A cluster without a valid id or cloud is left out: its Deployments' cloud stays unknown.
 */
export function clusterClouds(raw: unknown[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of raw) {
    const r = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const id = str(r.id);
    const cloud = str(r.cloudProvider)?.toUpperCase();
    if (id && SAFE_ID.test(id) && cloud && CLOUDS.has(cloud)) out.set(id, cloud);
  }
  return out;
}

/**
 * Turns raw Astro API Deployment objects into checked Deployments. A Deployment whose id, namespace or
 * identity is malformed is left out with a warning: it is never trusted on a guess. With `clusters`
 * (`clusterClouds`), a Dedicated or Hybrid Deployment takes its cluster's cloud; without, its own field.
 */
export function normalizeDeployments(raw: unknown[], clusters?: ReadonlyMap<string, string>): NormalizedInventory {
  const deployments: Deployment[] = [];
  const warnings: InventoryWarning[] = [];
  const seen = new Set<string>();
  raw.forEach((item, index) => {
    const r = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const id = str(r.id);
    const label = id && SAFE_ID.test(id) ? id : `deployments[${index}]`;
    const warn = (message: string) => warnings.push({ deploymentId: label, message });
    if (!id || !SAFE_ID.test(id)) return warn('has no valid id; left out');
    // Never "first copy wins": a hostile copy could replace a real identity. The whole listing is refused.
    if (seen.has(id))
      throw new InconsistentListingError('duplicate-id', `Deployment id ${id} appears twice in the listing`);
    const namespace = str(r.namespace);
    if (!namespace || !NAMESPACE.test(namespace)) {
      return warn(
        `namespace ${JSON.stringify(r.namespace ?? null).slice(0, 80)} is not a Kubernetes namespace; left out`,
      );
    }
    const workspaceId = str(r.workspaceId);
    if (!workspaceId) return warn('has no workspaceId; left out');
    const d: Deployment = {
      id,
      name: str(r.name) ?? id,
      namespace,
      workspaceId,
      clusterId: str(r.clusterId),
      type: str(r.type),
      status: str(r.status),
      airflowVersion: str(r.airflowVersion),
      astroRuntimeVersion: str(r.astroRuntimeVersion) ?? str(r.runtimeVersion),
      cloudProvider: cloudOf(r, clusters, warn),
      createdAt: str(r.createdAt),
    };
    // The Deployment object has `effectiveWorkloadIdentity` (user-configured or Astro's default); there is no
    // `workloadIdentity` field to fall back on.
    const identity = str(r.effectiveWorkloadIdentity);
    if (identity) {
      if (parseRoleArn(identity)) d.workloadIdentity = identity;
      else warn(`workload identity ${JSON.stringify(identity).slice(0, 120)} is not an IAM role ARN; ignored`);
    }
    const drIdentity = str(r.effectiveDRWorkloadIdentity);
    if (drIdentity) {
      if (parseRoleArn(drIdentity)) d.drWorkloadIdentity = drIdentity;
      else warn(`DR workload identity ${JSON.stringify(drIdentity).slice(0, 120)} is not an IAM role ARN; ignored`);
    }
    for (const [field, key] of [
      ['oidcIssuerUrl', 'oidcIssuer'],
      ['drOidcIssuerUrl', 'drOidcIssuer'],
    ] as const) {
      const url = str(r[field]);
      if (!url) continue;
      const issuer = issuerHostPath(url);
      if (issuer) d[key] = issuer;
      else warn(`${field} ${JSON.stringify(url).slice(0, 120)} is not an https issuer URL; ignored`);
    }
    seen.add(id);
    deployments.push(d);
  });
  return { deployments, warnings };
}

/** A Deployment's cloud: its cluster's for Dedicated and Hybrid ones when the clusters are known, else its own field. */
function cloudOf(
  r: Record<string, unknown>,
  clusters: ReadonlyMap<string, string> | undefined,
  warn: (message: string) => void,
): string | undefined {
  const type = str(r.type)?.toUpperCase();
  if (!clusters || !type || !CLOUD_OF_CLUSTER.has(type)) return str(r.cloudProvider);
  const clusterId = str(r.clusterId);
  const cloud = clusterId ? clusters.get(clusterId) : undefined;
  if (!cloud) {
    warn(
      `${type} Deployment on cluster ${JSON.stringify(clusterId ?? null).slice(0, 80)}, which the clusters listing does not have: its cloud is unknown`,
    );
  }
  return cloud;
}

/**
 * Airflow's major version from an Astro `airflowVersion` such as `3.0.2` or `2.10.5+astro.1`; when that is
 * `NA` or absent, from `astroRuntimeVersion` (Astro Runtime 3.x ships Airflow 3, older Runtimes Airflow 2).
 */
export function airflowMajor(d: Deployment): number | undefined {
  const m = /^(\d+)\./.exec(d.airflowVersion ?? '');
  if (m) return Number(m[1]);
  const runtime = /^(\d+)\./.exec(d.astroRuntimeVersion ?? '');
  if (!runtime) return undefined;
  return Number(runtime[1]) === 3 ? 3 : 2;
}
