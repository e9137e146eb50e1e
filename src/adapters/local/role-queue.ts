/**
 * The single-process stand-in for SQS FIFO with MessageGroupId = role: requests for one role run one at a
 * time, in order; different roles run in parallel up to a limit. A request waiting behind a running one
 * for the same role is merged with later ones: one reconcile reads fresh state and serves them all.
 */
import type { ReconcileRequest } from '../../domain/events.js';
import { RetryableError } from '../../errors.js';
import type { ReconcileQueue } from '../../app/ports.js';

/** `serve` is stopping: the request was not taken (the webhook answers 503: retry). */
export class QueueClosedError extends RetryableError {
  override name = 'QueueClosedError';
}

export type Worker = (request: ReconcileRequest) => Promise<void>;

function merge(a: ReconcileRequest, b: ReconcileRequest): ReconcileRequest {
  // A drift check wins: its actor must reach the alert, with its reason and CloudTrail event id (a resync
  // queued behind it does not turn it into a resync). The later actor is the one to show.
  const drifted = b.drift ? b : a.drift ? a : undefined;
  if (!drifted) return { ...a, ...b };
  return {
    ...a,
    ...b,
    reason: drifted.reason,
    drift: drifted.drift,
    ...(drifted.sourceEventId ? { sourceEventId: drifted.sourceEventId } : {}),
  };
}

export class RoleQueue implements ReconcileQueue {
  private readonly pending = new Map<string, ReconcileRequest>();
  private readonly running = new Set<string>();
  private readonly ready: string[] = [];
  private idle: (() => void)[] = [];
  private closed = false;
  processed = 0;

  constructor(
    private readonly worker: Worker,
    private readonly concurrency = 4,
    private readonly onError: (request: ReconcileRequest, err: unknown) => void = () => {},
  ) {}

  async enqueue(requests: ReconcileRequest[]): Promise<void> {
    if (this.closed)
      throw new QueueClosedError('the reconcile queue is shutting down; send again once astro-trust is back');
    for (const r of requests) {
      const waiting = this.pending.get(r.role);
      this.pending.set(r.role, waiting ? merge(waiting, r) : r);
      if (!waiting && !this.running.has(r.role)) this.ready.push(r.role);
    }
    this.pump();
  }

  private pump() {
    while (this.running.size < this.concurrency && this.ready.length > 0) {
      const role = this.ready.shift()!;
      const request = this.pending.get(role);
      if (!request || this.running.has(role)) continue;
      this.pending.delete(role);
      this.running.add(role);
      void this.worker(request)
        .catch((err) => this.onError(request, err))
        .finally(() => {
          this.processed++;
          this.running.delete(role);
          if (this.pending.has(role)) this.ready.push(role);
          this.pump();
          if (this.size() === 0) {
            const waiters = this.idle;
            this.idle = [];
            waiters.forEach((w) => w());
          }
        });
    }
  }

  /** Requests waiting or running. */
  size(): number {
    return this.pending.size + this.running.size;
  }

  /** Resolves when nothing is waiting or running. */
  drained(): Promise<void> {
    return this.size() === 0 ? Promise.resolve() : new Promise((r) => this.idle.push(r));
  }

  /** Stops taking requests and waits for the ones already taken. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drained();
  }
}
