/**
 * The client-side limiter in front of IAM, one per account (DESIGN 7.4, `defaults.iamRequestsPerSecond`).
 * IAM limits the request rate of an account, for reads and writes together, and answers `Throttling` above
 * it; AWS does not publish the rate. Two parts, in this order, for every request the account's client sends:
 *
 * - the SDK's own adaptive limiter (`DefaultRateLimiter` from `@smithy/util-retry`, what `retryMode:
 *   'adaptive'` uses): off until IAM throttles, then a token bucket at 0.7x the measured rate that grows
 *   back along a CUBIC curve. It learns the real limit when other tools share the account.
 * - a ceiling of `requestsPerSecond`, one request every 1/N s in the order they asked: what keeps a
 *   from-scratch apply from meeting the limit at all. The interval counts from when the last request
 *   really left, so a process that stalled (a long GC, a busy event loop) never sends a burst to catch up. The SDK's limiter has no ceiling (it starts unlimited
 *   and only ever learns from throttling), so this part is ours.
 *
 * It plugs into the SDK client as its retry strategy's rate limiter (`AdaptiveRetryStrategy` with 1 attempt):
 * the SDK asks for a token before each request and reports each answer. The SDK's retries stay off (it
 * retries `LimitExceeded` as if it were throttling); `src/adapters/aws/iam.ts` retries per call, and each
 * retry asks this limiter again.
 */
import { AdaptiveRetryStrategy, DefaultRateLimiter, type RateLimiter } from '@smithy/util-retry';

interface AnswerInfo {
  errorType?: string;
  error?: { name?: string };
}

export class IamRateLimiter implements RateLimiter {
  /** The SDK's CUBIC token bucket: slows down on `Throttling`, speeds up again while answers succeed. */
  private readonly adaptive = new DefaultRateLimiter();
  private readonly intervalMs: number;
  /** Requests waiting for the ceiling, first come first served. */
  private readonly waiting: (() => void)[] = [];
  /** When the last request left (ms on `now`'s clock). */
  private last = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Requests let through, and the answers that were `Throttling`. */
  readonly stats = { sent: 0, throttled: 0 };

  constructor(
    readonly requestsPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(requestsPerSecond > 0)) throw new RangeError(`requestsPerSecond must be above 0, got ${requestsPerSecond}`);
    this.intervalMs = 1000 / requestsPerSecond;
  }

  async getSendToken(): Promise<void> {
    await this.adaptive.getSendToken();
    // Then in line, 1/N s apart: what the adaptive bucket lets through in a burst leaves paced.
    await new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.release();
    });
    this.stats.sent++;
  }

  private release(): void {
    if (this.timer || this.waiting.length === 0) return;
    const wait = this.last + this.intervalMs - this.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.release();
      }, wait);
      return;
    }
    this.last = this.now();
    this.waiting.shift()!();
    this.release();
  }

  updateClientSendingRate(answer: unknown): void {
    const info = answer as AnswerInfo | undefined;
    const name = info?.error?.name ?? '';
    // The SDK counts `LimitExceeded` as throttling; in IAM it is a quota refusal (a policy too large), not a rate.
    if (/^LimitExceeded/.test(name)) return this.adaptive.updateClientSendingRate({});
    if (info?.errorType === 'THROTTLING') this.stats.throttled++;
    this.adaptive.updateClientSendingRate(answer);
  }
}

/** The SDK retry strategy that asks `limiter` before every request and tells it every answer, with no retries. */
export function pacedStrategy(limiter: IamRateLimiter): AdaptiveRetryStrategy {
  return new AdaptiveRetryStrategy(1, { rateLimiter: limiter });
}
