/**
 * The watch table (DynamoDB): the watch's last listing, the flap guard's reverts, alerts posted and
 * webhook-ids seen, one item each.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbDedup } from '../../adapters/dedup.js';
import { DynamoDbRevertLog } from '../../adapters/revert-log.js';
import { DynamoDbSnapshotStore } from '../../adapters/snapshot-dynamodb.js';
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

/** The flap guard's memory, shared by every reconcile container. */
export function reverts(rt: Runtime): DynamoDbRevertLog | undefined {
  return rt.env.watchTable ? new DynamoDbRevertLog(dynamodb(rt), rt.env.watchTable) : undefined;
}

/** What was posted or seen, remembered across cold starts (in memory without the table). */
export function dedup(rt: Runtime): DynamoDbDedup | undefined {
  return rt.env.watchTable ? new DynamoDbDedup(dynamodb(rt), rt.env.watchTable) : undefined;
}
