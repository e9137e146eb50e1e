/**
 * The inventory watch: list the Deployments, compare with the last listing, and reconcile only the roles
 * the differences affect. A failed listing emits nothing; the first run only takes the snapshot.
 */
import type {
  EventPublisher,
  InventorySnapshotStore,
  InventorySource,
  ListingHistory,
  ReconcileQueue,
} from './ports.js';
import type { Config } from '../config/config.js';
import type { ReconcileRequest } from '../domain/events.js';
import { diffInventory, type InventoryChange } from '../domain/watch.js';
import { mayDeclare } from './intake.js';
import { listInventory, refusalEvent } from './inventory.js';

export interface WatchResult {
  firstRun: boolean;
  changes: InventoryChange[];
  requests: ReconcileRequest[];
}

export interface WatchDeps {
  config: Config;
  inventory: InventorySource;
  snapshots: InventorySnapshotStore;
  queue: ReconcileQueue;
  /** Where a refused listing is alerted. */
  events: EventPublisher;
  /** The sizes of recent listings (the shrink guard over time). */
  history?: ListingHistory;
}

export async function watchInventory(deps: WatchDeps): Promise<WatchResult> {
  // Listing first: if it fails or is refused (empty, shrunk, inconsistent), nothing is compared, queued or saved.
  let deployments;
  try {
    ({ deployments } = await listInventory(deps));
  } catch (err) {
    const refused = refusalEvent(err, 'watch');
    if (refused) await deps.events.publish([refused]).catch(() => {});
    throw err;
  }
  const previous = await deps.snapshots.load();
  if (!previous) {
    await deps.snapshots.save(deployments);
    return { firstRun: true, changes: [], requests: [] };
  }
  const changes = diffInventory(previous, deployments);
  const roles = new Map<string, ReconcileRequest>();
  for (const c of changes) {
    for (const spec of deps.config.roles) {
      const affected = [c.before, c.after].some((d) => d !== undefined && mayDeclare(spec, d));
      if (affected && !roles.has(spec.name))
        roles.set(spec.name, {
          role: spec.name,
          reason: 'watch',
          deploymentId: c.deploymentId,
          sourceEventId: `watch:${c.type}:${c.deploymentId}:${Date.now()}`,
        });
    }
  }
  const requests = [...roles.values()];
  if (requests.length > 0) await deps.queue.enqueue(requests);
  // Saved only once the requests are queued: a failure here means the next run sees the same changes again.
  if (changes.length > 0) await deps.snapshots.save(deployments);
  return { firstRun: false, changes, requests };
}
