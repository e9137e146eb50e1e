/**
 * The config as the Lambda functions read it: what the loader (`loadConfig`, the one `validate` uses)
 * returned at package time, as JSON, with every name glob already compiled, so that no YAML parser, schema
 * library or glob compiler is bundled with a function (DESIGN 7.4). `src/config/pack.ts` writes it (through
 * deploy/from-config.js); `src/lambda/runtime.ts` reads it with this module, which imports no value from
 * `config.ts`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { Config } from './config.js';

/** Changes when the JSON's shape does; a function refuses a file of another version. */
export const PACKAGED_CONFIG_VERSION = 1;

export interface PackagedConfig {
  packagedConfigVersion: typeof PACKAGED_CONFIG_VERSION;
  /** The loader's result; its `file` is the YAML it read, as messages name it ("edit astro-trust.yaml"). */
  config: Config;
  /** Each `name` glob of the config, compiled (src/domain/glob.ts: `globRegExp`). */
  globs: Record<string, { source: string; flags: string }>;
}

/** Reads the packaged config; relative paths are taken from `root` (the function's working directory). */
export function readPackagedConfig(file: string, root = process.cwd()): PackagedConfig {
  let packaged: Partial<PackagedConfig>;
  try {
    packaged = JSON.parse(readFileSync(resolve(root, file), 'utf8'));
  } catch (err) {
    throw new UsageError(
      `cannot read the packaged config ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): package the functions with osls package, which writes it`,
      { cause: err },
    );
  }
  if (
    packaged?.packagedConfigVersion !== PACKAGED_CONFIG_VERSION ||
    !Array.isArray(packaged.config?.roles) ||
    typeof packaged.globs !== 'object'
  )
    throw new UsageError(
      `${file} is not a config packaged by this version of astro-trust (packagedConfigVersion ${String(packaged?.packagedConfigVersion)}, expected ${PACKAGED_CONFIG_VERSION}): package the functions again`,
    );
  const config = packaged.config;
  return {
    ...(packaged as PackagedConfig),
    config:
      config.inventory.source === 'file'
        ? { ...config, inventory: { ...config.inventory, path: resolve(root, config.inventory.path) } }
        : config,
  };
}
