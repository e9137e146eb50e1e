/**
 * Cost at scale of the event paths (issue 11): Astro listings and IAM calls per webhook and per resync,
 * R roles x D Deployments against moto, the release-1 wiring next to today's. Release 1: every
 * `deployment.updated` queued every role, and every reconcile listed the whole inventory and read its role.
 * Now: the webhook queues the roles that declare the Deployment before or after (the watch's snapshot),
 * lists once and shares the listing (120 s) with the reconciles it queues; the CLI reads many roles in
 * ListRoles pages. The same use cases run in both columns; only the wiring differs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import { countCommands, IamTrustStore } from '../src/adapters/aws/iam';
import { FileInventory } from '../src/adapters/astro/inventory-file';
import type { InventorySource, ReconcileQueue } from '../src/app/ports';
import { MemoryListingStore, RecentListingInventory } from '../src/adapters/astro/recent-listing';
import { onDeploymentEvent } from '../src/app/intake';
import { applyPlan, planRoles, reconcileRole } from '../src/app/reconcile';
import { parseConfig } from '../src/config/config';
import type { ReconcileRequest } from '../src/domain/events';
import { startMoto } from '../test/support/moto';
import { table } from './lib';

export async function benchCost(R: number, D: number) {
  const WORKSPACES = Math.max(1, Math.ceil(D / 10));
  const moto = await startMoto();
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-cost-'));
  try {
    const inventoryFile = join(dir, 'deployments.json');
    const deployments = Array.from({ length: D }, (_, i) => ({
      id: `clcost${String(i).padStart(8, '0')}`,
      name: `cost-${i}`,
      namespace: `cost-orbit-${i}`,
      workspaceId: `clws${i % WORKSPACES}`,
      airflowVersion: '3.0.2',
      effectiveWorkloadIdentity: `arn:aws:iam::111928029897:role/astro-cost-orbit-${i}`,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    }));
    writeFileSync(inventoryFile, JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: D }));
    const yaml = `version: 1\norganizationId: bench\ninventory: { source: file, path: ./deployments.json }\nroles:\n${Array.from({ length: R }, (_, i) => `  - { name: cost-role-${i}, trust: workload-identity, maxPolicyChars: 4096, deployments: [{ workspaceId: clws${i % WORKSPACES} }] }`).join('\n')}\n`;
    const config = parseConfig(yaml, join(dir, 'astro-trust.yaml'));
    const iam = moto.iam();
    const glue = {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    };
    for (let i = 0; i < R; i++)
      await iam.send(
        new CreateRoleCommand({ RoleName: `cost-role-${i}`, AssumeRolePolicyDocument: JSON.stringify(glue) }),
      );
    const counts = countCommands(iam);
    let listings = 0;
    const file = new FileInventory(inventoryFile);
    const counted: InventorySource = { description: file.description, list: () => (listings++, file.list()) };
    // The Lambda functions read each role with GetRole (their policies name the declared roles only).
    const lambdaStore = new IamTrustStore(iam, { verifyDelayMs: 1, listRolesFrom: Number.POSITIVE_INFINITY });
    const cliStore = new IamTrustStore(iam, { verifyDelayMs: 1 });
    const events = { publish: async () => {} };
    // Converge first: the events below find every role in sync, as on a normal day.
    await applyPlan(await planRoles({ config, inventory: file, store: cliStore }), cliStore);

    const measure = async (run: () => Promise<void>) => {
      listings = 0;
      counts.clear();
      await run();
      return {
        listings,
        reads: (counts.get('GetRoleCommand') ?? 0) + (counts.get('ListRolesCommand') ?? 0),
        calls: [...counts.values()].reduce((a, b) => a + b, 0),
      };
    };
    const drain = async (requests: ReconcileRequest[], inventory: InventorySource) => {
      for (const r of requests) await reconcileRole({ config, inventory, store: lambdaStore, events }, r);
    };
    const collect = (): ReconcileQueue & { requests: ReconcileRequest[] } => {
      const requests: ReconcileRequest[] = [];
      return { requests, enqueue: async (r) => void requests.push(...r) };
    };
    const updated = {
      id: 'evt-cost-1',
      type: 'deployment.updated' as const,
      deploymentId: deployments[3]!.id,
      organizationId: 'bench',
      occurredAt: new Date().toISOString(),
    };
    const snapshots = { load: async () => (await file.list()).deployments, save: async () => {} };

    const rows: (string | number)[][] = [];
    const row = (what: string, wiring: string, queued: number, m: { listings: number; reads: number; calls: number }) =>
      rows.push([what, wiring, queued, m.listings, m.reads, m.calls]);

    let queue = collect();
    row(
      'webhook deployment.updated',
      'release 1 (Lambda)',
      R,
      await measure(async () => {
        await onDeploymentEvent({ config, inventory: counted, queue }, updated);
        await drain(queue.requests, counted);
      }),
    );
    queue = collect();
    row(
      'webhook deployment.updated',
      'now (Lambda)',
      0,
      await measure(async () => {
        const shared = new RecentListingInventory(counted, new MemoryListingStore(), 120_000);
        await onDeploymentEvent(
          { config, inventory: { description: 'fresh', list: () => shared.fresh() }, queue, snapshots },
          updated,
        );
        await drain(queue.requests, shared);
      }),
    );
    rows[rows.length - 1]![2] = queue.requests.length;
    const all = config.roles.map((r): ReconcileRequest => ({ role: r.name, reason: 'resync' }));
    row('resync (schedule)', 'release 1 (Lambda)', R, await measure(() => drain(all, counted)));
    row(
      'resync (schedule)',
      'now (Lambda)',
      R,
      await measure(() => drain(all, new RecentListingInventory(counted, new MemoryListingStore(), 120_000))),
    );
    row(
      'resync (apply)',
      'release 1 (CLI)',
      0,
      await measure(async () => void (await planRoles({ config, inventory: counted, store: lambdaStore }))),
    );
    row(
      'resync (apply)',
      'now (CLI)',
      0,
      await measure(async () => void (await planRoles({ config, inventory: counted, store: cliStore }))),
    );
    console.log(
      `astro-trust bench: cost per event, ${R} roles x ${D} Deployments in ${WORKSPACES} workspaces, every role in sync, moto_server on loopback`,
    );
    table(
      'Astro listings and IAM calls per event (release 1 wiring vs now)',
      [
        'event',
        'wiring',
        'reconciles queued',
        'Astro listings',
        'IAM role reads (GetRole + ListRoles)',
        'IAM calls in all',
      ],
      rows,
    );
  } finally {
    await moto.stop();
  }
}
