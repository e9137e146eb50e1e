/**
 * Slack alerts through an incoming webhook, as Block Kit. Timeouts, `Retry-After` on 429, backoff on 5xx;
 * the same drift is not posted twice within a window; an alert that cannot be delivered goes to a
 * dead-letter store (or, on Lambda, fails the invocation so EventBridge retries it into its DLQ).
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { driftFingerprint, subjectOf, type AstroTrustEvent } from '../../domain/events.js';
import type { DedupStore } from '../../app/ports.js';
import { MemoryDedup } from '../local/dedup.js';
import { renderSlack } from './message.js';
import type { Logger } from '../../app/ports.js';

export { renderSlack };
import { RetryableError, TerminalError } from '../../errors.js';
import { request, retryableStatus, retryAfterMs } from '../http.js';
import { withRetry } from '../retry.js';

export class SlackDeliveryError extends RetryableError {
  override name = 'SlackDeliveryError';
}
export class SlackRejectedError extends TerminalError {
  override name = 'SlackRejectedError';
}

export type Delivery = 'sent' | 'duplicate' | 'dead-lettered' | 'logged';

export interface Notifier {
  notify(event: AstroTrustEvent): Promise<Delivery>;
}

export interface DeadLetterStore {
  put(event: AstroTrustEvent, error: string): Promise<void>;
}

/** Dead letters as JSON lines in a local file (the `serve` runtime). */
export class FileDeadLetters implements DeadLetterStore {
  constructor(readonly path: string) {}
  async put(event: AstroTrustEvent, error: string) {
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, `${JSON.stringify({ at: new Date().toISOString(), error, event })}\n`);
  }
}

export interface SlackOptions {
  webhookUrl: string;
  /** The config path shown in each alert's "see the plan" footer. */
  configPath?: string;
  /** Where "posted already" is remembered (default: in memory). */
  dedup?: DedupStore;
  timeoutMs?: number;
  attempts?: number;
  baseDelayMs?: number;
  maxRetryAfterMs?: number;
  dedupWindowMs?: number;
  deadLetters?: DeadLetterStore;
  now?: () => number;
  log?: (line: string) => void;
}

/**
 * Where an alert goes when neither Slack nor the dead letters take it: the whole alert (role, actor,
 * principals), as one JSON line on standard error, so it is never lost to a one-line log.
 */
export function lastResortLine(event: AstroTrustEvent, error: string): string {
  return JSON.stringify({ level: 'error', msg: 'astro-trust alert not delivered', error, alert: event });
}

/** Standing findings (no new IAM event) are posted once per fingerprint per day (DESIGN 3.5). */
export const STANDING_WINDOW_MS = 24 * 60 * 60_000;

/**
 * When an alert counts as posted already (DESIGN 3.5): an IAM change once per CloudTrail event id (two
 * actors are two alerts, whatever they changed); standing findings, guards and full roles once per
 * fingerprint per day; failures and refused listings once per `windowMs`; updates always.
 */
export function alertKey(event: AstroTrustEvent, windowMs: number): { key: string; windowMs: number } | undefined {
  switch (event.type) {
    case 'DriftDetected': {
      const eventId = event.detail.actor?.eventId;
      if (event.detail.actor)
        return {
          key: `iam-change|${event.detail.role}|${eventId ?? driftFingerprint(event.detail)}`,
          windowMs: STANDING_WINDOW_MS,
        };
      return { key: `findings|${driftFingerprint(event.detail)}`, windowMs: STANDING_WINDOW_MS };
    }
    case 'ReconcileFailed':
      // The last attempt's alert is its own: it says the retries are over, so a repeat must not hide it.
      return {
        key: `failed|${event.detail.role}|${event.detail.error}${event.detail.willRetry === false && event.detail.retryable ? '|last' : ''}`,
        windowMs,
      };
    case 'TrustPolicyTooLarge':
      // A standing condition like a finding: once a day while the same Deployments wait, at once when they change.
      return {
        key: `${event.type}|${event.detail.role}|${(event.detail.deploymentsNotFitting ?? []).map((n) => n.id).join(',')}`,
        windowMs: STANDING_WINDOW_MS,
      };
    case 'GuardStopped':
      return { key: `${event.type}|${event.detail.role}|${event.detail.message}`, windowMs: STANDING_WINDOW_MS };
    case 'InventoryRefused':
      return { key: `inventory|${event.detail.kind}|${event.detail.message}`, windowMs };
    case 'SelfTampering':
      // Once per CloudTrail event: every change to astro-trust's own roles is its own alert.
      return {
        key: `self-tampering|${event.detail.role}|${event.detail.actor.eventId ?? `${event.detail.actor.eventName}@${event.detail.actor.eventTime}`}`,
        windowMs: STANDING_WINDOW_MS,
      };
    default:
      return undefined;
  }
}

export class SlackNotifier implements Notifier {
  private readonly o: Required<Omit<SlackOptions, 'deadLetters'>> & { deadLetters?: DeadLetterStore };

  constructor(options: SlackOptions) {
    const now = options.now ?? Date.now;
    this.o = {
      timeoutMs: 5_000,
      attempts: 5,
      baseDelayMs: 500,
      maxRetryAfterMs: 30_000,
      dedupWindowMs: 60 * 60_000,
      now,
      log: () => {},
      configPath: 'astro-trust.yaml',
      dedup: new MemoryDedup(now),
      ...options,
    };
  }

  private async post(body: string): Promise<void> {
    await withRetry(
      async () => {
        let res: Response;
        try {
          res = await request(
            this.o.webhookUrl,
            { method: 'POST', headers: { 'content-type': 'application/json' }, body },
            this.o.timeoutMs,
          );
        } catch (err) {
          throw new SlackDeliveryError(`Slack webhook: ${(err as Error).message}`, { cause: err });
        }
        const text = await res.text().catch(() => '');
        if (res.ok) return;
        if (retryableStatus(res.status)) {
          throw Object.assign(new SlackDeliveryError(`Slack webhook answered ${res.status}`), {
            retryAfterMs: retryAfterMs(res.headers.get('retry-after'), this.o.maxRetryAfterMs),
          });
        }
        // invalid_payload, no_service, channel_is_archived...: retrying will not help.
        throw new SlackRejectedError(`Slack webhook answered ${res.status} ${text.slice(0, 100)}`);
      },
      {
        attempts: this.o.attempts,
        baseDelayMs: this.o.baseDelayMs,
        maxDelayMs: this.o.maxRetryAfterMs,
        classify: (err) =>
          err instanceof SlackDeliveryError
            ? { retry: true, delayMs: (err as SlackDeliveryError & { retryAfterMs?: number }).retryAfterMs }
            : { retry: false },
        onRetry: (err, attempt, delay) => this.o.log(`${(err as Error).message}; retry ${attempt} in ${delay} ms`),
      },
    );
  }

  async notify(event: AstroTrustEvent): Promise<Delivery> {
    const claim = alertKey(event, this.o.dedupWindowMs);
    if (claim && !(await this.o.dedup.claim(claim.key, claim.windowMs))) return 'duplicate';
    try {
      await this.post(JSON.stringify(renderSlack(event, { configPath: this.o.configPath })));
      return 'sent';
    } catch (err) {
      if (claim) await this.o.dedup.release(claim.key).catch(() => {});
      if (!this.o.deadLetters) throw err;
      try {
        await this.o.deadLetters.put(event, (err as Error).message);
      } catch (deadLetterErr) {
        throw new SlackDeliveryError(
          `Slack: ${(err as Error).message}; dead letters: ${(deadLetterErr as Error).message}`,
          { cause: deadLetterErr },
        );
      }
      this.o.log(`Slack alert for ${subjectOf(event)} dead-lettered: ${(err as Error).message}`);
      return 'dead-lettered';
    }
  }
}

export interface LogNotifierOptions {
  /** Where "logged already" is remembered (default: in memory); the same claims as Slack's (alertKey). */
  dedup?: DedupStore;
  dedupWindowMs?: number;
  now?: () => number;
}

/**
 * Without SLACK_WEBHOOK_URL, alerts go to the log, deduplicated like Slack's (alertKey): the same standing
 * finding is logged once a day, not once per resync.
 */
export class LogNotifier implements Notifier {
  private readonly dedup: DedupStore;
  private readonly windowMs: number;

  /** A structured logger gets the alert as fields (JSON logs keep it whole); a line writer gets one line. */
  constructor(
    private readonly log: Logger | ((line: string) => void),
    options: LogNotifierOptions = {},
  ) {
    this.dedup = options.dedup ?? new MemoryDedup(options.now ?? Date.now);
    this.windowMs = options.dedupWindowMs ?? 60 * 60_000;
  }

  /** The headline, then the whole alert: without Slack, the log is where a person reads it. */
  async notify(event: AstroTrustEvent): Promise<Delivery> {
    const claim = alertKey(event, this.windowMs);
    if (claim && !(await this.dedup.claim(claim.key, claim.windowMs))) return 'duplicate';
    const headline = renderSlack(event)
      .text.replace(/\*/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
    if (typeof this.log === 'function') this.log(`alert ${event.type}: ${headline} ${JSON.stringify(event.detail)}`);
    else this.log.warn(`alert: ${headline}`, { alert: event.type, role: subjectOf(event), detail: event.detail });
    return 'logged';
  }
}
