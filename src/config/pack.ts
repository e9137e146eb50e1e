/**
 * Packaging the config for the Lambda functions (deploy/from-config.js, at `osls package`): the loader's
 * result as JSON, name globs compiled, paths relative to the service directory (which becomes the
 * function's working directory).
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { globRegExp } from '../domain/glob.js';
import type { Config } from './config.js';
import { PACKAGED_CONFIG_VERSION, type PackagedConfig } from './packaged.js';

/** `path` relative to `root` when it is inside it, else as it is. */
function within(root: string, path: string): string {
  const rel = relative(root, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : path;
}

export function packConfig(config: Config, root: string): PackagedConfig {
  const globs: PackagedConfig['globs'] = {};
  for (const role of config.roles)
    for (const selector of role.deployments ?? []) if (selector.name) globs[selector.name] = globRegExp(selector.name);
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
    globs,
  };
}
