/**
 * The watch table (DynamoDB): the watch's last listing, the flap guard's reverts, alerts posted and
 * webhook-ids seen, one item each.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDbDedup,
  DynamoDbListingHistory,
  DynamoDbListingStore,
  DynamoDbRevertLog,
  DynamoDbSnapshotStore,
} from '../../adapters/aws/watch-table.js';
import { RecentListingInventory } from '../../adapters/astro/recent-listing.js';
import type { InventorySource, ListingHistory } from '../../app/ports.js';
import { required, type Runtime } from '../runtime.js';

// One client per container's runtime (tests build a new runtime to read a new environment).
const clients = new WeakMap<Runtime, DynamoDBClient>();
function dynamodb(rt: Runtime): DynamoDBClient {
  const client = clients.get(rt) ?? new DynamoDBClient({});
  clients.set(rt, client);
  return client;
}

export function snapshots(rt: Runtime): DynamoDbSnapshotStore {
  return new DynamoDbSnapshotStore(dynamodb(rt), required(rt.env.watchTable, 'WATCH_TABLE'));
}

/** The watch's last listing, when the stack has the watch table: reconciles refuse a listing that shrank past it. */
export function lastListing(rt: Runtime): DynamoDbSnapshotStore | undefined {
  return rt.env.watchTable ? snapshots(rt) : undefined;
}

/**
 * The shrink guard's memory (`inventory#sizes`), when the stack has the watch table. `readOnly` for a function
 * that may only read the table (the backfill): it compares with what the watch and the reconciles recorded.
 */
export function listingHistory(rt: Runtime, opts: { readOnly?: boolean } = {}): ListingHistory | undefined {
  if (!rt.env.watchTable) return undefined;
  const history = new DynamoDbListingHistory(dynamodb(rt), rt.env.watchTable);
  return opts.readOnly ? { sizes: () => history.sizes(), record: async () => {} } : history;
}

/** The flap guard's memory, shared by every reconcile container. */
export function reverts(rt: Runtime): DynamoDbRevertLog | undefined {
  return rt.env.watchTable ? new DynamoDbRevertLog(dynamodb(rt), rt.env.watchTable) : undefined;
}

/** What was posted or seen, remembered across cold starts (in memory without the table). */
export function dedup(rt: Runtime): DynamoDbDedup | undefined {
  return rt.env.watchTable ? new DynamoDbDedup(dynamodb(rt), rt.env.watchTable) : undefined;
}

/** How long one listing serves the reconciles a webhook or a resync fans out to (issue 11: one listing per event). */
export const SHARED_LISTING_MAX_AGE_MS = 120_000;

/** The inventory through the shared recent listing, when the stack has the watch table. */
export function sharedInventory(rt: Runtime, source: InventorySource): InventorySource {
  return rt.env.watchTable
    ? new RecentListingInventory(
        source,
        new DynamoDbListingStore(dynamodb(rt), rt.env.watchTable),
        SHARED_LISTING_MAX_AGE_MS,
      )
    : source;
}

/** The webhook's inventory: always listed fresh (its Deployment may be seconds old), then shared with the reconciles it queues. */
export function freshSharedInventory(rt: Runtime, source: InventorySource): InventorySource {
  if (!rt.env.watchTable) return source;
  const shared = new RecentListingInventory(
    source,
    new DynamoDbListingStore(dynamodb(rt), rt.env.watchTable),
    SHARED_LISTING_MAX_AGE_MS,
  );
  return { description: shared.description, list: () => shared.fresh() };
}
