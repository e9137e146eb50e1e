/**
 * Lean bundles (DESIGN 7.4), built exactly as `osls package` builds them (serverless.yml's custom.esbuild):
 * each function bundles only the AWS clients it calls, no YAML parser or config schema, and the webhook and
 * iamChange functions stay under 400 KB.
 */
import { resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { awsClientsIn } from '../../bench/functions';
import { functionBuildOptions } from '../support/bundle';

const built = new Map<string, Promise<{ bytes: number; metafile: Metafile }>>();
/** A function's bundle as osls packages it (in memory); each built once for all the checks below. */
function bundle(fn: string) {
  if (!built.has(fn))
    built.set(
      fn,
      functionBuildOptions().then(async (options) => {
        const out = await build({
          ...options,
          entryPoints: [resolve('functions', `${fn}.ts`)],
          outfile: resolve('.esbuild-test', `${fn}.js`),
          write: false,
          logLevel: 'error',
          metafile: true,
        });
        const js = out.outputFiles.find((f) => f.path.endsWith('.js'))!;
        return { bytes: js.contents.length, metafile: out.metafile };
      }),
    );
  return built.get(fn)!;
}

const FUNCTIONS = ['webhook', 'iamChange', 'reconcile', 'backfill', 'notify', 'watch'];

describe('function bundles', () => {
  it.each([
    ['webhook', ['dynamodb', 'sqs', 'ssm']],
    // iamChange publishes a SelfTampering alert on the bus when astro-trust's own roles change.
    ['iamChange', ['eventbridge', 'sqs']],
    ['reconcile', ['dynamodb', 'eventbridge', 'iam', 'ssm', 'sts']],
    ['backfill', ['dynamodb', 'eventbridge', 'iam', 'sqs', 'ssm', 'sts']],
    ['watch', ['dynamodb', 'eventbridge', 'sqs', 'ssm']],
    ['notify', ['dynamodb', 'ssm']],
  ])(
    '%s bundles exactly the clients it calls: %j',
    async (fn, clients) => {
      expect(awsClientsIn((await bundle(fn)).metafile)).toEqual(clients);
    },
    60_000,
  );

  it.each(FUNCTIONS)(
    '%s bundles no YAML parser, none of the config loader and no glob compiler (the config is packaged compiled)',
    async (fn) => {
      const inputs = Object.keys((await bundle(fn)).metafile.inputs);
      expect(inputs.filter((p) => /node_modules\/(yaml|picomatch)\//.test(p))).toEqual([]);
      expect(inputs.filter((p) => /src\/config\/(config|pack)\.ts$/.test(p))).toEqual([]);
    },
    60_000,
  );

  it.each(FUNCTIONS)(
    '%s imports what the build leaves out only lazily (await import), never at load',
    async (fn) => {
      const options = await functionBuildOptions();
      const leftOut = new Set(options.external);
      const imports = Object.values((await bundle(fn)).metafile.inputs).flatMap((i) => i.imports);
      const eager = imports.filter((i) => i.external && leftOut.has(i.path) && i.kind !== 'dynamic-import');
      expect(eager).toEqual([]);
    },
    60_000,
  );

  it.each([['webhook'], ['iamChange']])(
    '%s is under 400 KB minified',
    async (fn) => {
      expect((await bundle(fn)).bytes).toBeLessThan(400_000);
    },
    60_000,
  );
});
