/** `astro-trust serve` end to end: moto for IAM, a local server playing Slack's incoming webhook. */
import { readFileSync, renameSync } from 'node:fs';
import type { IAMClient } from '@aws-sdk/client-iam';
import { countCommands, IamTrustStore } from '../../src/adapters/aws/iam';
import { SlackNotifier } from '../../src/adapters/slack/notifier';
import { signStandard } from '../../src/app/webhook';
import { startServer, type Server } from '../../src/cli/serve';
import { isOwned, type PolicyDocument, type Statement } from '../../src/domain/policy';
import { fakeService, type FakeService } from '../support/http';
import { startMoto, type Moto } from '../support/moto';
import {
  exampleWorld,
  serveOnWorld,
  fixture,
  FIXTURE_NOW_MS,
  FIXTURE_SECRET,
  testSecret,
  type World,
} from '../support/world';

const SELF = 'arn:aws:iam::123456789012:role/astro-trust-prod-reconcile';
let moto: Moto;
let iam: IAMClient;
let counts: Map<string, number>;
let world: World;
let slack: FakeService;
let server: Server;
const now = FIXTURE_NOW_MS;

const posts = () => slack.requests.map((r) => JSON.parse(r.body) as { text: string; blocks: unknown[] });
const ownedArns = (doc: PolicyDocument) =>
  (doc.Statement.find(isOwned)?.Principal as { AWS: string[] } | undefined)?.AWS ?? [];

async function post(path: string, body: string | Buffer, headers: Record<string, string>) {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body });
  return {
    status: res.status,
    body: (await res.json()) as { error: string; ignored: string; enqueued: Record<string, unknown> },
  };
}

beforeAll(async () => {
  moto = await startMoto();
  iam = moto.iam();
  world = await exampleWorld(iam);
  counts = countCommands(iam);
  slack = await fakeService((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  server = await startServer(
    serveOnWorld(world, new IamTrustStore(iam, { baseDelayMs: 1, verifyDelayMs: 1 }), {
      eventsToken: 'test-events-token',
      notifier: new SlackNotifier({ webhookUrl: slack.url, baseDelayMs: 1 }),
      secrets: [FIXTURE_SECRET],
      selfArns: [SELF],
      // These tests drive each path by its own event; the resync at start has tests of its own.
      resyncAtStart: false,
      now: () => now,
    }),
  );
});
afterAll(async () => {
  await server?.close();
  await slack?.close();
  await moto?.stop();
});

describe('serve', () => {
  it('answers /healthz and binds loopback', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${server.url}/healthz`);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('a signed webhook onboards a new Deployment into the roles that declare it', async () => {
    const event = fixture<{ body: string; headers: Record<string, string> }>('webhook/deployment-created.json');
    const before = await world.trust('data-lake-reader');
    expect(ownedArns(before)).not.toContain('arn:aws:iam::111928029897:role/astro-stellar-comet-3141');
    const r = await post('/webhooks/astro', event.body, {
      'content-type': 'application/json',
      'webhook-id': event.headers['webhook-id']!,
      'webhook-timestamp': event.headers['webhook-timestamp']!,
      'webhook-signature': event.headers['webhook-signature']!,
    });
    expect(r).toEqual({
      status: 202,
      body: { accepted: 'evt_01JDQ7ZK3M8V2C4N6P8R0T2W4Y', roles: ['data-lake-reader'] },
    });
    await server.settled();
    const after = await world.trust('data-lake-reader');
    expect(ownedArns(after)).toContain('arn:aws:iam::111928029897:role/astro-stellar-comet-3141');
    expect(after.Statement.filter((s) => !isOwned(s))).toEqual(before.Statement.filter((s) => !isOwned(s)));
    expect(posts().at(-1)!.text).toMatch(/Trust policy of \*data-lake-reader\* updated: \+1 -0/);
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong bearer token', { authorization: 'Bearer guessed' }],
    ['another scheme', { authorization: 'Basic dGVzdC1ldmVudHMtdG9rZW4=' }],
  ])('a forged CloudTrail event with %s: 401, no IAM call, no Slack post', async (_l, auth) => {
    const envelope = fixture('iamChange/update-assume-role-policy.json');
    const slackBefore = slack.requests.length;
    counts.clear();
    const r = await post('/events/eventbridge', JSON.stringify(envelope), {
      'content-type': 'application/json',
      ...auth,
    });
    expect(r.status).toBe(401);
    await server.settled();
    expect(counts.size).toBe(0);
    expect(slack.requests.length).toBe(slackBefore);
  });

  it('the Stratus Red Team backdoor (an outside account root) on an enforce role: an external-account finding, alerted with its actor, never "reverted"', async () => {
    const envelope = fixture<{ detail: { eventID: string } }>('iamChange/update-assume-role-policy.json');
    envelope.detail.eventID = 'stratus-backdoor-1';
    const declared = await world.trust('archive-writer');
    const backdoor = {
      Sid: 'Backdoor',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::999988887777:root' },
      Action: 'sts:AssumeRole',
    };
    await world.handEdit('archive-writer', { ...declared, Statement: [...declared.Statement, backdoor] });
    (envelope.detail as unknown as { requestParameters: { roleName: string } }).requestParameters.roleName =
      'archive-writer';
    const slackBefore = slack.requests.length;
    counts.clear();
    expect(
      (
        await post('/events/eventbridge', JSON.stringify(envelope), {
          'content-type': 'application/json',
          authorization: 'Bearer test-events-token',
        })
      ).status,
    ).toBe(202);
    await server.settled();
    // Never edited (not astro-trust's statement), never claimed as reverted, left for a person.
    expect((await world.trust('archive-writer')).Statement).toContainEqual(backdoor);
    const drift = posts()
      .slice(slackBefore)
      .find((a) => a.text.includes('drift'))!;
    expect(drift.text).not.toMatch(/revert/i);
    expect(drift.text).toMatch(
      /^Trust drift on \*archive-writer\*: .*1 finding in statements astro-trust does not own .*a person must act$/,
    );
    expect(JSON.stringify(drift.blocks)).toContain('external-account: `arn:aws:iam::999988887777:root` in `Backdoor`');
    expect(JSON.stringify(drift.blocks)).toContain('jane.doe@example.com');
    await world.handEdit('archive-writer', declared);
  });

  it('flap guard: after maxRevertsPerHour (3) reverts of a role CloudFormation keeps re-applying, astro-trust stops and names the other writer', async () => {
    const declared = await world.trust('reports-reader');
    const theirs = {
      ...declared,
      Statement: declared.Statement.map((st) =>
        isOwned(st) ? { ...st, Principal: { AWS: ['arn:aws:iam::111928029897:role/astro-cfn-version'] } } : st,
      ),
    };
    const texts: string[] = [];
    for (let round = 1; round <= 4; round++) {
      await world.handEdit('reports-reader', theirs);
      const envelope = fixture<{ detail: Record<string, unknown> }>('iamChange/update-assume-role-policy.json');
      envelope.detail.eventID = `cfn-round-${round}`;
      envelope.detail.requestParameters = { roleName: 'reports-reader' };
      envelope.detail.userIdentity = { type: 'AWSService', invokedBy: 'cloudformation.amazonaws.com' };
      const before = slack.requests.length;
      expect(
        (
          await post('/events/eventbridge', JSON.stringify(envelope), {
            'content-type': 'application/json',
            authorization: 'Bearer test-events-token',
          })
        ).status,
      ).toBe(202);
      await server.settled();
      texts.push(
        posts()
          .slice(before)
          .find((a) => a.text.includes('drift'))!.text,
      );
    }
    expect(texts.slice(0, 3)).toEqual(
      Array(3).fill('Trust drift on *reports-reader*: astro-trust statements restored (enforce mode)'),
    );
    expect(texts[3]).toBe(
      'Trust drift on *reports-reader*: not reverted: astro-trust is fighting another writer (cloudformation.amazonaws.com) that keeps changing this role (flap guard)',
    );
    expect(JSON.stringify((await world.trust('reports-reader')).Statement)).toContain('astro-cfn-version');
    await world.handEdit('reports-reader', declared);
  });

  it('a hand edit seen through CloudTrail is reverted in enforce mode and alerted with the actor and the principal', async () => {
    const envelope = fixture<{ detail: { requestParameters: { policyDocument: string } } }>(
      'iamChange/update-assume-role-policy.json',
    );
    const declared = await world.trust('data-lake-reader');
    const edited = structuredClone(declared);
    (edited.Statement.find(isOwned)!.Principal as { AWS: string[] }).AWS.push(
      'arn:aws:iam::111928029897:role/astro-intruder-0666',
    );
    await world.handEdit('data-lake-reader', edited);
    const slackBefore = slack.requests.length;
    counts.clear();

    const r = await post('/events/eventbridge', JSON.stringify(envelope), {
      'content-type': 'application/json',
      authorization: 'Bearer test-events-token',
    });
    expect(r.status).toBe(202);
    expect(r.body.enqueued).toMatchObject({ role: 'data-lake-reader', reason: 'iam-change' });
    await server.settled();

    expect(ownedArns(await world.trust('data-lake-reader'))).toEqual(ownedArns(declared));
    expect(counts.get('UpdateAssumeRolePolicyCommand')).toBe(1);
    const alerts = posts().slice(slackBefore);
    const drift = alerts.find((a) => a.text.includes('drift'))!;
    const text = JSON.stringify(drift.blocks);
    expect(drift.text).toBe('Trust drift on *data-lake-reader*: astro-trust statements restored (enforce mode)');
    expect(text).toContain(
      'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_5f1c0b7e2a9d4c3b/jane.doe@example.com',
    );
    expect(text).toContain('astro-intruder-0666');
    expect(text).toContain('203.0.113.24');
    expect(text).toContain('astro-trust plan --config astro-trust.yaml --role data-lake-reader');
  });

  it('an observe role is only reported: no write', async () => {
    const current = await world.trust('etl-runner');
    const edited = structuredClone(current);
    const owned = edited.Statement.find(isOwned)! as Statement & {
      Condition: { StringLike: Record<string, string[] | string> };
    };
    const key = Object.keys(owned.Condition.StringLike)[0]!;
    owned.Condition.StringLike[key] = [
      ...([] as string[]).concat(owned.Condition.StringLike[key]!),
      'system:serviceaccount:intruder-ns:*',
    ];
    await world.handEdit('etl-runner', edited);
    const envelope = fixture<{ detail: { requestParameters: { roleName: string } } }>(
      'iamChange/update-assume-role-policy.json',
    );
    envelope.detail.requestParameters.roleName = 'etl-runner';
    const slackBefore = slack.requests.length;
    counts.clear();
    const r = await post('/events/eventbridge', JSON.stringify(envelope), {
      'content-type': 'application/json',
      authorization: 'Bearer test-events-token',
    });
    expect(r.status).toBe(202);
    await server.settled();
    expect(counts.get('UpdateAssumeRolePolicyCommand') ?? 0).toBe(0);
    expect(JSON.stringify(await world.trust('etl-runner'))).toContain('intruder-ns');
    const drift = posts()
      .slice(slackBefore)
      .find((a) => a.text.includes('drift'))!;
    expect(drift.text).toBe(
      'Trust drift on *etl-runner*: reported only (observe mode); 1 finding in statements astro-trust does not own remains: a person must act',
    );
    expect(JSON.stringify(drift.blocks)).toContain('system:serviceaccount:intruder-ns:*');
  });

  it("astro-trust's own change produces no alert and no reconcile", async () => {
    const slackBefore = slack.requests.length;
    const processed = server.queue.processed;
    const r = await post('/events/eventbridge', readFileSync('events/iamChange/update-by-astro-trust.json'), {
      'content-type': 'application/json',
      authorization: 'Bearer test-events-token',
    });
    expect(r.body).toEqual({ ignored: 'changed by astro-trust itself' });
    await server.settled();
    expect(server.queue.processed).toBe(processed);
    expect(slack.requests.length).toBe(slackBefore);
  });

  it.each([['a failed call', 'iamChange/update-failed-access-denied.json', /the call failed \(AccessDenied\)/]])(
    'ignores %s',
    async (_l, path, reason) => {
      const r = await post('/events/eventbridge', readFileSync(`events/${path}`), {
        'content-type': 'application/json',
        authorization: 'Bearer test-events-token',
      });
      expect(r.body.ignored).toMatch(reason);
    },
  );

  it('answers 503 when the inventory cannot be listed, and queues nothing', async () => {
    const body = JSON.stringify({
      id: 'evt_503',
      type: 'deployment.created',
      deploymentId: 'clmh5h2rb001208lb4q0e6x8z',
      organizationId: 'clmh59gt0000308lbgswe5fvh',
      occurredAt: '2026-11-25T19:00:00Z',
    });
    renameSync(world.inventoryFile, `${world.inventoryFile}.away`);
    try {
      const processed = server.queue.processed;
      const r = await post('/webhooks/astro', body, {
        'content-type': 'application/json',
        ...signStandard(FIXTURE_SECRET, 'msg_503', body, FIXTURE_NOW_MS / 1000),
      });
      expect(r).toEqual({ status: 503, body: { error: 'temporarily unable to process; retry' } });
      await server.settled();
      expect(server.queue.processed).toBe(processed);
    } finally {
      renameSync(`${world.inventoryFile}.away`, world.inventoryFile);
    }
  });

  describe('bad webhook input gets 4xx and causes no IAM call', () => {
    const body = JSON.stringify({
      id: 'evt_x',
      type: 'deployment.created',
      deploymentId: 'clmh5h2rb001208lb4q0e6x8z',
      organizationId: 'clmh59gt0000308lbgswe5fvh',
      occurredAt: '2026-11-25T19:00:00Z',
    });
    const t = FIXTURE_NOW_MS / 1000;
    const json = { 'content-type': 'application/json' };
    it.each<[string, () => [string | Buffer, Record<string, string>], number, RegExp]>([
      [
        'missing signature',
        () => [body, json],
        401,
        /^missing signature: webhook-id, webhook-timestamp and webhook-signature \(Standard Webhooks\)$/,
      ],
      [
        'signed only with the release-1 header',
        () => [body, { ...json, 'x-astro-trust-signature': `t=${t},v1=${'0'.repeat(64)}` }],
        401,
        /Standard Webhooks.*X-Astro-Trust-Signature is no longer accepted/,
      ],
      [
        'bad signature',
        () => [body, { ...json, ...signStandard(testSecret('wrong'), 'msg_x', body, t) }],
        401,
        /does not match/,
      ],
      [
        'signature over another body',
        () => [body.replace('evt_x', 'evt_y'), { ...json, ...signStandard(FIXTURE_SECRET, 'msg_x', body, t) }],
        401,
        /does not match/,
      ],
      [
        'stale timestamp (replayed after 300 s)',
        () => [body, { ...json, ...signStandard(FIXTURE_SECRET, 'msg_x', body, t - 301) }],
        401,
        /stale/,
      ],
      [
        'malformed JSON',
        () => ['{"id":', { ...json, ...signStandard(FIXTURE_SECRET, 'msg_x', '{"id":', t) }],
        400,
        /not valid JSON/,
      ],
      [
        'a missing field',
        () => {
          const b = JSON.stringify({ ...JSON.parse(body), deploymentId: undefined });
          return [b, { ...json, ...signStandard(FIXTURE_SECRET, 'msg_x', b, t) }];
        },
        400,
        /deploymentId/,
      ],
      [
        'an unknown type',
        () => {
          const b = JSON.stringify({ ...JSON.parse(body), type: 'deployment.hibernated' });
          return [b, { ...json, ...signStandard(FIXTURE_SECRET, 'msg_x', b, t) }];
        },
        400,
        /^type: /,
      ],
      [
        'another organization',
        () => {
          const b = JSON.stringify({ ...JSON.parse(body), organizationId: 'other' });
          return [b, { ...json, ...signStandard(FIXTURE_SECRET, 'msg_x', b, t) }];
        },
        400,
        /organizationId/,
      ],
      [
        'wrong content type',
        () => [body, { 'content-type': 'text/plain', ...signStandard(FIXTURE_SECRET, 'msg_x', body, t) }],
        415,
        /application\/json/,
      ],
      [
        'an oversized body',
        () => {
          const b = JSON.stringify({ ...JSON.parse(body), pad: 'x'.repeat(70_000) });
          return [b, { ...json, ...signStandard(FIXTURE_SECRET, 'msg_x', b, t) }];
        },
        413,
        /too large|over/,
      ],
    ])('%s', async (_l, make, status, error) => {
      counts.clear();
      const processed = server.queue.processed;
      const [b, headers] = make();
      const r = await post('/webhooks/astro', b, headers);
      expect(r.status).toBe(status);
      expect(r.body.error).toMatch(error);
      await server.settled();
      expect(counts.size).toBe(0);
      expect(server.queue.processed).toBe(processed);
    });
  });
});
