/** `astro-trust serve` as a command: environment checks, periodic resync, graceful stop. */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { IamTrustStore } from '../../src/adapters/aws/iam';
import { isOwned } from '../../src/domain/policy';
import { cli } from '../support/cli';
import { startMoto, type Moto } from '../support/moto';
import { exampleWorld, FIXTURE_SECRET, testSecret, type World } from '../support/world';
import { signStandard } from '../../src/app/webhook';
import { loadConfig } from '../../src/config/config';

let moto: Moto;
let world: World;
beforeAll(async () => {
  moto = await startMoto();
  world = await exampleWorld(moto.iam());
});
afterAll(async () => {
  await moto?.stop();
});

describe('astro-trust serve', () => {
  it('refuses to start without a webhook secret', async () => {
    const r = await cli(['serve', '--config', world.configFile], { env: {} });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ASTRO_TRUST_WEBHOOK_SECRET is not set/);
  });

  // DESIGN 7.2: a secret no Standard Webhooks library can sign with is refused at start, with the format and
  // the command that makes one; the secret itself is never printed.
  it.each([
    ['a hex secret (what docs/deploy.md used to say)', 'a3'.repeat(32), /the value does not start with whsec_/],
    ['whsec_ and no base64', 'whsec_not*base64!', /the value is not base64 after whsec_/],
    ['whsec_ and base64 of 16 bytes', `whsec_${Buffer.alloc(16, 7).toString('base64')}`, /the value holds 16 bytes/],
    ['a good secret and a bad one (rotation)', `${testSecret('good')},whsec_short`, /value 2 of 2 is not base64/],
  ])('refuses %s, naming the format and the command that makes one', async (_l, secret, problem) => {
    let listening = false;
    const r = await cli(['serve', '--config', world.configFile, '--port', '0'], {
      env: { ASTRO_TRUST_WEBHOOK_SECRET: secret },
      onListening: () => (listening = true),
      untilStopped: async () => {},
    });
    expect(listening).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(problem);
    expect(r.stderr).toContain('expected whsec_ followed by base64 of at least 24 bytes');
    expect(r.stderr).toContain('echo "whsec_$(openssl rand -base64 32)"');
    for (const part of secret.split(',')) expect(r.stderr).not.toContain(part);
  });

  it('resyncs periodically without any event, answers /healthz, and drains on stop', async () => {
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let url = '';
    const running = cli(
      [
        'serve',
        '--config',
        world.configFile,
        '--port',
        '0',
        '--resync-interval',
        '0.002',
        '--snapshot',
        `${world.dir}/snapshot.json`,
      ],
      {
        // The account serve runs in (learnt with sts:GetCallerIdentity when unset): moto's.
        env: { ASTRO_TRUST_WEBHOOK_SECRET: testSecret('serve-cli'), ASTRO_TRUST_HOME_ACCOUNT: '123456789012' },
        adapters: { store: new IamTrustStore(moto.iam(), { verifyDelayMs: 1 }) },
        untilStopped: () => stopped,
        onListening: (u) => (url = u),
      },
    );
    const deadline = Date.now() + 20_000;
    const offboarded = async () => {
      const doc = await world.trust('archive-writer');
      return !JSON.stringify(doc.Statement.find(isOwned)).includes('astro-deleted-nova-9999');
    };
    while (!(url && (await offboarded())) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await offboarded()).toBe(true);
    const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string; processed: number };
    expect(health.status).toBe('ok');
    expect(health.processed).toBeGreaterThan(0);
    stop();
    const r = await running;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(r.stderr).toMatch(/Z INFO {2}reconciled role=archive-writer reason=resync status=changes outcome=written/);
    expect(r.stderr).toMatch(/stopping: draining the reconcile queue\n[\s\S]*Z INFO {2}stopped\n$/);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('--log-format json: one JSON object per line with level, message and the ids that tie a reconcile to its webhook', async () => {
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let url = '';
    const running = cli(
      [
        'serve',
        '--config',
        world.configFile,
        '--port',
        '0',
        '--resync-interval',
        '0',
        '--watch-interval',
        '0',
        '--log-format',
        'json',
        // State of its own: the alerts the first run logged are remembered in its state directory, as Slack's are.
        '--state-dir',
        mkdtempSync(join(world.dir, 'json-run-')),
      ],
      {
        env: { ASTRO_TRUST_WEBHOOK_SECRET: FIXTURE_SECRET, ASTRO_TRUST_HOME_ACCOUNT: '123456789012' },
        adapters: { store: new IamTrustStore(moto.iam(), { verifyDelayMs: 1 }) },
        untilStopped: () => stopped,
        onListening: (u) => (url = u),
      },
    );
    while (!url) await new Promise((r) => setTimeout(r, 20));
    try {
      const deploymentId = String(world.inventory().deployments[0]!.id);
      const body = JSON.stringify({
        id: 'evt-log-1',
        type: 'deployment.created',
        deploymentId,
        organizationId: loadConfig(world.configFile).organizationId,
        occurredAt: new Date().toISOString(),
      });
      const sent = await fetch(`${url}/webhooks/astro`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...signStandard(FIXTURE_SECRET, 'msg_log_1', body, Math.floor(Date.now() / 1000)),
        },
        body,
      });
      expect(sent.status).toBe(202);
      const forged = await fetch(`${url}/webhooks/astro`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': 'x',
          'webhook-timestamp': '1',
          'webhook-signature': 'v1,AAAA',
        },
        body,
      });
      expect(forged.status).toBe(401);
    } finally {
      stop();
    }
    const r = await running;
    expect(r.code).toBe(0);
    const lines = r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const l of lines) {
      expect(['DEBUG', 'INFO', 'WARN', 'ERROR']).toContain(l.level);
      expect(typeof l.message).toBe('string');
      expect(Number.isNaN(Date.parse(String(l.timestamp)))).toBe(false);
    }
    const accepted = lines.find((l) => l.message === 'webhook accepted')!;
    expect(accepted).toMatchObject({
      level: 'INFO',
      webhookId: 'msg_log_1',
      id: 'evt-log-1',
      type: 'deployment.created',
    });
    const reconciled = lines.filter((l) => l.message === 'reconciled' && l.reason === 'webhook');
    expect(reconciled.length).toBe(accepted.roles);
    for (const l of reconciled) expect(l).toMatchObject({ sourceEventId: 'evt-log-1', role: expect.any(String) });
    expect(lines.find((l) => l.message === 'webhook rejected')).toMatchObject({ level: 'WARN', status: 401 });
    // Without SLACK_WEBHOOK_URL an alert is a log entry with the whole event as fields, not only its headline.
    const alert = lines.find((l) => typeof l.alert === 'string')!;
    expect(alert).toMatchObject({
      level: 'WARN',
      message: expect.stringMatching(/^alert: /),
      role: expect.any(String),
      detail: expect.objectContaining({ role: alert.role, mode: expect.any(String) }),
    });
  });
});
