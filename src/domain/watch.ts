/**
 * Astro sends no Deployment lifecycle events; astro-trust makes its own by comparing two listings of the
 * inventory. Only the fields that decide trust count as a change.
 */
import type { Deployment } from './deployment.js';

export const WATCHED_FIELDS = [
  'name',
  'namespace',
  'workspaceId',
  'workloadIdentity',
  'oidcIssuer',
  'drWorkloadIdentity',
  'drOidcIssuer',
] as const;

export interface InventoryChange {
  type: 'deployment.created' | 'deployment.updated' | 'deployment.deleted';
  deploymentId: string;
  /** For updates: the fields that changed. */
  changed: (typeof WATCHED_FIELDS)[number][];
  before?: Deployment;
  after?: Deployment;
}

/** The Deployment events between two inventory listings, ordered by Deployment id. */
export function diffInventory(previous: Deployment[], current: Deployment[]): InventoryChange[] {
  const before = new Map(previous.map((d) => [d.id, d]));
  const after = new Map(current.map((d) => [d.id, d]));
  const changes: InventoryChange[] = [];
  for (const id of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const b = before.get(id);
    const a = after.get(id);
    if (!b && a) changes.push({ type: 'deployment.created', deploymentId: id, changed: [], after: a });
    else if (b && !a) changes.push({ type: 'deployment.deleted', deploymentId: id, changed: [], before: b });
    else if (a && b) {
      const changed = WATCHED_FIELDS.filter((f) => (a[f] ?? null) !== (b[f] ?? null));
      if (changed.length > 0)
        changes.push({ type: 'deployment.updated', deploymentId: id, changed, before: b, after: a });
    }
  }
  return changes;
}
