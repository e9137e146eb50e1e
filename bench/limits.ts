/**
 * At IAM's limits (DESIGN 7.4), against moto behind test/support/fault-proxy.ts:
 * - a paced from-scratch apply of R roles against an IAM that throttles above N requests a second (a token
 *   bucket, burst 5), the client limited to the same N: calls, throttles, wall time, and the bound
 *   (wall time at most 1.25x what the call count needs at N a second);
 * - 30% random throttling: from-scratch applies of 40 roles with the store as shipped (limiter at the
 *   default 10 a second, retry delays as shipped): does every role converge in one apply, every run.
 * `npm run bench -- --only limits` (sizes: the arguments of benchLimits)
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { countCommands, createIamClient, IamTrustStore } from '../src/adapters/aws/iam';
import { FileInventory } from '../src/adapters/astro/inventory-file';
import { applyPlan, planRoles } from '../src/app/reconcile';
import { DEFAULTS, parseConfig } from '../src/config/config';
import { faultProxy, maxInWindow } from '../test/support/fault-proxy';
import { startMoto, TEST_CREDENTIALS } from '../test/support/moto';
import { table } from './lib';

const ISSUER = 'oidc.eks.us-east-1.amazonaws.com/id/BE0C00000000000000000000000000A1';
const glue = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});
const BURST = 5;

export async function benchLimits(R = 300, N = 25, chaosRuns = 2) {
  const moto = await startMoto();
  const proxy = await faultProxy(moto.endpoint);
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-bench-limits-'));
  const direct = moto.iam();
  try {
    /** R roles trusting nothing yet, each declaring the 2 Deployments of its workspace (every fifth oidc). */
    const fleet = async (roles: number, name: string) => {
      const deployments = Array.from({ length: roles * 2 }, (_, i) => {
        const ns = `limits-${String(i).padStart(5, '0')}`;
        return {
          id: `cllimits${String(i).padStart(6, '0')}`,
          name: `limits-${i}`,
          namespace: ns,
          workspaceId: `clws${Math.floor(i / 2)}`,
          airflowVersion: '3.0.2',
          effectiveWorkloadIdentity: `arn:aws:iam::111928029897:role/astro-${ns}`,
          oidcIssuerUrl: `https://${ISSUER}`,
        };
      });
      writeFileSync(
        join(dir, `${name}.json`),
        JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: deployments.length }),
      );
      const lines = Array.from(
        { length: roles },
        (_, i) =>
          `  - { name: ${name}-${i}, trust: ${i % 5 === 4 ? 'oidc' : 'workload-identity'}, deployments: [{ workspaceId: clws${i} }] }`,
      );
      const config = parseConfig(
        `version: 1\norganizationId: bench\ninventory: { source: file, path: ./${name}.json }\nroles:\n${lines.join('\n')}\n`,
        join(dir, `${name}.yaml`),
      );
      const reset = async () => {
        for (let i = 0; i < roles; i++) {
          const RoleName = `${name}-${i}`;
          await direct
            .send(new CreateRoleCommand({ RoleName, AssumeRolePolicyDocument: glue }))
            .catch(() => direct.send(new UpdateAssumeRolePolicyCommand({ RoleName, PolicyDocument: glue })));
        }
      };
      await reset();
      return { config, inventory: new FileInventory(join(dir, `${name}.json`)), reset };
    };
    const client = (requestsPerSecond: number) =>
      createIamClient(
        { region: 'us-east-1', endpoint: proxy.url, credentials: TEST_CREDENTIALS },
        { requestsPerSecond },
      );
    const applyOnce = async (f: Awaited<ReturnType<typeof fleet>>, store: IamTrustStore) => {
      const started = process.hrtime.bigint();
      const plan = await planRoles({ config: f.config, inventory: f.inventory, store });
      const result = await applyPlan(plan, store);
      return {
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        written: result.outcomes.filter((o) => o.result === 'written').length,
        failed: result.outcomes.filter((o) => o.result === 'failed').length,
        converged: result.converged,
      };
    };

    // 1. Paced against a rate-limited IAM.
    const paced = await fleet(R, 'paced');
    proxy.arrivals.length = 0;
    proxy.rateThrottled = 0;
    proxy.rateLimit = { perSecond: N, burst: BURST };
    const iam = client(N);
    const counts = countCommands(iam);
    const run = await applyOnce(paced, new IamTrustStore(iam));
    proxy.rateLimit = undefined;
    const calls = proxy.arrivals.length;
    const needS = calls / N;
    const ratio = run.ms / 1000 / needS;
    console.log(
      `\nastro-trust bench: at IAM's limits, moto behind a proxy that answers Throttling above ${N} requests a second (token bucket, burst ${BURST}); the client's limiter at ${N}`,
    );
    table(
      `paced from-scratch apply of ${R} roles (plan + apply; the bound: wall time <= 1.25 x calls / N)`,
      [
        'roles',
        'N / s',
        'written',
        'failed',
        'ListRoles',
        'GetRole',
        'UpdateAssumeRolePolicy',
        'other',
        'calls',
        'throttled',
        'busiest second',
        'calls / N (s)',
        'wall (s)',
        'wall / (calls / N)',
        '<= 1.25x',
      ],
      [
        [
          R,
          N,
          run.written,
          run.failed,
          counts.get('ListRolesCommand') ?? 0,
          counts.get('GetRoleCommand') ?? 0,
          counts.get('UpdateAssumeRolePolicyCommand') ?? 0,
          calls -
            (counts.get('ListRolesCommand') ?? 0) -
            (counts.get('GetRoleCommand') ?? 0) -
            (counts.get('UpdateAssumeRolePolicyCommand') ?? 0),
          calls,
          proxy.rateThrottled,
          maxInWindow(proxy.arrivals),
          needS.toFixed(1),
          (run.ms / 1000).toFixed(1),
          ratio.toFixed(2),
          ratio <= 1.25 && run.failed === 0 ? 'yes' : 'NO',
        ],
      ],
    );
    if (ratio > 1.25 || run.failed > 0) process.exitCode = 1;

    // 2. 30% random throttling, the store as shipped.
    const chaos = await fleet(40, 'chaos');
    const rows: (string | number)[][] = [];
    for (let i = 0; i < chaosRuns; i++) {
      await chaos.reset();
      proxy.arrivals.length = 0;
      proxy.injected.throttle = 0;
      proxy.chaos = { rate: 0.3, kinds: ['throttle'], slowMs: 0, seed: 9_000 + i };
      const r = await applyOnce(chaos, new IamTrustStore(client(DEFAULTS.iamRequestsPerSecond)));
      proxy.chaos = undefined;
      rows.push([
        i + 1,
        r.written,
        r.failed,
        r.converged ? 'yes' : 'NO',
        proxy.arrivals.length,
        proxy.injected.throttle,
        `${Math.round((100 * proxy.injected.throttle) / proxy.arrivals.length)}%`,
        (r.ms / 1000).toFixed(1),
        ((proxy.arrivals.length / r.ms) * 1000).toFixed(1),
      ]);
      if (!r.converged) process.exitCode = 1;
    }
    table(
      `30% random Throttling: from-scratch apply of 40 roles, limiter at ${DEFAULTS.iamRequestsPerSecond} a second (default), retries as shipped`,
      ['run', 'written', 'failed', 'converged', 'calls', 'throttled', 'share', 'wall (s)', 'calls / s'],
      rows,
    );
  } finally {
    await proxy.close();
    await moto.stop();
  }
}
