/**
 * Apply at scale against moto. R roles x D Deployments (default 200 x 500):
 * apply from scratch, a converged re-apply, and onboarding one Deployment; wall time and IAM calls by
 * operation, printed as tables.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import { countCommands, IamTrustStore } from '../src/adapters/aws/iam';
import { FileInventory } from '../src/adapters/astro/inventory-file';
import { applyPlan, planRoles } from '../src/app/reconcile';
import { parseConfig } from '../src/config/config';
import { startMoto } from '../test/support/moto';
import { median, table } from './lib';

// EKS issuer ids are 32 hex digits; astro-trust trusts no other issuer unless it is listed (DESIGN 6.2).
const ISSUERS = [
  'oidc.eks.us-east-1.amazonaws.com/id/BE0C00000000000000000000000000A1',
  'oidc.eks.us-west-2.amazonaws.com/id/BE0C00000000000000000000000000B2',
];

function deployment(i: number, WORKSPACES: number) {
  const ns = `bench-orbit-${String(i).padStart(5, '0')}`;
  return {
    id: `clbench${String(i).padStart(8, '0')}`,
    name: `bench-${i}`,
    namespace: ns,
    workspaceId: `clws${i % WORKSPACES}`,
    airflowVersion: i % 2 ? '3.0.2' : '2.10.5',
    effectiveWorkloadIdentity: `arn:aws:iam::111928029897:role/astro-${ns}`,
    oidcIssuerUrl: `https://${ISSUERS[i % 2]}`,
  };
}

export async function benchApply(R: number, D: number, REPEAT: number) {
  const WORKSPACES = Math.max(1, Math.ceil(D / 10));
  const moto = await startMoto();
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-bench-'));
  try {
    const inventoryFile = join(dir, 'deployments.json');
    const writeInventory = (n: number) => {
      const deployments = Array.from({ length: n }, (_, i) => deployment(i, WORKSPACES));
      writeFileSync(inventoryFile, JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: n }));
    };
    const roles = Array.from({ length: R }, (_, i) => {
      const oidc = i % 5 === 4;
      return `  - { name: bench-role-${i}, trust: ${oidc ? 'oidc' : 'workload-identity'}, maxPolicyChars: 4096, deployments: [{ workspaceId: clws${i % WORKSPACES} }] }`;
    });
    writeFileSync(
      join(dir, 'astro-trust.yaml'),
      `version: 1\norganizationId: bench\ninventory: { source: file, path: ./deployments.json }\nroles:\n${roles.join('\n')}\n`,
    );
    const config = parseConfig(
      `version: 1\norganizationId: bench\ninventory: { source: file, path: ./deployments.json }\nroles:\n${roles.join('\n')}\n`,
      join(dir, 'astro-trust.yaml'),
    );

    const rows: (string | number)[][] = [];
    const timing: Record<string, number[]> = { scratch: [], converged: [], onboard: [] };
    for (let rep = 0; rep < REPEAT; rep++) {
      await moto.reset();
      const iam = moto.iam();
      const glue = {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      };
      for (let i = 0; i < R; i++)
        await iam.send(
          new CreateRoleCommand({ RoleName: `bench-role-${i}`, AssumeRolePolicyDocument: JSON.stringify(glue) }),
        );
      const counts = countCommands(iam);
      const store = new IamTrustStore(iam, { verifyDelayMs: 5 });

      const phase = async (name: string, inventorySize: number) => {
        writeInventory(inventorySize);
        counts.clear();
        const started = process.hrtime.bigint();
        const plan = await planRoles({ config, inventory: new FileInventory(inventoryFile), store });
        const result = await applyPlan(plan, store);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        timing[name]!.push(ms);
        const written = result.outcomes.filter((o) => o.result === 'written').length;
        const changed = plan.roles.filter((r) => r.status === 'changes').length;
        const get = counts.get('GetRoleCommand') ?? 0;
        const update = counts.get('UpdateAssumeRolePolicyCommand') ?? 0;
        if (!result.converged)
          throw new Error(
            `${name}: not converged: ${JSON.stringify(result.outcomes.filter((o) => o.result !== 'written' && o.result !== 'unchanged').slice(0, 3))}`,
          );
        // One read per role to plan; a written role is read again right before the write (DESIGN 6.3) and read back.
        const lists = counts.get('ListRolesCommand') ?? 0;
        const readsOk = get + lists <= R + 2 * written;
        const writesOk = update === changed;
        if (rep === REPEAT - 1) {
          rows.push([
            name,
            inventorySize,
            Math.round(ms),
            written,
            lists,
            get,
            update,
            counts.get('ListOpenIDConnectProvidersCommand') ?? 0,
            counts.get('CreateOpenIDConnectProviderCommand') ?? 0,
            readsOk && writesOk ? 'yes' : 'NO',
          ]);
        }
        if (!readsOk || !writesOk) process.exitCode = 1;
      };
      await phase('scratch', D);
      await phase('converged', D);
      await phase('onboard', D + 1);
    }
    console.log(
      `astro-trust bench: ${R} roles (${R - Math.floor(R / 5)} workload-identity, ${Math.floor(R / 5)} oidc) x ${D} Deployments in ${WORKSPACES} workspaces, moto_server on loopback, ${REPEAT} runs`,
    );
    table(
      'IAM calls by operation (last run)',
      [
        'phase',
        'Deployments',
        'wall ms',
        'roles written',
        'ListRoles',
        'GetRole',
        'UpdateAssumeRolePolicy',
        'ListOIDCProviders',
        'CreateOIDCProvider',
        'reads (ListRoles + GetRole) <= roles + 2 x written, writes = changed',
      ],
      rows,
    );
    table(
      'apply wall time over runs (plan + apply, ms)',
      ['phase', 'median', 'min', 'max'],
      Object.entries(timing).map(([k, v]) => [
        k,
        Math.round(median(v)),
        Math.round(Math.min(...v)),
        Math.round(Math.max(...v)),
      ]),
    );
  } finally {
    await moto.stop();
  }
}
