/** Safety rails: each gives the right alert and no destructive write. */
import { InventoryRefusedError } from '../../src/errors';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateRoleCommand,
  DeleteOpenIDConnectProviderCommand,
  DeleteRoleCommand,
  GetRoleCommand,
  ListOpenIDConnectProvidersCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { countCommands, IamTrustStore } from '../../src/adapters/aws/iam';
import { FileInventory } from '../../src/adapters/astro/inventory-file';
import { onIamChange } from '../../src/app/intake';
import { reconcileRole } from '../../src/app/reconcile';
import { parseConfig, type Config } from '../../src/config/config';
import type { AstroTrustEvent, ReconcileRequest } from '../../src/domain/events';
import { parseTrustPolicy } from '../../src/domain/policy';
import { ACCOUNT, apiDeployment, ISSUER } from '../support/fixtures';
import { startMoto, type Moto } from '../support/moto';
import { fixture } from '../support/world';

const glue = {
  Sid: 'AllowGlue',
  Effect: 'Allow',
  Principal: { Service: 'glue.amazonaws.com' },
  Action: 'sts:AssumeRole',
};
const orphan = {
  Sid: 'OldJenkins',
  Effect: 'Allow',
  Principal: { AWS: 'AROA5XK7QEXAMPLE2ZJ4B' },
  Action: 'sts:AssumeRole',
};
const identity = `arn:aws:iam::${ACCOUNT}:role/safety-oidc`;
const inventory = [
  ...Array.from({ length: 6 }, (_, i) => apiDeployment(i, { workspaceId: 'clwssafe' })),
  apiDeployment(50, { effectiveWorkloadIdentity: identity, workspaceId: 'clwsoidc' }),
  apiDeployment(51, {
    effectiveWorkloadIdentity: `arn:aws:iam::${ACCOUNT}:role/safety-oidc-observe`,
    workspaceId: 'clwsoidc',
  }),
];

let moto: Moto;
let iam: IAMClient;
let counts: Map<string, number>;
let dir: string;
let config: Config;
const inventoryFile = () => join(dir, 'deployments.json');
const setInventory = (items: unknown[]) =>
  writeFileSync(
    inventoryFile(),
    JSON.stringify({ deployments: items, limit: 1000, offset: 0, totalCount: items.length }),
  );

async function reconcile(request: ReconcileRequest) {
  const events: AstroTrustEvent[] = [];
  counts.clear();
  const result = await reconcileRole(
    {
      config,
      inventory: new FileInventory(inventoryFile()),
      store: new IamTrustStore(iam, { verifyDelayMs: 1 }),
      events: { publish: async (e) => void events.push(...e) },
    },
    request,
  );
  return {
    result,
    events,
    writes: counts.get('UpdateAssumeRolePolicyCommand') ?? 0,
    creates: counts.get('CreateOpenIDConnectProviderCommand') ?? 0,
  };
}
const trust = async (role: string) =>
  parseTrustPolicy((await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument);

beforeAll(async () => {
  moto = await startMoto();
  iam = moto.iam();
  counts = countCommands(iam);
  dir = mkdtempSync(join(tmpdir(), 'astro-trust-safety-'));
  setInventory(inventory);
  config = parseConfig(
    'version: 1\norganizationId: clmh59gt0000308lbgswe5fvh\ninventory: { source: file, path: ./deployments.json }\nroles:\n' +
      '  - { name: safety-wi, trust: workload-identity, deployments: [{ workspaceId: clwssafe }] }\n' +
      '  - { name: safety-oidc, trust: oidc }\n' +
      '  - { name: safety-oidc-observe, trust: oidc, mode: observe }\n' +
      '  - { name: archive-writer, trust: workload-identity, deployments: [{ workspaceId: clwssafe }] }\n',
    join(dir, 'astro-trust.yaml'),
  );
  for (const role of ['safety-wi', 'safety-oidc', 'safety-oidc-observe', 'archive-writer']) {
    await iam.send(
      new CreateRoleCommand({
        RoleName: role,
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [glue, orphan] }),
      }),
    );
  }
  for (const role of ['safety-wi', 'safety-oidc', 'archive-writer']) await reconcile({ role, reason: 'manual' });
});
afterAll(async () => {
  await moto?.stop();
});

describe('safety rails', () => {
  it('an empty inventory after a full one: refused and alerted, no write (whatever maxRemovals allows)', async () => {
    const before = await trust('safety-wi');
    setInventory([]);
    try {
      const events: AstroTrustEvent[] = [];
      counts.clear();
      await expect(
        reconcileRole(
          {
            config,
            inventory: new FileInventory(inventoryFile()),
            store: new IamTrustStore(iam, { verifyDelayMs: 1 }),
            events: { publish: async (e) => void events.push(...e) },
          },
          { role: 'safety-wi', reason: 'resync' },
        ),
      ).rejects.toThrow(InventoryRefusedError);
      expect(counts.get('UpdateAssumeRolePolicyCommand') ?? 0).toBe(0);
      expect(counts.get('GetRoleCommand') ?? 0).toBe(0);
      expect(await trust('safety-wi')).toEqual(before);
      expect(events).toEqual([
        {
          type: 'InventoryRefused',
          detail: expect.objectContaining({ kind: 'empty', role: 'safety-wi', reason: 'resync' }),
        },
      ]);
    } finally {
      setInventory(inventory);
    }
  });

  it('a deleted managed role: DriftDetected (role deleted) and ReconcileFailed, nothing written or created', async () => {
    await iam.send(new DeleteRoleCommand({ RoleName: 'archive-writer' }));
    const queued: ReconcileRequest[] = [];
    const verdict = await onIamChange(
      {
        config,
        queue: { enqueue: async (r) => void queued.push(...r) },
        events: { publish: async () => {} },
        selfArns: [],
        homeAccount: '123456789012',
      },
      fixture('iamChange/delete-role.json'),
    );
    expect('enqueued' in verdict).toBe(true);
    const { events, writes } = await reconcile(queued[0]!);
    expect(writes).toBe(0);
    expect(counts.get('CreateRoleCommand') ?? 0).toBe(0);
    expect(events.map((e) => e.type)).toEqual(['DriftDetected', 'ReconcileFailed']);
    expect(events[0]!.detail).toMatchObject({ roleDeleted: true, actor: { eventName: 'DeleteRole' } });
  });

  it('a deleted OIDC provider: alerted; enforce recreates the provider without rewriting the policy', async () => {
    const before = await trust('safety-oidc');
    const { OpenIDConnectProviderList } = await iam.send(new ListOpenIDConnectProvidersCommand({}));
    for (const p of OpenIDConnectProviderList ?? [])
      await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: p.Arn }));
    const { events, writes, creates } = await reconcile({ role: 'safety-oidc', reason: 'resync' });
    expect(writes).toBe(0);
    expect(creates).toBe(1);
    expect(await trust('safety-oidc')).toEqual(before);
    expect(events.find((e) => e.type === 'DriftDetected')!.detail).toMatchObject({
      missingOidcProviders: [ISSUER],
      action: 'reverted',
    });
  });

  it('the same in observe mode: alerted only, nothing created', async () => {
    const { OpenIDConnectProviderList } = await iam.send(new ListOpenIDConnectProvidersCommand({}));
    for (const p of OpenIDConnectProviderList ?? [])
      await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: p.Arn }));
    const { events, writes, creates } = await reconcile({ role: 'safety-oidc-observe', reason: 'resync' });
    expect(writes + creates).toBe(0);
    expect(events.find((e) => e.type === 'DriftDetected')!.detail).toMatchObject({
      missingOidcProviders: [ISSUER],
      action: 'none',
      mode: 'observe',
    });
  });

  it('an orphaned AROA principal in a foreign statement: alerted, never edited', async () => {
    const { events, writes } = await reconcile({ role: 'safety-wi', reason: 'resync' });
    expect(writes).toBe(0);
    const drift = events.find((e) => e.type === 'DriftDetected')!;
    expect(drift.detail).toMatchObject({
      action: 'none',
      unexpected: [
        expect.objectContaining({ kind: 'orphaned-principal', principal: 'AROA5XK7QEXAMPLE2ZJ4B', sid: 'OldJenkins' }),
      ],
    });
    expect((await trust('safety-wi')).Statement).toContainEqual(orphan);
  });
});
