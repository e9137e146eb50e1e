/**
 * Where the config is when none is named (DESIGN 7.3): `ASTRO_TRUST_CONFIG`, else `./astro-trust.yaml`.
 * One rule for the command line, packaging and deploy (deploy/from-config.js reads it through tsx).
 */
export const DEFAULT_CONFIG_FILE = 'astro-trust.yaml';

export function configPath(env: Record<string, string | undefined> = process.env): string {
  return env.ASTRO_TRUST_CONFIG || DEFAULT_CONFIG_FILE;
}
