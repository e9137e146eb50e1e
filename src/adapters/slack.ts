/**
 * Slack alerts through an incoming webhook, as Block Kit. Timeouts, `Retry-After` on 429, backoff on 5xx;
 * the same drift is not posted twice within a window; an alert that cannot be delivered goes to a
 * dead-letter store (or, on Lambda, fails the invocation so EventBridge retries it into its DLQ).
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { driftFingerprint, subjectOf, type AstroTrustEvent, type DriftDetected } from '../domain/events.js';
import type { PrincipalChange } from '../domain/plan.js';
import { RetryableError, TerminalError } from '../errors.js';
import { withRetry } from './retry.js';

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

interface Block {
  type: string;
  [k: string]: unknown;
}

const md = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 2900) } });
const fields = (pairs: [string, string][]): Block => ({ type: 'section', fields: pairs.slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${v}`.slice(0, 1900) })) });
const list = (title: string, changes: PrincipalChange[]) =>
  changes.length === 0 ? [] : [md(`*${title}*\n${changes.slice(0, 20).map((c) => `• \`${c.principal}\`${c.issuer ? ` on \`${c.issuer}\`` : ''}${c.deploymentIds.length ? ` (Deployment ${c.deploymentIds.join(', ')})` : ''}`).join('\n')}${changes.length > 20 ? `\n… and ${changes.length - 20} more` : ''}`)];

function planCommand(role: string) {
  return `astro-trust plan --config astro-trust.yaml --role ${role}`;
}

function driftText(d: DriftDetected): string {
  if (d.roleDeleted) return `Managed role *${d.role}* was deleted`;
  const done =
    d.action === 'reverted' ? 'reverted (enforce mode)'
    : d.action === 'blocked' ? 'not reverted: a guard stopped the write'
    : d.action === 'failed' ? 'the revert failed'
    : d.mode === 'observe' ? 'reported only (observe mode)'
    : 'reported only (statements astro-trust does not own are never edited)';
  return `Trust drift on *${d.role}*: ${done}`;
}

/** Slack mrkdwn control characters: a name from the inventory must not become a mention or a link. */
const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A bulleted list that always says how many were left out. */
function bullets(items: string[], max = 20): string {
  return `${items.slice(0, max).map((i) => `• ${i}`).join('\n')}${items.length > max ? `\n… and ${items.length - max} more` : ''}`;
}

/** The Block Kit message for one event: what happened, role and account, principals, who, when, from where, what was done. */
export function renderSlack(event: AstroTrustEvent): { text: string; blocks: Block[] } {
  if (event.type === 'InventoryRefused') {
    const x = event.detail;
    const text = `Deployment listing refused (${x.kind}): nothing was changed`;
    return {
      text,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'astro-trust: Deployment listing refused' } },
        md(`*${text}*\n${esc(x.message)}`),
        fields([['Check', x.kind], ['Trigger', x.reason], ...(x.role ? [['Role', `\`${esc(x.role)}\``] as [string, string]] : [])]),
      ],
    };
  }
  const d = event.detail;
  const who: [string, string][] = [
    ['Role', `\`${d.role}\``],
    ['Account', d.accountId ?? 'unknown'],
    ['Mode', d.mode],
    ['Trigger', d.reason],
  ];
  const footer: Block = { type: 'context', elements: [{ type: 'mrkdwn', text: `See the plan: \`${planCommand(d.role)}\`` }] };
  switch (event.type) {
    case 'DriftDetected': {
      const x = event.detail;
      const text = driftText(x);
      const actor: [string, string][] = x.actor
        ? [
            ['Changed by', `\`${x.actor.arn}\`${x.actor.type ? ` (${x.actor.type})` : ''}`],
            ['When', `${x.actor.eventTime} (${x.actor.eventName})`],
            ['From', `${x.actor.sourceIp ?? 'unknown'}${x.actor.userAgent ? ` · ${x.actor.userAgent.slice(0, 120)}` : ''}`],
          ]
        : [];
      const blocks = [
        { type: 'header', text: { type: 'plain_text', text: `astro-trust: drift on ${x.role}`.slice(0, 150) } },
        md(text),
        fields([...who, ...actor]),
        ...list('Undeclared principals in astro-trust statements', x.undeclaredInOwned),
        ...list('Declared principals that were missing', x.missingDeclared),
        ...(x.rewritesOwned ? [md('*astro-trust statements were edited by hand* (Effect, Action or Condition)')] : []),
        ...(x.missingOidcProviders?.length ? [md(`*IAM OIDC provider missing* (trust through it is broken)${x.action === 'reverted' ? ', recreated' : ''}\n${x.missingOidcProviders.map((i) => `• \`${i}\``).join('\n')}`)] : []),
        ...(x.unexpected.length
          ? [md(`*Undeclared trust in statements astro-trust does not own* (never edited)\n${x.unexpected.slice(0, 20).map((f) => `• ${f.kind}: \`${f.principal}\`${f.sid ? ` in \`${f.sid}\`` : ''}`).join('\n')}`)]
          : []),
        footer,
      ];
      return { text, blocks };
    }
    case 'TrustPolicyUpdated': {
      const x = event.detail;
      const text = `Trust policy of *${x.role}* updated: +${x.added.length} -${x.removed.length} (${x.policyChars}/${x.limit} characters)`;
      return { text, blocks: [md(text), fields(who), ...list('Added', x.added), ...list('Removed', x.removed), footer] };
    }
    case 'ReconcileFailed': {
      const text = `Reconcile of *${event.detail.role}* failed${event.detail.retryable ? ' (will be retried)' : ''}: ${event.detail.error}`;
      return { text, blocks: [md(text), fields(who), footer] };
    }
    case 'TrustPolicyTooLarge':
    case 'GuardStopped': {
      const text = `${event.type === 'GuardStopped' ? 'Guard stopped' : 'Trust policy too large for'} *${event.detail.role}*: ${esc(event.detail.message)}`;
      const notFitting = event.detail.deploymentsNotFitting ?? [];
      const left = notFitting.length
        ? [md(`*Not trusted for lack of room* (${notFitting.length})\n${bullets(notFitting.map((n) => `${esc(n.name)} (\`${esc(n.id)}\`)`))}`)]
        : [];
      return { text, blocks: [md(text), fields(who), ...left, footer] };
    }
  }
}

export interface SlackOptions {
  webhookUrl: string;
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

export class SlackNotifier implements Notifier {
  private readonly seen = new Map<string, number>();
  private readonly o: Required<Omit<SlackOptions, 'deadLetters'>> & { deadLetters?: DeadLetterStore };

  constructor(options: SlackOptions) {
    this.o = { timeoutMs: 5_000, attempts: 5, baseDelayMs: 500, maxRetryAfterMs: 30_000, dedupWindowMs: 60 * 60_000, now: Date.now, log: () => {}, ...options };
  }

  /** Alerts that repeat while nothing changes (drift, failures, guards) are posted once per window; updates always. */
  private key(event: AstroTrustEvent): string | undefined {
    switch (event.type) {
      case 'DriftDetected':
        return `drift|${driftFingerprint(event.detail)}`;
      case 'ReconcileFailed':
        return `failed|${event.detail.role}|${event.detail.error}`;
      case 'TrustPolicyTooLarge':
      case 'GuardStopped':
        return `${event.type}|${event.detail.role}|${event.detail.message}|${(event.detail.deploymentsNotFitting ?? []).map((n) => n.id).join(',')}`;
      case 'InventoryRefused':
        return `inventory|${event.detail.kind}|${event.detail.message}`;
      default:
        return undefined;
    }
  }

  private duplicate(event: AstroTrustEvent): boolean {
    const key = this.key(event);
    if (!key) return false;
    const now = this.o.now();
    for (const [k, at] of this.seen) if (now - at > this.o.dedupWindowMs) this.seen.delete(k);
    if (this.seen.has(key)) return true;
    this.seen.set(key, now);
    return false;
  }

  private forget(event: AstroTrustEvent) {
    const key = this.key(event);
    if (key) this.seen.delete(key);
  }

  private async post(body: string): Promise<void> {
    await withRetry(
      async () => {
        let res: Response;
        try {
          res = await fetch(this.o.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(this.o.timeoutMs) });
        } catch (err) {
          throw new SlackDeliveryError(`Slack webhook: ${(err as Error).name === 'TimeoutError' ? `no answer within ${this.o.timeoutMs} ms` : (err as Error).message}`, { cause: err });
        }
        const text = await res.text().catch(() => '');
        if (res.ok) return;
        if (res.status === 429 || res.status >= 500) {
          const after = Number(res.headers.get('retry-after'));
          throw Object.assign(new SlackDeliveryError(`Slack webhook answered ${res.status}`), { retryAfterMs: Number.isFinite(after) && after >= 0 ? Math.min(after * 1000, this.o.maxRetryAfterMs) : undefined });
        }
        // invalid_payload, no_service, channel_is_archived...: retrying will not help.
        throw new SlackRejectedError(`Slack webhook answered ${res.status} ${text.slice(0, 100)}`);
      },
      {
        attempts: this.o.attempts,
        baseDelayMs: this.o.baseDelayMs,
        maxDelayMs: this.o.maxRetryAfterMs,
        classify: (err) => (err instanceof SlackDeliveryError ? { retry: true, delayMs: (err as SlackDeliveryError & { retryAfterMs?: number }).retryAfterMs } : { retry: false }),
        onRetry: (err, attempt, delay) => this.o.log(`${(err as Error).message}; retry ${attempt} in ${delay} ms`),
      },
    );
  }

  async notify(event: AstroTrustEvent): Promise<Delivery> {
    if (this.duplicate(event)) return 'duplicate';
    try {
      await this.post(JSON.stringify(renderSlack(event)));
      return 'sent';
    } catch (err) {
      this.forget(event);
      if (!this.o.deadLetters) throw err;
      try {
        await this.o.deadLetters.put(event, (err as Error).message);
      } catch (deadLetterErr) {
        throw new SlackDeliveryError(`Slack: ${(err as Error).message}; dead letters: ${(deadLetterErr as Error).message}`, { cause: deadLetterErr });
      }
      this.o.log(`Slack alert for ${subjectOf(event)} dead-lettered: ${(err as Error).message}`);
      return 'dead-lettered';
    }
  }
}

/** Without SLACK_WEBHOOK_URL, alerts go to the log. */
export class LogNotifier implements Notifier {
  constructor(private readonly log: (line: string) => void) {}
  async notify(event: AstroTrustEvent): Promise<Delivery> {
    this.log(`alert ${event.type}: ${renderSlack(event).text.replace(/\*/g, '')}`);
    return 'logged';
  }
}
