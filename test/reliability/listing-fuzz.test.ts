/**
 * DESIGN 6.1 under hostile paging: a local server plays the Astro API v1 listing and lies in every way a
 * real one can (empty answers, a totalCount that is too low or too high, a Deployment deleted or created
 * between pages so the offsets shift, a page served twice, a duplicate id carrying an attacker's identity),
 * transiently or on every attempt. Whatever it does, the plan never removes the trust of a Deployment that
 * still exists, and never trusts the attacker's identity.
 */
import fc from 'fast-check';
import { AstroApiInventory } from '../../src/adapters/astro/api';
import type { TrustStore } from '../../src/app/ports';
import { planRoles } from '../../src/app/reconcile';
import { parseConfig } from '../../src/config/config';
import { parseRoleArn } from '../../src/domain/deployment';
import type { RoleState } from '../../src/domain/plan';
import { ownedStatements } from '../../src/domain/statements';
import { InconsistentListingError, InventoryRefusedError } from '../../src/errors';
import { apiDeployment, astroRole } from '../support/fixtures';
import { clustersPage, isClustersRequest } from '../support/astro-api';
import { fakeService, json, type FakeService } from '../support/http';
import { memoryTrustStore } from '../support/memory-store';

const CASES = 1000;
const ATTACKER = 'arn:aws:iam::999999999999:role/astro-attacker';

type Lie =
  | 'none'
  | 'empty'
  | 'total-low'
  | 'total-high'
  | 'delete-between-pages'
  | 'create-between-pages'
  | 'page-twice'
  | 'duplicate-id';

interface Scenario {
  live: Record<string, unknown>[];
  pageSize: number;
  lie: Lie;
  /** On how many listing attempts the server lies (then tells the truth). */
  lyingAttempts: number;
  /** Requests for offset 0 seen: which listing attempt this is. */
  attempt: number;
  /** Ids truly deleted while listing: their removal is legitimate. */
  deleted: Set<string>;
  victim: number;
}

let scenario: Scenario;
let api: FakeService;

function answer(url: string) {
  const s = scenario;
  const q = new URL(url, 'http://x').searchParams;
  const offset = Number(q.get('offset'));
  const limit = Number(q.get('limit'));
  if (offset === 0) s.attempt++;
  const lying = s.attempt <= s.lyingAttempts;
  let items = s.live;
  if (lying && offset > 0 && s.lie === 'delete-between-pages' && s.live.length > 1) {
    // A real deletion of an earlier Deployment: every later one shifts one place towards the start.
    const [gone] = s.live.splice(s.victim % Math.min(offset, s.live.length), 1);
    s.deleted.add(gone!.id as string);
    items = s.live;
  }
  if (lying && offset > 0 && s.lie === 'create-between-pages') {
    s.live.push(apiDeployment(500 + s.live.length + s.deleted.size, { createdAt: '2026-11-26T00:00:00Z' }));
    items = s.live;
  }
  let page = items.slice(offset, offset + limit);
  let totalCount = items.length;
  if (lying) {
    if (s.lie === 'empty') return { deployments: [], limit, offset, totalCount: 0 };
    if (s.lie === 'total-low') totalCount = Math.max(0, items.length - 1 - (s.victim % 3));
    if (s.lie === 'total-high') totalCount = items.length + 1 + (s.victim % 3);
    if (s.lie === 'page-twice' && offset >= limit) page = items.slice(offset - limit, offset);
    if (s.lie === 'duplicate-id' && offset === 0 && page.length > 0) {
      // A second copy of a listed id carrying the attacker's identity: in place of another Deployment when the
      // page has room (the count still adds up, a real Deployment is hidden), else as an extra entry.
      const source = page[s.victim % Math.max(1, page.length - 1)]!;
      const copy = { ...source, effectiveWorkloadIdentity: ATTACKER };
      page = page.length >= 2 ? [...page.slice(0, -1), copy] : [...page, copy];
    }
  }
  return { deployments: page, limit, offset, totalCount };
}

beforeAll(async () => {
  api = await fakeService((req, res) =>
    json(res, 200, isClustersRequest(req.url) ? clustersPage(req.url) : answer(req.url)),
  );
});
afterAll(async () => api.close());

const config = parseConfig(
  'version: 1\norganizationId: org\ninventory: { source: api }\nroles:\n  - { name: all-deployments, trust: workload-identity, maxRemovals: 1000, maxPolicyChars: 100000, deployments: [{ name: "*" }] }\n',
  '/fuzz/astro-trust.yaml',
);

/** IAM as read: the role trusts every Deployment that exists before the listing. */
function storeTrusting(arns: string[]): TrustStore {
  const state: RoleState = {
    arn: parseRoleArn('arn:aws:iam::123456789012:role/all-deployments')!,
    document: {
      Version: '2012-10-17',
      Statement: ownedStatements(
        'aws',
        '123456789012',
        arns.map((arn) => ({ kind: 'aws', arn, deploymentIds: [] })),
      ),
    },
  };
  return memoryTrustStore(new Map([['all-deployments', state]]));
}

describe(`hostile Deployment listings (${CASES} generated cases)`, () => {
  it('never removes the trust of a Deployment that still exists, and never trusts a duplicate', async () => {
    const tally = {
      planned: 0,
      refused: 0,
      removalsOfDeleted: 0,
      byLie: {} as Record<string, { planned: number; refused: number }>,
    };
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 24 }),
          pageSize: fc.integer({ min: 2, max: 8 }),
          lie: fc.constantFrom<Lie>(
            'none',
            'empty',
            'total-low',
            'total-high',
            'delete-between-pages',
            'create-between-pages',
            'page-twice',
            'duplicate-id',
          ),
          lyingAttempts: fc.integer({ min: 0, max: 4 }),
          victim: fc.nat(),
        }),
        async ({ n, pageSize, lie, lyingAttempts, victim }) => {
          const live = Array.from({ length: n }, (_, i) =>
            apiDeployment(i, { createdAt: new Date(Date.UTC(2026, 0, 1 + i)).toISOString() }),
          );
          scenario = { live, pageSize, lie, lyingAttempts, attempt: 0, deleted: new Set(), victim };
          const before = live.map((d) => d.effectiveWorkloadIdentity as string);
          const inventory = new AstroApiInventory({
            baseUrl: api.url,
            organizationId: 'org',
            token: 't',
            pageSize,
            attempts: 1,
            baseDelayMs: 0,
          });
          const stats = (tally.byLie[lie] ??= { planned: 0, refused: 0 });
          try {
            const plan = await planRoles({ config, inventory, store: storeTrusting(before) });
            tally.planned++;
            stats.planned++;
            const role = plan.roles[0]!;
            const stillThere = new Set(scenario.live.map((d) => d.effectiveWorkloadIdentity as string));
            for (const r of role.remove) {
              expect(stillThere.has(r.principal)).toBe(false);
              tally.removalsOfDeleted++;
            }
            expect(role.add.map((a) => a.principal)).not.toContain(ATTACKER);
            expect(role.proposed!.Statement.flatMap((s) => JSON.stringify(s))).not.toContain(ATTACKER);
          } catch (err) {
            // Refused: nothing was planned, so nothing can be written. Only the listing checks may refuse.
            if (!(err instanceof InconsistentListingError) && !(err instanceof InventoryRefusedError)) throw err;
            tally.refused++;
            stats.refused++;
          }
        },
      ),
      { numRuns: CASES },
    );
    if (process.env.ASTRO_TRUST_REPORT) console.log(JSON.stringify(tally));
    // The generator did exercise both outcomes.
    expect(tally.planned).toBeGreaterThan(CASES / 10);
    expect(tally.refused).toBeGreaterThan(CASES / 10);
  });

  it('a listing that lies once is taken again and used; one that keeps lying is refused naming the check', async () => {
    const live = Array.from({ length: 9 }, (_, i) => apiDeployment(i));
    scenario = { live, pageSize: 3, lie: 'page-twice', lyingAttempts: 1, attempt: 0, deleted: new Set(), victim: 0 };
    const inv = new AstroApiInventory({
      baseUrl: api.url,
      organizationId: 'org',
      token: 't',
      pageSize: 3,
      attempts: 1,
      baseDelayMs: 0,
    });
    expect((await inv.list()).deployments).toHaveLength(9);
    expect(scenario.attempt).toBe(2);

    scenario = { live, pageSize: 3, lie: 'total-low', lyingAttempts: 99, attempt: 0, deleted: new Set(), victim: 0 };
    await expect(inv.list()).rejects.toThrow(
      /inconsistent 3 times in a row \(last: the listing has \d+ Deployments but reports totalCount 8\); nothing is changed/,
    );
    expect(scenario.attempt).toBe(3);
  });

  it('the fake still tells the truth when asked to (the oracle is honest)', async () => {
    scenario = {
      live: [apiDeployment(1)],
      pageSize: 2,
      lie: 'none',
      lyingAttempts: 0,
      attempt: 0,
      deleted: new Set(),
      victim: 0,
    };
    const plan = await planRoles({
      config,
      inventory: new AstroApiInventory({
        baseUrl: api.url,
        organizationId: 'org',
        token: 't',
        pageSize: 2,
        attempts: 1,
        baseDelayMs: 0,
      }),
      store: storeTrusting([astroRole('gone-1')]),
    });
    expect(plan.roles[0]!.remove.map((r) => r.principal)).toEqual([astroRole('gone-1')]);
  });
});
