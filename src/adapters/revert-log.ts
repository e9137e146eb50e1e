/** The flap guard's memory of reverts per role: in process (`serve`), or an item per role in the watch table (Lambda). */
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RevertLog } from './ports.js';

const KEEP_MS = 60 * 60_000;

export class MemoryRevertLog implements RevertLog {
  private readonly times = new Map<string, number[]>();
  async count(role: string, sinceMs: number): Promise<number> {
    return (this.times.get(role) ?? []).filter((t) => t >= sinceMs).length;
  }
  async record(role: string, atMs: number): Promise<void> {
    this.times.set(role, [...(this.times.get(role) ?? []).filter((t) => t >= atMs - KEEP_MS), atMs]);
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
    const times = [...(await this.read(role)).filter((t) => t >= atMs - KEEP_MS), atMs];
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: { pk: { S: `reverts#${role}` }, times: { L: times.map((t) => ({ N: String(t) })) } },
      }),
    );
  }
}
