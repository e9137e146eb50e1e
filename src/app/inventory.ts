/**
 * Every use case lists the Deployments through here, so that no path acts on a listing DESIGN 6.1 and 7.2
 * refuse: an empty one (unless a person allows it on the command line) or one that shrank past
 * `inventory.maxShrinkPercent` since the last listing the watch kept or the largest within
 * `inventory.shrinkWindow`.
 */
import type { InventorySnapshotStore, InventorySource, ListingHistory } from './ports.js';
import type { Config } from '../config/config.js';
import type { NormalizedInventory } from '../domain/deployment.js';
import type { InventoryRefused, ReconcileReason } from '../domain/events.js';
import { checkListingSize, largestListingSince } from '../domain/listing.js';
import { InconsistentListingError, InventoryRefusedError } from '../errors.js';

export interface ListingDeps {
  config: Config;
  inventory: InventorySource;
  /** The watch's last listing: a listing that shrank past maxShrinkPercent since it is refused. */
  snapshots?: InventorySnapshotStore;
  /** The sizes of recent listings: a listing that shrank past maxShrinkPercent since the largest is refused. */
  history?: ListingHistory;
  /** `--allow-empty-inventory` (command line only): an organization with no Deployment left. */
  allowEmptyInventory?: boolean;
  now?: () => number;
}

/** Lists the Deployments and refuses a listing that must not be acted on (InventoryRefusedError). */
export async function listInventory(deps: ListingDeps): Promise<NormalizedInventory> {
  const inventory = await deps.inventory.list();
  const previous = deps.snapshots ? await deps.snapshots.load() : undefined;
  const now = (deps.now ?? Date.now)();
  const windowMs = deps.config.inventory.shrinkWindowMs;
  const recent = deps.history && windowMs > 0 ? await deps.history.sizes() : [];
  const count = inventory.deployments.length;
  checkListingSize({
    count,
    previousCount: previous?.length,
    largestRecent: largestListingSince(recent, now - windowMs),
    shrinkWindowMs: windowMs,
    maxShrinkPercent: deps.config.inventory.maxShrinkPercent,
    allowEmpty: deps.allowEmptyInventory,
  });
  if (deps.history && windowMs > 0) await deps.history.record(now, count, windowMs);
  return inventory;
}

/** The alert for a listing that was refused, or undefined when the error is something else. */
export function refusalEvent(
  err: unknown,
  reason: ReconcileReason,
  role?: string,
): { type: 'InventoryRefused'; detail: InventoryRefused } | undefined {
  if (err instanceof InventoryRefusedError)
    return {
      type: 'InventoryRefused',
      detail: { kind: err.kind, message: err.message, reason, ...(role ? { role } : {}) },
    };
  if (err instanceof InconsistentListingError)
    return {
      type: 'InventoryRefused',
      detail: { kind: 'inconsistent', message: err.message, reason, ...(role ? { role } : {}) },
    };
  return undefined;
}
