/**
 * Failures and retries (DESIGN 7.2): an alert says "will be retried" only when the runtime will retry it.
 * `serve` retries a failed reconcile from its journal, Lambda through SQS redrives; both know which attempt
 * this is and how many there are, and stamp it on the failure they publish.
 */
import type { AstroTrustEvent } from './events.js';

/** Marks each ReconcileFailed with the attempt it came from, and whether another follows. */
export function withAttempt(events: AstroTrustEvent[], attempt: number, attempts: number): AstroTrustEvent[] {
  return events.map((e) =>
    e.type === 'ReconcileFailed'
      ? {
          ...e,
          detail: { ...e.detail, attempt, attempts, willRetry: e.detail.retryable && attempt < attempts },
        }
      : e,
  );
}
