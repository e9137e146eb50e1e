/**
 * At IAM's limits (DESIGN 7.4): IAM behind a proxy that throttles above N requests a second, or at random.
 * A client-side limiter per account paces every call (reads and writes alike) and slows down when IAM
 * throttles; each call has its own retry budget, so a from-scratch apply converges every role in one run.
 * Timings are not asserted here (bench/limits.ts measures them): only what the proxy saw and what converged.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, UpdateAssumeRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { createIamClient, IamTrustStore } from '../../src/adapters/aws/iam';
import { FileInventory } from '../../src/adapters/astro/inventory-file';
import { applyPlan, planRoles } from '../../src/app/reconcile';
import { parseConfig } from '../../src/config/config';
import { cli } from '../support/cli';
import { faultProxy, maxInWindow, type FaultProxy } from '../support/fault-proxy';
import { apiDeployment } from '../support/fixtures';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';

const glue = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
});

let moto: Moto;
let direct: IAMClient;
let dir: string;

beforeAll(async () => {
  moto = await startMoto();
  direct = moto.iam();
  dir = mkdtempSync(join(tmpdir(), 'astro-trust-limits-'));
});
afterAll(async () => {
  await moto?.stop();
});

/**
 * Each test has an IAM of its own in front of the one moto (roles of its own names), so the tests that mostly
 * wait on pacing run side by side.
 */
async function withProxy<T>(run: (proxy: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = await faultProxy(moto.endpoint);
  try {
    return await run(proxy);
  } finally {
    await proxy.close();
  }
}

/** `roles` roles trusting nothing yet, one workspace of 2 Deployments each (every fifth an oidc role). */
async function fleet(roles: number, name: string) {
  const deployments = Array.from({ length: roles * 2 }, (_, i) =>
    apiDeployment(i, { workspaceId: `clws${Math.floor(i / 2)}` }),
  );
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: deployments.length }));
  const text = `version: 1\norganizationId: org\ninventory: { source: file, path: ./${name}.json }\nroles:\n${Array.from(
    { length: roles },
    (_, i) =>
      `  - { name: ${name}-${i}, trust: ${i % 5 === 0 ? 'oidc' : 'workload-identity'}, deployments: [{ workspaceId: clws${i} }] }`,
  ).join('\n')}\n`;
  const config = parseConfig(text, join(dir, `${name}.yaml`));
  const reset = async () => {
    for (let i = 0; i < roles; i++) {
      const RoleName = `${name}-${i}`;
      await direct
        .send(new CreateRoleCommand({ RoleName, AssumeRolePolicyDocument: glue }))
        .catch(() => direct.send(new UpdateAssumeRolePolicyCommand({ RoleName, PolicyDocument: glue })));
    }
  };
  await reset();
  return { config, inventory: new FileInventory(file), reset };
}

const client = (proxy: FaultProxy, requestsPerSecond?: number) =>
  createIamClient(
    { region: 'us-east-1', endpoint: proxy.url, credentials: TEST_CREDENTIALS },
    requestsPerSecond ? { requestsPerSecond } : {},
  );

async function applyOnce(f: Awaited<ReturnType<typeof fleet>>, store: IamTrustStore) {
  const plan = await planRoles({ config: f.config, inventory: f.inventory, store });
  const result = await applyPlan(plan, store);
  return {
    changed: plan.roles.filter((r) => r.status === 'changes').length,
    written: result.outcomes.filter((o) => o.result === 'written').length,
    failed: result.outcomes.filter((o) => o.result === 'failed'),
    converged: result.converged,
  };
}

describe('an IAM that throttles above N requests a second', () => {
  it.concurrent(
    'a paced from-scratch apply of hundreds of roles fails none, and IAM never sees more than N a second beyond a small burst',
    () =>
      withProxy(async (proxy) => {
        const N = 120;
        const BURST = 5;
        const f = await fleet(200, 'paced');
        proxy.rateLimit = { perSecond: N, burst: BURST };
        const store = new IamTrustStore(client(proxy, N), { listRolesFrom: Number.POSITIVE_INFINITY });
        const run = await applyOnce(f, store);
        const busiest = maxInWindow(proxy.arrivals);
        if (process.env.ASTRO_TRUST_REPORT)
          console.log(
            JSON.stringify({ calls: proxy.arrivals.length, busiest, throttled: proxy.rateThrottled, ...run }),
          );
        expect(run.failed).toEqual([]);
        expect(run.written).toBe(200);
        expect(run.converged).toBe(true);
        // GetRole per role to plan, then read, write and read back each: over 800 calls, paced.
        expect(proxy.arrivals.length).toBeGreaterThan(800);
        expect(busiest).toBeLessThanOrEqual(N + BURST);
        // Paced, not throttled-and-retried: throttles are rare (a timer that fired late).
        expect(proxy.rateThrottled).toBeLessThan(proxy.arrivals.length * 0.02);
      }),
    120_000,
  );

  it.concurrent(
    'throttles slow it down: a limiter set above what IAM allows settles near what IAM allows',
    () =>
      withProxy(async (proxy) => {
        const f = await fleet(12, 'slowed');
        // Configured for 200 a second; this account's IAM allows 40 (other tools share it).
        proxy.rateLimit = { perSecond: 40, burst: 3 };
        const store = new IamTrustStore(client(proxy, 200), { listRolesFrom: Number.POSITIVE_INFINITY });
        const run = await applyOnce(f, store);
        const calls = proxy.arrivals.length;
        const after = proxy.arrivals.filter((t) => t > proxy.arrivals[0]! + 500);
        if (process.env.ASTRO_TRUST_REPORT)
          console.log(
            JSON.stringify({ calls, throttled: proxy.rateThrottled, busiestLater: maxInWindow(after), ...run }),
          );
        expect(run.failed).toEqual([]);
        expect(run.converged).toBe(true);
        // Unpaced, over 4 in 5 calls would be throttled at 200 against 40; adaptive, far fewer are.
        expect(proxy.rateThrottled).toBeLessThan(calls * 0.35);
        // After the first throttles it sends well below the 200 it was configured for.
        expect(maxInWindow(after)).toBeLessThan(100);
      }),
    120_000,
  );
});

describe('the command line (and serve, which builds its store the same way)', () => {
  it(
    'paces each account at defaults.iamRequestsPerSecond with a limiter of its own',
    () =>
      withProxy(async (proxy) => {
        const N = 8;
        const MEMBER = '444455556666';
        const member = await moto.iamIn(MEMBER);
        const deployments = Array.from({ length: 12 }, (_, i) => apiDeployment(i, { workspaceId: `clws${i}` }));
        writeFileSync(join(dir, 'cli.json'), JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: 12 }));
        const roles: string[] = [];
        for (let i = 0; i < 6; i++) {
          await direct.send(new CreateRoleCommand({ RoleName: `home-${i}`, AssumeRolePolicyDocument: glue }));
          await member.send(new CreateRoleCommand({ RoleName: `member-${i}`, AssumeRolePolicyDocument: glue }));
          roles.push(`  - { name: home-${i}, trust: workload-identity, deployments: [{ workspaceId: clws${i} }] }`);
          roles.push(
            `  - { name: member-${i}, account: "${MEMBER}", trust: workload-identity, deployments: [{ workspaceId: clws${i + 6} }] }`,
          );
        }
        const file = join(dir, 'cli.yaml');
        writeFileSync(
          file,
          `version: 1\norganizationId: org\ninventory: { source: file, path: ./cli.json }\ndefaults: { iamRequestsPerSecond: ${N} }\nroles:\n${roles.join('\n')}\n`,
        );
        const saved = { ...process.env };
        Object.assign(process.env, {
          AWS_ENDPOINT_URL: proxy.url,
          AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
          AWS_REGION: 'us-east-1',
        });
        let r;
        try {
          r = await cli(['apply', '--config', file, '--yes']);
        } finally {
          process.env = saved;
        }
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        // IAM requests by the access key that signed them: the home credentials, and the member role's session.
        const byKey = new Map<string, number[]>();
        proxy.requests.forEach((req, i) => {
          if (new URLSearchParams(req.body).get('Action') === 'AssumeRole') return;
          const key = /Credential=([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? '?';
          byKey.set(key, [...(byKey.get(key) ?? []), proxy.arrivals[i]!]);
        });
        expect(byKey.size).toBe(2);
        for (const [, arrivals] of byKey) {
          // Each role: read to plan, read, write, read back.
          expect(arrivals.length).toBeGreaterThanOrEqual(24);
          // Requests leave 1/N s apart; their arrival at the proxy can bunch by a few on a loaded machine (event-loop
          // and socket jitter). Unpaced, the same apply sent 25 in its busiest second.
          expect(maxInWindow(arrivals)).toBeLessThanOrEqual(N + 3);
        }
      }),
    60_000,
  );
});

describe('30% random throttling', () => {
  it.concurrent(
    'every role converges in one apply, in every one of 10 from-scratch runs (retries are per call)',
    () =>
      withProxy(async (proxy) => {
        const f = await fleet(40, 'chaos');
        // The retry budgets as shipped (only the delays shortened): pacing cannot help throttling that is random.
        const store = new IamTrustStore(client(proxy), { baseDelayMs: 1, maxDelayMs: 4, verifyDelayMs: 1 });
        const runs: { failed: number; injected: number }[] = [];
        for (let run = 0; run < 10; run++) {
          await f.reset();
          proxy.injected.throttle = 0;
          proxy.chaos = { rate: 0.3, kinds: ['throttle'], slowMs: 0, seed: 7_000 + run };
          const result = await applyOnce(f, store);
          proxy.chaos = undefined;
          runs.push({ failed: result.failed.length, injected: proxy.injected.throttle });
          expect(result.failed.map((o) => ('message' in o ? o.message : ''))).toEqual([]);
          expect(result.written).toBe(40);
          expect(result.converged).toBe(true);
        }
        if (process.env.ASTRO_TRUST_REPORT) console.log(JSON.stringify(runs));
        // The faults were real: about 30% of the calls of each run were throttled.
        expect(Math.min(...runs.map((r) => r.injected))).toBeGreaterThan(20);
      }),
    180_000,
  );
});
