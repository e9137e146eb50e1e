/** A moto account loaded with the bundled example's roles, and a copy of its config and inventory to edit. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetRoleCommand, UpdateAssumeRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { parseTrustPolicy, type PolicyDocument } from '../../src/domain/policy';
import { parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { FileInventory } from '../../src/adapters/astro/inventory-file';
import { LogNotifier } from '../../src/adapters/slack/notifier';
import type { TrustStore } from '../../src/app/ports';
import type { ServeOptions } from '../../src/cli/serve';
import { loadConfig } from '../../src/config/config';
import { createRolesFromSnapshot } from './moto-roles';

export interface World {
  dir: string;
  configFile: string;
  inventoryFile: string;
  inventory(): { deployments: Record<string, unknown>[] };
  setInventory(deployments: Record<string, unknown>[]): void;
  trust(role: string): Promise<PolicyDocument>;
  handEdit(role: string, doc: PolicyDocument): Promise<void>;
}

/**
 * The example config with the roles of the home account only: moto's default credentials act in it. The
 * role in a second account (DESIGN 3.6) has its own suite (test/e2e/accounts.test.ts), with a member role.
 */
export function homeAccountExample(): string {
  const doc = parseDocument(readFileSync('examples/astro-trust.yaml', 'utf8'));
  const roles = doc.get('roles') as YAMLSeq<YAMLMap>;
  roles.items = roles.items.filter((r) => !r.has('account'));
  return doc.toString();
}

export async function exampleWorld(iam: IAMClient, opts: { withoutDeployments?: string[] } = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-world-'));
  const configFile = join(dir, 'astro-trust.yaml');
  const inventoryFile = join(dir, 'deployments.json');
  writeFileSync(configFile, homeAccountExample());
  const inv = JSON.parse(readFileSync('examples/deployments.json', 'utf8'));
  const setInventory = (deployments: Record<string, unknown>[]) =>
    writeFileSync(
      inventoryFile,
      JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: deployments.length }),
    );
  setInventory(inv.deployments.filter((d: { id: string }) => !opts.withoutDeployments?.includes(d.id)));
  await createRolesFromSnapshot(iam, 'examples/iam-snapshot.json');
  return {
    dir,
    configFile,
    inventoryFile,
    inventory: () => JSON.parse(readFileSync(inventoryFile, 'utf8')),
    setInventory,
    trust: async (role) =>
      parseTrustPolicy((await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument),
    handEdit: async (role, doc) => {
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role, PolicyDocument: JSON.stringify(doc) }));
    },
  };
}

export function fixture<T = Record<string, unknown>>(path: string): T {
  return JSON.parse(readFileSync(join('events', path), 'utf8'));
}

/** The webhook secret the fixtures in events/webhook/ are signed with (`whsec_` + base64 of 32 bytes). */
export const FIXTURE_SECRET = 'whsec_YXN0cm8tdHJ1c3QtdGVzdC1maXh0dXJlLXNlY3JldCE=';

/** A valid webhook secret (`whsec_` + base64 of 32 bytes) made from a label, one per test file. */
export function testSecret(label: string): string {
  return `whsec_${Buffer.from(label.padEnd(32, '!').slice(0, 32)).toString('base64')}`;
}
export const FIXTURE_NOW_MS = 1795633205 * 1000;

/**
 * `serve`'s options on the example world: its config and inventory, alerts to a silent log, no periodic resync,
 * moto's account, any free port; `over` sets the rest (secrets, the notifier, the clock, resyncAtStart...).
 */
export function serveOnWorld(
  world: World,
  store: TrustStore,
  over: Partial<ServeOptions> & Pick<ServeOptions, 'secrets'>,
): ServeOptions {
  return {
    config: loadConfig(world.configFile),
    store,
    inventory: new FileInventory(world.inventoryFile),
    notifier: new LogNotifier(() => {}),
    selfArns: [],
    homeAccount: '123456789012', // moto's account
    port: 0,
    resyncIntervalMs: 0,
    ...over,
  };
}
