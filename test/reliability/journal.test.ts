/**
 * Nothing accepted is lost (DESIGN 7.2): `astro-trust serve` as a real process, killed with SIGKILL at the
 * points that used to lose the alert, then started again on the same state directory (the default:
 * `.astro-trust` beside the config). After each restart the drift alert reaches Slack exactly once, naming
 * the actor and the CloudTrail event id. A state directory on a full disk (files that are /dev/full) does not
 * stop the alert either, and a webhook replayed after a restart does no work twice.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, UpdateAssumeRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { IamTrustStore } from '../../src/adapters/aws/iam';
import { signStandard } from '../../src/app/webhook';
import { isOwned, parseTrustPolicy, type PolicyDocument } from '../../src/domain/policy';
import { cli } from '../support/cli';
import { faultProxy, type FaultProxy } from '../support/fault-proxy';
import { apiDeployment, astroRole } from '../support/fixtures';
import { fakeService, type FakeService } from '../support/http';
import { freePort, startMoto, type Moto } from '../support/moto';
import { killAllServe, startServe, waitFor, type ServeProcess } from '../support/serve-process';
import { testSecret } from '../support/world';

const SECRET = testSecret('journal');
const TOKEN = 'journal-events-token';
const ACTOR = 'arn:aws:sts::123456789012:assumed-role/Admin/mallory';
const INTRUDER = astroRole('intruder-0666');
const deployments = [1, 2, 3].map((i) => apiDeployment(i));

let moto: Moto;
let iam: IAMClient;
let proxy: FaultProxy;
let slack: FakeService;
let slackHangs = false;

beforeAll(async () => {
  moto = await startMoto();
  iam = moto.iam();
  proxy = await faultProxy(moto.endpoint);
  // Plays Slack's incoming webhook: answers ok, or (slackHangs) reads the post and never answers.
  slack = await fakeService((_req, res) => {
    if (slackHangs) return;
    res.writeHead(200);
    res.end('ok');
  });
});
afterAll(async () => {
  killAllServe();
  await proxy?.close();
  await slack?.close();
  await moto?.stop();
});

interface Setup {
  dir: string;
  role: string;
  /** The flags every start uses; the state directory is the default one, `.astro-trust` beside the config. */
  args: string[];
}

/** A config with one role, its Deployments, the role in IAM already converged (`apply`). */
async function setup(role: string): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), `astro-trust-${role}-`));
  writeFileSync(join(dir, 'deployments.json'), JSON.stringify({ deployments, totalCount: deployments.length }));
  writeFileSync(
    join(dir, 'astro-trust.yaml'),
    `version: 1\norganizationId: org\ninventory: { source: file, path: ./deployments.json }\nroles:\n  - { name: ${role}, trust: workload-identity, deployments: [{ workspaceId: clws0000000001 }] }\n`,
  );
  await iam.send(
    new CreateRoleCommand({
      RoleName: role,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
  const applied = await cli(['apply', '--config', join(dir, 'astro-trust.yaml'), '--yes'], {
    adapters: { store: new IamTrustStore(iam, { verifyDelayMs: 1 }) },
  });
  expect(applied.code).toBe(0);
  const state = join(dir, '.astro-trust');
  return {
    dir,
    role,
    // --snapshot and --dead-letters name the same directory explicitly (release 2 defaulted them to the
    // working directory), so that every run of this file keeps its state where the test can see it.
    args: [
      '--config',
      join(dir, 'astro-trust.yaml'),
      '--resync-interval',
      '0',
      '--watch-interval',
      '0',
      '--snapshot',
      join(state, 'inventory-snapshot.json'),
      '--dead-letters',
      join(state, 'dead-letters.jsonl'),
    ],
  };
}

const env = () => ({
  ASTRO_TRUST_WEBHOOK_SECRET: SECRET,
  ASTRO_TRUST_EVENTS_TOKEN: TOKEN,
  SLACK_WEBHOOK_URL: slack.url,
  // moto's account: serve would otherwise ask STS at start, through the proxy that IAM's slowness is played by.
  ASTRO_TRUST_HOME_ACCOUNT: '123456789012',
});

const trust = async (role: string) =>
  parseTrustPolicy((await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument);
const owned = (doc: PolicyDocument) =>
  ([] as string[]).concat((doc.Statement.find(isOwned)?.Principal as { AWS?: string | string[] })?.AWS ?? []);

/** Someone adds an intruder to astro-trust's statement by hand (straight in moto, not through serve's proxy). */
async function handEdit(role: string) {
  const doc = await trust(role);
  (doc.Statement.find(isOwned)!.Principal as { AWS: string[] }).AWS = [...owned(doc), INTRUDER];
  await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role, PolicyDocument: JSON.stringify(doc) }));
}

/** The CloudTrail event EventBridge would forward for that hand edit. */
async function cloudTrail(server: ServeProcess, role: string, eventId: string): Promise<number> {
  const res = await fetch(`${server.url}/events/eventbridge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({
      source: 'aws.iam',
      'detail-type': 'AWS API Call via CloudTrail',
      detail: {
        eventName: 'UpdateAssumeRolePolicy',
        eventID: eventId,
        eventTime: new Date().toISOString(),
        sourceIPAddress: '203.0.113.24',
        requestParameters: { roleName: role },
        userIdentity: { type: 'AssumedRole', arn: ACTOR },
      },
    }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Slack posts since `from` that are the drift alert for this CloudTrail event. */
const driftPosts = (eventId: string, from = 0) =>
  slack.requests
    .slice(from)
    .map((r) => r.body)
    .filter((b) => b.includes('Trust drift') && b.includes(`CloudTrail ${eventId}`));

const health = async (server: ServeProcess) =>
  (await (await fetch(`${server.url}/healthz`)).json()) as { queued: number; processed: number; alertsQueued: number };

/** Waits until the restarted serve has nothing queued or being delivered. */
async function quiet(server: ServeProcess) {
  await waitFor(async () => {
    const h = await health(server);
    return h.queued === 0 && h.alertsQueued === 0;
  }, 20_000);
}

/**
 * Waits for the resync serve queues at start: a hand edit made while it runs would be reverted by it, before
 * the CloudTrail event's drift check, which would then find nothing to alert.
 */
async function resynced(server: ServeProcess) {
  expect(
    await waitFor(async () => {
      const h = await health(server);
      return h.queued === 0 && h.processed >= 1;
    }, 20_000),
  ).toBe(true);
}

describe('serve killed with SIGKILL, then started again on the same state directory', () => {
  it('while the drift alert waits on a Slack that never answers: after the restart it is posted once, with the actor and the event id', async () => {
    const s = await setup('kill-slack');
    slackHangs = true;
    const first = await startServe(s.args, env(), moto.endpoint, await freePort());
    await resynced(first);
    await handEdit(s.role);
    expect(await cloudTrail(first, s.role, 'evt-kill-slack')).toBe(202);
    // The alert is on its way: Slack has read it and holds the connection.
    expect(await waitFor(() => driftPosts('evt-kill-slack').length > 0, 20_000)).toBe(true);
    await first.kill();
    expect(owned(await trust(s.role))).not.toContain(INTRUDER);

    slackHangs = false;
    const from = slack.requests.length;
    const second = await startServe(s.args, env(), moto.endpoint, await freePort());
    expect(await waitFor(() => driftPosts('evt-kill-slack', from).length > 0, 20_000)).toBe(true);
    await quiet(second);
    await second.stop();
    const posts = driftPosts('evt-kill-slack', from);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain(ACTOR);
    expect(posts[0]).toContain('astro-trust statements restored');
  }, 90_000);

  it('after the 202 to a CloudTrail event, before its reconcile: the restart runs the drift check with its actor and event id, not a bare resync', async () => {
    const s = await setup('kill-202');
    // IAM answers nothing for a minute: the drift check behind the 202 cannot finish before the kill.
    proxy.chaos = { rate: 1, kinds: ['slow'], slowMs: 60_000, seed: 3 };
    const first = await startServe(s.args, env(), proxy.url, await freePort());
    await handEdit(s.role);
    expect(await cloudTrail(first, s.role, 'evt-kill-202')).toBe(202);
    await first.kill();
    proxy.chaos = undefined;
    expect(owned(await trust(s.role))).toContain(INTRUDER);

    const from = slack.requests.length;
    const second = await startServe(s.args, env(), moto.endpoint, await freePort());
    expect(await waitFor(() => driftPosts('evt-kill-202', from).length > 0, 20_000)).toBe(true);
    await quiet(second);
    await second.stop();
    expect(owned(await trust(s.role))).not.toContain(INTRUDER);
    const posts = driftPosts('evt-kill-202', from);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain(ACTOR);
    expect(posts[0]).toContain(INTRUDER);
  }, 90_000);

  it('after the IAM write, before the alert was recorded: the restart finds the role in sync and still delivers the drift alert once', async () => {
    const s = await setup('kill-write');
    // The read-back after astro-trust's write never returns: the write is done, its alerts are not yet recorded.
    proxy.faults.push({
      action: 'GetRole',
      times: 1,
      status: 500,
      code: 'ServiceFailure',
      message: 'never sent',
      match: (params) => params.get('RoleName') === s.role && proxy.actions.includes('UpdateAssumeRolePolicy'),
      before: () => new Promise(() => {}),
    });
    proxy.actions.length = 0;
    const first = await startServe(s.args, env(), proxy.url, await freePort());
    await resynced(first);
    await handEdit(s.role);
    expect(await cloudTrail(first, s.role, 'evt-kill-write')).toBe(202);
    const written = () => proxy.actions.indexOf('UpdateAssumeRolePolicy');
    expect(await waitFor(() => written() >= 0 && proxy.actions.lastIndexOf('GetRole') > written(), 20_000)).toBe(true);
    await first.kill();
    proxy.faults.length = 0;
    expect(owned(await trust(s.role))).not.toContain(INTRUDER);

    const from = slack.requests.length;
    const second = await startServe(s.args, env(), moto.endpoint, await freePort());
    expect(await waitFor(() => driftPosts('evt-kill-write', from).length > 0, 20_000)).toBe(true);
    await quiet(second);
    await second.stop();
    const posts = driftPosts('evt-kill-write', from);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain(ACTOR);
    expect(posts[0]).toContain(INTRUDER);
  }, 90_000);

  it('a signed webhook replayed after the restart, inside the window, is answered 202 and does no work', async () => {
    const s = await setup('kill-replay');
    const first = await startServe(s.args, env(), moto.endpoint, await freePort());
    const body = JSON.stringify({
      id: 'evt_replayed',
      type: 'deployment.updated',
      deploymentId: deployments[0]!.id,
      organizationId: 'org',
      occurredAt: new Date().toISOString(),
    });
    const headers = {
      'content-type': 'application/json',
      ...signStandard(SECRET, 'msg_replayed', body, Math.floor(Date.now() / 1000)),
    };
    const accepted = await fetch(`${first.url}/webhooks/astro`, { method: 'POST', headers, body });
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toEqual({ accepted: 'evt_replayed', roles: [s.role] });
    await first.kill();

    const second = await startServe(s.args, env(), moto.endpoint, await freePort());
    const replay = await fetch(`${second.url}/webhooks/astro`, { method: 'POST', headers, body });
    expect(replay.status).toBe(202);
    expect(await replay.json()).toEqual({ accepted: 'evt_replayed', duplicate: true });
    await second.stop();
  }, 60_000);
});

describe('serve with its journal on disk', () => {
  it('keeps its answers to bad input (401, 400, 413, 415), never a 5xx', async () => {
    const s = await setup('bad-input');
    const server = await startServe(s.args, env(), moto.endpoint, await freePort());
    const body = JSON.stringify({
      id: 'evt_bad',
      type: 'deployment.created',
      deploymentId: deployments[0]!.id,
      organizationId: 'org',
      occurredAt: new Date().toISOString(),
    });
    const t = Math.floor(Date.now() / 1000);
    const json = { 'content-type': 'application/json' };
    const cases: [string | Buffer, Record<string, string>, number][] = [
      [body, json, 401],
      [body, { ...json, 'x-astro-trust-signature': `t=${t},v1=${'0'.repeat(64)}` }, 401],
      [body, { ...json, ...signStandard(testSecret('other'), 'm1', body, t) }, 401],
      [body, { ...json, ...signStandard(SECRET, 'm2', body, t - 301) }, 401],
      ['{"id":', { ...json, ...signStandard(SECRET, 'm3', '{"id":', t) }, 400],
      [body, { 'content-type': 'text/plain', ...signStandard(SECRET, 'm4', body, t) }, 415],
      ['x'.repeat(70_000), { ...json, ...signStandard(SECRET, 'm5', 'x'.repeat(70_000), t) }, 413],
    ];
    const statuses: number[] = [];
    for (const [b, headers] of cases) {
      const res = await fetch(`${server.url}/webhooks/astro`, { method: 'POST', headers, body: b });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    const events = await fetch(`${server.url}/events/eventbridge`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${TOKEN}` },
      body: '{"not": "an event"',
    });
    statuses.push(events.status);
    await server.stop();
    expect(statuses).toEqual([...cases.map(([, , status]) => status), 400]);
  }, 60_000);
});

describe('serve with its state directory on a full disk', () => {
  it('posts the drift alert with its actor and event id, logs the failed writes, and asks EventBridge to send again', async () => {
    const s = await setup('full-disk');
    // Every file serve (release 2 or 3) writes there is /dev/full: each write fails with ENOSPC.
    const state = join(s.dir, '.astro-trust');
    mkdirSync(state);
    for (const f of [
      'journal.jsonl',
      'journal.jsonl.tmp',
      'alerts-posted.json.tmp',
      'dead-letters.jsonl',
      'inventory-snapshot.json.tmp',
    ])
      symlinkSync('/dev/full', join(state, f));
    const server = await startServe(s.args, env(), moto.endpoint, await freePort());
    await resynced(server);
    await handEdit(s.role);
    const status = await cloudTrail(server, s.role, 'evt-full');
    expect(await waitFor(() => driftPosts('evt-full').length > 0, 20_000)).toBe(true);
    await quiet(server);
    await server.stop();
    // Handled (the alert went out, the role is reverted), but not on disk: 503, so EventBridge sends it again.
    expect(status).toBe(503);
    expect(owned(await trust(s.role))).not.toContain(INTRUDER);
    const posts = driftPosts('evt-full');
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain(ACTOR);
    expect(server.stderr()).toMatch(/ERROR state write failed; carrying on from memory .*ENOSPC/);
    expect(server.stderr()).not.toMatch(/alert not delivered/);
  }, 60_000);
});
