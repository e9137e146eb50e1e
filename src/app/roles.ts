/**
 * What `--role` means, the same in every command (DESIGN 7.3): a role key. `<account>/<name>` is that one
 * role (a role declared without `account` is also `<home account>/<name>`, the account astro-trust runs in);
 * a bare name is that name in every account: plan and apply take them all, explain asks for a key.
 */
import type { Config } from '../config/config.js';
import type { RoleSpec } from '../domain/desired.js';
import { splitRoleKey } from '../domain/role-key.js';
import { UsageError } from '../errors.js';

/** The account astro-trust runs in, when it can be known (STS, a snapshot, ASTRO_TRUST_HOME_ACCOUNT); asked only when needed. */
export type HomeAccount = () => Promise<string | undefined>;

function undeclared(config: Config, unknown: string[]): UsageError {
  return new UsageError(
    `--role ${unknown.join(', ')}: not declared in ${config.file}; declared roles: ${config.roles.map((r) => r.name).join(', ')}`,
  );
}

/** The roles one typed key selects (none when it names no declared role). */
async function matches(config: Config, typed: string, home: HomeAccount | undefined): Promise<RoleSpec[]> {
  if (!typed.includes('/')) return config.roles.filter((r) => r.roleName === typed);
  const exact = config.roles.filter((r) => r.name === typed);
  if (exact.length > 0) return exact;
  // `<account>/<name>` for a role declared without account: only when that account is the home account.
  const { account, name } = splitRoleKey(typed);
  const local = config.roles.filter((r) => !r.account && r.roleName === name);
  if (!account || local.length === 0) return [];
  const homeAccount = await home?.().catch(() => undefined);
  if (homeAccount === undefined)
    throw new UsageError(
      `--role ${typed}: ${name} is declared without account, and the account astro-trust runs in could not be told (no credentials?); use --role ${name}, or set ASTRO_TRUST_HOME_ACCOUNT`,
    );
  return homeAccount === account ? local : [];
}

/**
 * The keys (`RoleSpec.name`) of the roles `--role` selects, in config order; undefined (every role) when
 * none was given. A key that names no declared role is a usage error listing the declared ones.
 */
export async function resolveRoleKeys(
  config: Config,
  typed: string[] | undefined,
  home?: HomeAccount,
): Promise<string[] | undefined> {
  if (!typed || typed.length === 0) return undefined;
  const selected = new Set<string>();
  const unknown: string[] = [];
  for (const t of typed) {
    const found = await matches(config, t, home);
    if (found.length === 0) unknown.push(t);
    found.forEach((r) => selected.add(r.name));
  }
  if (unknown.length > 0) throw undeclared(config, unknown);
  return config.roles.filter((r) => selected.has(r.name)).map((r) => r.name);
}

/**
 * The one role a command about one role (explain) works on. A bare name declared in several accounts is a
 * usage error that lists the keys to type, the role without account as `<home account>/<name>`.
 */
export async function resolveOneRole(config: Config, typed: string, home?: HomeAccount): Promise<RoleSpec> {
  const found = await matches(config, typed, home);
  if (found.length === 0) throw undeclared(config, [typed]);
  if (found.length === 1) return found[0]!;
  const homeAccount = found.some((r) => !r.account) ? await home?.().catch(() => undefined) : undefined;
  const keys = found.map((r) =>
    r.account ? r.name : homeAccount ? `${homeAccount}/${r.roleName}` : `<your account id>/${r.roleName}`,
  );
  throw new UsageError(
    `--role ${typed}: ${typed} is declared in ${found.length} accounts; explain one role at a time: --role ${keys.join(' or --role ')}`,
  );
}
