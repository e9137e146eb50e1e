/**
 * Wiring shared by the command line and the Lambda functions: the trust store for a config whose roles
 * may live in several accounts (DESIGN 3.6). One account: the home store as it is. Several: a store that
 * routes each role to its account, assuming the member role for the others.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { AccountRoutedStore } from '../adapters/aws/accounts.js';
import { IamSnapshotStore } from '../adapters/aws/iam-snapshot.js';
import type { TrustStore } from '../app/ports.js';
import type { Config } from '../config/config.js';
import { IamSnapshotError, UsageError } from '../errors.js';

/** The accounts the config's roles name. */
export function memberAccounts(config: Config): string[] {
  return [...new Set(config.roles.flatMap((r) => (r.account ? [r.account] : [])))].sort();
}

/** The home store, or a router over it and one member store per account the config names. */
export function routedTrustStore(
  config: Config,
  o: { home: TrustStore; member: (account: string) => TrustStore; homeAccount?: () => Promise<string | undefined> },
): TrustStore {
  const accounts = memberAccounts(config);
  if (accounts.length === 0) return o.home;
  return new AccountRoutedStore({
    home: o.home,
    member: o.member,
    accounts,
    ...(o.homeAccount ? { homeAccount: o.homeAccount } : {}),
  });
}

/** The account of the credentials astro-trust runs with (STS GetCallerIdentity, once). */
export function callerAccount(o: { region: string; endpoint?: string }): () => Promise<string | undefined> {
  let account: Promise<string | undefined> | undefined;
  return () =>
    (account ??= new STSClient({ region: o.region, ...(o.endpoint ? { endpoint: o.endpoint } : {}) })
      .send(new GetCallerIdentityCommand({}))
      .then((r) => r.Account));
}

/**
 * `--iam-snapshot FILE` (the home account) and `--iam-snapshot ACCOUNT=FILE` (another account), repeatable:
 * one offline store per account. A member account without a snapshot reads as unreachable and says which
 * option to add; a snapshot of another account than its ACCOUNT= is refused.
 */
export function snapshotTrustStore(config: Config, args: string[]): TrustStore {
  let home: IamSnapshotStore | undefined;
  const members = new Map<string, IamSnapshotStore>();
  for (const arg of args) {
    const m = /^(\d{12})=(.+)$/.exec(arg);
    if (!m) {
      if (home)
        throw new UsageError(
          `--iam-snapshot ${arg}: a second snapshot without ACCOUNT=; name the account of each other snapshot (--iam-snapshot 444455556666=member.json)`,
        );
      home = new IamSnapshotStore(arg);
      continue;
    }
    const [, account, file] = m as unknown as [string, string, string];
    const store = new IamSnapshotStore(file);
    const actual = store.account();
    if (actual && actual !== account)
      throw new IamSnapshotError(`--iam-snapshot ${arg}: ${file} holds roles of account ${actual}, not ${account}`);
    members.set(account, store);
  }
  const missing = (why: string): TrustStore => ({
    readRoles: async () => {
      throw new IamSnapshotError(why);
    },
    listOidcProviders: async () => undefined,
    writeTrust: async () => {
      throw new UsageError('an IAM snapshot is read-only');
    },
    writeSavedTrust: async () => {
      throw new UsageError('an IAM snapshot is read-only');
    },
    ensureOidcProviders: async () => {
      throw new UsageError('an IAM snapshot is read-only');
    },
  });
  const take = 'aws iam get-account-authorization-details --filter Role, run in that account';
  const homeStore: TrustStore =
    home ?? missing(`no IAM snapshot for the roles without account: add --iam-snapshot FILE (${take})`);
  return routedTrustStore(config, {
    home: homeStore,
    member: (account) =>
      members.get(account) ??
      missing(`no IAM snapshot for account ${account}: add --iam-snapshot ${account}=FILE (${take})`),
    homeAccount: async () => home?.account(),
  });
}
