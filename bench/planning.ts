/**
 * Planning growth (DESIGN 7.4): a converged plan of R roles x D Deployments, at 200 x 2,000 and 2,000 x
 * 20,000, each size in a process of its own so its peak memory is its own. IAM is an offline snapshot of
 * the converged roles (no IAM call), so the time is the inventory file, the snapshot and the planning.
 * Roles select a workspace (every fourth also one Deployment by id; five roles a name glob), as configs do.
 * `npm run bench -- --only planning`; the children run this file bundled: `node planning.cjs prepare|measure ...`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { IamSnapshotStore } from '../src/adapters/aws/iam-snapshot';
import { FileInventory } from '../src/adapters/astro/inventory-file';
import { planRoles } from '../src/app/reconcile';
import { parseConfig } from '../src/config/config';
import { median, table } from './lib';

const ACCOUNT = '123456789012';
const ISSUERS = [
  'oidc.eks.us-east-1.amazonaws.com/id/BE0C00000000000000000000000000A1',
  'oidc.eks.us-west-2.amazonaws.com/id/BE0C00000000000000000000000000B2',
];
const MB = 1024 * 1024;
/** V8's old space in the capped run: half of the functions' 256 MB, the rest for code, buffers and the young space. */
const CAPPED_HEAP_MB = 128;

function deployment(i: number, workspaces: number) {
  const ns = `bench-orbit-${String(i).padStart(5, '0')}`;
  return {
    id: `clbench${String(i).padStart(8, '0')}`,
    name: `bench-${i}`,
    namespace: ns,
    workspaceId: `clws${i % workspaces}`,
    airflowVersion: i % 2 ? '3.0.2' : '2.10.5',
    createdAt: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
    effectiveWorkloadIdentity: `arn:aws:iam::111928029897:role/astro-${ns}`,
    oidcIssuerUrl: `https://${ISSUERS[i % 2]}`,
  };
}

/** Writes the inventory, the config and an IAM snapshot of roles trusting nothing yet; returns the paths. */
function fixture(R: number, D: number) {
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-bench-plan-'));
  const W = Math.max(1, Math.ceil(D / 10));
  const deployments = Array.from({ length: D }, (_, i) => deployment(i, W));
  writeFileSync(join(dir, 'deployments.json'), JSON.stringify({ deployments, limit: D, offset: 0, totalCount: D }));
  const roles = Array.from({ length: R }, (_, i) => {
    const selectors = [`{ workspaceId: clws${i % W} }`];
    if (i % 4 === 0) selectors.push(`{ id: clbench${String((i * 7) % D).padStart(8, '0')} }`);
    if (i < 5) selectors.push(`{ name: "bench-${i + 1}1?" }`);
    return `  - { name: bench-role-${i}, trust: ${i % 5 === 4 ? 'oidc' : 'workload-identity'}, maxPolicyChars: 8192, deployments: [${selectors.join(', ')}] }`;
  });
  writeFileSync(
    join(dir, 'astro-trust.yaml'),
    `version: 1\norganizationId: bench\ninventory: { source: file, path: ./deployments.json }\nroles:\n${roles.join('\n')}\n`,
  );
  const glue = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' }],
  };
  writeFileSync(
    join(dir, 'iam.json'),
    JSON.stringify({
      RoleDetailList: Array.from({ length: R }, (_, i) => ({
        RoleName: `bench-role-${i}`,
        Arn: `arn:aws:iam::${ACCOUNT}:role/bench-role-${i}`,
        AssumeRolePolicyDocument: glue,
      })),
    }),
  );
  return dir;
}

const load = (dir: string) => ({
  config: parseConfig(readFileSync(join(dir, 'astro-trust.yaml'), 'utf8'), join(dir, 'astro-trust.yaml')),
  inventory: new FileInventory(join(dir, 'deployments.json')),
});

/** First child: the fixture, and a snapshot of the roles converged (the first plan's proposed policies). */
async function prepare(R: number, D: number) {
  const dir = fixture(R, D);
  const { config, inventory } = load(dir);
  const first = await planRoles({ config, inventory, store: new IamSnapshotStore(join(dir, 'iam.json')) });
  writeFileSync(
    join(dir, 'converged.json'),
    JSON.stringify({
      RoleDetailList: first.roles.map((r) => ({ RoleName: r.role, Arn: r.arn, AssumeRolePolicyDocument: r.proposed })),
    }),
  );
  process.stdout.write(dir);
}

/** Second child: `runs` converged plans, timed; its peak memory is theirs alone. */
async function measure(dir: string, runs: number) {
  const { config, inventory } = load(dir);
  // What the process holds before planning: node, the SDK, the config parsed from YAML.
  const loadedRssMb = process.resourceUsage().maxRSS / 1024;
  const times: number[] = [];
  let inSync = 0;
  let declared = 0;
  for (let i = 0; i < runs; i++) {
    const store = new IamSnapshotStore(join(dir, 'converged.json'));
    const started = process.hrtime.bigint();
    const plan = await planRoles({ config, inventory, store });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    inSync = plan.roles.filter((r) => r.status === 'in-sync').length;
    declared = plan.roles.reduce((n, r) => n + r.declared.length, 0);
  }
  const heap = getHeapStatistics();
  process.stdout.write(
    JSON.stringify({
      R: config.roles.length,
      times,
      loadedRssMb,
      inSync,
      declared,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      heapUsedMb: heap.used_heap_size / MB,
      heapTotalMb: heap.total_heap_size / MB,
    }),
  );
}

interface ChildResult {
  R: number;
  D: number;
  times: number[];
  loadedRssMb: number;
  capped?: ChildResult;
  inSync: number;
  declared: number;
  maxRssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
}

export async function benchPlanning(runs = 3) {
  const sizes: [number, number][] = [
    [200, 2_000],
    [2_000, 20_000],
  ];
  const results: ChildResult[] = [];
  const bundle = join(mkdtempSync(join(tmpdir(), 'astro-trust-bench-plan-bundle-')), 'planning.cjs');
  // esbuild itself stays out of the bundle (the children never build).
  const { buildSync } = await import('esbuild');
  buildSync({
    entryPoints: [__filename],
    bundle: true,
    platform: 'node',
    target: 'node20',
    outfile: bundle,
    external: ['esbuild'],
    logLevel: 'warning',
  });
  for (const [R, D] of sizes) {
    // Bundled and run by node, as the functions run: no TypeScript loader in the figures.
    const node = (args: string[], nodeArgs: string[] = []) =>
      execFileSync(process.execPath, [...nodeArgs, bundle, ...args], {
        encoding: 'utf8',
        maxBuffer: 16 * MB,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    const dir = node(['prepare', String(R), String(D)]);
    const free = JSON.parse(node(['measure', dir, String(runs)])) as ChildResult;
    // As in a 256 MB function, where V8's heap cannot grow past what the function has: does it still plan?
    const capped = JSON.parse(node(['measure', dir, '1'], [`--max-old-space-size=${CAPPED_HEAP_MB}`])) as ChildResult;
    results.push({ ...free, D, capped });
  }
  const base = median(results[0]!.times);
  console.log(
    `\nastro-trust bench: planning growth, converged roles (IAM from an offline snapshot), each size in its own process (bundled with esbuild, run by node), median of ${runs} plans; ` +
      `"RSS loaded": node, the SDK and the config (YAML) before planning; the capped run plans once with V8's old space at ${CAPPED_HEAP_MB} MB`,
  );
  table(
    'planning: 10x the roles and 10x the Deployments (DESIGN 7.4: at most 15x the time; functions have 256 MB)',
    [
      'roles',
      'Deployments',
      'declared',
      'in sync',
      'plan ms (median)',
      'min',
      'max',
      'x 200 x 2,000',
      '<= 15x',
      'RSS loaded MB',
      'peak RSS MB',
      'heap used MB',
      'heap total MB',
      `peak RSS MB, heap <= ${CAPPED_HEAP_MB} MB`,
      '< 256 MB',
    ],
    results.map((r) => {
      const m = median(r.times);
      return [
        r.R,
        r.D,
        r.declared,
        r.inSync,
        Math.round(m),
        Math.round(Math.min(...r.times)),
        Math.round(Math.max(...r.times)),
        (m / base).toFixed(1),
        m / base <= 15 ? 'yes' : 'NO',
        Math.round(r.loadedRssMb),
        Math.round(r.maxRssMb),
        Math.round(r.heapUsedMb),
        Math.round(r.heapTotalMb),
        Math.round(r.capped!.maxRssMb),
        Math.max(r.maxRssMb, r.capped!.maxRssMb) < 256 ? 'yes' : 'NO',
      ];
    }),
  );
}

if (require.main === module) {
  const [mode, a, b] = process.argv.slice(2);
  (mode === 'prepare' ? prepare(Number(a), Number(b)) : measure(a!, Number(b))).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
