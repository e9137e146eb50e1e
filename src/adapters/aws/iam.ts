/**
 * IAM through `@aws-sdk/client-iam`. The SDK's own retries are off (maxAttempts 1) because it retries
 * `LimitExceeded` as if it were throttling; this adapter retries what is worth retrying, and only that,
 * with a budget per call (DESIGN 7.4). Every request goes through the account's limiter
 * (`rate-limit.ts`), so retries are paced like first attempts.
 */
import {
  CreateOpenIDConnectProviderCommand,
  GetRoleCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
  ListRolesCommand,
  UpdateAssumeRolePolicyCommand,
  type IAMClientConfig,
} from '@aws-sdk/client-iam';
import { parseRoleArn } from '../../domain/deployment.js';
import type { RoleState } from '../../domain/plan.js';
import {
  parseTrustPolicy,
  policyChars,
  samePolicy,
  serializePolicy,
  type PolicyDocument,
} from '../../domain/policy.js';
import { issuerOfProviderArn, ownedOf, withOwned } from '../../domain/statements.js';
import {
  AstroTrustError,
  AwsAccessError,
  UsageError,
  ConcurrentEditError,
  IamUnavailableError,
  IamWriteError,
  InvalidPrincipalError,
  RoleMissingError,
  StalePlanError,
  VerifyError,
} from '../../errors.js';
import type { OwnedTrust, RoleLister, SavedTrust, TrustStore } from '../../app/ports.js';
import { policyChanges, policyDigest } from '../../domain/saved-plan.js';
import { pool } from '../../pool.js';
import { sleep, withRetry } from '../retry.js';
import { IamRateLimiter, pacedStrategy } from './rate-limit.js';

export interface IamTimings {
  /** Attempts of one call (a read, a write, a read-back: each its own budget) for 5xx and network errors. */
  attempts: number;
  /**
   * Attempts of one call answered `Throttling`: IAM is up and says "slower", and the limiter slows down, so
   * a call keeps trying longer. Sized for 30% random throttling: 0.3^12 = 5e-7 a call (DESIGN 7.4).
   */
  throttleAttempts: number;
  /** Attempts when nothing answers at the endpoint (refused, or a name that does not resolve): waiting rarely helps. */
  unreachableAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Attempts for `Invalid principal` (a new Astro role propagating). */
  principalAttempts: number;
  principalBaseDelayMs: number;
  /**
   * How long a read-back after a write may still show the document from before it (IAM is eventually
   * consistent) before that is reported; read again after `verifyDelayMs`, growing 1.5x up to 2 s.
   */
  verifyWindowMs: number;
  verifyDelayMs: number;
  concurrency: number;
  /** From this many roles on, read them with ListRoles pages instead of one GetRole each. */
  listRolesFrom: number;
  /** Log each retry, not only the summary. */
  verbose?: boolean;
}

export const DEFAULT_IAM_TIMINGS: IamTimings = {
  attempts: 6,
  throttleAttempts: 12,
  unreachableAttempts: 2,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  principalAttempts: 5,
  principalBaseDelayMs: 2_000,
  verifyWindowMs: 10_000,
  verifyDelayMs: 250,
  concurrency: 8,
  listRolesFrom: 20,
};

interface AwsErrorLike {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']);
const SERVICE_FAILURE = new Set(['ServiceFailure', 'ServiceFailureException']);

function isThrottling(err: unknown): boolean {
  const e = err as AwsErrorLike;
  return (e.name !== undefined && THROTTLING.has(e.name)) || e.$metadata?.httpStatusCode === 429;
}

function isTransient(err: unknown): boolean {
  // Already judged (a call that used up its own budget inside another): never retried again from outside.
  if (err instanceof AstroTrustError) return false;
  const e = err as AwsErrorLike;
  if (e.name && (THROTTLING.has(e.name) || SERVICE_FAILURE.has(e.name))) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  // No HTTP answer at all: connection reset, refused, timed out.
  return /ECONNRESET|ECONNREFUSED|EPIPE|socket hang up|timeout|TimeoutError|other side closed/i.test(
    `${e.name} ${e.message}`,
  );
}

/** Nothing answers at the endpoint: the connection was refused, or its name does not resolve. */
function isUnreachable(err: unknown): boolean {
  return /ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(reasonOf(err));
}

/** A short name for a failure: the AWS error code, or the network error's code. */
function reasonOf(err: unknown): string {
  const e = err as AwsErrorLike & { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? /\b(E[A-Z]{4,})\b/.exec(e.message ?? '')?.[1];
  return code && (!e.name || e.name === 'Error' || e.name === 'TypeError') ? code : (e.name ?? 'Error');
}

function isInvalidPrincipal(err: unknown): boolean {
  const e = err as AwsErrorLike;
  return e.name === 'MalformedPolicyDocument' || e.name === 'MalformedPolicyDocumentException'
    ? /invalid principal/i.test(e.message ?? '')
    : false;
}

function principalIn(message: string): string | undefined {
  return /Invalid principal in policy: "?(?:AWS|Federated)"?:"?([^"\s]+)"?/i.exec(message)?.[1];
}

/** Calls `onCommand` with the name of every SDK command the client sends (retries of one command count once). */
export function onCommand(client: IAMClient, onCommand: (name: string) => void): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      onCommand((context as { commandName?: string }).commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: `astroTrustCommandListener${++listeners}` },
  );
}
let listeners = 0;

/** Counts SDK commands by name (for `bench/` and the tests that assert "zero writes"). */
export function countCommands(client: IAMClient): Map<string, number> {
  const counts = new Map<string, number>();
  onCommand(client, (name) => counts.set(name, (counts.get(name) ?? 0) + 1));
  return counts;
}

/**
 * An IAM client with the SDK's retries turned off; region and endpoint come from the SDK's environment.
 * With `requestsPerSecond` (or a `limiter` to share), every request waits for the account's limiter.
 */
export function createIamClient(
  config: IAMClientConfig = {},
  pace: { requestsPerSecond?: number; limiter?: IamRateLimiter } = {},
): IAMClient {
  const limiter = pace.limiter ?? (pace.requestsPerSecond ? new IamRateLimiter(pace.requestsPerSecond) : undefined);
  return new IAMClient({ maxAttempts: 1, ...(limiter ? { retryStrategy: pacedStrategy(limiter) } : {}), ...config });
}

export class IamTrustStore implements TrustStore, RoleLister {
  private readonly t: IamTimings;

  constructor(
    private readonly client: IAMClient,
    timings: Partial<IamTimings> = {},
    private readonly log: (line: string) => void = () => {},
  ) {
    this.t = { ...DEFAULT_IAM_TIMINGS, ...timings };
  }

  /**
   * Retries throttling, 5xx and dropped connections with backoff. One summary line when it had to retry
   * (each retry only with `verbose`); no credentials, or no IAM at the endpoint, end in one short message
   * that says what to do.
   */
  private async transient<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const seen: string[] = [];
    let tries = 0;
    try {
      const out = await withRetry(() => (tries++, fn()), {
        attempts: Math.max(this.t.attempts, this.t.throttleAttempts),
        baseDelayMs: this.t.baseDelayMs,
        maxDelayMs: this.t.maxDelayMs,
        classify: (err) => ({
          retry:
            isTransient(err) &&
            tries <
              (isThrottling(err)
                ? this.t.throttleAttempts
                : isUnreachable(err)
                  ? this.t.unreachableAttempts
                  : this.t.attempts),
        }),
        onRetry: (err, attempt, delay) => {
          seen.push(reasonOf(err));
          if (this.t.verbose) this.log(`${what}: ${reasonOf(err)}, retry ${attempt} in ${delay} ms`);
        },
      });
      if (seen.length > 0)
        this.log(
          `${what}: succeeded after ${seen.length} ${seen.length === 1 ? 'retry' : 'retries'} (${[...new Set(seen)].join(', ')})`,
        );
      return out;
    } catch (err) {
      if ((err as AwsErrorLike).name === 'CredentialsProviderError') {
        throw new AwsAccessError(
          'no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), point AWS_ENDPOINT_URL at moto for a local run, or plan offline with --iam-snapshot',
          { cause: err },
        );
      }
      if (!isTransient(err)) throw err;
      throw new IamUnavailableError(
        `${what}: IAM still failing after ${tries} attempts (${reasonOf(err)})` +
          (isUnreachable(err)
            ? '; nothing answers at the IAM endpoint: check AWS_ENDPOINT_URL (for moto: is moto_server running?) and the network, or plan offline with --iam-snapshot'
            : ''),
        { cause: err },
      );
    }
  }

  /** One GetRole, no retry: undefined when the role does not exist. */
  private async readRole(name: string): Promise<RoleState | undefined> {
    try {
      const out = await this.client.send(new GetRoleCommand({ RoleName: name }));
      const role = out.Role;
      const arn = role?.Arn ? parseRoleArn(role.Arn) : undefined;
      if (!role || !arn) throw new IamWriteError(`GetRole ${name}: IAM returned no role ARN`);
      return { arn, document: parseTrustPolicy(role.AssumeRolePolicyDocument ?? '{"Statement":[]}') };
    } catch (err) {
      if ((err as AwsErrorLike).name === 'NoSuchEntity' || (err as AwsErrorLike).name === 'NoSuchEntityException')
        return undefined;
      throw err;
    }
  }

  private getRole(name: string): Promise<RoleState | undefined> {
    return this.transient(`GetRole ${name}`, () => this.readRole(name));
  }

  /**
   * Reads the named roles: one GetRole each for a few; for many, ListRoles pages (up to 1,000 roles and their
   * trust policies a call) until every name is found, which is fewer calls unless the account has over
   * 1,000 roles per name asked for. Role names match case-insensitively, as IAM matches them.
   */
  async readRoles(names: string[], onProgress?: (done: number, total: number) => void) {
    // `<account>/<name>` is a role of another account (DESIGN 3.6): only the account-routed store may read it.
    const elsewhere = names.find((n) => n.includes('/'));
    if (elsewhere)
      throw new UsageError(
        `role ${elsewhere} is in another account: this IAM store reads its own account only (wire the trust store with src/wiring/accounts.ts)`,
      );
    if (names.length >= this.t.listRolesFrom) return this.listRoles(names, onProgress);
    const out = new Map<string, RoleState | undefined>();
    let done = 0;
    await pool(names, this.t.concurrency, async (name) => {
      out.set(name, await this.getRole(name));
      onProgress?.(++done, names.length);
    });
    return new Map(names.map((n) => [n, out.get(n)]));
  }

  private async listRoles(names: string[], onProgress?: (done: number, total: number) => void) {
    const wanted = new Map(names.map((n) => [n.toLowerCase(), n]));
    const found = new Map<string, RoleState>();
    let marker: string | undefined;
    do {
      const page = await this.transient('ListRoles', () =>
        this.client.send(new ListRolesCommand({ MaxItems: 1000, ...(marker ? { Marker: marker } : {}) })),
      );
      for (const role of page.Roles ?? []) {
        const name = role.RoleName ? wanted.get(role.RoleName.toLowerCase()) : undefined;
        const arn = role.Arn ? parseRoleArn(role.Arn) : undefined;
        if (!name || !arn) continue;
        found.set(name, { arn, document: parseTrustPolicy(role.AssumeRolePolicyDocument ?? '{"Statement":[]}') });
      }
      onProgress?.(found.size, names.length);
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker && found.size < names.length);
    onProgress?.(names.length, names.length);
    return new Map(names.map((n) => [n, found.get(n)]));
  }

  /**
   * The write path of every method that writes a trust policy (DESIGN 6.3, 7.4). Each attempt reads the role
   * (a call with its own retry budget), builds the document to write from what it read (`build`: undefined
   * when IAM already holds it; it may throw to refuse), and writes it (a call with its own budget: a
   * throttled write is tried again, reading again first, so a statement added meanwhile is kept). An
   * `Invalid principal` is tried again while a new principal propagates. Then the role is read back until
   * IAM shows the write (stale reads waited out, `readBack`).
   */
  private async readBuildWrite(
    roleName: string,
    build: (fresh: RoleState) => PolicyDocument | undefined,
  ): Promise<'written' | 'unchanged'> {
    const what = `UpdateAssumeRolePolicy ${roleName}`;
    let write: { written: PolicyDocument; previous: PolicyDocument } | undefined;
    try {
      write = await withRetry(() => this.transient(what, () => this.buildAndWrite(roleName, build)), {
        attempts: this.t.principalAttempts,
        baseDelayMs: this.t.principalBaseDelayMs,
        maxDelayMs: this.t.principalBaseDelayMs * 8,
        classify: (err) => (isInvalidPrincipal(err) ? { retry: true } : { retry: false }),
        onRetry: (err, attempt, delay) =>
          this.log(`${what}: ${(err as Error).message}; principal may be propagating, retry ${attempt} in ${delay} ms`),
      });
    } catch (err) {
      if (err instanceof AstroTrustError) throw err;
      const e = err as AwsErrorLike;
      if (isInvalidPrincipal(err)) {
        const principal = principalIn(e.message ?? '');
        throw new InvalidPrincipalError(
          `${what}: IAM does not know principal ${principal ?? '(unnamed)'} after ${this.t.principalAttempts} attempts; a Deployment's identity may not exist (yet)`,
          principal,
          { cause: err },
        );
      }
      if (e.name === 'LimitExceeded' || e.name === 'LimitExceededException') {
        throw new IamWriteError(
          `${what}: IAM says the trust policy is over the account's quota; raise "Role trust policy length" or maxPolicyChars is set above the real quota`,
          { cause: err },
        );
      }
      throw new IamWriteError(`${what}: ${e.name ?? 'Error'}: ${e.message}`, { cause: err });
    }
    if (!write) return 'unchanged';
    await this.readBack(roleName, write.written, write.previous);
    return 'written';
  }

  /** One write attempt: read the role (its own retry budget), build, send the write once. */
  private async buildAndWrite(
    roleName: string,
    build: (fresh: RoleState) => PolicyDocument | undefined,
  ): Promise<{ written: PolicyDocument; previous: PolicyDocument } | undefined> {
    const fresh = await this.getRole(roleName);
    if (!fresh) throw new RoleMissingError(`UpdateAssumeRolePolicy ${roleName}: the role no longer exists`);
    const document = build(fresh);
    if (!document || samePolicy(document, fresh.document)) return undefined;
    await this.client.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: roleName, PolicyDocument: serializePolicy(document) }),
    );
    return { written: document, previous: fresh.document };
  }

  /**
   * Replaces the owned statements in the role as read at write time, never a document built earlier: a
   * statement someone added since the plan (or since the last attempt) is kept (DESIGN 6.3).
   */
  async writeTrust(roleName: string, owned: OwnedTrust): Promise<'written' | 'unchanged'> {
    return this.readBuildWrite(roleName, (fresh) => {
      const document = withOwned(fresh.document, owned.statements);
      const chars = policyChars(document);
      if (chars > owned.maxPolicyChars && chars > policyChars(fresh.document)) {
        throw new ConcurrentEditError(
          `UpdateAssumeRolePolicy ${roleName}: the role was edited since it was planned and the merged policy (${chars} characters) is over maxPolicyChars (${owned.maxPolicyChars}); nothing written, the next reconcile plans again`,
        );
      }
      return document;
    });
  }

  /**
   * Reads the role back until IAM shows what was written. IAM is eventually consistent: a read that still
   * shows the document from before the write is waited out for up to `verifyWindowMs` (no second write, no
   * failure). A third document is another writer, said as such at once; waiting would not change it.
   */
  private async readBack(roleName: string, written: PolicyDocument, previous: PolicyDocument): Promise<void> {
    const what = `UpdateAssumeRolePolicy ${roleName}`;
    const started = Date.now();
    let delay = this.t.verifyDelayMs;
    for (let reads = 1; ; reads++) {
      const state = await this.getRole(roleName);
      if (!state) throw new RoleMissingError(`${what}: the role was deleted right after astro-trust wrote it`);
      const ownedAsWritten = samePolicy(
        { ...state.document, Statement: ownedOf(state.document) },
        { ...written, Statement: ownedOf(written) },
      );
      if (samePolicy(state.document, written) || (ownedAsWritten && !samePolicy(state.document, previous))) {
        if (reads > 1 && this.t.verbose)
          this.log(`${what}: IAM showed the write after ${reads} read-backs (${Date.now() - started} ms)`);
        return;
      }
      if (!samePolicy(state.document, previous)) {
        throw new ConcurrentEditError(
          `${what}: another writer changed the role right after astro-trust wrote it (IAM holds neither the trust policy written nor the one before it); not written again, the next reconcile plans from what IAM holds`,
        );
      }
      const elapsed = Date.now() - started;
      if (elapsed >= this.t.verifyWindowMs) {
        throw new VerifyError(
          `${what}: IAM still shows the trust policy from before the write ${(elapsed / 1000).toFixed(1)} s after it (read back ${reads} times); not written again, the next reconcile reads it afresh`,
        );
      }
      await sleep(Math.min(delay, this.t.verifyWindowMs - elapsed));
      delay = Math.min(delay * 1.5, 2_000);
    }
  }

  /**
   * Writes a saved plan's document (DESIGN 7.3) through the one write path: every attempt reads the role and
   * refuses one that is not the policy the plan was made against; already holding the document is no change
   * (someone applied the same plan), unless an attempt of ours sent it and its answer got lost: then it landed.
   */
  async writeSavedTrust(roleName: string, saved: SavedTrust): Promise<'written' | 'unchanged'> {
    let sent = false;
    const result = await this.readBuildWrite(roleName, (live) => {
      if (samePolicy(live.document, saved.document)) return undefined;
      const digest = policyDigest(live.document);
      if (digest !== saved.liveDigest) {
        throw new StalePlanError(
          `role ${roleName} changed since the plan: ${policyChanges(saved.planned, live.document).join('; ') || 'its policy differs'} ` +
            `(live policy ${digest.slice(0, 19)}..., planned against ${saved.liveDigest.slice(0, 19)}...); nothing written to it, plan again`,
        );
      }
      sent = true;
      return saved.document;
    });
    return result === 'unchanged' && sent ? 'written' : result;
  }

  /** Every role of the account with its trust policy: ListRoles pages of up to 1,000 (`init`). Reads only. */
  async listAllRoles(onProgress?: (listed: number) => void): Promise<{ name: string; state: RoleState }[]> {
    const out: { name: string; state: RoleState }[] = [];
    let marker: string | undefined;
    do {
      const page = await this.transient('ListRoles', () =>
        this.client.send(new ListRolesCommand({ MaxItems: 1000, ...(marker ? { Marker: marker } : {}) })),
      );
      for (const role of page.Roles ?? []) {
        const arn = role.Arn ? parseRoleArn(role.Arn) : undefined;
        if (!role.RoleName || !arn) continue;
        out.push({
          name: role.RoleName,
          state: { arn, document: parseTrustPolicy(role.AssumeRolePolicyDocument ?? '{"Statement":[]}') },
        });
      }
      onProgress?.(out.length);
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    return out;
  }

  async listOidcProviders(): Promise<Set<string>> {
    const out = await this.transient('ListOpenIDConnectProviders', () =>
      this.client.send(new ListOpenIDConnectProvidersCommand({})),
    );
    return new Set(
      (out.OpenIDConnectProviderList ?? []).flatMap((p) => {
        const issuer = p.Arn ? issuerOfProviderArn(p.Arn) : undefined;
        return issuer ? [issuer] : [];
      }),
    );
  }

  async ensureOidcProviders(partition: string, accountId: string, issuers: string[]): Promise<{ created: string[] }> {
    if (issuers.length === 0) return { created: [] };
    // Read fresh every time: a provider deleted since the last run must be noticed, not remembered.
    const existing = await this.listOidcProviders();
    const created: string[] = [];
    for (const issuer of issuers) {
      if (existing.has(issuer)) continue;
      await this.transient(`CreateOpenIDConnectProvider ${issuer}`, () =>
        this.client.send(
          new CreateOpenIDConnectProviderCommand({ Url: `https://${issuer}`, ClientIDList: ['sts.amazonaws.com'] }),
        ),
      ).catch((err) => {
        const name = (err as AwsErrorLike).name;
        if (name === 'EntityAlreadyExists' || name === 'EntityAlreadyExistsException') return;
        // Still throttled after the retries: IamUnavailableError, retryable. Only a refusal is terminal.
        if (err instanceof AstroTrustError) throw err;
        throw new IamWriteError(
          `CreateOpenIDConnectProvider https://${issuer} in ${partition} account ${accountId}: ${(err as Error).message}`,
          { cause: err },
        );
      });
      created.push(issuer);
    }
    return { created };
  }
}
