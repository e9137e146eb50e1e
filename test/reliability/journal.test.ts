/**
 * Nothing accepted is lost (DESIGN 7.2): `astro-trust serve` as a real process, killed with SIGKILL at the
 * points that used to lose the alert, then started again on the same state directory (the default:
 * `.astro-trust` beside the config). After each restart the drift alert reaches Slack exactly once, naming
 * the actor and the CloudTrail event id. A state directory on a full disk (files that are /dev/full) does not
 * stop the alert either, and a webhook replayed after a restart does no work twice.
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { signStandard } from '../../src/app/webhook';
import { freePort } from '../support/moto';
import { startServe, waitFor } from '../support/serve-process';
import { ACTOR, deployments, INTRUDER, serveWorld, type ServeWorld } from '../support/serve-world';
import { testSecret } from '../support/world';

const SECRET = testSecret('journal');
const TOKEN = 'journal-events-token';

let w: ServeWorld;
beforeAll(async () => {
  w = await serveWorld('journal', { proxy: true });
});
afterEach(() => w.hang(false));
afterAll(async () => w?.close());

describe('serve killed with SIGKILL, then started again on the same state directory', () => {
  it('while the drift alert waits on a Slack that never answers: after the restart it is posted once, with the actor and the event id', async () => {
    const s = await w.setup('kill-slack');
    w.hang(true);
    const first = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    await w.resynced(first);
    await w.handEdit(s.role);
    expect(await w.cloudTrail(first, s.role, 'evt-kill-slack')).toBe(202);
    // The alert is on its way: Slack has read it and holds the connection.
    expect(await waitFor(() => w.driftPosts('evt-kill-slack').length > 0, 20_000)).toBe(true);
    await first.kill();
    expect(w.owned(await w.trust(s.role))).not.toContain(INTRUDER);

    w.hang(false);
    const from = w.slack.requests.length;
    const second = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    expect(await waitFor(() => w.driftPosts('evt-kill-slack', from).length > 0, 20_000)).toBe(true);
    await w.quiet(second);
    await second.stop();
    const posts = w.driftPosts('evt-kill-slack', from);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain(ACTOR);
    expect(posts[0]).toContain('astro-trust statements restored');
  }, 90_000);

  it('after the 202 to a CloudTrail event, before its reconcile: the restart runs the drift check with its actor and event id, not a bare resync', async () => {
    const s = await w.setup('kill-202');
    // IAM answers nothing for a minute: the drift check behind the 202 cannot finish before the kill.
    w.proxy!.chaos = { rate: 1, kinds: ['slow'], slowMs: 60_000, seed: 3 };
    const first = await startServe(s.args, w.env(), w.proxy!.url, await freePort());
    await w.handEdit(s.role);
    expect(await w.cloudTrail(first, s.role, 'evt-kill-202')).toBe(202);
    await first.kill();
    w.proxy!.chaos = undefined;
    expect(w.owned(await w.trust(s.role))).toContain(INTRUDER);

    const from = w.slack.requests.length;
    const second = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    expect(await waitFor(() => w.driftPosts('evt-kill-202', from).length > 0, 20_000)).toBe(true);
    await w.quiet(second);
    await second.stop();
    expect(w.owned(await w.trust(s.role))).not.toContain(INTRUDER);
    const posts = w.driftPosts('evt-kill-202', from);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain(ACTOR);
    expect(posts[0]).toContain(INTRUDER);
  }, 90_000);

  it('after the IAM write, before the alert was recorded: the restart finds the role in sync and still delivers the drift alert once', async () => {
    const s = await w.setup('kill-write');
    // The read-back after astro-trust's write never returns: the write is done, its alerts are not yet recorded.
    w.proxy!.faults.push({
      action: 'GetRole',
      times: 1,
      status: 500,
      code: 'ServiceFailure',
      message: 'never sent',
      match: (params) => params.get('RoleName') === s.role && w.proxy!.actions.includes('UpdateAssumeRolePolicy'),
      before: () => new Promise(() => {}),
    });
    w.proxy!.actions.length = 0;
    const first = await startServe(s.args, w.env(), w.proxy!.url, await freePort());
    await w.resynced(first);
    await w.handEdit(s.role);
    expect(await w.cloudTrail(first, s.role, 'evt-kill-write')).toBe(202);
    const written = () => w.proxy!.actions.indexOf('UpdateAssumeRolePolicy');
    expect(await waitFor(() => written() >= 0 && w.proxy!.actions.lastIndexOf('GetRole') > written(), 20_000)).toBe(
      true,
    );
    await first.kill();
    w.proxy!.faults.length = 0;
    expect(w.owned(await w.trust(s.role))).not.toContain(INTRUDER);

    const from = w.slack.requests.length;
    const second = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    expect(await waitFor(() => w.driftPosts('evt-kill-write', from).length > 0, 20_000)).toBe(true);
    await w.quiet(second);
    await second.stop();
    const posts = w.driftPosts('evt-kill-write', from);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain(ACTOR);
    expect(posts[0]).toContain(INTRUDER);
  }, 90_000);

  it('a signed webhook replayed after the restart, inside the window, is answered 202 and does no work', async () => {
    const s = await w.setup('kill-replay');
    const first = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
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

    const second = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    const replay = await fetch(`${second.url}/webhooks/astro`, { method: 'POST', headers, body });
    expect(replay.status).toBe(202);
    expect(await replay.json()).toEqual({ accepted: 'evt_replayed', duplicate: true });
    await second.stop();
  }, 60_000);
});

describe('serve with its journal on disk', () => {
  it('keeps its answers to bad input (401, 400, 413, 415), never a 5xx', async () => {
    const s = await w.setup('bad-input');
    const server = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
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
    const s = await w.setup('full-disk');
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
    const server = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    await w.resynced(server);
    await w.handEdit(s.role);
    const status = await w.cloudTrail(server, s.role, 'evt-full');
    expect(await waitFor(() => w.driftPosts('evt-full').length > 0, 20_000)).toBe(true);
    await w.quiet(server);
    await server.stop();
    // Handled (the alert went out, the role is reverted), but not on disk: 503, so EventBridge sends it again.
    expect(status).toBe(503);
    expect(w.owned(await w.trust(s.role))).not.toContain(INTRUDER);
    const posts = w.driftPosts('evt-full');
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain(ACTOR);
    expect(server.stderr()).toMatch(/ERROR state write failed; carrying on from memory .*ENOSPC/);
    expect(server.stderr()).not.toMatch(/alert not delivered/);
  }, 60_000);
});
