/**
 * `serve`'s reconcile queue (DESIGN 7.2): the per-role queue (one writer per role), with every request in the
 * journal until its reconcile is done, and a failed reconcile retried with backoff, as SQS redrives it on
 * Lambda: up to `attempts` in all, each retry in the journal with when it is due, so a restart resumes it.
 */
import type { ReconcileQueue } from '../../app/ports.js';
import type { AstroTrustEvent, ReconcileRequest } from '../../domain/events.js';
import { isRetryable, RetryableError } from '../../errors.js';
import type { Journal } from './journal.js';
import { RoleQueue } from './role-queue.js';

/** The request was taken and is being handled, but could not be written to the state directory. */
export class StateWriteError extends RetryableError {
  override name = 'StateWriteError';
}

export interface RetryPolicy {
  /** Attempts in all, the first included (SQS: maxReceiveCount). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** As many attempts as SQS gives a message on Lambda (maxReceiveCount 5); 30 s, 1, 2, 4 min between them. */
export const SERVE_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 30_000, maxDelayMs: 10 * 60_000 };

/** What a worker knows about the attempt it runs. */
export interface AttemptContext {
  /** The journal entries this (merged) request stands for. */
  ids: string[];
  attempt: number;
  attempts: number;
  /**
   * What an earlier attempt was about to publish when it wrote IAM and then stopped (a kill) before its
   * alerts were recorded: if this attempt finds nothing to do, these are the alerts it owes.
   */
  intended: AstroTrustEvent[];
  /** Records what this attempt will publish if its write succeeds, before it writes. */
  intend(events: AstroTrustEvent[]): Promise<void>;
}

/** `retry`: a retryable failure (the queue retries while attempts are left). */
export type JournaledWorker = (request: ReconcileRequest, ctx: AttemptContext) => Promise<'done' | 'retry'>;

export class JournaledQueue implements ReconcileQueue {
  private readonly roles: RoleQueue;
  /** Journal entries queued per role, not yet taken by a worker: the next run of that role stands for them. */
  private readonly ids = new Map<string, string[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly journal: Journal,
    private readonly worker: JournaledWorker,
    private readonly o: {
      concurrency?: number;
      retry?: RetryPolicy;
      now?: () => number;
      onError?: (request: ReconcileRequest, err: unknown, attempt: number) => void;
      onRetry?: (request: ReconcileRequest, attempt: number, delayMs: number) => void;
    } = {},
  ) {
    this.roles = new RoleQueue((request) => this.run(request), o.concurrency ?? 4);
  }

  private get retry(): RetryPolicy {
    return this.o.retry ?? SERVE_RETRY;
  }

  private track(role: string, id: string) {
    this.ids.set(role, [...(this.ids.get(role) ?? []), id]);
  }

  /**
   * Queues requests, in the journal first. Resolves once they are on disk; when the disk write failed the
   * requests are handled anyway (from memory) and this rejects with StateWriteError, so that the sender is
   * told to send again (an HTTP 503) while nothing waits for the disk.
   */
  async enqueue(requests: ReconcileRequest[]): Promise<void> {
    if (requests.length === 0) return;
    const { ids, durable } = this.journal.addWork(requests);
    requests.forEach((r, i) => this.track(r.role, ids[i]!));
    await this.roles.enqueue(requests);
    if (!(await durable))
      throw new StateWriteError(
        'the request could not be written to the state directory (it is being handled from memory); send it again',
      );
  }

  /** Queues what the journal owes from before a restart: due work now, retries when they are due. */
  async resume(): Promise<number> {
    const now = (this.o.now ?? Date.now)();
    const owed = this.journal.pendingWork();
    const due = owed.filter((e) => e.notBefore <= now);
    // Never later than the longest backoff: a retry due further ahead was scheduled while the clock was ahead.
    for (const e of owed.filter((x) => x.notBefore > now))
      this.later(e.id, e.request, Math.min(e.notBefore - now, this.retry.maxDelayMs));
    due.forEach((e) => this.track(e.request.role, e.id));
    await this.roles.enqueue(due.map((e) => e.request));
    return owed.length;
  }

  private later(id: string, request: ReconcileRequest, delayMs: number) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      this.track(request.role, id);
      void this.roles.enqueue([request]).catch(() => {});
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async run(request: ReconcileRequest): Promise<void> {
    // Taken at once: every entry queued for this role so far was merged into this request.
    const ids = this.ids.get(request.role) ?? [];
    this.ids.delete(request.role);
    const entries = ids.flatMap((id) => this.journal.entry(id) ?? []);
    const attempt = Math.max(1, ...entries.map((e) => e.attempt));
    const ctx: AttemptContext = {
      ids,
      attempt,
      attempts: this.retry.attempts,
      intended: entries.flatMap((e) => e.intent ?? []),
      intend: async (events) => {
        await this.journal.intend(ids, events);
      },
    };
    let outcome: 'done' | 'retry';
    try {
      outcome = await this.worker(request, ctx);
    } catch (err) {
      outcome = isRetryable(err) ? 'retry' : 'done';
      this.o.onError?.(request, err, attempt);
    }
    if (outcome === 'retry' && attempt < this.retry.attempts && !this.closed) {
      const delay = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
      const next = this.journal.retryWork(ids, request, attempt + 1, (this.o.now ?? Date.now)() + delay);
      this.o.onRetry?.(request, attempt + 1, delay);
      this.later(next.id, request, delay);
    } else if (outcome === 'done' || attempt >= this.retry.attempts) {
      await this.journal.finishWork(ids);
    }
    // Closing with a retry owed: it stays in the journal for the next start.
  }

  /** Requests waiting or running (not retries waiting for their time). */
  size(): number {
    return this.roles.size();
  }

  /** Retries waiting for their time. */
  retriesWaiting(): number {
    return this.timers.size;
  }

  get processed(): number {
    return this.roles.processed;
  }

  drained(): Promise<void> {
    return this.roles.drained();
  }

  /** Stops taking requests and waits for the running ones; retries not yet due stay in the journal. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.roles.close();
  }
}
