/** `astro-trust serve` as a command: environment checks, periodic resync, graceful stop. */
import { IamTrustStore } from '../../src/adapters/iam';
import { isOwned } from '../../src/domain/policy';
import { cli } from '../support/cli';
import { startMoto, type Moto } from '../support/moto';
import { exampleWorld, type World } from '../support/world';

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

  it('resyncs periodically without any event, answers /healthz, and drains on stop', async () => {
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let url = '';
    const running = cli(['serve', '--config', world.configFile, '--port', '0', '--resync-interval', '0.002', '--snapshot', `${world.dir}/snapshot.json`], {
      env: { ASTRO_TRUST_WEBHOOK_SECRET: 'x' },
      adapters: { store: new IamTrustStore(moto.iam(), { verifyDelayMs: 1 }) },
      untilStopped: () => stopped,
      onListening: (u) => (url = u),
    });
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
    expect(r.stderr).toMatch(/reconciled archive-writer \(resync\): changes -> written/);
    expect(r.stderr).toMatch(/stopping: draining the reconcile queue\n[\s\S]*Z stopped\n$/);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
