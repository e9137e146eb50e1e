/** The watch's last inventory in one DynamoDB item, gzip-compressed to stay far below the 400 KB item limit. */
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Deployment } from '../domain/deployment.js';
import type { InventorySnapshotStore } from './ports.js';

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
