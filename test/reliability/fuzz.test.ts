/**
 * Hostile input at the webhook endpoint: 10,000 generated requests (bodies, signatures, timestamps,
 * content types, sizes) against `serve` with IAM in moto. No 5xx, no reconcile and no IAM call without
 * a valid signature; a valid request replayed after 300 s is rejected.
 */
import fc from 'fast-check';
import { IamTrustStore, countCommands } from '../../src/adapters/aws/iam';
import { signStandard } from '../../src/app/webhook';
import { startServer, type Server } from '../../src/cli/serve';
import { startMoto, type Moto } from '../support/moto';
import { exampleWorld, serveOnWorld, testSecret } from '../support/world';

const SECRET = testSecret('fuzz');
// 3,000 in every test run; ASTRO_TRUST_FUZZ_REQUESTS=10000 reproduces docs/reliability.md's table (same seed).
const REQUESTS = Number(process.env.ASTRO_TRUST_FUZZ_REQUESTS ?? 3_000);
let moto: Moto;
let server: Server;
let counts: Map<string, number>;
let nowMs = Date.now();

beforeAll(async () => {
  moto = await startMoto();
  const iam = moto.iam();
  const world = await exampleWorld(iam);
  counts = countCommands(iam);
  server = await startServer(
    serveOnWorld(world, new IamTrustStore(iam), {
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

const validBody = (id: string) =>
  JSON.stringify({
    id,
    type: 'deployment.created',
    deploymentId: 'clmh5h2rb001208lb4q0e6x8z',
    organizationId: 'clmh59gt0000308lbgswe5fvh',
    occurredAt: '2026-11-25T19:00:00Z',
  });

type Req = { body: string; headers: Record<string, string> };
// Printable ASCII: what an HTTP client can put in a header at all.
const headerValue = fc.string({ maxLength: 120, unit: 'grapheme-ascii' }).map((v) => v.trim());
const t = () => Math.floor(nowMs / 1000);
/** Standard Webhooks headers for a body, signed with `secret` at `t`. */
const signed = (secret: string, body: string, at: number, id = 'msg_fuzz') => signStandard(secret, id, body, at);
const requestArb: fc.Arbitrary<Req> = fc.oneof(
  // anything at all, the release-1 header among the random ones
  fc.record({
    body: fc.string({ maxLength: 300, unit: 'binary' }),
    headers: fc.dictionary(
      fc.constantFrom(
        'content-type',
        'webhook-id',
        'webhook-timestamp',
        'webhook-signature',
        'x-astro-trust-signature',
        'x-other',
      ),
      headerValue,
    ),
  }),
  // a plausible event, no or a garbage signature (or only a release-1 header, no longer accepted)
  fc.record({
    body: fc.uuid().map(validBody),
    headers: fc.oneof(
      fc.record({
        'content-type': fc.constant('application/json'),
        'webhook-id': headerValue,
        'webhook-timestamp': fc.oneof(headerValue, fc.constant(String(t()))),
        'webhook-signature': fc.oneof(
          headerValue,
          fc.base64String({ minLength: 44, maxLength: 44 }).map((b) => `v1,${b}`),
        ),
      }),
      fc.record({
        'content-type': fc.constant('application/json'),
        'x-astro-trust-signature': fc.oneof(
          headerValue,
          fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `t=${t()},v1=${h}`),
        ),
      }),
    ),
  }),
  // signed with the wrong secret
  fc.tuple(fc.uuid(), fc.string({ minLength: 1, maxLength: 20 })).map(([id, label]) => ({
    body: validBody(id),
    headers: { 'content-type': 'application/json', ...signed(testSecret(`not-${label}`), validBody(id), t(), id) },
  })),
  // signed right, but stale or from the future
  fc.tuple(fc.uuid(), fc.integer({ min: 301, max: 10_000_000 }), fc.boolean()).map(([id, skew, past]) => ({
    body: validBody(id),
    headers: { 'content-type': 'application/json', ...signed(SECRET, validBody(id), t() + (past ? -skew : skew), id) },
  })),
  // signed right over a body that is not a valid event: must be 400, never enqueued
  fc
    .oneof(
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 200 }),
      fc
        .record({
          id: fc.string(),
          type: fc.string(),
          deploymentId: fc.string(),
          organizationId: fc.string(),
          occurredAt: fc.string(),
        })
        .map((o) => JSON.stringify(o)),
    )
    .map((body) => ({ body, headers: { 'content-type': 'application/json', ...signed(SECRET, body, t()) } })),
  // signed right, wrong content type
  fc.uuid().map((id) => ({
    body: validBody(id),
    headers: { 'content-type': 'text/plain', ...signed(SECRET, validBody(id), t(), id) },
  })),
  // signed for another webhook-id than the one sent
  fc.uuid().map((id) => ({
    body: validBody(id),
    headers: { 'content-type': 'application/json', ...signed(SECRET, validBody(id), t(), id), 'webhook-id': `x${id}` },
  })),
  // over 64 KiB, signed right or not
  fc.tuple(fc.integer({ min: 64 * 1024 + 1, max: 200_000 }), fc.boolean()).map(([size, ok]) => {
    const body = JSON.stringify({ pad: 'x'.repeat(size) });
    return {
      body,
      headers: {
        'content-type': 'application/json',
        ...(ok
          ? signed(SECRET, body, t())
          : { 'webhook-id': 'm', 'webhook-timestamp': '1', 'webhook-signature': 'v1,AA' }),
      },
    };
  }),
  // a signature for another body
  fc.uuid().map((id) => ({
    body: validBody(id).replace('created', 'deleted'),
    headers: { 'content-type': 'application/json', ...signed(SECRET, validBody(id), t(), id) },
  })),
);

describe('webhook fuzzing', () => {
  it(`${REQUESTS} hostile requests: no 5xx, nothing reconciled, no IAM call`, async () => {
    const requests = fc.sample(requestArb, { numRuns: REQUESTS, seed: 1125 });
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        const res = await fetch(`${server.url}/webhooks/astro`, { method: 'POST', headers: r.headers, body: r.body });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await server.queue.drained();
    if (process.env.ASTRO_TRUST_REPORT) console.log(JSON.stringify(Object.fromEntries(statuses)));
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(REQUESTS);
    expect([...statuses.keys()].every((s) => [400, 401, 413, 415].includes(s))).toBe(true);
    expect(server.queue.processed).toBe(0);
    expect(counts.size).toBe(0);
  }, 120_000);

  it('a valid request is accepted, and the same request replayed after 300 s is rejected', async () => {
    const body = validBody('evt_replay');
    const headers = { 'content-type': 'application/json', ...signed(SECRET, body, t(), 'evt_replay') };
    expect((await fetch(`${server.url}/webhooks/astro`, { method: 'POST', headers, body })).status).toBe(202);
    await server.queue.drained();
    const processed = server.queue.processed;
    nowMs += 301_000;
    const replay = await fetch(`${server.url}/webhooks/astro`, { method: 'POST', headers, body });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({ error: 'stale signature timestamp' });
    await server.queue.drained();
    expect(server.queue.processed).toBe(processed);
  });
});
