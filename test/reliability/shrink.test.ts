/**
 * The shrink guard over time (DESIGN 7.2): a listing is compared with the largest one seen within
 * `inventory.shrinkWindow` (24 h), not only with the last one, so a collapse in small steps, each under
 * `maxShrinkPercent`, is refused like a sudden one; the sizes survive a restart of `serve`. A watch snapshot
 * without a `deployments` array is unreadable: refused, never taken for "no previous listing".
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import { IamTrustStore } from '../../src/adapters/aws/iam';
import { FileInventory } from '../../src/adapters/astro/inventory-file';
import { FileSnapshotStore } from '../../src/adapters/local/snapshot-file';
import { LogNotifier } from '../../src/adapters/slack/notifier';
import { startServer, type Server, type ServeOptions } from '../../src/cli/serve';
import { parseConfig } from '../../src/config/config';
import { isOwned, parseTrustPolicy } from '../../src/domain/policy';
import { apiDeployment } from '../support/fixtures';
import { startMoto, type Moto } from '../support/moto';
import { testSecret } from '../support/world';

const STEPS = [15, 10, 5, 3, 2, 1];
let moto: Moto;
let iam: IAMClient;

beforeAll(async () => {
  moto = await startMoto();
  iam = moto.iam();
});
afterAll(async () => {
  await moto?.stop();
});

/** A role trusting the Deployments of one workspace, 20 of them in the inventory at first. */
async function world(role: string, extra = '') {
  const dir = mkdtempSync(join(tmpdir(), `astro-trust-${role}-`));
  const all = Array.from({ length: 20 }, (_, i) => apiDeployment(200 + i, { workspaceId: `clws${role}` }));
  const setInventory = (n: number) =>
    writeFileSync(join(dir, 'deployments.json'), JSON.stringify({ deployments: all.slice(0, n), totalCount: n }));
  setInventory(20);
  const config = parseConfig(
    `version: 1\norganizationId: org\ninventory: { source: file, path: ./deployments.json }\nroles:\n  - { name: ${role}, trust: workload-identity, maxPolicyChars: 20000${extra}, deployments: [{ workspaceId: clws${role} }] }\n`,
    join(dir, 'astro-trust.yaml'),
  );
  await iam.send(
    new CreateRoleCommand({
      RoleName: role,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
    }),
  );
  const trusted = async () => {
    const doc = parseTrustPolicy(
      (await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument,
    );
    return ([] as string[]).concat((doc.Statement.find(isOwned)?.Principal as { AWS?: string[] })?.AWS ?? []).length;
  };
  const alerts: string[] = [];
  const options = (over: Partial<ServeOptions> = {}): ServeOptions => ({
    config,
    store: new IamTrustStore(iam, { verifyDelayMs: 1 }),
    inventory: new FileInventory(join(dir, 'deployments.json')),
    notifier: new LogNotifier((l) => alerts.push(l)),
    secrets: [testSecret('shrink')],
    homeAccount: '123456789012',
    selfArns: [],
    port: 0,
    resyncIntervalMs: 0,
    resyncAtStart: false,
    snapshots: new FileSnapshotStore(join(dir, 'snapshot.json')),
    ...over,
  });
  return { dir, role, setInventory, trusted, alerts, options };
}

/** One step: the inventory shrinks, the watch runs and queues what it affects, the reconciles finish. */
async function step(server: Server, w: Awaited<ReturnType<typeof world>>, n: number) {
  w.setInventory(n);
  await server.watchOnce();
  await server.queue.enqueue([{ role: w.role, reason: 'resync' }]);
  await server.settled();
}

describe('a collapse in small steps (20, 15, 10, 5, 3, 2, 1 Deployments), each under maxShrinkPercent (50)', () => {
  it('is refused once it is more than 50% below the largest listing of the last 24 h: 10 of 20 stay trusted', async () => {
    const w = await world('collapse');
    const server = await startServer(w.options());
    try {
      await server.watchOnce();
      await server.queue.enqueue([{ role: w.role, reason: 'resync' }]);
      await server.settled();
      expect(await w.trusted()).toBe(20);
      const counts: number[] = [];
      for (const n of STEPS) {
        await step(server, w, n);
        counts.push(await w.trusted());
      }
      expect(counts).toEqual([15, 10, 10, 10, 10, 10]);
      const refused = w.alerts.filter((a) => a.startsWith('alert InventoryRefused'));
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]).toMatch(
        /5 Deployments, 75% fewer than the 20 of the largest listing in the last 24h \(inventory.shrinkWindow\)/,
      );
    } finally {
      await server.close();
    }
  });

  it('the sizes are in the state directory: across a restart of serve, the collapse is still refused', async () => {
    const { Journal } = await import('../../src/adapters/local/journal.js');
    const w = await world('collapse-restart');
    const stateDir = join(w.dir, '.astro-trust');
    let journal = await Journal.open(stateDir);
    let server = await startServer(w.options({ journal }));
    await server.watchOnce();
    await server.queue.enqueue([{ role: w.role, reason: 'resync' }]);
    await server.settled();
    await step(server, w, 15);
    await step(server, w, 10);
    expect(await w.trusted()).toBe(10);
    await server.close();
    await journal.close();

    journal = await Journal.open(stateDir);
    server = await startServer(w.options({ journal }));
    try {
      for (const n of [5, 3, 2, 1]) await step(server, w, n);
      expect(await w.trusted()).toBe(10);
    } finally {
      await server.close();
      await journal.close();
    }
  });
});

describe('a watch snapshot without a deployments array', () => {
  it.each([
    ['{}', '{}'],
    ['{"deployments": null}', '{"deployments": null}'],
  ])('%s is unreadable: the reconcile is refused and alerted, nothing removed', async (_l, text) => {
    const w = await world(`unreadable-${text.length}`, ', maxRemovals: 100');
    // IAM trusts the 20; then the listing drops to 1 while the snapshot to compare with is unreadable.
    const first = await startServer(w.options({ snapshots: undefined }));
    await first.queue.enqueue([{ role: w.role, reason: 'resync' }]);
    await first.settled();
    await first.close();
    expect(await w.trusted()).toBe(20);
    writeFileSync(join(w.dir, 'snapshot.json'), text);
    w.setInventory(1);
    const server = await startServer(w.options());
    try {
      await server.queue.enqueue([{ role: w.role, reason: 'resync' }]);
      await server.settled();
      expect(await w.trusted()).toBe(20);
      expect(w.alerts.find((a) => a.startsWith('alert InventoryRefused'))).toMatch(
        /"kind":"unreadable".*has no \\"deployments\\" array/,
      );
    } finally {
      await server.close();
    }
  });
});
