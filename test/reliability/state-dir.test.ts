/**
 * serve's state directory under attack (DESIGN 7.2): a second serve started on it, a disk that is full when
 * serve starts, a journal with lines of the wrong shape. `astro-trust serve` runs as a real process, killed
 * with SIGKILL, then started again on the same state directory (the default, `.astro-trust` beside the config).
 */

import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../support/moto';
import { startServe, waitFor, type ServeProcess } from '../support/serve-process';
import { ACTOR, INTRUDER, serveWorld, type ServeWorld, type Setup } from '../support/serve-world';

let w: ServeWorld;
beforeAll(async () => {
  w = await serveWorld('state-dir');
});
afterEach(() => w.hang(false));
afterAll(async () => w?.close());

/** Starts serve expecting it to refuse; resolves to what it wrote (a serve that does start is killed). */
async function refusedStart(args: string[], port: number): Promise<string> {
  try {
    const started = await startServe(args, w.env(), w.moto.endpoint, port);
    await started.kill();
    throw new Error(`serve started on ${started.url} although it should have refused`);
  } catch (err) {
    const message = (err as Error).message;
    if (message.includes('although it should have refused')) throw err;
    return message;
  }
}

/**
 * serve accepts a CloudTrail event for a hand edit while Slack never answers, and is killed with the drift
 * alert on its way: the alert is owed in the journal.
 */
async function killedOwingAlert(s: Setup, eventId: string, before?: (first: ServeProcess) => Promise<void>) {
  w.hang(true);
  const first = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
  await w.resynced(first);
  await before?.(first);
  await w.handEdit(s.role);
  expect(await w.cloudTrail(first, s.role, eventId)).toBe(202);
  expect(await waitFor(() => w.driftPosts(eventId).length > 0, 20_000)).toBe(true);
  await first.kill();
  w.hang(false);
  expect(w.owned(await w.trust(s.role))).not.toContain(INTRUDER);
}

describe('a second serve on the same state directory', () => {
  it('started by mistake while the first runs (its port taken) leaves the first one journal whole: an alert accepted afterwards survives a kill', async () => {
    const s = await w.setup('second-same-port');
    const from = w.slack.requests.length;
    await killedOwingAlert(s, 'evt-second-same-port', async (first) => {
      // The same command again: it cannot listen (the port is the first one's), but it must not touch the journal.
      const port = Number(new URL(first.url).port);
      await refusedStart(s.args, port);
    });
    const restarted = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    expect(await waitFor(() => w.driftPosts('evt-second-same-port', from + 1).length > 0, 20_000)).toBe(true);
    await w.quiet(restarted);
    await restarted.stop();
    const posts = w.driftPosts('evt-second-same-port', from + 1);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain(ACTOR);
  }, 90_000);

  it('on another port refuses to start, naming the state directory and the process that holds it; once that one is gone, serve starts', async () => {
    const s = await w.setup('second-other-port');
    const first = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    await w.resynced(first);
    const journal = readFileSync(join(s.state, 'journal.jsonl'), 'utf8');
    const refused = await refusedStart(s.args, await freePort());
    expect(refused).toContain(s.state);
    expect(refused).toContain(`pid ${first.child.pid}`);
    // The refused start read and rewrote nothing.
    expect(readFileSync(join(s.state, 'journal.jsonl'), 'utf8')).toBe(journal);
    await first.kill();
    // Killed, the first one leaves its lock behind: the next start sees that its holder is gone.
    expect(existsSync(join(s.state, 'serve.lock'))).toBe(true);
    const next = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    await w.resynced(next);
    await next.stop();
    // Stopped, serve removes its lock.
    expect(existsSync(join(s.state, 'serve.lock'))).toBe(false);
  }, 90_000);
});

describe('serve started on a full disk', () => {
  it('still starts and delivers the alert it owed, once, with its actor; the failed rewrite of the journal is logged', async () => {
    const s = await w.setup('full-at-start');
    const from = w.slack.requests.length;
    await killedOwingAlert(s, 'evt-full-at-start');
    // The disk filled up while serve was down: the rewrite of the journal at start fails with ENOSPC.
    symlinkSync('/dev/full', join(s.state, 'journal.jsonl.tmp'));
    const second = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    expect(await waitFor(() => w.driftPosts('evt-full-at-start', from + 1).length > 0, 20_000)).toBe(true);
    await w.quiet(second);
    await second.stop();
    const posts = w.driftPosts('evt-full-at-start', from + 1);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain(ACTOR);
    expect(second.stderr()).toMatch(/state write failed.*ENOSPC/);
  }, 90_000);
});

describe('serve on a full disk, told of a change to its own role', () => {
  it('posts the SelfTampering alert and answers 503, so that EventBridge sends the event again (the alert is not on disk)', async () => {
    const s = await w.setup('self-full');
    mkdirSync(s.state);
    for (const f of ['journal.jsonl', 'journal.jsonl.tmp', 'dead-letters.jsonl', 'inventory-snapshot.json.tmp'])
      symlinkSync('/dev/full', join(s.state, f));
    const own = 'astro-trust-hub-reconcile';
    const server = await startServe(
      s.args,
      { ...w.env(), ASTRO_TRUST_OWN_ROLE_ARNS: `arn:aws:iam::123456789012:role/${own}` },
      w.moto.endpoint,
      await freePort(),
    );
    await w.resynced(server);
    const res = await fetch(`${server.url}/events/eventbridge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${w.env().ASTRO_TRUST_EVENTS_TOKEN}` },
      body: JSON.stringify({
        source: 'aws.iam',
        'detail-type': 'AWS API Call via CloudTrail',
        detail: {
          eventName: 'PutRolePolicy',
          eventID: 'evt-self-full',
          eventTime: new Date().toISOString(),
          requestParameters: { roleName: own, policyName: 'widen' },
          userIdentity: { type: 'AssumedRole', arn: ACTOR },
        },
      }),
    });
    await res.arrayBuffer();
    expect(await waitFor(() => w.slack.requests.some((r) => r.body.includes(own)), 20_000)).toBe(true);
    await w.quiet(server);
    await server.stop();
    // Posted from memory, but not recorded: a kill before the post would lose it, so EventBridge must resend.
    expect(res.status).toBe(503);
    expect(w.slack.requests.filter((r) => r.body.includes(own))).toHaveLength(1);
  }, 60_000);
});

describe('serve started on a journal with lines of the wrong shape (a hand edit, a bad copy)', () => {
  it('starts, says how many lines it skipped, delivers the alert it owed, and still reconciles and alerts', async () => {
    const s = await w.setup('wrong-shape');
    const from = w.slack.requests.length;
    await killedOwingAlert(s, 'evt-wrong-shape-1');
    const file = join(s.state, 'journal.jsonl');
    const bad = [
      'null',
      '[]',
      '{"op":"work"}',
      '{"op":"work","entry":{"id":"no-request"}}',
      '{"op":"done","ids":null}',
      '{"op":"intent"}',
      '{"op":"alert","id":"no-event","event":null}',
      '{"op":"alert","id":"no-detail","event":{"type":"SelfTampering","detail":null}}',
      '{"op":"sizes","sizes":{}}',
    ];
    // In the middle of the file, not only at its end.
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    writeFileSync(file, [lines[0], ...bad, ...lines.slice(1)].join('\n') + '\n');
    const second = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
    expect(await waitFor(() => w.driftPosts('evt-wrong-shape-1', from + 1).length > 0, 20_000)).toBe(true);
    await w.quiet(second);
    // Alerts still flow and reconciles still run after it.
    await w.handEdit(s.role);
    expect(await w.cloudTrail(second, s.role, 'evt-wrong-shape-2')).toBe(202);
    expect(await waitFor(() => w.driftPosts('evt-wrong-shape-2').length > 0, 20_000)).toBe(true);
    await w.quiet(second);
    await second.stop();
    expect(w.driftPosts('evt-wrong-shape-1', from + 1)).toHaveLength(1);
    expect(w.owned(await w.trust(s.role))).not.toContain(INTRUDER);
    expect(second.stderr()).toMatch(
      new RegExp(`WARN  journal: skipped records of the wrong shape .*skipped=${bad.length}`),
    );
  }, 90_000);
});

describe('serve stopped the moment it says it listens', () => {
  it('drains and exits 0 (SIGTERM is handled from before the line that says so), releasing its state directory', async () => {
    const s = await w.setup('term-at-start');
    for (let i = 0; i < 10; i++) {
      const server = await startServe(s.args, w.env(), w.moto.endpoint, await freePort());
      await server.stop();
      expect([server.child.exitCode, server.child.signalCode]).toEqual([0, null]);
      expect(server.stderr()).toContain('INFO  stopped');
      expect(existsSync(join(s.state, 'serve.lock'))).toBe(false);
    }
  }, 90_000);
});
