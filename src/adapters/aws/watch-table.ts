/**
 * The watch table (DynamoDB, `pk` the only key): everything the Lambda functions remember between
 * invocations, one item kind per concern:
 *
 * | pk                | holds                                                   | written by            |
 * |-------------------|---------------------------------------------------------|-----------------------|
 * | `inventory`       | the watch's last listing (gzip)                         | watch                 |
 * | `listing`         | the listing shared by a burst of reconciles (gzip)      | webhook, reconcile    |
 * | `alert#<key>`     | an alert or webhook-id claim, until a time              | notify, webhook       |
 * | `reverts#<role>`  | the flap guard's revert times of one role               | reconcile             |
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { DeleteItemCommand, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Deployment, NormalizedInventory } from '../../domain/deployment.js';
import type { DedupStore, InventorySnapshotStore, RevertLog } from '../../app/ports.js';
import type { ListingStore } from '../astro/recent-listing.js';
import { REVERT_MEMORY_MS } from '../local/revert-log.js';

/** The watch's last inventory in one item, gzip-compressed to stay far below the 400 KB item limit. */
export class DynamoDbSnapshotStore implements InventorySnapshotStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly key = 'inventory',
  ) {}

  async load(): Promise<Deployment[] | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: { S: this.key } }, ConsistentRead: true }),
    );
    const data = out.Item?.deployments?.B;
    return data ? JSON.parse(gunzipSync(data).toString('utf8')) : undefined;
  }

  async save(deployments: Deployment[]): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: { S: this.key },
          savedAt: { S: new Date().toISOString() },
          count: { N: String(deployments.length) },
          deployments: { B: gzipSync(JSON.stringify(deployments)) },
        },
      }),
    );
  }
}

/** The shared listing as one gzip item of the watch table (`pk` = `listing`). */
export class DynamoDbListingStore implements ListingStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async load() {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: { S: 'listing' } }, ConsistentRead: true }),
    );
    const data = out.Item?.inventory?.B;
    const savedAt = Number(out.Item?.savedAt?.N);
    return data && Number.isFinite(savedAt)
      ? { savedAt, inventory: JSON.parse(gunzipSync(data).toString('utf8')) as NormalizedInventory }
      : undefined;
  }

  async save(inventory: NormalizedInventory, savedAt: number) {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: { S: 'listing' },
          savedAt: { N: String(savedAt) },
          inventory: { B: gzipSync(JSON.stringify(inventory)) },
        },
      }),
    );
  }
}

/** Claims as items of the watch table (`pk` = `alert#<key>`), made with a conditional write. */
export class DynamoDbDedup implements DedupStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(key: string, windowMs: number): Promise<boolean> {
    const now = this.now();
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { pk: { S: `alert#${key}` }, until: { N: String(now + windowMs) } },
          ConditionExpression: 'attribute_not_exists(pk) OR #until <= :now',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':now': { N: String(now) } },
        }),
      );
      return true;
    } catch (err) {
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  async release(key: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: { pk: { S: `alert#${key}` } } }));
  }
}

/** One item per role (`pk` = `reverts#<role>`); the reconcile function is the role's only writer, so no race. */
export class DynamoDbRevertLog implements RevertLog {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  private async read(role: string): Promise<number[]> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: { S: `reverts#${role}` } }, ConsistentRead: true }),
    );
    return (out.Item?.times?.L ?? []).map((v) => Number(v.N));
  }

  async count(role: string, sinceMs: number): Promise<number> {
    return (await this.read(role)).filter((t) => t >= sinceMs).length;
  }

  async record(role: string, atMs: number): Promise<void> {
    const times = [...(await this.read(role)).filter((t) => t >= atMs - REVERT_MEMORY_MS), atMs];
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: { pk: { S: `reverts#${role}` }, times: { L: times.map((t) => ({ N: String(t) })) } },
      }),
    );
  }
}
