/**
 * Per-function bundle size and module init time, next to an empty function built the same way.
 * Bundles are built with esbuild using serverless.yml's custom.esbuild options (bundle, minify, node22,
 * cjs); init time is `require()` of the bundle in a fresh node process, loading the example config (no AWS calls: SSM parameter
 * names are unset, so middy's prefetch has nothing to fetch), median of N runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { median, ms, table } from './lib';

const FUNCTIONS = ['webhook', 'iamChange', 'reconcile', 'backfill', 'notify', 'watch'];

/** The AWS SDK clients a bundle contains (from esbuild's metafile): `iam`, `sqs`, ... */
export function awsClientsIn(metafile: Metafile): string[] {
  return [
    ...new Set(Object.keys(metafile.inputs).flatMap((p) => /@aws-sdk\/client-([a-z0-9-]+)\//.exec(p)?.[1] ?? [])),
  ].sort();
}

export async function benchFunctions(runs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-bundles-'));
  writeFileSync(join(dir, 'empty.ts'), 'export const handler = async () => ({ statusCode: 200 });\n');
  const entries: [string, string][] = [
    ['(empty function)', join(dir, 'empty.ts')],
    ...FUNCTIONS.map((f): [string, string] => [f, resolve('functions', `${f}.ts`)]),
  ];
  const rows: (string | number)[][] = [];
  let emptyInit = 0;
  for (const [name, entry] of entries) {
    const outfile = join(dir, `${name.replace(/\W/g, '')}.js`);
    const built = await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      minify: true,
      keepNames: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      mainFields: ['module', 'main'],
      logLevel: 'error',
      metafile: true,
    });
    const clients = awsClientsIn(built.metafile!);
    const bytes = statSync(outfile).size;
    const zipped = deflateRawSync(readFileSync(outfile), { level: 9 }).length;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const out = execFileSync(
        process.execPath,
        [
          '-e',
          `const t=process.hrtime.bigint();require(${JSON.stringify(outfile)});console.log(Number(process.hrtime.bigint()-t)/1e6);process.exit(0)`,
        ],
        {
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'us-east-1',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            ASTRO_TRUST_CONFIG: resolve('examples/astro-trust.yaml'),
          },
        },
      );
      times.push(Number(out.toString().trim()));
    }
    const init = median(times);
    if (name === '(empty function)') emptyInit = init;
    rows.push([
      name,
      clients.join(' ') || '-',
      (bytes / 1024).toFixed(1),
      (zipped / 1024).toFixed(1),
      ms(init),
      name === '(empty function)' ? '-' : `+${ms(init - emptyInit)}`,
    ]);
  }
  table(
    `Lambda bundles (esbuild, minified, kept names, node22, cjs, ESM entry points for tree shaking) and module init, median of ${runs} fresh node ${process.version} processes`,
    ['function', 'AWS clients', 'bundle KiB', 'deflated KiB', 'init ms', 'vs empty ms'],
    rows,
  );
}
