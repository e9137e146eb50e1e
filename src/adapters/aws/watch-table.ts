/**
 * The watch table (DynamoDB, `pk` the only key): everything the Lambda functions remember between
 * invocations, one item kind per concern:
 *
 * | pk                            | holds                                                      | written by         |
 * |-------------------------------|------------------------------------------------------------|--------------------|
 * | `inventory`                   | the watch's last listing (gzip): its index, or the listing | watch              |
 * | `inventory#page#<version>#<n>`| a page of a listing too large for its index                | watch              |
 * | `inventory#sizes`             | recent listings' times and counts (the shrink guard)       | reconcile, watch   |
 * | `listing`                     | the listing shared by a burst of reconciles (gzip), same   | webhook, reconcile |
 * | `listing#page#<version>#<n>`  | a page of it                                               | webhook, reconcile |
 * | `alert#<key>`                 | an alert or webhook-id claim, until a time                 | notify, webhook    |
 * | `reverts#<role>`              | the flap guard's revert times of one role                  | reconcile          |
 *
 * A listing fits in its index item up to {@link PAGE_BYTES} of gzip (a few thousand Deployments); a larger
 * one is split in pages under a fresh version, and the index is switched to it last, so a reader sees the
 * old listing or the new one, whole (DESIGN 7.4: 50,000 Deployments, no item over DynamoDB's 400 KB).
 */
import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { Deployment, NormalizedInventory } from '../../domain/deployment.js';
import type { DedupStore, InventorySnapshotStore, ListingHistory, RevertLog } from '../../app/ports.js';
import { recordListingSize, type ListingSize } from '../../domain/listing.js';
import { RetryableError, TerminalError } from '../../errors.js';
import type { ListingStore } from '../astro/recent-listing.js';
import { REVERT_MEMORY_MS } from '../local/revert-log.js';

/** Gzip bytes per item: DynamoDB's limit is 400 KB for the whole item (key and attribute names included). */
export const PAGE_BYTES = 350 * 1024;
/** Reads started again when a save replaced the listing while it was read. */
const ATTEMPTS = 5;

type Item = Record<string, AttributeValue>;

/**
 * One gzip blob under a key prefix: in the index item (`<prefix>`) when it fits, else in pages
 * (`<prefix>#page#<version>#<n>`) that the index names, with their sha256. A save writes its pages under a
 * version no reader knows, then replaces the index (the last save wins, as one PutItem did), then deletes the
 * pages of the listing it replaced, which the replaced index names (ReturnValues ALL_OLD: no read first).
 * A reader that was still on those finds a page gone and starts again from the index.
 */
export class PagedBlob {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    readonly prefix: string,
    /** Where a listing saved before release 3 kept its bytes, in the index item. */
    private readonly legacyAttribute: string,
  ) {}

  private pageKey(version: string, n: number) {
    return `${this.prefix}#page#${version}#${n}`;
  }

  private async get(pk: string): Promise<Item | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: { S: pk } }, ConsistentRead: true }),
    );
    return out.Item;
  }

  /** The blob and its index's attributes, or undefined when nothing was saved. */
  async load(): Promise<{ data: Buffer; attributes: Item } | undefined> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const index = await this.get(this.prefix);
      if (!index) return undefined;
      const inline = index.data?.B ?? index[this.legacyAttribute]?.B;
      if (inline) return { data: Buffer.from(inline), attributes: index };
      const version = index.version?.S;
      const pages = Number(index.pages?.N);
      if (!version || !Number.isInteger(pages) || pages < 1)
        throw new TerminalError(`watch table ${this.table}: item ${this.prefix} holds no listing and names no pages`);
      const items = await Promise.all(Array.from({ length: pages }, (_, n) => this.get(this.pageKey(version, n))));
      // A page gone: a save replaced this listing while it was read. The index names the newer one.
      if (items.some((i) => !i?.data?.B)) continue;
      const data = Buffer.concat(items.map((i) => i!.data!.B!));
      if (createHash('sha256').update(data).digest('base64') !== index.digest?.S)
        throw new TerminalError(
          `watch table ${this.table}: the pages of ${this.prefix} version ${version} do not match its digest`,
        );
      return { data, attributes: index };
    }
    throw new RetryableError(
      `watch table ${this.table}: ${this.prefix} was saved again ${ATTEMPTS} times while it was read`,
    );
  }

  async save(data: Buffer, attributes: Item): Promise<void> {
    const version = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
    const pages: Buffer[] = [];
    if (data.length > PAGE_BYTES)
      for (let at = 0; at < data.length; at += PAGE_BYTES) pages.push(data.subarray(at, at + PAGE_BYTES));
    const body: Item = pages.length
      ? {
          version: { S: version },
          pages: { N: String(pages.length) },
          digest: { S: createHash('sha256').update(data).digest('base64') },
        }
      : { version: { S: version }, data: { B: data } };
    let replaced: Item | undefined;
    try {
      // Pages first, under a version no reader knows yet; then the index that names them.
      await Promise.all(
        pages.map((page, n) =>
          this.client.send(
            new PutItemCommand({
              TableName: this.table,
              Item: { pk: { S: this.pageKey(version, n) }, data: { B: page } },
            }),
          ),
        ),
      );
      const out = await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { pk: { S: this.prefix }, ...attributes, ...body },
          ReturnValues: 'ALL_OLD',
        }),
      );
      replaced = out.Attributes;
    } catch (err) {
      // Nothing names this version: its pages would never be read, nor deleted later.
      await this.deletePages(version, pages.length).catch(() => {});
      throw err;
    }
    const old = replaced?.version?.S;
    if (old && replaced?.pages?.N) await this.deletePages(old, Number(replaced.pages.N));
  }

  private async deletePages(version: string, pages: number) {
    await Promise.all(
      Array.from({ length: pages }, (_, n) =>
        this.client.send(
          new DeleteItemCommand({ TableName: this.table, Key: { pk: { S: this.pageKey(version, n) } } }),
        ),
      ),
    );
  }
}

/** The watch's last inventory (`pk` = `inventory`), gzip, paged past {@link PAGE_BYTES}. */
export class DynamoDbSnapshotStore implements InventorySnapshotStore {
  private readonly blob: PagedBlob;

  constructor(client: DynamoDBClient, table: string, key = 'inventory') {
    this.blob = new PagedBlob(client, table, key, 'deployments');
  }

  async load(): Promise<Deployment[] | undefined> {
    const saved = await this.blob.load();
    return saved ? JSON.parse(gunzipSync(saved.data).toString('utf8')) : undefined;
  }

  async save(deployments: Deployment[]): Promise<void> {
    await this.blob.save(gzipSync(JSON.stringify(deployments)), {
      savedAt: { S: new Date().toISOString() },
      count: { N: String(deployments.length) },
    });
  }
}

/**
 * The shrink guard's memory (DESIGN 7.2) in one small item (`pk` = `inventory#sizes`): the time and count of
 * the listings that can still be the largest within the window, never the listings. Reconciles run in
 * parallel, so each update is conditional on the version it read, and read again when another won (up to 10 tries).
 */
export class DynamoDbListingHistory implements ListingHistory {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  private async read(): Promise<{ version: number; points: ListingSize[] }> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: { S: 'inventory#sizes' } }, ConsistentRead: true }),
    );
    return {
      version: Number(out.Item?.version?.N ?? 0),
      points: (out.Item?.sizes?.L ?? []).map((p) => ({ at: Number(p.M!.at!.N), count: Number(p.M!.count!.N) })),
    };
  }

  async sizes(): Promise<ListingSize[]> {
    return (await this.read()).points;
  }

  async record(atMs: number, count: number, windowMs: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const { version, points } = await this.read();
      const next = recordListingSize(points, atMs, count, windowMs);
      if (JSON.stringify(next) === JSON.stringify(points)) return;
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: {
              pk: { S: 'inventory#sizes' },
              version: { N: String(version + 1) },
              sizes: { L: next.map((p) => ({ M: { at: { N: String(p.at) }, count: { N: String(p.count) } } })) },
            },
            ConditionExpression: 'attribute_not_exists(pk) OR version = :v',
            ExpressionAttributeValues: { ':v': { N: String(version) } },
          }),
        );
        return;
      } catch (err) {
        if ((err as { name?: string }).name !== 'ConditionalCheckFailedException' || attempt >= 10) throw err;
        // Another reconcile recorded first: read its version again after a short, jittered pause.
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
      }
    }
  }
}

/** The shared listing (`pk` = `listing`), gzip, paged past {@link PAGE_BYTES}. */
export class DynamoDbListingStore implements ListingStore {
  private readonly blob: PagedBlob;

  constructor(client: DynamoDBClient, table: string) {
    this.blob = new PagedBlob(client, table, 'listing', 'inventory');
  }

  async load() {
    const saved = await this.blob.load();
    const savedAt = Number(saved?.attributes.savedAt?.N);
    return saved && Number.isFinite(savedAt)
      ? { savedAt, inventory: JSON.parse(gunzipSync(saved.data).toString('utf8')) as NormalizedInventory }
      : undefined;
  }

  async save(inventory: NormalizedInventory, savedAt: number) {
    await this.blob.save(gzipSync(JSON.stringify(inventory)), { savedAt: { N: String(savedAt) } });
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
