/**
 * The watch table at the size of a large Astro estate (issue 20, DESIGN 7.4): the watch's snapshot and the
 * shared listing of 50,000 Deployments, against moto (which enforces DynamoDB's 400 KB item limit).
 */
import { gzipSync } from 'node:zlib';
import {
  CreateTableCommand,
  PutItemCommand,
  DynamoDBClient,
  ScanCommand,
  type AttributeValue,
  type GetItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { DynamoDbListingStore, DynamoDbSnapshotStore } from '../../../src/adapters/aws/watch-table';
import type { Deployment } from '../../../src/domain/deployment';
import { estateDeployments } from '../../support/fixtures';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../../support/moto';

const DEPLOYMENTS = 50_000;
const ITEM_LIMIT = 400 * 1024;
let moto: Moto;
let client: DynamoDBClient;
let n = 0;

beforeAll(async () => {
  moto = await startMoto();
  client = new DynamoDBClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
}, 60_000);
afterAll(async () => moto?.stop());

async function table(): Promise<string> {
  const name = `watch-${++n}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
  return name;
}

async function items(name: string): Promise<Record<string, AttributeValue>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: name, ExclusiveStartKey: start }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** An item's size as DynamoDB counts it: attribute names and values. */
const itemBytes = (item: Record<string, AttributeValue>) =>
  Object.entries(item).reduce(
    (sum, [k, v]) => sum + Buffer.byteLength(k) + (v.B ? v.B.length : Buffer.byteLength(v.S ?? v.N ?? '')),
    0,
  );

/** The same listing, compared by what identifies it (a deep equal of 50,000 objects is slow to report). */
const sameAs = (a: Deployment[] | undefined, b: Deployment[]) =>
  a !== undefined && a.length === b.length && JSON.stringify(a) === JSON.stringify(b);

describe(`the watch table with ${DEPLOYMENTS.toLocaleString('en')} Deployments`, () => {
  const first = estateDeployments(DEPLOYMENTS, 1);
  const second = estateDeployments(DEPLOYMENTS, 2);

  it('keeps the watch snapshot and the shared listing, no item over 400 KB, each under its own key prefix', async () => {
    const name = await table();
    const snapshots = new DynamoDbSnapshotStore(client, name);
    const listing = new DynamoDbListingStore(client, name);
    expect(await snapshots.load()).toBeUndefined();
    expect(await listing.load()).toBeUndefined();

    await snapshots.save(first);
    await listing.save({ deployments: second, warnings: [{ deploymentId: 'x', message: 'left out' }] }, 1_700_000_000);

    expect(sameAs(await snapshots.load(), first)).toBe(true);
    const shared = await listing.load();
    expect(shared?.savedAt).toBe(1_700_000_000);
    expect(shared?.inventory.warnings).toEqual([{ deploymentId: 'x', message: 'left out' }]);
    expect(sameAs(shared?.inventory.deployments, second)).toBe(true);

    const all = await items(name);
    // More than one item each: the listing does not fit in one.
    expect(all.filter((i) => i.pk!.S!.startsWith('inventory')).length).toBeGreaterThan(2);
    expect(all.filter((i) => i.pk!.S!.startsWith('listing')).length).toBeGreaterThan(2);
    // The webhook function's DynamoDB access is confined by key prefix (DESIGN 7.1): nothing outside them.
    for (const item of all) {
      expect(item.pk!.S).toMatch(/^(inventory|listing)/);
      expect(itemBytes(item)).toBeLessThan(ITEM_LIMIT);
    }
  }, 120_000);

  it('a reader during a save sees the old listing or the new one, whole, never a mix', async () => {
    const name = await table();
    const writer = new DynamoDbListingStore(client, name);
    const reader = new DynamoDbListingStore(client, name);
    await writer.save({ deployments: first, warnings: [] }, 1);
    let saving = true;
    const seen: number[] = [];
    const saved = writer.save({ deployments: second, warnings: [] }, 2).finally(() => (saving = false));
    while (saving) {
      const got = await reader.load();
      if (sameAs(got?.inventory.deployments, first)) seen.push(got!.savedAt);
      else if (sameAs(got?.inventory.deployments, second)) seen.push(got!.savedAt);
      else throw new Error(`a reader saw neither listing whole (savedAt ${got?.savedAt})`);
    }
    await saved;
    expect(seen.length).toBeGreaterThan(0);
    expect((await reader.load())?.savedAt).toBe(2);
  }, 180_000);

  it('a reader overtaken by saves while it reads gets a whole listing; a save deletes the pages it replaced', async () => {
    const name = await table();
    const writer = new DynamoDbSnapshotStore(client, name);
    await writer.save(first);
    const one = await items(name);

    // The reader gets the snapshot's index, then waits while two more snapshots are saved, then reads on.
    let paused: Promise<void> | undefined;
    const slow = new DynamoDBClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
    const send = slow.send.bind(slow) as (c: unknown) => Promise<GetItemCommandOutput>;
    let calls = 0;
    slow.send = (async (command: unknown) => {
      const out = await send(command);
      if (++calls === 1) {
        paused = (async () => {
          await writer.save(second);
          await writer.save(first);
        })();
        await paused;
      }
      return out;
    }) as typeof slow.send;
    const got = await new DynamoDbSnapshotStore(slow, name).load();
    await paused;
    expect(sameAs(got, first) || sameAs(got, second)).toBe(true);
    // It found its pages gone and read the index again (one pass is the index and its pages).
    expect(calls).toBeGreaterThan(one.length);

    // Each save deleted the pages of the snapshot it replaced: the table holds the current one only.
    expect((await items(name)).length).toBe(one.length);
    expect(sameAs(await writer.load(), first)).toBe(true);
  }, 180_000);

  it('reads a snapshot and a listing saved by release 2 (one item each), and replaces them on the next save', async () => {
    const name = await table();
    const small = first.slice(0, 100);
    const gz = (v: unknown) => ({ B: gzipSync(JSON.stringify(v)) });
    await client.send(
      new PutItemCommand({ TableName: name, Item: { pk: { S: 'inventory' }, deployments: gz(small) } }),
    );
    await client.send(
      new PutItemCommand({
        TableName: name,
        Item: { pk: { S: 'listing' }, savedAt: { N: '5' }, inventory: gz({ deployments: small, warnings: [] }) },
      }),
    );
    const snapshots = new DynamoDbSnapshotStore(client, name);
    const listing = new DynamoDbListingStore(client, name);
    expect(sameAs(await snapshots.load(), small)).toBe(true);
    expect((await listing.load())?.savedAt).toBe(5);
    await snapshots.save(first);
    await listing.save({ deployments: second, warnings: [] }, 6);
    expect(sameAs(await snapshots.load(), first)).toBe(true);
    expect(sameAs((await listing.load())?.inventory.deployments, second)).toBe(true);
  }, 120_000);
});
