/**
 * The Lambda path's memory of a large estate (DESIGN 7.4): the watch's snapshot and the shared listing of
 * 50,000 Deployments saved to and loaded from the watch table (DynamoDB, moto), as the functions do it.
 * Items and bytes are what the table holds after a save; times are the median of `repeat` saves and loads.
 */
import { CreateTableCommand, DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DynamoDbListingStore, DynamoDbSnapshotStore, PAGE_BYTES } from '../src/adapters/aws/watch-table';
import { estateDeployments } from '../test/support/fixtures';
import { startMoto, TEST_CREDENTIALS } from '../test/support/moto';
import { median, ms, table } from './lib';

async function itemsUnder(client: DynamoDBClient, name: string, prefix: string) {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: name, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []).filter((i) => i.pk?.S?.startsWith(prefix)));
    start = page.LastEvaluatedKey;
  } while (start);
  const bytes = items.map((i) => Object.values(i).reduce((n, v) => n + (v.B?.length ?? 0), 0));
  return { count: items.length, bytes: bytes.reduce((a, b) => a + b, 0), largest: Math.max(...bytes) };
}

export async function benchLambda50k(deployments: number, repeat: number) {
  const moto = await startMoto();
  try {
    const client = new DynamoDBClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
    const name = 'bench-watch';
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    const listings = [estateDeployments(deployments, 1), estateDeployments(deployments, 2)];
    const json = Buffer.byteLength(JSON.stringify(listings[0]));
    const stores = [
      {
        what: 'watch snapshot (inventory)',
        prefix: 'inventory',
        save: (i: number) => new DynamoDbSnapshotStore(client, name).save(listings[i % 2]!),
        load: async () => (await new DynamoDbSnapshotStore(client, name).load())?.length,
      },
      {
        what: 'shared listing (listing)',
        prefix: 'listing',
        save: (i: number) =>
          new DynamoDbListingStore(client, name).save({ deployments: listings[i % 2]!, warnings: [] }, Date.now()),
        load: async () => (await new DynamoDbListingStore(client, name).load())?.inventory.deployments.length,
      },
    ];
    const rows: (string | number)[][] = [];
    for (const store of stores) {
      const saves: number[] = [];
      const loads: number[] = [];
      for (let i = 0; i < repeat; i++) {
        let t = performance.now();
        await store.save(i);
        saves.push(performance.now() - t);
        t = performance.now();
        const n = await store.load();
        loads.push(performance.now() - t);
        if (n !== deployments) throw new Error(`${store.what}: loaded ${n} Deployments, saved ${deployments}`);
      }
      const held = await itemsUnder(client, name, store.prefix);
      rows.push([
        store.what,
        deployments.toLocaleString('en'),
        (json / 1024 / 1024).toFixed(1),
        held.count,
        (held.bytes / 1024).toFixed(0),
        (held.largest / 1024).toFixed(0),
        ms(median(saves)),
        ms(median(loads)),
      ]);
    }
    table(
      `Lambda path at ${deployments.toLocaleString('en')} Deployments: the watch table against moto (pages of ${PAGE_BYTES / 1024} KiB gzip), median of ${repeat}`,
      ['kept', 'Deployments', 'JSON MiB', 'items held', 'gzip KiB held', 'largest item KiB', 'save ms', 'load ms'],
      rows,
    );
  } finally {
    await moto.stop();
  }
}
