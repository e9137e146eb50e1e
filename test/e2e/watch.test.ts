/** The watch in `serve` against moto: a Deployment added to the inventory is trusted within one watch interval, no webhook sent. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IamTrustStore } from '../../src/adapters/aws/iam';
import { LogNotifier } from '../../src/adapters/slack/notifier';
import { FileSnapshotStore } from '../../src/adapters/local/snapshot-file';
import { startServer, type Server } from '../../src/cli/serve';
import { isOwned } from '../../src/domain/policy';
import { startMoto, type Moto } from '../support/moto';
import { exampleWorld, serveOnWorld, testSecret, type World } from '../support/world';

const BILLING = 'clmh5h2rb001208lb4q0e6x8z';
const INGEST = 'clmh57jtm000008lb58fe2wmv';
const INTERVAL = 300;
let moto: Moto;
let world: World;
let server: Server;
const alerts: string[] = [];

const trusted = async (role: string) => JSON.stringify((await world.trust(role)).Statement.find(isOwned) ?? {});
async function within(ms: number, check: () => Promise<boolean>) {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 20));
  }
  return -1;
}

beforeAll(async () => {
  moto = await startMoto();
  world = await exampleWorld(moto.iam(), { withoutDeployments: [BILLING] });
  server = await startServer(
    serveOnWorld(world, new IamTrustStore(moto.iam(), { verifyDelayMs: 1 }), {
      notifier: new LogNotifier((l) => alerts.push(l)),
      secrets: [testSecret('watch')],
      watchIntervalMs: INTERVAL,
      snapshots: new FileSnapshotStore(join(world.dir, 'snapshot.json')),
    }),
  );
  await server.watchOnce();
});
afterAll(async () => {
  await server?.close();
  await moto?.stop();
});

describe('inventory watch in serve', () => {
  it('onboards a Deployment added to the inventory within one watch interval, with no webhook', async () => {
    const all = JSON.parse(readFileSync('examples/deployments.json', 'utf8')).deployments as Record<string, unknown>[];
    expect(await trusted('data-lake-reader')).not.toContain('astro-stellar-comet-3141');
    world.setInventory([...world.inventory().deployments, all.find((d) => d.id === BILLING)!]);
    const took = await within(INTERVAL * 2 + 2000, async () =>
      (await trusted('data-lake-reader')).includes('astro-stellar-comet-3141'),
    );
    expect(took).toBeGreaterThanOrEqual(0);
    expect(took).toBeLessThan(INTERVAL + 1000);
  });

  it('offboards a Deployment removed from the inventory', async () => {
    expect(await trusted('archive-writer')).toContain('astro-galactian-element-5125');
    world.setInventory(world.inventory().deployments.filter((d) => d.id !== INGEST));
    const took = await within(
      INTERVAL * 2 + 2000,
      async () => !(await trusted('archive-writer')).includes('astro-galactian-element-5125'),
    );
    expect(took).toBeGreaterThanOrEqual(0);
  });
});

describe('a listing that shrinks past maxShrinkPercent, or comes back empty (DESIGN 6.1)', () => {
  it('is refused and alerted by the watch and by every reconcile: no write, snapshot kept', async () => {
    await server.queue.drained();
    const before = JSON.parse(readFileSync(join(world.dir, 'snapshot.json'), 'utf8'));
    const trustBefore = await trusted('data-lake-reader');
    const full = world.inventory().deployments;
    for (const shrunk of [full.slice(0, Math.floor(full.length / 3)), []]) {
      alerts.length = 0;
      world.setInventory(shrunk);
      await server.watchOnce();
      // A resync of every role in the meantime (as at start or on the schedule) must not act on it either.
      await server.queue.enqueue([
        { role: 'data-lake-reader', reason: 'resync' },
        { role: 'archive-writer', reason: 'resync' },
      ]);
      await server.queue.drained();
      expect(await trusted('data-lake-reader')).toBe(trustBefore);
      expect(JSON.parse(readFileSync(join(world.dir, 'snapshot.json'), 'utf8'))).toEqual(before);
      const kind = shrunk.length === 0 ? 'empty' : 'shrunk';
      // The watch and every reconcile raise the same refusal (the timer's watch runs may raise it again); the
      // log, like Slack, takes it once (LogNotifier deduplicates by alertKey). No write.
      const refused = alerts.filter((a) => a.startsWith('alert InventoryRefused'));
      expect(refused).toEqual([expect.stringContaining(`Deployment listing refused (${kind})`)]);
      expect(alerts.filter((a) => a.startsWith('alert TrustPolicyUpdated'))).toEqual([]);
    }
    world.setInventory(full);
  });
});
