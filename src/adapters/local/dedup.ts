/**
 * "Seen already?" claims kept on this machine (DESIGN 3.5): in memory (the Slack notifier's default) or in a
 * local JSON file. `serve` keeps its claims in its journal (journal.ts); on Lambda the watch table keeps them
 * (src/adapters/aws/watch-table.ts).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DedupStore } from '../../app/ports.js';

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
