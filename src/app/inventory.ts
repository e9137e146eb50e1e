/**
 * Every use case lists the Deployments through here, so that no path acts on a listing DESIGN 6.1 refuses:
 * an empty one (unless a person allows it on the command line) or one that shrank past
 * `inventory.maxShrinkPercent` since the last listing the watch kept.
 */
import type { InventorySnapshotStore, InventorySource } from './ports.js';
import type { Config } from '../config/config.js';
import type { NormalizedInventory } from '../domain/deployment.js';
import type { InventoryRefused, ReconcileReason } from '../domain/events.js';
import { checkListingSize } from '../domain/listing.js';
import { InconsistentListingError, InventoryRefusedError } from '../errors.js';

export interface ListingDeps {
  config: Config;
  inventory: InventorySource;
  /** The watch's last listing: a listing that shrank past maxShrinkPercent since it is refused. */
  snapshots?: InventorySnapshotStore;
  /** `--allow-empty-inventory` (command line only): an organization with no Deployment left. */
  allowEmptyInventory?: boolean;
}

/** Lists the Deployments and refuses a listing that must not be acted on (InventoryRefusedError). */
export async function listInventory(deps: ListingDeps): Promise<NormalizedInventory> {
  const inventory = await deps.inventory.list();
  const previous = deps.snapshots ? await deps.snapshots.load() : undefined;
  checkListingSize({
    count: inventory.deployments.length,
    previousCount: previous?.length,
    maxShrinkPercent: deps.config.inventory.maxShrinkPercent,
    allowEmpty: deps.allowEmptyInventory,
  });
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
