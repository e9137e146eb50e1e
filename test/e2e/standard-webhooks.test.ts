/**
 * Standard Webhooks (DESIGN 3.3, release 2): astro-trust signs like the `standardwebhooks` library verifies,
 * `serve` accepts the library's signatures and the curl + openssl recipe in docs/onboarding.md, a repeated
 * `webhook-id` does no new work, and the release-1 header is gone (DESIGN 7.2).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { docBlock } from '../support/docs';
import { Webhook } from 'standardwebhooks';
import { IamTrustStore } from '../../src/adapters/aws/iam';
import { createHmac } from 'node:crypto';
import { signStandard, verifyStandard } from '../../src/app/webhook';
import { startServer, type Server } from '../../src/cli/serve';
import { startMoto, type Moto } from '../support/moto';
import { exampleWorld, serveOnWorld, type World } from '../support/world';

const SECRET = `whsec_${Buffer.from('a-32-byte-secret-for-the-tests!!').toString('base64')}`;
const ORG = 'clmh59gt0000308lbgswe5fvh';
const BILLING = 'clmh5h2rb001208lb4q0e6x8z';
const body = (id: string) =>
  JSON.stringify({
    id,
    type: 'deployment.created',
    deploymentId: BILLING,
    organizationId: ORG,
    occurredAt: new Date().toISOString(),
  });
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('Standard Webhooks signatures', () => {
  it('what astro-trust signs, the standardwebhooks library verifies; what the library signs, astro-trust verifies', () => {
    const b = body('evt_lib_1');
    const headers = signStandard(SECRET, 'msg_1', b, nowSeconds());
    expect(new Webhook(SECRET).verify(b, headers)).toEqual(JSON.parse(b));
    const theirs = new Webhook(SECRET).sign('msg_2', new Date(), b);
    expect(
      verifyStandard(
        [SECRET],
        { 'webhook-id': 'msg_2', 'webhook-timestamp': String(nowSeconds()), 'webhook-signature': `v1,bogus ${theirs}` },
        Buffer.from(b),
        nowSeconds(),
      ),
    ).toEqual({ ok: true, webhookId: 'msg_2' });
  });

  it.each<[string, Record<string, string>, RegExp]>([
    [
      'another secret',
      signStandard(
        `whsec_${Buffer.from('another-secret-of-32-bytes-long!').toString('base64')}`,
        'm',
        body('e'),
        nowSeconds(),
      ),
      /does not match/,
    ],
    ['a timestamp 301 s old', signStandard(SECRET, 'm', body('e'), nowSeconds() - 301), /stale/],
    [
      'no v1 signature',
      { ...signStandard(SECRET, 'm', body('e'), nowSeconds()), 'webhook-signature': 'v2,abc' },
      /malformed/,
    ],
    [
      'another webhook-id than signed',
      { ...signStandard(SECRET, 'm', body('e'), nowSeconds()), 'webhook-id': 'other' },
      /does not match/,
    ],
  ])('refuses %s', (_l, headers, reason) => {
    const r = verifyStandard([SECRET], headers, Buffer.from(body('e')), nowSeconds());
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(reason);
  });
});

describe('serve with Standard Webhooks', () => {
  let moto: Moto;
  let world: World;
  let server: Server;
  beforeAll(async () => {
    moto = await startMoto();
    world = await exampleWorld(moto.iam());
    server = await startServer(
      serveOnWorld(world, new IamTrustStore(moto.iam(), { verifyDelayMs: 1 }), {
        secrets: [SECRET],
        resyncAtStart: false,
      }),
    );
  });
  afterAll(async () => {
    await server?.close();
    await moto?.stop();
  });
  const post = (b: string, headers: Record<string, string>) =>
    fetch(`${server.url}/webhooks/astro`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: b,
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

  it('accepts a signed webhook once per webhook-id: a resend is 202 and does no new work', async () => {
    const b = body('evt_std_1');
    const headers = signStandard(SECRET, 'evt_std_1', b, nowSeconds());
    expect(await post(b, headers)).toEqual({
      status: 202,
      body: { accepted: 'evt_std_1', roles: ['data-lake-reader'] },
    });
    await server.settled();
    const processed = server.queue.processed;
    expect(await post(b, headers)).toEqual({ status: 202, body: { accepted: 'evt_std_1', duplicate: true } });
    await server.settled();
    expect(server.queue.processed).toBe(processed);
  });

  // Release 1's header, computed here as release 1 did: hex HMAC-SHA256 keyed with the whole secret string.
  const release1 = (b: string, t: number) =>
    `t=${t},v1=${createHmac('sha256', SECRET).update(`${t}.${b}`).digest('hex')}`;

  it('a request signed only with the release-1 header is refused with 401 naming Standard Webhooks, and does no work', async () => {
    const b = body('evt_r1_1');
    await server.settled();
    const processed = server.queue.processed;
    const r = await post(b, { 'x-astro-trust-signature': release1(b, nowSeconds()) });
    expect(r.status).toBe(401);
    expect(r.body.error).toMatch(/Standard Webhooks/);
    expect(r.body.error).toMatch(/X-Astro-Trust-Signature is no longer accepted/);
    await server.settled();
    expect(server.queue.processed).toBe(processed);
  });

  it('beside valid Standard headers, the release-1 header is ignored (a wrong one too)', async () => {
    const b = body('evt_r1_2');
    const standard = signStandard(SECRET, 'evt_r1_2', b, nowSeconds());
    expect((await post(b, { ...standard, 'x-astro-trust-signature': 't=1,v1=00' })).status).toBe(202);
    // A valid release-1 signature does not rescue a bad Standard one.
    const b3 = body('evt_r1_3');
    const forged = { ...standard, 'webhook-signature': 'v1,AAAA', 'webhook-id': 'evt_r1_3' };
    const r = await post(b3, { ...forged, 'x-astro-trust-signature': release1(b3, nowSeconds()) });
    expect(r.status).toBe(401);
  });

  it('accepts the curl + openssl recipe from docs/onboarding.md, run as written', async () => {
    const recipe = docBlock('docs/onboarding.md', 'sign-with-curl');
    // Asynchronously: the server answering curl runs in this very process.
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', recipe], {
      env: {
        PATH: process.env.PATH,
        ASTRO_TRUST_WEBHOOK_SECRET: SECRET,
        ASTRO_TRUST_WEBHOOK_URL: `${server.url}/webhooks/astro`,
        DEPLOYMENT_ID: BILLING,
        ASTRO_ORGANIZATION_ID: ORG,
      },
      timeout: 20_000,
    });
    expect(JSON.parse(stdout)).toMatchObject({ roles: ['data-lake-reader'] });
  });
});
