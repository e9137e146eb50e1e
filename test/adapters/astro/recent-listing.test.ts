/** One Astro listing per event (issue 11): a webhook lists fresh and shares; the reconciles it fans out to reuse it. */
import { MemoryListingStore, RecentListingInventory } from '../../../src/adapters/astro/recent-listing';
import { onDeploymentEvent } from '../../../src/app/intake';
import { reconcileRole } from '../../../src/app/reconcile';
import { parseConfig } from '../../../src/config/config';
import type { InventorySource } from '../../../src/app/ports';
import type { ReconcileRequest } from '../../../src/domain/events';
import { apiDeployment, deployments, roleState } from '../../support/fixtures';
import { memoryTrustStore } from '../../support/memory-store';

const ROLES = 200;
const config = parseConfig(
  'version: 1\norganizationId: o\ninventory: { source: api }\nroles:\n' +
    Array.from(
      { length: ROLES },
      (_, i) => `  - { name: role-${i}, trust: workload-identity, deployments: [{ name: "*" }] }`,
    ).join('\n') +
    '\n',
  '/x/c.yaml',
);

describe('a shared recent listing', () => {
  it(`a webhook fanning out to ${ROLES} roles costs one Astro listing, not ${ROLES}; after the stated age a reconcile lists again`, async () => {
    let listings = 0;
    let now = 1_000_000;
    const astro: InventorySource = {
      description: 'Astro API',
      list: async () => (listings++, { deployments: deployments(apiDeployment(1)), warnings: [] }),
    };
    const store = new MemoryListingStore();
    const shared = new RecentListingInventory(astro, store, 120_000, () => now);
    const queued: ReconcileRequest[] = [];
    await onDeploymentEvent(
      {
        config,
        inventory: { description: 'fresh', list: () => shared.fresh() },
        queue: { enqueue: async (r) => void queued.push(...r) },
      },
      {
        id: 'e',
        type: 'deployment.deleted',
        deploymentId: 'x',
        organizationId: 'o',
        occurredAt: '2026-11-26T00:00:00Z',
      },
    );
    expect(queued).toHaveLength(ROLES);
    const iam = memoryTrustStore(new Map(config.roles.map((r) => [r.name, roleState(r.name, [])])));
    for (const request of queued)
      await reconcileRole({ config, inventory: shared, store: iam, events: { publish: async () => {} } }, request);
    expect(listings).toBe(1);
    now += 120_001;
    await reconcileRole({ config, inventory: shared, store: iam, events: { publish: async () => {} } }, queued[0]!);
    expect(listings).toBe(2);
    if (process.env.ASTRO_TRUST_REPORT)
      console.log(JSON.stringify({ roles: ROLES, listingsPerWebhookBefore: ROLES + 1, listingsPerWebhookNow: 1 }));
  });
});
