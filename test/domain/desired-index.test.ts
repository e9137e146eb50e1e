/**
 * Linear planning (DESIGN 7.4): the per-plan index finds exactly what a scan of every Deployment finds.
 * The reference below is the scan, written from the rules (a role declares a Deployment when any selector
 * matches; the first selector that matches describes it; a role without selectors declares the Deployments
 * that use it as their identity), and fast-check draws inventories and selectors to compare the two.
 */
import fc from 'fast-check';
import { parseRoleArn, type Deployment } from '../../src/domain/deployment';
import {
  declaredDeployments,
  desiredTrust,
  indexDeployments,
  matchingSelector,
  usesRoleAsIdentity,
  type RoleSpec,
  type Selector,
} from '../../src/domain/desired';
import { knownIssuersOf, planRole } from '../../src/domain/plan';

const ACCOUNT = '123456789012';
const ROLE = parseRoleArn(`arn:aws:iam::${ACCOUNT}:role/indexed-role`)!;
const IDS = ['cl-a', 'cl-b', 'cl-c', 'cl-d', 'cl-e', 'cl-f', 'cl-g', 'cl-h'];
const WORKSPACES = ['ws-1', 'ws-2', 'ws-3'];
const NAMES = ['prod-etl', 'prod-ml', 'dev-etl', 'dev-1', 'dev-10', 'staging'];
const GLOBS = ['prod-*', 'dev-?', 'dev-*', '*etl', 'staging', '*'];
const IDENTITIES = [
  undefined,
  `arn:aws:iam::${ACCOUNT}:role/indexed-role`,
  `arn:aws:iam::${ACCOUNT}:role/team/indexed-role`,
  `arn:aws:iam::${ACCOUNT}:role/shared-runner`,
  'arn:aws:iam::111928029897:role/astro-shared',
  'arn:aws:iam::999999999999:role/indexed-role',
];

const deploymentsArb = fc
  .uniqueArray(
    fc.record({
      id: fc.constantFrom(...IDS),
      name: fc.constantFrom(...NAMES),
      workspaceId: fc.constantFrom(...WORKSPACES),
      workloadIdentity: fc.constantFrom(...IDENTITIES),
      drWorkloadIdentity: fc.constantFrom(...IDENTITIES),
    }),
    { selector: (d) => d.id, maxLength: IDS.length },
  )
  .map((ds) =>
    ds.map((d, i): Deployment => ({
      id: d.id,
      name: d.name,
      namespace: `ns-${i}`,
      workspaceId: d.workspaceId,
      ...(d.workloadIdentity ? { workloadIdentity: d.workloadIdentity } : {}),
      ...(d.drWorkloadIdentity ? { drWorkloadIdentity: d.drWorkloadIdentity } : {}),
    })),
  );

const selectorArb = fc
  .record(
    {
      id: fc.constantFrom(...IDS, 'cl-none'),
      workspaceId: fc.constantFrom(...WORKSPACES, 'ws-none'),
      name: fc.constantFrom(...GLOBS),
    },
    { requiredKeys: [] },
  )
  .filter((s) => Object.keys(s).length > 0) as fc.Arbitrary<Selector>;

const specArb = fc
  .option(fc.array(selectorArb, { minLength: 1, maxLength: 4 }), { nil: undefined })
  .map((deployments): RoleSpec => ({
    name: 'indexed-role',
    roleName: 'indexed-role',
    trust: 'workload-identity',
    mode: 'enforce',
    maxPolicyChars: 10_000,
    maxRemovals: 100,
    maxRevertsPerHour: 3,
    ...(deployments ? { deployments } : {}),
    serviceAccounts: 'all',
  }));

/** The scan: every Deployment, every selector. */
function scanned(spec: RoleSpec, deployments: Deployment[]) {
  return deployments
    .flatMap((d) => {
      const matchedBy = spec.deployments
        ? matchingSelector(spec, d)
        : usesRoleAsIdentity(d, ROLE)
          ? 'uses this role as its workload identity'
          : undefined;
      return matchedBy ? [{ id: d.id, matchedBy }] : [];
    })
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

describe('the per-plan index of the inventory', () => {
  it('declares exactly the Deployments a scan declares, each with the first selector that matches', () => {
    fc.assert(
      fc.property(specArb, deploymentsArb, (spec, deployments) => {
        const index = indexDeployments(deployments);
        const found = declaredDeployments(spec, deployments, ROLE, index).map((d) => ({
          id: d.deployment.id,
          matchedBy: d.matchedBy,
        }));
        expect(found).toEqual(scanned(spec, deployments));
      }),
      { numRuns: 500, seed: 720 },
    );
  });

  it('names the same undeclared Deployments sharing a trusted identity as a scan does, in inventory order', () => {
    fc.assert(
      fc.property(specArb, deploymentsArb, (spec, deployments) => {
        const desired = desiredTrust(spec, deployments, ROLE, {
          oidcIssuers: [],
          identityAccounts: [ACCOUNT, '111928029897'],
        });
        const declaredIds = new Set(desired.declared.map((d) => d.deployment.id));
        const expected = desired.entries.flatMap((e) => {
          if (e.kind !== 'aws') return [];
          const others = deployments
            .filter((d) => !declaredIds.has(d.id) && (d.workloadIdentity === e.arn || d.drWorkloadIdentity === e.arn))
            .map((d) => ({ id: d.id, name: d.name }));
          return others.length ? [{ arn: e.arn, declaredIds: e.deploymentIds, others }] : [];
        });
        expect(desired.shared).toEqual(expected);
      }),
      { numRuns: 500, seed: 721 },
    );
  });

  it('plans a role the same with the plan-wide index as without it', () => {
    fc.assert(
      fc.property(specArb, deploymentsArb, (spec, deployments) => {
        const input = {
          spec,
          deployments,
          state: { arn: ROLE, document: { Version: '2012-10-17', Statement: [] } },
          knownIssuers: knownIssuersOf(deployments),
          rules: { oidcIssuers: [], identityAccounts: [ACCOUNT, '111928029897'] },
        };
        expect(planRole({ ...input, index: indexDeployments(deployments) })).toEqual(planRole(input));
      }),
      { numRuns: 200, seed: 722 },
    );
  });
});
