/** The inventory watch against a local server playing the Astro API, over a sequence of inventories. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AstroApiInventory } from '../../src/adapters/astro/api';
import { FileSnapshotStore } from '../../src/adapters/local/snapshot-file';
import { watchInventory } from '../../src/app/watch';
import { parseConfig } from '../../src/config/config';
import type { ReconcileRequest } from '../../src/domain/events';
import { apiDeployment, astroRole } from '../support/fixtures';
import { clustersPage, isClustersRequest } from '../support/astro-api';
import { fakeService, json, type FakeService } from '../support/http';

const config = parseConfig(
  'version: 1\norganizationId: org\ninventory: { source: api }\nroles:\n' +
    '  - { name: by-workspace, trust: workload-identity, deployments: [{ workspaceId: clws0000000001 }] }\n' +
    '  - { name: by-name, trust: workload-identity, deployments: [{ name: "prod-*" }] }\n' +
    '  - { name: other, trust: workload-identity, deployments: [{ workspaceId: clwsnobody }] }\n',
  'astro-trust.yaml',
);

let api: FakeService;
let current: Record<string, unknown>[] = [];
let failing = false;
beforeAll(async () => {
  api = await fakeService((req, res) => {
    if (failing) return json(res, 500, {});
    if (isClustersRequest(req.url)) return json(res, 200, clustersPage(req.url));
    const q = new URL(req.url, 'http://x').searchParams;
    const offset = Number(q.get('offset'));
    json(res, 200, { deployments: current.slice(offset, offset + 2), limit: 2, offset, totalCount: current.length });
  });
});
afterAll(async () => api.close());

describe('watchInventory', () => {
  it('emits exactly the right events over add, change identity, failure, delete, and nothing for no change', async () => {
    const snapshots = new FileSnapshotStore(join(mkdtempSync(join(tmpdir(), 'astro-trust-watch-')), 'snapshot.json'));
    const queued: ReconcileRequest[][] = [];
    const deps = {
      config,
      inventory: new AstroApiInventory({
        baseUrl: api.url,
        organizationId: 'org',
        token: 't',
        pageSize: 2,
        attempts: 2,
        baseDelayMs: 1,
        maxDelayMs: 2,
      }),
      snapshots,
      queue: { enqueue: async (r: ReconcileRequest[]) => void queued.push(r) },
      events: { publish: async () => {} },
    };
    const run = async () => {
      const r = await watchInventory(deps);
      return {
        first: r.firstRun,
        changes: r.changes.map(
          (c) => `${c.type} ${c.deploymentId}${c.changed.length ? ` ${c.changed.join(',')}` : ''}`,
        ),
        roles: r.requests.map((q) => q.role).sort(),
      };
    };
    const a = apiDeployment(1);
    const b = apiDeployment(2, { workspaceId: 'clwsother' });
    const c = apiDeployment(3, { workspaceId: 'clwsother', name: 'prod-billing' });
    current = [a, b];

    expect(await run()).toEqual({ first: true, changes: [], roles: [] });
    expect(await run()).toEqual({ first: false, changes: [], roles: [] });

    current = [a, b, c];
    expect(await run()).toEqual({ first: false, changes: [`deployment.created ${c.id}`], roles: ['by-name'] });

    current = [{ ...a, effectiveWorkloadIdentity: astroRole('moved-1') }, b, c];
    expect(await run()).toEqual({
      first: false,
      changes: [`deployment.updated ${a.id} workloadIdentity`],
      roles: ['by-workspace'],
    });

    failing = true;
    current = [b, c];
    await expect(run()).rejects.toThrow(/HTTP 500/);
    failing = false;

    // The failure emitted nothing and saved nothing: the deletion is seen on the next good run.
    expect(await run()).toEqual({ first: false, changes: [`deployment.deleted ${a.id}`], roles: ['by-workspace'] });
    // A Deployment moving out of a role's selectors affects the roles on both sides.
    current = [b, { ...c, name: 'dev-billing', workspaceId: 'clws0000000001' }];
    expect(await run()).toEqual({
      first: false,
      changes: [`deployment.updated ${c.id} name,workspaceId`],
      roles: ['by-name', 'by-workspace'],
    });
    expect(await run()).toEqual({ first: false, changes: [], roles: [] });
    // One enqueue per run with changes; none for the unchanged runs or the failed one.
    expect(queued).toHaveLength(4);
  });
});
