/**
 * Alerts leave through their own worker (DESIGN 3.5, 6.4): publishing an event only queues it, so a Slack
 * that hangs or fails never delays IAM convergence. Events are delivered one at a time, in order. What is
 * still queued when the process stops (after a bounded wait) is written whole to the last resort. An item is
 * an event, or whatever carries one (`serve` queues journal entries: an id and the event).
 */
import type { AstroTrustEvent } from '../../domain/events.js';

export class AlertOutbox<T = AstroTrustEvent> {
  private readonly queue: T[] = [];
  private running: Promise<void> | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly deliver: (event: T) => Promise<unknown>,
    /** An event the delivery failed on (it already tried its own dead letters), or one left at shutdown. */
    private readonly lastResort: (event: T, error: string) => void,
    /** An event still queued at shutdown (default: the last resort). */
    private readonly leftAtShutdown: (event: T, error: string) => void = lastResort,
  ) {}

  async publish(events: T[]): Promise<void> {
    if (events.length === 0) return;
    this.queue.push(...events);
    // Started on the next tick: `running` is set before the worker can finish and clear it.
    this.running ??= Promise.resolve().then(() => this.work());
  }

  private current: T | undefined;

  private async work(): Promise<void> {
    for (let event = this.queue.shift(); event; event = this.queue.shift()) {
      this.current = event;
      try {
        await this.deliver(event);
      } catch (err) {
        this.lastResort(event, (err as Error).message);
      }
      this.current = undefined;
    }
    this.running = undefined;
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w());
  }

  /** Events waiting or being delivered. */
  size(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /** Resolves when nothing is queued or being delivered. */
  idle(): Promise<void> {
    return this.running ? new Promise((r) => this.waiters.push(r)) : Promise.resolve();
  }

  /** Waits up to `timeoutMs` for every queued event to be delivered; what is left goes to the last resort. */
  async close(timeoutMs: number): Promise<number> {
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    // The one being delivered may still arrive; it is written too, so that nothing is lost either way.
    const left = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    this.current = undefined;
    for (const e of left) this.leftAtShutdown(e, `not delivered before shutdown (waited ${timeoutMs} ms)`);
    return left.length;
  }
}
