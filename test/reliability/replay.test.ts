/**
 * Replay-proof intake (DESIGN 7.2), on `serve`'s clock: a signed webhook is accepted while its timestamp is
 * within 300 s; its `webhook-id` stays claimed for as long as any replay of it could still be accepted, so no
 * replay does work twice, even one at the very edge of the window. A webhook whose work failed (503) does not
 * keep its claim: the sender's retry is acted on.
 */
import { renameSync } from 'node:fs';
import { IamTrustStore } from '../../src/adapters/aws/iam';
import { FileInventory } from '../../src/adapters/astro/inventory-file';
import { signStandard } from '../../src/app/webhook';
import { startServer, type Server } from '../../src/cli/serve';
import { RetryableError } from '../../src/errors';
import { startMoto, type Moto } from '../support/moto';
import { exampleWorld, serveOnWorld, testSecret, type World } from '../support/world';

const SECRET = testSecret('replay');
const ORG = 'clmh59gt0000308lbgswe5fvh';
const BILLING = 'clmh5h2rb001208lb4q0e6x8z';
let moto: Moto;
let world: World;
let server: Server;
let nowMs = Math.floor(Date.now() / 1000) * 1000;

beforeAll(async () => {
  moto = await startMoto();
  world = await exampleWorld(moto.iam());
  server = await startServer(
    serveOnWorld(world, new IamTrustStore(moto.iam(), { verifyDelayMs: 1 }), {
      secrets: [SECRET],
      resyncAtStart: false,
      now: () => nowMs,
    }),
  );
});
afterAll(async () => {
  await server?.close();
  await moto?.stop();
});

const body = (id: string) =>
  JSON.stringify({
    id,
    type: 'deployment.created',
    deploymentId: BILLING,
    organizationId: ORG,
    occurredAt: '2026-11-25T19:00:00Z',
  });

async function post(b: string, headers: Record<string, string>) {
  const res = await fetch(`${server.url}/webhooks/astro`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: b,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('webhook-id claims', () => {
  it.each([
    ['exactly at the edge (|now - t| = 300 s)', 0],
    ['in its last millisecond', 999],
  ])(
    'a request signed 300 s ahead and replayed 600 s later, %s, is answered 202 and does no work',
    async (_l, extraMs) => {
      const t0 = Math.floor(nowMs / 1000);
      const b = body(`evt_edge_${extraMs}`);
      // Signed with a timestamp 300 s ahead of serve's clock: the earliest moment it can be accepted.
      const headers = signStandard(SECRET, `msg_edge_${extraMs}`, b, t0 + 300);
      expect(await post(b, headers)).toEqual({
        status: 202,
        body: { accepted: `evt_edge_${extraMs}`, roles: ['data-lake-reader'] },
      });
      await server.settled();
      const processed = server.queue.processed;
      // 600 s later the timestamp is 300 s old: still inside the tolerance, so only the claim stops it.
      nowMs += 600_000 + extraMs;
      expect(await post(b, headers)).toEqual({
        status: 202,
        body: { accepted: `evt_edge_${extraMs}`, duplicate: true },
      });
      await server.settled();
      expect(server.queue.processed).toBe(processed);
      // One second later it is stale.
      nowMs += 1000;
      expect((await post(b, headers)).status).toBe(401);
    },
  );

  it('a webhook answered 503 (the inventory could not be listed) keeps no claim: the retry is acted on', async () => {
    const b = body('evt_retry_after_503');
    const headers = signStandard(SECRET, 'msg_retry_after_503', b, Math.floor(nowMs / 1000));
    renameSync(world.inventoryFile, `${world.inventoryFile}.away`);
    try {
      expect((await post(b, headers)).status).toBe(503);
    } finally {
      renameSync(`${world.inventoryFile}.away`, world.inventoryFile);
    }
    expect(await post(b, headers)).toEqual({
      status: 202,
      body: { accepted: 'evt_retry_after_503', roles: ['data-lake-reader'] },
    });
  });
});

describe('a resend while the first delivery of its webhook-id is still at work', () => {
  it('waits for that outcome: when the first fails (503, to a sender that stopped listening), the resend does the work', async () => {
    // The Astro API does not answer the first listing for a while, then fails (15 s x 4 attempts in real life):
    // the sender times out meanwhile and sends the same webhook again.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let listings = 0;
    const file = new FileInventory(world.inventoryFile);
    const inventory = {
      description: 'the Astro API, slow then failing once',
      list: async () => {
        if (++listings === 1) {
          await gate;
          throw new RetryableError('Astro API: no answer within 15000 ms; gave up after 4 attempts');
        }
        return file.list();
      },
    };
    const reconciled: string[] = [];
    const own = await startServer(
      serveOnWorld(world, new IamTrustStore(moto.iam(), { verifyDelayMs: 1 }), {
        inventory,
        secrets: [SECRET],
        resyncAtStart: false,
        onReconciled: (request) => reconciled.push(`${request.reason}:${request.sourceEventId}`),
      }),
    );
    try {
      const b = body('evt_resent');
      const headers = signStandard(SECRET, 'msg_resent', b, Math.floor(Date.now() / 1000));
      const send = () =>
        fetch(`${own.url}/webhooks/astro`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: b,
        }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));
      const first = send();
      while (listings === 0) await new Promise((r) => setTimeout(r, 10));
      const resend = send();
      await new Promise((r) => setTimeout(r, 200));
      release();
      expect((await first).status).toBe(503);
      expect(await resend).toEqual({ status: 202, body: { accepted: 'evt_resent', roles: ['data-lake-reader'] } });
      await own.settled();
      expect(reconciled).toEqual(['webhook:evt_resent']);
    } finally {
      await own.close();
    }
  });
});
