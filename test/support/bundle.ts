/**
 * The esbuild options `osls package` builds each function with: serverless.yml's `custom.esbuild` (or the
 * file its `config` names), less serverless-esbuild's own keys, its `exclude` made external as
 * serverless-esbuild makes it. Tests and the bench build bundles with these, so they measure what ships.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { parse } from 'yaml';

/** serverless-esbuild's options that are not esbuild's (its bundle.js removes them before building). */
const PLUGIN_KEYS = [
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
  'config',
];

export async function functionBuildOptions(serviceDir = resolve('.')): Promise<BuildOptions> {
  const sls = parse(readFileSync(resolve(serviceDir, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as {
    custom: { esbuild: Record<string, unknown> };
  };
  let options = sls.custom.esbuild;
  if (typeof options.config === 'string') {
    type Config = (serverless: unknown) => Record<string, unknown>;
    const config = (await import(resolve(serviceDir, options.config))) as { default?: Config } & Config;
    options = (config.default ?? config)({ service: sls });
  }
  const exclude = [options.exclude ?? ['aws-sdk']].flat() as string[];
  const esbuild = Object.fromEntries(Object.entries(options).filter(([k]) => !PLUGIN_KEYS.includes(k)));
  return {
    ...esbuild,
    external: [...((options.external as string[]) ?? []), ...(exclude.includes('*') ? [] : exclude)],
  } as BuildOptions;
}
