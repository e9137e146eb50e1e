/**
 * `serve`'s journal (DESIGN 7.2): what it accepted and owes, in one append-only file in its state directory
 * (`<state-dir>/journal.jsonl`, one JSON record a line), so a restart finishes it:
 *
 * - reconcile work: every request queued (a CloudTrail event's drift check with its actor and event id, a
 *   webhook's roles, a retry with its attempt and when it is due), until its reconcile is done;
 * - what a write is about to publish (its "intent"), until the alerts it published are recorded: a kill
 *   between the IAM write and the alerts still delivers them;
 * - every alert, until Slack (or the log, or the dead letters) took it;
 * - "seen already" claims: webhook-ids and alerts posted, with who holds them;
 * - the times and counts of recent listings (the shrink guard over time).
 *
 * A change is applied in memory at once, then appended; appends that arrive together are written and
 * fsync'd together (group commit), and each caller learns whether its records are on disk. A write that
 * fails (a full disk) is logged and the process carries on from memory: nothing waits on the disk to post
 * an alert; the next write then rewrites the file whole, so once the disk has room again the file holds
 * everything memory does (not only what came after). At start the file is read (a torn last line is
 * skipped) and rewritten with only what is still owed (compaction: a temporary file, fsync, rename, fsync of
 * the directory); again whenever 1 MiB was appended since. A disk that is full at start is carried on from
 * memory like one that fills later. Why a file and not a database: docs/reliability.md.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as z from 'zod/mini';
import type { DedupStore, ListingHistory } from '../../app/ports.js';
import type { AstroTrustEvent, ReconcileRequest } from '../../domain/events.js';
import { clampListingSizes, recordListingSize, type ListingSize } from '../../domain/listing.js';
import { lockStateDir } from './state-lock.js';

export const JOURNAL_FILE = 'journal.jsonl';

/** A reconcile the journal owes: queued, running, or waiting for its next attempt. */
export interface WorkEntry {
  id: string;
  request: ReconcileRequest;
  /** 1 for the first attempt. */
  attempt: number;
  /** Not run before this time (ms): a retry's backoff. */
  notBefore: number;
  /** What an attempt was about to publish when it wrote (set before the write, cleared with its alerts). */
  intent?: AstroTrustEvent[];
}

export interface AlertEntry {
  id: string;
  event: AstroTrustEvent;
}

interface Claim {
  until: number;
  /** The alert that holds the claim: its redelivery after a restart is not taken for a duplicate. */
  owner?: string;
}

type JournalRecord =
  | { op: 'journal'; version: 1 }
  | { op: 'work'; entry: WorkEntry }
  | { op: 'intent'; ids: string[]; events: AstroTrustEvent[] }
  | { op: 'done'; ids: string[] }
  | { op: 'alert'; id: string; event: AstroTrustEvent }
  | { op: 'delivered'; id: string }
  | { op: 'claim'; key: string; until: number; owner?: string }
  | { op: 'release'; key: string }
  | { op: 'sizes'; sizes: ListingSize[] };

/**
 * A record as read back (the journal is an edge: a hand edit, a bad copy or another version may have written
 * it). Only the fields this process acts on are checked; a record without them is skipped like a torn line,
 * never applied half (a work entry without a role, an alert without a detail, sizes that are not a list would
 * stop serve at start, or every reconcile or alert after it).
 */
const eventShape = z.looseObject({ type: z.string(), detail: z.looseObject({}) });
const idsShape = z.array(z.string());
const recordShape = z.discriminatedUnion('op', [
  z.looseObject({ op: z.literal('journal'), version: z.number() }),
  z.looseObject({
    op: z.literal('work'),
    entry: z.looseObject({
      id: z.string(),
      request: z.looseObject({ role: z.string(), reason: z.string() }),
      attempt: z.number(),
      notBefore: z.number(),
      intent: z.optional(z.array(eventShape)),
    }),
  }),
  z.looseObject({ op: z.literal('intent'), ids: idsShape, events: z.array(eventShape) }),
  z.looseObject({ op: z.literal('done'), ids: idsShape }),
  z.looseObject({ op: z.literal('alert'), id: z.string(), event: eventShape }),
  z.looseObject({ op: z.literal('delivered'), id: z.string() }),
  z.looseObject({ op: z.literal('claim'), key: z.string(), until: z.number(), owner: z.optional(z.string()) }),
  z.looseObject({ op: z.literal('release'), key: z.string() }),
  z.looseObject({ op: z.literal('sizes'), sizes: z.array(z.looseObject({ at: z.number(), count: z.number() })) }),
]);

export interface JournalOptions {
  now?: () => number;
  /** A write (or the compaction) failed: the journal carries on in memory. */
  onWriteError?: (error: Error, path: string) => void;
  /** Something read at start was skipped (a torn line, a journal that is not a regular file). */
  onWarning?: (message: string, fields: Record<string, unknown>) => void;
  /** Compact once this many bytes were appended since the last compaction (default 1 MiB). */
  compactAfterBytes?: number;
}

export class Journal {
  private readonly work = new Map<string, WorkEntry>();
  private readonly alerts = new Map<string, AstroTrustEvent>();
  private readonly claimed = new Map<string, Claim>();
  private sizes: ListingSize[] = [];
  private readonly owner = new AsyncLocalStorage<string>();
  private readonly now: () => number;
  private handle: FileHandle | undefined;
  private pending: { line: string; done: (ok: boolean) => void }[] = [];
  private flushing: Promise<void> | undefined;
  /**
   * The file lacks something memory holds (a write failed, maybe half-way, or a rewrite did): the next write
   * rewrites it whole instead of appending.
   */
  private behind = false;
  private appended = 0;
  private claimsSincePrune = 0;
  private closed = false;
  /** Releases the state directory (serve.lock) on close. */
  private unlock: (() => Promise<void>) | undefined;

  private constructor(
    /** Undefined: in memory only (tests, `startServer` without a state directory). */
    readonly path: string | undefined,
    private readonly o: JournalOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  /** A journal that keeps everything in memory: the same behaviour, nothing survives the process. */
  static memory(o: JournalOptions = {}): Journal {
    return new Journal(undefined, o);
  }

  /**
   * Opens (creating) `<dir>/journal.jsonl`, reads what it owes and compacts it. The directory is locked first
   * (serve.lock): a second process on it is refused (StateDirBusyError) before it reads or rewrites anything.
   */
  static async open(dir: string, o: JournalOptions = {}): Promise<Journal> {
    const j = new Journal(join(dir, JOURNAL_FILE), o);
    await mkdir(dir, { recursive: true });
    j.unlock = await lockStateDir(dir, {
      onUnlocked: (err, path) =>
        o.onWarning?.(
          'serve.lock could not be written (the disk is full): carrying on; a second serve on this directory would not be refused',
          { path, error: err.code },
        ),
    });
    try {
      const info = await stat(j.path!).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (info && !info.isFile()) {
        // Read by its size, never to its end: a device (/dev/full in the tests) would never end.
        o.onWarning?.('journal: not a regular file; starting from an empty journal', { path: j.path });
      } else if (info && info.size > 0) {
        j.load(await readFile(j.path!, 'utf8'));
        // A disk that is full now must not keep what is owed from being delivered: carried on from memory.
        await j.compact().catch((err: NodeJS.ErrnoException) => j.carryOnIfFull(err));
      }
      if (!j.handle) j.handle = await open(j.path!, 'a').catch((err: NodeJS.ErrnoException) => j.carryOnIfFull(err));
    } catch (err) {
      await j.handle?.close().catch(() => {});
      await j.unlock();
      throw err;
    }
    return j;
  }

  /** At start: a full disk is logged and carried on from memory (DESIGN 7.2); any other failure refuses. */
  private carryOnIfFull(err: NodeJS.ErrnoException): undefined {
    if (err.code !== 'ENOSPC' && err.code !== 'EDQUOT') throw err;
    this.behind = true;
    this.o.onWriteError?.(err, this.path!);
    return undefined;
  }

  private load(text: string) {
    let skipped = 0;
    let wrongShape = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch {
        skipped++;
        continue;
      }
      const record = recordShape.safeParse(raw);
      if (record.success) this.apply(record.data as JournalRecord);
      else wrongShape++;
    }
    if (skipped > 0)
      this.o.onWarning?.('journal: skipped lines that are not whole records (a write cut short by a crash)', {
        path: this.path,
        skipped,
      });
    if (wrongShape > 0)
      this.o.onWarning?.('journal: skipped records of the wrong shape (a hand edit, or another version wrote them)', {
        path: this.path,
        skipped: wrongShape,
      });
  }

  private apply(r: JournalRecord) {
    switch (r.op) {
      case 'work':
        this.work.set(r.entry.id, r.entry);
        break;
      case 'intent':
        for (const id of r.ids) {
          const e = this.work.get(id);
          if (!e) continue;
          if (r.events.length) e.intent = r.events;
          else delete e.intent;
        }
        break;
      case 'done':
        for (const id of r.ids) this.work.delete(id);
        break;
      case 'alert':
        this.alerts.set(r.id, r.event);
        break;
      case 'delivered':
        this.alerts.delete(r.id);
        break;
      case 'claim':
        this.claimed.set(r.key, { until: r.until, ...(r.owner ? { owner: r.owner } : {}) });
        break;
      case 'release':
        this.claimed.delete(r.key);
        break;
      case 'sizes':
        this.sizes = r.sizes;
        break;
    }
  }

  /** Applies records in memory now; resolves true once they are on disk (or the journal is in memory). */
  private record(records: JournalRecord[]): Promise<boolean> {
    for (const r of records) this.apply(r);
    if (!this.path) return Promise.resolve(true);
    // Closed (an alert delivered after serve stopped waiting for it): the directory may be the next serve's.
    if (this.closed) return Promise.resolve(false);
    const line = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    return new Promise((done) => {
      this.pending.push({ line, done });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      let ok = true;
      try {
        // Behind: the whole state (this batch included, it is applied in memory) in one rewrite.
        if (this.behind || !this.handle) await this.compact();
        else {
          const data = batch.map((b) => b.line).join('');
          await this.handle.appendFile(data);
          await this.handle.datasync();
          this.appended += Buffer.byteLength(data);
        }
      } catch (err) {
        ok = false;
        this.behind = true;
        this.o.onWriteError?.(err as Error, this.path!);
      }
      for (const b of batch) b.done(ok);
      if (ok && this.appended >= (this.o.compactAfterBytes ?? 1024 * 1024)) {
        await this.compact().catch((err: Error) => {
          this.behind = true;
          this.o.onWriteError?.(err, this.path!);
        });
      }
    }
    this.flushing = undefined;
  }

  /** Rewrites the file with only what is still owed; appends wait meanwhile (it runs inside the flush). */
  private async compact(): Promise<void> {
    const now = this.now();
    for (const [k, c] of this.claimed) if (c.until <= now) this.claimed.delete(k);
    const records: JournalRecord[] = [
      { op: 'journal', version: 1 },
      ...[...this.work.values()].map((entry): JournalRecord => ({ op: 'work', entry })),
      ...[...this.alerts].map(([id, event]): JournalRecord => ({ op: 'alert', id, event })),
      ...[...this.claimed].map(([key, c]): JournalRecord => ({ op: 'claim', key, ...c })),
      ...(this.sizes.length ? [{ op: 'sizes', sizes: this.sizes } as JournalRecord] : []),
    ];
    const data = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    const tmp = `${this.path}.tmp`;
    const out = await open(tmp, 'w');
    try {
      await out.writeFile(data);
      await out.datasync();
    } finally {
      await out.close();
    }
    await rename(tmp, this.path!);
    // From here the file open for appends is the one just replaced: the new one is opened before anything
    // else can fail, or later appends would go to a file nobody reads.
    const replaced = this.handle;
    this.handle = undefined;
    await replaced?.close().catch(() => {});
    this.handle = await open(this.path!, 'a');
    this.appended = 0;
    // The rename itself is durable only once the directory is.
    const dir = await open(dirname(this.path!), 'r');
    await dir.sync().finally(() => dir.close());
    this.behind = false;
  }

  /** Waits for what is being written, then closes the file. */
  async close(): Promise<void> {
    await this.flushing;
    this.closed = true;
    // Behind (a write failed earlier): one last try to leave the file whole for the next start.
    if (this.behind && this.path) await this.compact().catch((err: Error) => this.o.onWriteError?.(err, this.path!));
    await this.handle?.close();
    this.handle = undefined;
    await this.unlock?.();
    this.unlock = undefined;
  }

  // --- reconcile work -------------------------------------------------------------------------------

  /** What is owed, oldest first. */
  pendingWork(): WorkEntry[] {
    return [...this.work.values()].map((e) => structuredClone(e));
  }

  entry(id: string): WorkEntry | undefined {
    return this.work.get(id);
  }

  /** Records requests to run now; `durable` tells whether they reached the disk. */
  addWork(requests: ReconcileRequest[]): { ids: string[]; durable: Promise<boolean> } {
    const now = this.now();
    const entries = requests.map((request): WorkEntry => ({ id: randomUUID(), request, attempt: 1, notBefore: now }));
    return { ids: entries.map((e) => e.id), durable: this.record(entries.map((entry) => ({ op: 'work', entry }))) };
  }

  /** Before a write: what it will publish if it succeeds (so a kill after the write still alerts). */
  intend(ids: string[], events: AstroTrustEvent[]): Promise<boolean> {
    return this.record([{ op: 'intent', ids, events }]);
  }

  /** The work is done (or given up): forgotten. */
  finishWork(ids: string[]): Promise<boolean> {
    return ids.length ? this.record([{ op: 'done', ids }]) : Promise.resolve(true);
  }

  /** Replaces the entries of a failed attempt by one for the next attempt, due at `notBefore`. */
  retryWork(
    ids: string[],
    request: ReconcileRequest,
    attempt: number,
    notBefore: number,
  ): { id: string; durable: Promise<boolean> } {
    const intent = ids.flatMap((id) => this.work.get(id)?.intent ?? []);
    const entry: WorkEntry = { id: randomUUID(), request, attempt, notBefore, ...(intent.length ? { intent } : {}) };
    return {
      id: entry.id,
      durable: this.record([
        { op: 'work', entry },
        { op: 'done', ids },
      ]),
    };
  }

  // --- alerts ---------------------------------------------------------------------------------------

  /** Alerts not yet taken by Slack (or the log, or the dead letters), oldest first. */
  pendingAlerts(): AlertEntry[] {
    return [...this.alerts].map(([id, event]) => ({ id, event }));
  }

  /**
   * Records alerts before they are delivered; with `clearingIntentOf`, in the same write that clears the
   * intent of that work (the alerts now stand for it).
   */
  addAlerts(
    events: AstroTrustEvent[],
    clearingIntentOf: string[] = [],
  ): { entries: AlertEntry[]; durable: Promise<boolean> } {
    const entries = events.map((event) => ({ id: randomUUID(), event }));
    const records: JournalRecord[] = entries.map((e) => ({ op: 'alert', id: e.id, event: e.event }));
    if (clearingIntentOf.some((id) => this.work.get(id)?.intent))
      records.push({ op: 'intent', ids: clearingIntentOf, events: [] });
    return { entries, durable: records.length ? this.record(records) : Promise.resolve(true) };
  }

  /** Slack (or the log, or the dead letters, or the last resort) took it. */
  delivered(id: string): Promise<boolean> {
    return this.record([{ op: 'delivered', id }]);
  }

  /** Runs a delivery as the alert `id`: claims it makes are its own (see `claims`). */
  deliveringAs<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.owner.run(id, fn);
  }

  // --- claims and listing sizes ---------------------------------------------------------------------

  /**
   * "Seen already?" claims (webhook-ids, alerts posted). A claim held by the alert being delivered (after
   * a restart, the same alert again) is granted again: its first delivery may never have reached Slack.
   * A claim that cannot be written is still made in memory: the post goes out (DESIGN 7.2).
   */
  readonly claims: DedupStore = {
    claim: async (key, windowMs) => {
      const now = this.now();
      if (++this.claimsSincePrune >= 256) {
        this.claimsSincePrune = 0;
        for (const [k, c] of this.claimed) if (c.until <= now) this.claimed.delete(k);
      }
      const owner = this.owner.getStore();
      const held = this.claimed.get(key);
      // A claim ending later than its window from now was made while the clock was ahead (it was set back
      // since): it holds no longer than the window, or one made a year ahead would hide its alert for a year.
      if (held && held.until > now && held.until - now <= windowMs)
        return held.owner !== undefined && held.owner === owner;
      await this.record([{ op: 'claim', key, until: now + windowMs, ...(owner ? { owner } : {}) }]);
      return true;
    },
    release: async (key) => {
      if (!this.claimed.has(key)) return;
      await this.record([{ op: 'release', key }]);
    },
  };

  /** The shrink guard's memory: times and counts only, never the listings. */
  readonly history: ListingHistory = {
    sizes: async () => {
      // A size stamped later than now was taken while the clock was ahead: it counts from now, so it leaves
      // the window one window after the clock was set back, not one window after that future time.
      const sizes = clampListingSizes(this.sizes, this.now());
      if (sizes !== this.sizes) await this.record([{ op: 'sizes', sizes }]);
      return [...this.sizes];
    },
    record: async (atMs, count, windowMs) => {
      const next = recordListingSize(this.sizes, atMs, count, windowMs);
      if (JSON.stringify(next) === JSON.stringify(this.sizes)) return;
      await this.record([{ op: 'sizes', sizes: next }]);
    },
  };
}
