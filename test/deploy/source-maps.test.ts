/**
 * Stack traces in the logs name the source file and line (`src/...ts:LINE`), yet loading a function does not
 * load its source map (DESIGN 7.4: `--enable-source-maps` doubled init). The bundle is built as `osls
 * package` builds it and run with the environment serverless.yml gives the functions.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { parse } from 'yaml';
import { functionBuildOptions } from '../support/bundle';

// Where serverless-esbuild builds: a folder of the service directory (.esbuild/.build/functions/<fn>.js).
mkdirSync('.esbuild', { recursive: true });
const dir = mkdtempSync(join(resolve('.esbuild'), 'maps-'));

/** NODE_OPTIONS as serverless.yml sets it for every function (provider.environment). */
function nodeOptions(): string {
  const sls = parse(readFileSync('serverless.yml', 'utf8'), { logLevel: 'silent' }) as {
    provider: { environment?: Record<string, string> };
  };
  return sls.provider.environment?.NODE_OPTIONS ?? '';
}

// Loads the bundle, notes which source maps were read by then, invokes the handler without the config it
// needs (an error thrown in src/lambda/runtime.ts) and prints what its stack says.
const PROBE = `
const fs = require('node:fs');
const mapsRead = [];
const read = fs.readFileSync;
fs.readFileSync = function (p, ...rest) {
  if (String(p).endsWith('.map')) mapsRead.push(String(p));
  return read.call(this, p, ...rest);
};
const bundle = process.argv[1];
const { handler } = require(bundle);
const atLoad = { mapsRead: mapsRead.length, cachedByNode: Boolean(require('node:module').findSourceMap(bundle)) };
const context = { functionName: 'iamChange', awsRequestId: 'r-1', getRemainingTimeInMillis: () => 10000 };
handler({ source: 'aws.iam', detail: {} }, context).then(
  () => console.log(JSON.stringify({ atLoad, stack: null })),
  (err) => console.log(JSON.stringify({ atLoad, stack: err.stack, mapsRead: mapsRead.length })),
);
`;

describe('stack traces of a packaged function', () => {
  let result: { atLoad: { mapsRead: number; cachedByNode: boolean }; stack: string | null; mapsRead: number };

  beforeAll(async () => {
    const outfile = join(dir, 'functions', 'iamChange.js');
    await build({
      ...(await functionBuildOptions()),
      entryPoints: [resolve('functions/iamChange.ts')],
      outfile,
      logLevel: 'error',
    });
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      NODE_OPTIONS: nodeOptions(),
    };
    const out = execFileSync(process.execPath, ['-e', PROBE, outfile], {
      env,
      encoding: 'utf8',
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    result = JSON.parse(out.trim().split('\n').pop()!);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loading the function reads no source map (it is read when a stack is formatted)', () => {
    expect(result.atLoad).toEqual({ mapsRead: 0, cachedByNode: false });
    expect(result.mapsRead).toBe(1);
  });

  it('names the source file, line and function of each of its frames', () => {
    const frames = result.stack!.split('\n').slice(1);
    expect(result.stack).toMatch(/^UsageError: ASTRO_TRUST_PACKAGED_CONFIG is not set/);
    const [, fn, file, line] = /^\s+at (\S+) \((src\/[\w/.-]+\.ts):(\d+):\d+\)$/.exec(frames[0]!)!;
    expect([fn, file]).toEqual(['required', 'src/lambda/runtime.ts']);
    // That line of that file is where the error is made.
    expect(readFileSync(file!, 'utf8').split('\n')[Number(line) - 1]).toContain('throw new UsageError(');
    expect(frames[1]).toMatch(/^\s+at new Runtime \(src\/lambda\/runtime\.ts:\d+:\d+\)$/);
    // Frames of packages name them too.
    expect(frames.some((f) => /\(node_modules\/@middy\/core\/.+\.js:\d+:\d+\)$/.test(f))).toBe(true);
  });
});
