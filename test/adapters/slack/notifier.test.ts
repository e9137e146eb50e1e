import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDedup } from '../../../src/adapters/local/dedup';
import { FileDeadLetters, LogNotifier, renderSlack, SlackNotifier } from '../../../src/adapters/slack/notifier';
import type { AstroTrustEvent, DriftDetected } from '../../../src/domain/events';
import { fakeService, type FakeService } from '../../support/http';

const updated = (role: string): AstroTrustEvent => ({
  type: 'TrustPolicyUpdated',
  detail: {
    role,
    mode: 'enforce',
    reason: 'webhook',
    added: [{ principal: 'arn:aws:iam::111928029897:role/astro-a', deploymentIds: ['d1'] }],
    removed: [],
    policyChars: 300,
    limit: 2048,
  },
});
const drift = (principal: string): AstroTrustEvent => ({
  type: 'DriftDetected',
  detail: {
    role: 'r',
    mode: 'observe',
    reason: 'iam-change',
    undeclaredInOwned: [{ principal, deploymentIds: [] }],
    missingDeclared: [],
    unexpected: [],
    rewritesOwned: false,
    action: 'none',
  },
});

/** A Slack incoming webhook that accepts everything. */
const okSlack = () =>
  fakeService((_req, res) => {
    res.writeHead(200);
    res.end('ok');
  });

let svc: FakeService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

describe('SlackNotifier', () => {
  it('waits Retry-After on 429, then delivers', async () => {
    let calls = 0;
    const at: number[] = [];
    svc = await fakeService((_req, res) => {
      at.push(Date.now());
      if (++calls === 1) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end('rate_limited');
        return;
      }
      res.writeHead(200);
      res.end('ok');
    });
    expect(await new SlackNotifier({ webhookUrl: svc.url, baseDelayMs: 1 }).notify(updated('a'))).toBe('sent');
    expect(calls).toBe(2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
  });

  it('retries 5xx and timeouts a bounded number of times, then dead-letters, and the count adds up', async () => {
    let calls = 0;
    svc = await fakeService((_req, res) => {
      calls++;
      if (calls % 2 === 0) return; // hang: the client times out
      res.writeHead(500);
      res.end('boom');
    });
    const file = join(mkdtempSync(join(tmpdir(), 'astro-trust-dlq-')), 'dead.jsonl');
    const notifier = new SlackNotifier({
      webhookUrl: svc.url,
      attempts: 3,
      baseDelayMs: 1,
      timeoutMs: 200,
      deadLetters: new FileDeadLetters(file),
    });
    const results = [];
    for (const role of ['a', 'b']) results.push(await notifier.notify(updated(role)));
    expect(results).toEqual(['dead-lettered', 'dead-lettered']);
    expect(calls).toBe(6);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event.detail.role)).toEqual(['a', 'b']);
    expect(lines[0].error).toMatch(/Slack webhook answered 500|no answer within 200 ms/);
  });

  it('does not retry a 4xx Slack rejects (invalid_payload) and dead-letters it at once', async () => {
    svc = await fakeService((_req, res) => {
      res.writeHead(400);
      res.end('invalid_payload');
    });
    const file = join(mkdtempSync(join(tmpdir(), 'astro-trust-dlq-')), 'dead.jsonl');
    expect(
      await new SlackNotifier({ webhookUrl: svc.url, deadLetters: new FileDeadLetters(file) }).notify(updated('a')),
    ).toBe('dead-lettered');
    expect(svc.requests).toHaveLength(1);
    expect(existsSync(file)).toBe(true);
  });

  it('posts a standing finding once per fingerprint per 24 h, a different one at once, and again the next day', async () => {
    svc = await okSlack();
    let now = 0;
    const n = new SlackNotifier({ webhookUrl: svc.url, now: () => now });
    expect(await n.notify(drift('x'))).toBe('sent');
    now = 23 * 3_600_000;
    expect(await n.notify(drift('x'))).toBe('duplicate');
    expect(await n.notify(drift('y'))).toBe('sent');
    now = 24 * 3_600_000 + 1;
    expect(await n.notify(drift('x'))).toBe('sent');
    expect(svc.requests).toHaveLength(3);
  });

  it('posts an IAM change once per CloudTrail event id: two actors making the same change are two alerts (a forged event cannot hide the real one)', async () => {
    svc = await okSlack();
    const change = (eventId: string, arn: string): AstroTrustEvent => ({
      type: 'DriftDetected',
      detail: {
        ...(drift('x').detail as DriftDetected),
        actor: { arn, eventName: 'UpdateAssumeRolePolicy', eventTime: '2026-11-25T19:00:00Z', eventId },
      },
    });
    const n = new SlackNotifier({ webhookUrl: svc.url });
    expect(await n.notify(change('e-forged', 'arn:aws:iam::123456789012:user/innocent'))).toBe('sent');
    expect(await n.notify(change('e-real', 'arn:aws:iam::123456789012:user/mallory'))).toBe('sent');
    // The same event delivered twice (EventBridge retries) is one alert.
    expect(await n.notify(change('e-real', 'arn:aws:iam::123456789012:user/mallory'))).toBe('duplicate');
    expect(svc.requests.map((r) => r.body).join()).toContain('user/mallory');
  });

  it('posts a change to one of its own roles (SelfTampering) once per CloudTrail event, each new event at once', async () => {
    svc = await okSlack();
    const tampered = (eventId: string): AstroTrustEvent => ({
      type: 'SelfTampering',
      detail: {
        role: '444455556666/astro-trust-member',
        roleArn: 'arn:aws:iam::444455556666:role/astro-trust-member',
        accountId: '444455556666',
        kind: 'member-role',
        actor: {
          arn: 'arn:aws:iam::444455556666:user/mallory',
          eventName: 'AttachRolePolicy',
          eventTime: 't',
          eventId,
        },
        reason: 'iam-change',
      },
    });
    const n = new SlackNotifier({ webhookUrl: svc.url });
    expect(await n.notify(tampered('e1'))).toBe('sent');
    expect(await n.notify(tampered('e1'))).toBe('duplicate');
    expect(await n.notify(tampered('e2'))).toBe('sent');
    expect(svc.requests).toHaveLength(2);
  });

  it('remembers what it posted across restarts (a file in serve)', async () => {
    svc = await okSlack();
    const path = join(mkdtempSync(join(tmpdir(), 'astro-trust-dedup-')), 'alerts-posted.json');
    expect(await new SlackNotifier({ webhookUrl: svc.url, dedup: new FileDedup(path) }).notify(drift('x'))).toBe(
      'sent',
    );
    expect(await new SlackNotifier({ webhookUrl: svc.url, dedup: new FileDedup(path) }).notify(drift('x'))).toBe(
      'duplicate',
    );
    expect(svc.requests).toHaveLength(1);
  });

  it('posts a repeated failure of the same role once per window (SQS retries would otherwise repeat it)', async () => {
    svc = await okSlack();
    const failed = (error: string): AstroTrustEvent => ({
      type: 'ReconcileFailed',
      detail: { role: 'r', mode: 'enforce', reason: 'webhook', error, retryable: true },
    });
    const n = new SlackNotifier({ webhookUrl: svc.url });
    expect(await n.notify(failed('IAM still failing'))).toBe('sent');
    expect(await n.notify(failed('IAM still failing'))).toBe('duplicate');
    expect(await n.notify(failed('another error'))).toBe('sent');
    expect(await n.notify(updated('r'))).toBe('sent');
    expect(await n.notify(updated('r'))).toBe('sent');
  });

  it('posts the last attempt of a failure even when the earlier attempts were posted: it says the retries are over', async () => {
    svc = await okSlack();
    const failed = (attempt: number): AstroTrustEvent => ({
      type: 'ReconcileFailed',
      detail: {
        role: 'r',
        mode: 'enforce',
        reason: 'webhook',
        error: 'IAM still failing',
        retryable: true,
        attempt,
        attempts: 3,
        willRetry: attempt < 3,
      },
    });
    const n = new SlackNotifier({ webhookUrl: svc.url });
    expect([await n.notify(failed(1)), await n.notify(failed(2)), await n.notify(failed(3))]).toEqual([
      'sent',
      'duplicate',
      'sent',
    ]);
    expect(svc.requests.map((r) => JSON.parse(r.body).text)).toEqual([
      'Reconcile of *r* failed (attempt 1 of 3; will be retried): IAM still failing',
      'Reconcile of *r* failed after the last of 3 attempts; not retried again: IAM still failing',
    ]);
  });
});

describe('ReconcileFailed says "will be retried" only when a retry will come (DESIGN 7.2)', () => {
  const failed = (detail: Partial<Extract<AstroTrustEvent, { type: 'ReconcileFailed' }>['detail']>) =>
    renderSlack({
      type: 'ReconcileFailed',
      detail: { role: 'r', mode: 'enforce', reason: 'resync', error: 'boom', retryable: true, ...detail },
    }).text;
  it.each<[string, { retryable?: boolean; attempt?: number; attempts?: number; willRetry?: boolean }, string]>([
    ['a retryable error where nothing retries (apply, the backfill)', {}, 'Reconcile of *r* failed: boom'],
    [
      'a retryable error the runtime will retry',
      { attempt: 2, attempts: 5, willRetry: true },
      'Reconcile of *r* failed (attempt 2 of 5; will be retried): boom',
    ],
    [
      'the last attempt',
      { attempt: 5, attempts: 5, willRetry: false },
      'Reconcile of *r* failed after the last of 5 attempts; not retried again: boom',
    ],
    [
      'a terminal error',
      { retryable: false, attempt: 1, attempts: 5, willRetry: false },
      'Reconcile of *r* failed (not retried: it needs a fix first): boom',
    ],
  ])('%s', (_l, detail, text) => {
    expect(failed(detail)).toBe(text);
    expect(failed(detail).includes('will be retried')).toBe(detail.willRetry === true);
  });
});

describe('LogNotifier (no SLACK_WEBHOOK_URL): alerts to the log, deduplicated like Slack', () => {
  it('logs a standing finding once a day, not once per resync; an update every time; a file keeps it across restarts', async () => {
    let now = Date.parse('2026-05-01T00:00:00Z');
    const file = join(mkdtempSync(join(tmpdir(), 'astro-trust-logdedup-')), 'alerts-posted.json');
    const lines: string[] = [];
    const notifier = () =>
      new LogNotifier((l) => lines.push(l), { dedup: new FileDedup(file, () => now), now: () => now });
    const first = notifier();
    expect(await first.notify(drift('arn:aws:iam::111928029897:role/astro-x'))).toBe('logged');
    expect(await first.notify(drift('arn:aws:iam::111928029897:role/astro-x'))).toBe('duplicate');
    // A restart (a new notifier on the same file) remembers it, as Slack's dedup does.
    expect(await notifier().notify(drift('arn:aws:iam::111928029897:role/astro-x'))).toBe('duplicate');
    expect(await first.notify(drift('arn:aws:iam::111928029897:role/astro-y'))).toBe('logged');
    expect(await first.notify(updated('r'))).toBe('logged');
    expect(await first.notify(updated('r'))).toBe('logged');
    expect(lines.filter((l) => l.includes('astro-x'))).toHaveLength(1);
    now += 24 * 60 * 60_000 + 1;
    expect(await first.notify(drift('arn:aws:iam::111928029897:role/astro-x'))).toBe('logged');
    expect(lines.filter((l) => l.includes('astro-x'))).toHaveLength(2);
  });

  it('deduplicates in memory without a store', async () => {
    const lines: string[] = [];
    const n = new LogNotifier((l) => lines.push(l));
    await n.notify(drift('arn:aws:iam::111928029897:role/astro-z'));
    await n.notify(drift('arn:aws:iam::111928029897:role/astro-z'));
    expect(lines).toHaveLength(1);
  });
});

describe('renderSlack', () => {
  it('says what happened, to which role and account, who did it, when, from where, and how to see the plan', () => {
    const m = renderSlack({
      type: 'DriftDetected',
      detail: {
        role: 'data-lake-reader',
        accountId: '123456789012',
        mode: 'enforce',
        reason: 'iam-change',
        action: 'reverted',
        rewritesOwned: false,
        missingDeclared: [],
        actor: {
          arn: 'arn:aws:iam::123456789012:user/jo',
          type: 'IAMUser',
          sourceIp: '203.0.113.9',
          userAgent: 'console',
          eventName: 'UpdateAssumeRolePolicy',
          eventTime: '2026-11-25T19:00:00Z',
        },
        undeclaredInOwned: [{ principal: 'arn:aws:iam::111928029897:role/astro-x', deploymentIds: [] }],
        unexpected: [
          {
            id: 'fedcba9876543210',
            kind: 'namespace-wildcard',
            principal: 'i:sub=system:serviceaccount:*:*',
            sid: 'Quick',
            condition: null,
            detail: '',
          },
        ],
      },
    });
    const text = JSON.stringify(m);
    for (const s of [
      'statements restored (enforce mode); 1 finding in statements astro-trust does not own remains: a person must act',
      '123456789012',
      'arn:aws:iam::123456789012:user/jo',
      '2026-11-25T19:00:00Z',
      '203.0.113.9',
      'astro-x',
      'namespace-wildcard',
      'astro-trust plan --config astro-trust.yaml --role data-lake-reader',
    ]) {
      expect(text).toContain(s);
    }
    expect(m.blocks[0]).toMatchObject({ type: 'header' });
  });
});
