/**
 * A role is its account and name (DESIGN 3.6): the use cases select roles by that key, so a request for
 * one role never reads, plans or writes a same-named role of another account.
 */
import { reconcileRole, planRoles, selectRoles } from '../../src/app/reconcile';
import { parseConfig } from '../../src/config/config';
import { parseRoleArn } from '../../src/domain/deployment';
import type { RoleState } from '../../src/domain/plan';
import type { AstroTrustEvent } from '../../src/domain/events';
import { resolveOneRole, resolveRoleKeys } from '../../src/app/roles';
import { memoryTrustStore } from '../support/memory-store';

const config = parseConfig(
  `version: 1
organizationId: org
inventory: { source: file, path: ./none.json }
roles:
  - { name: data-lake-reader, trust: workload-identity, deployments: [{ workspaceId: a }] }
  - { name: data-lake-reader, account: "444455556666", trust: workload-identity, deployments: [{ workspaceId: b }] }
  - { name: etl-runner, trust: oidc }
`,
  '/cfg/astro-trust.yaml',
);
const state = (account: string, name: string): RoleState => ({
  arn: parseRoleArn(`arn:aws:iam::${account}:role/${name}`)!,
  document: { Version: '2012-10-17', Statement: [] },
});
const inventory = {
  description: 'test',
  list: async () => ({
    deployments: [
      {
        id: 'd1',
        name: 'd1',
        namespace: 'orbit-1',
        workspaceId: 'a',
        cloudProvider: 'AWS',
        workloadIdentity: 'arn:aws:iam::111928029897:role/astro-orbit-1',
      },
    ],
    warnings: [],
  }),
};

describe('roles by account and name', () => {
  it('a reconcile request for the home role reads and plans that role alone', async () => {
    const roles = new Map([
      ['data-lake-reader', state('123456789012', 'data-lake-reader')],
      ['444455556666/data-lake-reader', state('444455556666', 'data-lake-reader')],
    ]);
    const store = memoryTrustStore(roles);
    const read: string[] = [];
    const readRoles = store.readRoles.bind(store);
    store.readRoles = async (names, p) => (read.push(...names), readRoles(names, p));
    const events: AstroTrustEvent[] = [];
    const result = await reconcileRole(
      { config, inventory: inventory as never, store, events: { publish: async (e) => void events.push(...e) } },
      { role: 'data-lake-reader', reason: 'resync' },
    );
    expect(read).toEqual(['data-lake-reader']);
    expect(result.plan!.role).toBe('data-lake-reader');
    expect(new Set(events.map((e) => (e.detail as { role: string }).role))).toEqual(new Set(['data-lake-reader']));
    const plan = await planRoles({ config, inventory: inventory as never, store }, ['444455556666/data-lake-reader']);
    expect(plan.roles.map((r) => r.role)).toEqual(['444455556666/data-lake-reader']);
  });

  it('selectRoles takes keys exactly; --role means a role key everywhere (DESIGN 7.3)', async () => {
    expect(selectRoles(config, ['data-lake-reader']).map((r) => r.name)).toEqual(['data-lake-reader']);
    // A bare name is that name in every account.
    expect(await resolveRoleKeys(config, ['data-lake-reader'])).toEqual([
      'data-lake-reader',
      '444455556666/data-lake-reader',
    ]);
    expect(await resolveRoleKeys(config, ['444455556666/data-lake-reader', 'etl-runner'])).toEqual([
      '444455556666/data-lake-reader',
      'etl-runner',
    ]);
    // <account>/<name> of a role declared without account: the home account's role, and only it.
    const home = async () => '123456789012';
    expect(await resolveRoleKeys(config, ['123456789012/data-lake-reader'], home)).toEqual(['data-lake-reader']);
    await expect(resolveRoleKeys(config, ['999999999999/data-lake-reader'], home)).rejects.toThrow(
      /--role 999999999999\/data-lake-reader: not declared/,
    );
    await expect(resolveRoleKeys(config, ['nope'])).rejects.toThrow(
      /--role nope: not declared in \/cfg\/astro-trust.yaml; declared roles: data-lake-reader, 444455556666\/data-lake-reader, etl-runner/,
    );
  });

  it('explain takes one role: a name declared in two accounts asks for a key, listing keys that each select one role', async () => {
    const home = async () => '123456789012';
    await expect(resolveOneRole(config, 'data-lake-reader', home)).rejects.toThrow(
      '--role data-lake-reader: data-lake-reader is declared in 2 accounts; explain one role at a time: --role 123456789012/data-lake-reader or --role 444455556666/data-lake-reader',
    );
    // Each key it lists selects exactly one role.
    expect((await resolveOneRole(config, '123456789012/data-lake-reader', home)).name).toBe('data-lake-reader');
    expect((await resolveOneRole(config, '444455556666/data-lake-reader', home)).name).toBe(
      '444455556666/data-lake-reader',
    );
    expect((await resolveOneRole(config, 'etl-runner', home)).name).toBe('etl-runner');
  });
});
