/**
 * "Posted already?" for alerts, remembered across restarts and cold starts (DESIGN 3.5): in memory (tests),
 * in a local JSON file (`serve`), or in DynamoDB (Lambda: the watch table, conditional writes).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DeleteItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface DedupStore {
  /** True the first time `key` is claimed within `windowMs` (and records it); false while a claim stands. */
  claim(key: string, windowMs: number): Promise<boolean>;
  /** Forgets a claim (the alert was not delivered after all). */
  release(key: string): Promise<void>;
}

export class MemoryDedup implements DedupStore {
  private readonly until = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now) {}
  async claim(key: string, windowMs: number): Promise<boolean> {
    const now = this.now();
    for (const [k, t] of this.until) if (t <= now) this.until.delete(k);
    if (this.until.has(key)) return false;
    this.until.set(key, now + windowMs);
    return true;
  }
  async release(key: string): Promise<void> {
    this.until.delete(key);
  }
}

/** Claims in one JSON file, written whole and renamed into place; one operation at a time. */
export class FileDedup implements DedupStore {
  private chain: Promise<unknown> = Promise.resolve();
  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {}

  private async read(): Promise<Record<string, number>> {
    try {
      const data = JSON.parse(await readFile(this.path, 'utf8')) as { until?: Record<string, number> };
      return data.until ?? {};
    } catch (err) {
      // A missing or unreadable file forgets claims: at worst an alert is posted again.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return {};
      throw err;
    }
  }

  private async write(until: Record<string, number>): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeFile(`${this.path}.tmp`, JSON.stringify({ until }));
    await rename(`${this.path}.tmp`, this.path);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  claim(key: string, windowMs: number): Promise<boolean> {
    return this.serial(async () => {
      const now = this.now();
      const until = Object.fromEntries(Object.entries(await this.read()).filter(([, t]) => t > now));
      if (until[key] !== undefined) return false;
      until[key] = now + windowMs;
      await this.write(until);
      return true;
    });
  }

  release(key: string): Promise<void> {
    return this.serial(async () => {
      const until = await this.read();
      delete until[key];
      await this.write(until);
    });
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
