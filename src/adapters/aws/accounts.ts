/**
 * Several AWS accounts from one astro-trust (DESIGN 3.6). A role declared with `account` is named
 * `<account>/<name>` everywhere; this store sends each role to the store of its account: the home store
 * (the credentials astro-trust runs with) for roles without `account` or in the home account, a member
 * store (credentials from assuming the member role) for the others. An account whose member role cannot
 * be assumed fails only its own roles: they read as `Unreachable`, the other accounts go on.
 */
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import type { RoleRead } from '../../domain/plan.js';
import { splitRoleKey } from '../../domain/role-key.js';
import { MEMBER_SESSION_NAME, memberRoleNameFor, type MemberAccess } from '../../domain/self.js';
import { describeError, isRetryable, MemberAccountError } from '../../errors.js';
import { createIamClient, IamTrustStore, type IamTimings } from './iam.js';
import type { OwnedTrust, SavedTrust, TrustStore } from '../../app/ports.js';

/** How long a refused AssumeRole is not asked again: one refusal per account and run, not one per role. */
export const MEMBER_FAILURE_TTL_MS = 60_000;

/** The ARN partition of a region (aws, aws-cn, aws-us-gov). */
export function partitionOf(region: string): string {
  return region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
}

export interface AccountRouting {
  home: TrustStore;
  /** A store for a member account (built once per account, on first use). */
  member: (account: string) => TrustStore;
  /** The home account's id when it can be known: a role whose `account` is it uses the home store. */
  homeAccount?: () => Promise<string | undefined>;
  /** The accounts the config names: where OIDC providers of a role ARN in one of them are created. */
  accounts: Iterable<string>;
}

export class AccountRoutedStore implements TrustStore {
  private readonly members = new Map<string, TrustStore>();
  private readonly accounts: Set<string>;
  private home?: Promise<string | undefined>;

  constructor(private readonly r: AccountRouting) {
    this.accounts = new Set(r.accounts);
  }

  private async route(account: string | undefined): Promise<{ store: TrustStore; member: boolean }> {
    if (account === undefined) return { store: this.r.home, member: false };
    this.home ??= (this.r.homeAccount?.() ?? Promise.resolve(undefined)).catch(() => undefined);
    if ((await this.home) === account) return { store: this.r.home, member: false };
    let store = this.members.get(account);
    if (!store) this.members.set(account, (store = this.r.member(account)));
    return { store, member: true };
  }

  async readRoles(keys: string[], onProgress?: (done: number, total: number) => void): Promise<Map<string, RoleRead>> {
    const groups = new Map<string, { account?: string; keys: string[]; names: string[] }>();
    for (const key of keys) {
      const { account, name } = splitRoleKey(key);
      const g = groups.get(account ?? '') ?? { ...(account ? { account } : {}), keys: [], names: [] };
      g.keys.push(key);
      g.names.push(name);
      groups.set(account ?? '', g);
    }
    const out = new Map<string, RoleRead>();
    // Accounts in parallel (IAM throttles per account; each account's store keeps its own pace), progress summed.
    const done = new Map<string, number>();
    const report = (group: string, n: number) => {
      done.set(group, n);
      onProgress?.(
        [...done.values()].reduce((a, b) => a + b, 0),
        keys.length,
      );
    };
    await Promise.all(
      [...groups.entries()].map(async ([id, g]) => {
        const { store, member } = await this.route(g.account);
        try {
          const read = await store.readRoles(g.names, (d) => report(id, d));
          g.keys.forEach((k, i) => out.set(k, read.get(g.names[i]!)));
        } catch (err) {
          // The home account failing is the whole run failing (no credentials, no IAM): say so once.
          if (!member) throw err;
          const unreachable = { unreachable: describeError(err), retryable: isRetryable(err) };
          for (const k of g.keys) out.set(k, unreachable);
        }
        report(id, g.keys.length);
      }),
    );
    return out;
  }

  async writeTrust(key: string, owned: OwnedTrust): Promise<'written' | 'unchanged'> {
    const { account, name } = splitRoleKey(key);
    return (await this.route(account)).store.writeTrust(name, owned);
  }

  async writeSavedTrust(key: string, saved: SavedTrust): Promise<'written' | 'unchanged'> {
    const { account, name } = splitRoleKey(key);
    return (await this.route(account)).store.writeSavedTrust(name, saved);
  }

  async listOidcProviders(account?: string): Promise<Set<string> | undefined> {
    const { store, member } = await this.route(account);
    try {
      return await store.listOidcProviders();
    } catch (err) {
      // That account's roles read as unreachable and say why; unknown providers change nothing more.
      if (member) return undefined;
      throw err;
    }
  }

  async ensureOidcProviders(partition: string, accountId: string, issuers: string[]): Promise<{ created: string[] }> {
    const { store } = await this.route(this.accounts.has(accountId) ? accountId : undefined);
    return store.ensureOidcProviders(partition, accountId, issuers);
  }
}

export interface MemberStoreOptions {
  /** The config's `memberRoleName`: the writer; the reader is `<memberRoleName>-reader`. */
  memberRoleName: string;
  /** `read`: assume the read-only `<memberRoleName>-reader`; `write`: the member role itself (DESIGN 7.1). */
  access: MemberAccess;
  /**
   * The source identity to open the session with: the hub's (`astro-trust`) for the reconcile function and
   * `serve`, whose member-account changes are then recognised as astro-trust's own; none for a person's
   * `plan`/`apply` (their session keeps the source identity it has, if any).
   */
  sourceIdentity?: string;
  region: string;
  /** The credentials that assume the member role (default: the SDK's chain); tests pass moto's. */
  masterCredentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Extra client settings (an endpoint for moto). */
  endpoint?: string;
  timings?: Partial<IamTimings>;
  /** The account's IAM request limit (`defaults.iamRequestsPerSecond`); unset: not paced. */
  requestsPerSecond?: number;
  log?: (line: string) => void;
  /** Told of every IAM command the member client sends (metrics, bench). */
  onClient?: (client: ReturnType<typeof createIamClient>) => void;
  /** The clock a refusal is kept by (tests). */
  now?: () => number;
}

/**
 * IAM in a member account, with credentials from STS AssumeRole of `arn:aws:iam::<account>:role/<memberRoleName>`
 * (writes) or `<memberRoleName>-reader` (reads only), session name `astro-trust`, and the hub's source identity
 * when given. The SDK client keeps them until 5 minutes before they expire, then assumes again. A refusal
 * becomes MemberAccountError, which says what to deploy. Roles are read with GetRole only: the member roles
 * may not list the account's roles.
 */
export function memberTrustStore(account: string, o: MemberStoreOptions): TrustStore {
  const roleArn = `arn:${partitionOf(o.region)}:iam::${account}:role/${memberRoleNameFor(o.memberRoleName, o.access)}`;
  const assume = fromTemporaryCredentials({
    params: {
      RoleArn: roleArn,
      RoleSessionName: MEMBER_SESSION_NAME,
      ...(o.sourceIdentity ? { SourceIdentity: o.sourceIdentity } : {}),
    },
    clientConfig: { region: o.region, ...(o.endpoint ? { endpoint: o.endpoint } : {}) },
    ...(o.masterCredentials ? { masterCredentials: o.masterCredentials } : {}),
  });
  // The SDK client keeps good credentials; this keeps a refusal for a while and shares one attempt between
  // the concurrent reads of an account, so an account that cannot be assumed costs one AssumeRole, not one per role.
  let refused: { atMs: number; error: MemberAccountError } | undefined;
  let attempt: Promise<AwsCredentialIdentity> | undefined;
  const now = o.now ?? Date.now;
  const credentials: AwsCredentialIdentityProvider = async () => {
    if (refused && now() - refused.atMs < MEMBER_FAILURE_TTL_MS) throw refused.error;
    attempt ??= assume()
      .then(
        (c) => ((refused = undefined), c),
        (err) => {
          refused = { atMs: now(), error: new MemberAccountError(account, roleArn, err, o.access) };
          throw refused.error;
        },
      )
      .finally(() => (attempt = undefined));
    return attempt;
  };
  const client = createIamClient(
    { region: o.region, credentials, ...(o.endpoint ? { endpoint: o.endpoint } : {}) },
    { requestsPerSecond: o.requestsPerSecond },
  );
  o.onClient?.(client);
  return new IamTrustStore(client, { ...o.timings, listRolesFrom: Number.POSITIVE_INFINITY }, o.log);
}
