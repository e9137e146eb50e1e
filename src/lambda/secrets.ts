/**
 * Secrets from SSM for the functions that need them (the middy `ssm` middleware, which brings the SSM
 * client: a function without secrets, such as iamChange, does not import this module).
 */
import type middy from '@middy/core';
import ssm from '@middy/ssm';
import type { Context } from 'aws-lambda';
import { UsageError } from '../errors.js';
import { runtime, type LambdaEnv } from './runtime.js';

type SecretKey = keyof LambdaEnv['params'];

/** The Lambda context once the `secrets` middleware ran: each secret the function asked for, as a string. */
export type WithSecrets<K extends SecretKey> = Context & Partial<Record<K, string>>;

/**
 * How long secrets are cached: 5 minutes on Lambda (rotation is picked up), for the whole process under
 * `osls invoke local` (IS_LOCAL), where middy's refresh timer would keep Node from exiting.
 */
export function secretsCacheMs(env: NodeJS.ProcessEnv = process.env): number {
  return env.IS_LOCAL === 'true' ? -1 : 5 * 60_000;
}

/**
 * The middy `ssm` middleware for a function's secrets, with an error that names the SSM parameters and
 * says how to create them instead of middy's "Failed to resolve internal values".
 */
export function secrets<K extends SecretKey>(
  keys: K[],
  cacheKey: string,
): middy.MiddlewareObj<unknown, unknown, Error, WithSecrets<K>> {
  const fetchData = ssmFetchData(keys);
  const inner = ssm({ fetchData, setToContext: true, cacheKey, cacheExpiry: secretsCacheMs() });
  return {
    before: async (request) => {
      try {
        return await inner.before!(request as never);
      } catch (err) {
        const causes = ((err as { cause?: { data?: unknown[] } }).cause?.data ?? []).map(
          (e) => (e as Error).message ?? String(e),
        );
        throw new UsageError(
          `cannot read the SSM parameter${Object.keys(fetchData).length === 1 ? '' : 's'} ${Object.values(fetchData).join(', ')}` +
            `${causes.length ? ` (${causes.join('; ')})` : ''}: create ${Object.keys(fetchData).length === 1 ? 'it' : 'them'} as SecureString (docs/deploy.md, "Secrets"), or npm run local:up for a local run`,
          { cause: err },
        );
      }
    },
  };
}

/**
 * middy `ssm` fetchData for the secrets a function needs: each SSM parameter named in the environment,
 * except the Astro API token when the config reads its inventory from a file.
 */
export function ssmFetchData(keys: SecretKey[]): Record<string, string> {
  const rt = runtime();
  const out: Record<string, string> = {};
  for (const key of keys) {
    const name = rt.env.params[key];
    if (!name) continue;
    if (key === 'astroApiToken' && rt.config.inventory.source === 'file') continue;
    out[key] = name;
  }
  return out;
}
