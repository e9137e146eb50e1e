/**
 * The shrink guard's memory on Lambda (DESIGN 7.2): one small item of the watch table, `inventory#sizes`,
 * with the times and counts of recent listings (never the listings), updated by reconciles running in
 * parallel without losing the largest. Against DynamoDB in moto.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { FileInventory } from '../../../src/adapters/astro/inventory-file';
import { DynamoDbListingHistory } from '../../../src/adapters/aws/watch-table';
import { listInventory } from '../../../src/app/inventory';
import { parseConfig } from '../../../src/config/config';
import { InventoryRefusedError } from '../../../src/errors';
import { apiDeployment } from '../../support/fixtures';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../../support/moto';

const DAY = 86_400_000;
let moto: Moto;
let dynamodb: DynamoDBClient;

beforeAll(async () => {
  moto = await startMoto();
  dynamodb = new DynamoDBClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
  for (const TableName of ['sizes', 'guard'])
    await dynamodb.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
});
afterAll(async () => {
  await moto?.stop();
});

describe('DynamoDbListingHistory (inventory#sizes)', () => {
  it('keeps the largest of listings recorded in parallel, in one item of times and counts', async () => {
    const history = new DynamoDbListingHistory(dynamodb, 'sizes');
    const t = Date.now();
    await Promise.all([12, 30, 7, 25, 30, 18, 3, 29].map((n, i) => history.record(t + i * 1000, n, DAY)));
    const sizes = await history.sizes();
    expect(Math.max(...sizes.map((s) => s.count))).toBe(30);
    expect(sizes.length).toBeLessThanOrEqual(8);
    const item = (
      await dynamodb.send(new GetItemCommand({ TableName: 'sizes', Key: { pk: { S: 'inventory#sizes' } } }))
    ).Item!;
    expect(Object.keys(item).sort()).toEqual(['pk', 'sizes', 'version']);
  });

  it('refuses a collapse in small steps on the Lambda path too (the reconcile and the watch list through it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-sizes-'));
    const all = Array.from({ length: 20 }, (_, i) => apiDeployment(i));
    const file = join(dir, 'deployments.json');
    const config = parseConfig(
      'version: 1\norganizationId: org\ninventory: { source: file, path: ./deployments.json }\nroles:\n  - { name: r, trust: workload-identity, deployments: [{ workspaceId: clws0000000001 }] }\n',
      join(dir, 'astro-trust.yaml'),
    );
    const history = new DynamoDbListingHistory(dynamodb, 'guard');
    const taken: (number | string)[] = [];
    for (const n of [20, 15, 10, 5, 3, 2, 1]) {
      writeFileSync(file, JSON.stringify({ deployments: all.slice(0, n), totalCount: n }));
      try {
        taken.push((await listInventory({ config, inventory: new FileInventory(file), history })).deployments.length);
      } catch (err) {
        expect(err).toBeInstanceOf(InventoryRefusedError);
        taken.push('refused');
      }
    }
    expect(taken).toEqual([20, 15, 10, 'refused', 'refused', 'refused', 'refused']);
  });
});
