/**
 * Apply over several accounts (issue 12): 3 accounts x R roles (the hub's own, and two member accounts
 * reached by assuming their member role) next to one account holding all 3 x R roles, against moto. IAM calls
 * per account and STS AssumeRole calls, from scratch and converged.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { memberTrustStore } from '../src/adapters/aws/accounts';
import { countCommands, IamTrustStore } from '../src/adapters/aws/iam';
import { FileInventory } from '../src/adapters/astro/inventory-file';
import { applyPlan, planRoles } from '../src/app/reconcile';
import { parseConfig } from '../src/config/config';
import { routedTrustStore } from '../src/wiring/accounts';
import { faultProxy } from '../test/support/fault-proxy';
import { startMoto, TEST_CREDENTIALS } from '../test/support/moto';
import { table } from './lib';

const HOME = '123456789012';
const MEMBERS = ['444455556666', '555566667777'];
const GLUE = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
};

export async function benchAccounts(R: number, D: number) {
  const moto = await startMoto();
  const proxy = await faultProxy(moto.endpoint); // counts STS and IAM actions on the wire
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-accounts-'));
  const rows: (string | number)[][] = [];
  try {
    const WORKSPACES = Math.max(1, Math.ceil(D / 10));
    const deployments = Array.from({ length: D }, (_, i) => ({
      id: `clacct${String(i).padStart(8, '0')}`,
      name: `acct-${i}`,
      namespace: `acct-orbit-${i}`,
      workspaceId: `clws${i % WORKSPACES}`,
      airflowVersion: '3.0.2',
      effectiveWorkloadIdentity: `arn:aws:iam::111928029897:role/astro-acct-orbit-${i}`,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    }));
    writeFileSync(
      join(dir, 'deployments.json'),
      JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: D }),
    );
    const inventory = new FileInventory(join(dir, 'deployments.json'));
    const role = (name: string, i: number, account?: string) =>
      `  - { name: ${name}, ${account ? `account: "${account}", ` : ''}trust: workload-identity, maxPolicyChars: 4096, deployments: [{ workspaceId: clws${i % WORKSPACES} }] }`;
    const configOf = (lines: string[]) =>
      parseConfig(
        `version: 1\norganizationId: bench\ninventory: { source: file, path: ./deployments.json }\nroles:\n${lines.join('\n')}\n`,
        join(dir, 'astro-trust.yaml'),
      );

    const iamIn = async (account: string) => (account === HOME ? moto.iam() : moto.iamIn(account));

    const run = async (setup: string, accountsOf: string[], config: ReturnType<typeof configOf>) => {
      await moto.reset();
      for (const account of accountsOf) {
        const iam = await iamIn(account);
        for (const r of config.roles.filter((x) => (x.account ?? HOME) === account))
          await iam.send(
            new CreateRoleCommand({ RoleName: r.roleName, AssumeRolePolicyDocument: JSON.stringify(GLUE) }),
          );
      }
      const home = new IAMClient({
        region: 'us-east-1',
        endpoint: proxy.url,
        credentials: TEST_CREDENTIALS,
        maxAttempts: 1,
      });
      const counts = new Map<string, Map<string, number>>([[HOME, countCommands(home)]]);
      const store = routedTrustStore(config, {
        home: new IamTrustStore(home, { verifyDelayMs: 1 }),
        member: (account) =>
          memberTrustStore(account, {
            memberRoleName: 'astro-trust-member',
            access: 'write',
            region: 'us-east-1',
            endpoint: proxy.url,
            masterCredentials: TEST_CREDENTIALS,
            timings: { verifyDelayMs: 1 },
            onClient: (c) => counts.set(account, countCommands(c)),
          }),
        homeAccount: async () => HOME,
      });
      for (const phase of ['scratch', 'converged']) {
        for (const c of counts.values()) c.clear();
        proxy.actions.length = 0;
        const started = process.hrtime.bigint();
        const plan = await planRoles({ config, inventory, store });
        const result = await applyPlan(plan, store);
        const ms = Math.round(Number(process.hrtime.bigint() - started) / 1e6);
        if (!result.converged) throw new Error(`${setup} ${phase}: not converged`);
        const assumed = proxy.actions.filter((a) => a === 'AssumeRole').length;
        for (const account of accountsOf) {
          const c = counts.get(account) ?? new Map();
          const n = (k: string) => c.get(`${k}Command`) ?? 0;
          rows.push([
            setup,
            phase,
            account === HOME ? `${account} (hub)` : account,
            config.roles.filter((x) => (x.account ?? HOME) === account).length,
            n('ListRoles'),
            n('GetRole'),
            n('UpdateAssumeRolePolicy'),
            [...c.values()].reduce((a, b) => a + b, 0),
            account === accountsOf[0] ? assumed : '',
            account === accountsOf[0] ? ms : '',
          ]);
        }
      }
    };

    const names = Array.from({ length: R }, (_, i) => i);
    await run(
      '3 accounts',
      [HOME, ...MEMBERS],
      configOf([
        ...names.map((i) => role(`hub-role-${i}`, i)),
        ...MEMBERS.flatMap((a) => names.map((i) => role(`member-role-${i}`, i, a))),
      ]),
    );
    await run('1 account', [HOME], configOf(Array.from({ length: 3 * R }, (_, i) => role(`one-role-${i}`, i))));
    console.log(
      `astro-trust bench: apply over accounts, ${R} roles per account x ${D} Deployments, moto_server on loopback (member accounts: STS AssumeRole of astro-trust-member, GetRole per role)`,
    );
    table(
      'IAM calls per account, 3 accounts vs 1 account with the same roles',
      [
        'setup',
        'phase',
        'account',
        'roles',
        'ListRoles',
        'GetRole',
        'UpdateAssumeRolePolicy',
        'IAM calls',
        'AssumeRole (run)',
        'wall ms (run)',
      ],
      rows,
    );
  } finally {
    await proxy.close();
    await moto.stop();
  }
}
