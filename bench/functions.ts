/**
 * The Lambda functions as `osls package` builds them (deploy/esbuild.config.js, through serverless.yml):
 * bundle size, and module init: `require` of the bundle in a fresh node process, median of N, next to an
 * empty function built the same way. Init is CPU time (user + system), which other work on a shared
 * machine disturbs far less than wall time; the wall time of the shipped build is given too. Three ways of
 * naming source lines in stack traces:
 *   - none: the same build without source maps (the baseline of the 1.2x budget);
 *   - shipped: the map beside the bundle, read when an error's stack is first formatted
 *     (src/lambda/stack-traces.ts); "first stack" is what that first formatting costs;
 *   - --enable-source-maps: the same bundle with Node's flag, which reads the whole map at load.
 * Runs interleave (none, shipped, flag, none, ...) so that a busy machine weighs on each alike. The
 * functions load the example config, packaged as `osls package` packages it; no AWS call is made (SSM
 * parameter names are unset, so middy's prefetch has nothing to fetch).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { loadConfig } from '../src/config/config';
import { packConfig } from '../src/config/pack';
import { functionBuildOptions } from '../test/support/bundle';
import { median, ms, table } from './lib';

export { functionBuildOptions };

const FUNCTIONS = ['webhook', 'iamChange', 'reconcile', 'backfill', 'notify', 'watch'];

/** The AWS SDK clients a bundle contains (from esbuild's metafile): `iam`, `sqs`, ... */
export function awsClientsIn(metafile: Metafile): string[] {
  return [
    ...new Set(Object.keys(metafile.inputs).flatMap((p) => /@aws-sdk\/client-([a-z0-9-]+)\//.exec(p)?.[1] ?? [])),
  ].sort();
}

// Requires the bundle and prints how long that took; with an argument, then formats an error's stack once
// (what a function's first logged error costs) and prints that too.
const PROBE = `
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const w0 = process.hrtime.bigint();
const c0 = cpu();
const m = require(process.argv[1]);
const c1 = cpu();
const w1 = process.hrtime.bigint();
let first = 0;
if (process.argv[2] === 'stack') {
  const e = new Error('probe');
  const c2 = cpu();
  void e.stack;
  first = cpu() - c2;
}
console.log(JSON.stringify({ init: c1 - c0, wall: Number(w1 - w0) / 1e6, first, ok: typeof m.handler === 'function' }));
process.exit(0);
`;

function probe(
  file: string,
  config: string,
  nodeOptions: string,
  stack = false,
): { init: number; wall: number; first: number } {
  const out = execFileSync(process.execPath, ['-e', PROBE, file, ...(stack ? ['stack'] : [])], {
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ASTRO_TRUST_PACKAGED_CONFIG: config,
      NODE_OPTIONS: nodeOptions,
    },
    encoding: 'utf8',
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { init: number; wall: number; first: number; ok: boolean };
  if (!r.ok) throw new Error(`${file} exports no handler`);
  return r;
}

export async function benchFunctions(runs: number) {
  // Built where serverless-esbuild builds (a folder of the service directory), so the map's paths are alike.
  mkdirSync('.esbuild', { recursive: true });
  const dir = mkdtempSync(join(resolve('.esbuild'), 'bench-'));
  try {
    const shipped = await functionBuildOptions();
    const unmapped: BuildOptions = {
      ...shipped,
      sourcemap: false,
      inject: (shipped.inject ?? []).filter((f) => !f.includes('stack-traces')),
    };
    writeFileSync(join(dir, 'empty.ts'), 'export const handler = async () => ({ statusCode: 200 });\n');
    const config = join(dir, 'astro-trust.json');
    writeFileSync(config, JSON.stringify(packConfig(loadConfig('examples/astro-trust.yaml'), resolve('.'))));
    const entries: [string, string][] = [
      ['(empty function)', join(dir, 'empty.ts')],
      ...FUNCTIONS.map((f): [string, string] => [f, resolve('functions', `${f}.ts`)]),
    ];
    const rows: (string | number)[][] = [];
    const emptyInit = { none: 0, shipped: 0, flag: 0 };
    for (const [name, entry] of entries) {
      const base = name.replace(/\W/g, '');
      const out = (variant: string) => join(dir, variant, 'functions', `${base}.js`);
      const built = await build({
        ...shipped,
        entryPoints: [entry],
        outfile: out('shipped'),
        logLevel: 'error',
        metafile: true,
      });
      await build({ ...unmapped, entryPoints: [entry], outfile: out('none'), logLevel: 'error' });
      const bytes = statSync(out('shipped')).size;
      const zipped = deflateRawSync(readFileSync(out('shipped')), { level: 9 }).length;
      const mapBytes = statSync(`${out('shipped')}.map`).size;
      const t = {
        none: [] as number[],
        shipped: [] as number[],
        flag: [] as number[],
        first: [] as number[],
        wall: [] as number[],
      };
      for (let i = 0; i < runs; i++) {
        t.none.push(probe(out('none'), config, '').init);
        const s = probe(out('shipped'), config, '', true);
        t.shipped.push(s.init);
        t.wall.push(s.wall);
        t.first.push(s.first);
        t.flag.push(probe(out('shipped'), config, '--enable-source-maps').init);
      }
      const m = { none: median(t.none), shipped: median(t.shipped), flag: median(t.flag) };
      const empty = name === '(empty function)';
      if (empty) Object.assign(emptyInit, m);
      const vs = (k: keyof typeof m) => (empty ? '-' : `+${ms(m[k] - emptyInit[k])}`);
      rows.push([
        name,
        awsClientsIn(built.metafile!).join(' ') || '-',
        (bytes / 1024).toFixed(1),
        (zipped / 1024).toFixed(1),
        (mapBytes / 1024).toFixed(0),
        `${ms(m.none)} (${vs('none')})`,
        `${ms(m.shipped)} (${vs('shipped')})`,
        empty ? '-' : (m.shipped / m.none).toFixed(2),
        ms(median(t.wall)),
        ms(median(t.first)),
        `${ms(m.flag)} (${vs('flag')})`,
        empty ? '-' : (m.flag / m.none).toFixed(2),
      ]);
    }
    table(
      `Lambda bundles as packaged (deploy/esbuild.config.js) and module init, CPU ms (vs the empty function), median of ${runs} fresh node ${process.version} processes each`,
      [
        'function',
        'AWS clients',
        'bundle KiB',
        'deflated KiB',
        'map KiB',
        'init, no maps',
        'init, shipped',
        'x',
        'shipped, wall ms',
        'first stack ms',
        'init, --enable-source-maps',
        'x',
      ],
      rows,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
