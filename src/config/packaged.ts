/**
 * The config as the Lambda functions read it: what the loader (`loadConfig`, the one `validate` uses)
 * returned at package time, as JSON, so that no YAML parser or schema library is bundled with a function
 * (DESIGN 7.4). `deploy/from-config.js` writes it; `src/lambda/runtime.ts` reads it. This module imports
 * no value from `config.ts`: a function that imports it bundles none of the loader.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import type { Config } from './config.js';

/** Changes when the JSON's shape does; a function refuses a file of another version. */
export const PACKAGED_CONFIG_VERSION = 1;

export interface PackagedConfig {
  packagedConfigVersion: typeof PACKAGED_CONFIG_VERSION;
  /** The loader's result; its `file` is the YAML it read, as messages name it ("edit astro-trust.yaml"). */
  config: Config;
}

/** `path` relative to `root` when it is inside it, else as it is. */
function within(root: string, path: string): string {
  const rel = relative(root, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : path;
}

/**
 * A loaded config as packaged JSON; paths inside `root` (the service directory, which becomes the function's
 * working directory) are made relative to it so that they hold in the function too.
 */
export function packConfig(config: Config, root: string): PackagedConfig {
  return {
    packagedConfigVersion: PACKAGED_CONFIG_VERSION,
    config: {
      ...config,
      file: within(root, resolve(root, config.file)),
      inventory:
        config.inventory.source === 'file'
          ? { ...config.inventory, path: within(root, config.inventory.path) }
          : config.inventory,
    },
  };
}

/** Reads the packaged config; relative paths are taken from `root` (the function's working directory). */
export function readPackagedConfig(file: string, root = process.cwd()): Config {
  let packaged: Partial<PackagedConfig>;
  try {
    packaged = JSON.parse(readFileSync(resolve(root, file), 'utf8'));
  } catch (err) {
    throw new UsageError(
      `cannot read the packaged config ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): package the functions with osls package, which writes it`,
      { cause: err },
    );
  }
  if (packaged?.packagedConfigVersion !== PACKAGED_CONFIG_VERSION || !Array.isArray(packaged.config?.roles))
    throw new UsageError(
      `${file} is not a config packaged by this version of astro-trust (packagedConfigVersion ${String(packaged?.packagedConfigVersion)}, expected ${PACKAGED_CONFIG_VERSION}): package the functions again`,
    );
  const config = packaged.config;
  return config.inventory.source === 'file'
    ? { ...config, inventory: { ...config.inventory, path: resolve(root, config.inventory.path) } }
    : config;
}
