/**
 * A reconcile that fails in `serve` is retried with backoff, as SQS redrives it on Lambda (DESIGN 7.2): the
 * first failure's alert says it will be retried, the last one's that it will not; the retry waiting for its
 * time is in the journal, so a restart resumes it. IAM fails through a proxy in front of moto.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IAMClient } from '@aws-sdk/client-iam';
import { IamTrustStore } from '../../src/adapters/aws/iam';
import type { Journal } from '../../src/adapters/local/journal';
import { SlackNotifier } from '../../src/adapters/slack/notifier';
import { startServer, type Server } from '../../src/cli/serve';
import { isOwned } from '../../src/domain/policy';
import { faultProxy, type FaultProxy } from '../support/fault-proxy';
import { fakeService, type FakeService } from '../support/http';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';
import { waitFor } from '../support/serve-process';
import { exampleWorld, serveOnWorld, testSecret, type World } from '../support/world';

let moto: Moto;
let proxy: FaultProxy;
let world: World;
let slack: FakeService;
let server: Server | undefined;

beforeAll(async () => {
  moto = await startMoto();
  world = await exampleWorld(moto.iam());
  proxy = await faultProxy(moto.endpoint);
  slack = await fakeService((_req, res) => {
    res.writeHead(200);
    res.end('ok');
  });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  proxy.faults.length = 0;
});
afterAll(async () => {
  await proxy?.close();
  await slack?.close();
  await moto?.stop();
});

const iamThroughProxy = () =>
  new IamTrustStore(
    new IAMClient({ region: 'us-east-1', endpoint: proxy.url, credentials: TEST_CREDENTIALS, maxAttempts: 1 }),
    { baseDelayMs: 1, verifyDelayMs: 1 },
  );

/** IAM answers every GetRole of the role with 500: its reconcile fails, retryably. */
const iamDown = (role: string) =>
  proxy.faults.push({
    action: 'GetRole',
    times: 100_000,
    status: 500,
    code: 'ServiceFailure',
    message: 'internal error',
    match: (p) => p.get('RoleName') === role,
  });

const failures = (role: string, from = 0) =>
  slack.requests
    .slice(from)
    .map((r) => (JSON.parse(r.body) as { text: string }).text)
    .filter((t) => t.startsWith(`Reconcile of *${role}* failed`));

describe('failed reconciles in serve', () => {
  it('are retried with backoff; the first alert says it will be retried, the last that it will not', async () => {
    iamDown('archive-writer');
    const getRoles = () => proxy.actions.filter((a) => a === 'GetRole').length;
    server = await startServer(
      serveOnWorld(world, iamThroughProxy(), {
        notifier: new SlackNotifier({ webhookUrl: slack.url, baseDelayMs: 1 }),
        secrets: [testSecret('retries')],
        resyncAtStart: false,
        reconcileRetry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
      }),
    );
    const from = slack.requests.length;
    const before = getRoles();
    await server.queue.enqueue([{ role: 'archive-writer', reason: 'resync' }]);
    expect(await waitFor(() => failures('archive-writer', from).some((t) => /last of/.test(t)), 20_000)).toBe(true);
    await server.settled();
    const texts = failures('archive-writer', from);
    // Attempt 2's alert is the same as attempt 1's, posted already: one "will be retried", one final.
    expect(texts).toEqual([
      expect.stringMatching(/^Reconcile of \*archive-writer\* failed \(attempt 1 of 3; will be retried\): /),
      expect.stringMatching(
        /^Reconcile of \*archive-writer\* failed after the last of 3 attempts; not retried again: /,
      ),
    ]);
    // Three reconciles, each reading the role (with the IAM adapter's own retries per call).
    expect(getRoles() - before).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 500));
    expect(server.queue.retriesWaiting()).toBe(0);
    expect(failures('archive-writer', from)).toHaveLength(2);
  }, 30_000);

  it('a retry waiting for its time is in the journal: after a restart it runs, and converges the role', async () => {
    const { Journal } = await import('../../src/adapters/local/journal.js');
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-retries-'));
    iamDown('archive-writer');
    let now = Date.now();
    const start = async (journal: Journal) =>
      startServer(
        serveOnWorld(world, iamThroughProxy(), {
          notifier: new SlackNotifier({ webhookUrl: slack.url, baseDelayMs: 1 }),
          secrets: [testSecret('retries')],
          resyncAtStart: false,
          journal,
          now: () => now,
          reconcileRetry: { attempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000 },
        }),
      );
    let journal = await Journal.open(dir);
    server = await start(journal);
    await server.queue.enqueue([{ role: 'archive-writer', reason: 'webhook', sourceEventId: 'evt_retry_me' }]);
    await server.settled();
    expect(server.queue.retriesWaiting()).toBe(1);
    await server.close();
    server = undefined;
    await journal.close();

    journal = await Journal.open(dir);
    expect(journal.pendingWork()).toEqual([
      expect.objectContaining({
        request: expect.objectContaining({ role: 'archive-writer', sourceEventId: 'evt_retry_me' }),
        attempt: 2,
        notBefore: expect.any(Number),
      }),
    ]);
    proxy.faults.length = 0;
    now += 61_000;
    server = await start(journal);
    expect(
      await waitFor(
        async () =>
          !JSON.stringify((await world.trust('archive-writer')).Statement.find(isOwned)).includes('deleted-nova'),
        20_000,
      ),
    ).toBe(true);
    await server.settled();
    await server.close();
    server = undefined;
    expect(journal.pendingWork()).toEqual([]);
    await journal.close();
  }, 30_000);
});
