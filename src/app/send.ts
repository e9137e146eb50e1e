/** `astro-trust send`: sign one Deployment event and deliver it to an astro-trust webhook, with retries. */
import { randomUUID } from 'node:crypto';
import { request, retryableStatus, retryAfterMs } from '../adapters/http.js';
import { withRetry } from '../adapters/retry.js';
import { RetryableError, TerminalError, UsageError } from '../errors.js';
import { signStandard, webhookEvent, type WebhookEvent } from './webhook.js';

export class SendRejectedError extends TerminalError {
  override name = 'SendRejectedError';
}
class SendRetryableError extends RetryableError {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface SendOptions {
  url: string;
  secret: string;
  event: Omit<WebhookEvent, 'id' | 'occurredAt'> & Partial<Pick<WebhookEvent, 'id' | 'occurredAt'>>;
  attempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

/** Sends the event; resolves with the receiver's answer on 2xx, throws after the retries otherwise. 4xx is not retried. */
export async function sendEvent(o: SendOptions): Promise<{ status: number; body: string; event: WebhookEvent }> {
  const parsed = webhookEvent.safeParse({
    id: `evt_${randomUUID().replace(/-/g, '')}`,
    occurredAt: new Date().toISOString(),
    ...o.event,
  });
  if (!parsed.success)
    throw new UsageError(
      `invalid event: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ')}`,
    );
  const event = parsed.data;
  const body = JSON.stringify(event);
  const now = o.now ?? Date.now;
  return withRetry(
    async () => {
      let res: Response;
      try {
        // Signed per attempt: a retry minutes later must not carry a stale timestamp.
        res = await request(
          o.url,
          {
            method: 'POST',
            // Standard Webhooks; the webhook-id is the event id, so a resend of the same event is recognised.
            headers: {
              'content-type': 'application/json',
              ...signStandard(o.secret, event.id, body, Math.floor(now() / 1000)),
              'user-agent': 'astro-trust-send',
            },
            body,
          },
          o.timeoutMs ?? 10_000,
        );
      } catch (err) {
        throw new SendRetryableError(`POST ${o.url}: ${(err as Error).message}`);
      }
      const text = await res.text();
      if (res.ok) return { status: res.status, body: text, event };
      if (retryableStatus(res.status)) {
        throw new SendRetryableError(
          `POST ${o.url}: HTTP ${res.status} ${text.slice(0, 200)}`,
          retryAfterMs(res.headers.get('retry-after'), 30_000),
        );
      }
      throw new SendRejectedError(`POST ${o.url}: HTTP ${res.status} ${text.slice(0, 200)}`);
    },
    {
      attempts: o.attempts ?? 5,
      baseDelayMs: o.baseDelayMs ?? 1_000,
      maxDelayMs: 30_000,
      classify: (err) =>
        err instanceof SendRetryableError ? { retry: true, delayMs: err.retryAfterMs } : { retry: false },
      onRetry: (err, attempt, delay) => o.log?.(`${(err as Error).message}; retry ${attempt} in ${delay} ms`),
    },
  );
}
