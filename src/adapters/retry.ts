/** Bounded retries with exponential backoff and full jitter (AWS's recommended shape). */
export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A delay the failure asks for (Retry-After), or undefined; `false` stops retrying. */
  classify: (err: unknown) => { retry: false } | { retry: true; delayMs?: number };
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const verdict = opts.classify(err);
      if (!verdict.retry || attempt >= opts.attempts) throw err;
      const backoff = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (attempt - 1));
      const delayMs = verdict.delayMs ?? Math.round(backoff / 2 + (Math.random() * backoff) / 2);
      opts.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs);
    }
  }
}
