/**
 * Where the config is (DESIGN 7.3), one rule for the command line, packaging and deploying: `--config FILE`,
 * else `ASTRO_TRUST_CONFIG`, else `./astro-trust.yaml`. Only node:fs and node:path, so packaging can load
 * it without the loader's dependencies.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ConfigNotFoundError } from '../errors.js';

export const CONFIG_ENV = 'ASTRO_TRUST_CONFIG';
export const DEFAULT_CONFIG_FILE = 'astro-trust.yaml';

export interface ConfigLocation {
  /** The path as the user gave it (relative to `cwd` when relative): what messages show. */
  file: string;
  /** Where it came from. */
  from: '--config' | typeof CONFIG_ENV | 'default';
}

/**
 * The config file to load: `flag` (the `--config` value) when given, else `env.ASTRO_TRUST_CONFIG` when set
 * and not empty, else `astro-trust.yaml` in `cwd`. A file that does not exist is an error naming where the
 * path came from; when none of the three gives one, the error names all three.
 */
export function configPath(env: Record<string, string | undefined>, cwd: string, flag?: string): ConfigLocation {
  const at = (file: string) => (isAbsolute(file) ? file : join(cwd, file));
  if (flag !== undefined && flag !== '') {
    if (!existsSync(at(flag))) throw new ConfigNotFoundError(`--config ${flag}: no such file`);
    return { file: flag, from: '--config' };
  }
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv) {
    if (!existsSync(at(fromEnv))) throw new ConfigNotFoundError(`${CONFIG_ENV}=${fromEnv}: no such file`);
    return { file: fromEnv, from: CONFIG_ENV };
  }
  if (existsSync(at(DEFAULT_CONFIG_FILE))) return { file: DEFAULT_CONFIG_FILE, from: 'default' };
  throw new ConfigNotFoundError(
    `no config file: --config was not given, ${CONFIG_ENV} is not set, and there is no ./${DEFAULT_CONFIG_FILE} in ${cwd}. ` +
      `Pass --config FILE, set ${CONFIG_ENV}, or create ./${DEFAULT_CONFIG_FILE} (astro-trust init writes one from the trust IAM holds today)`,
  );
}
