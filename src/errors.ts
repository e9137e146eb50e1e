/** Named errors, split into retryable (a later try may succeed) and terminal (fix something first). */
export class AstroTrustError extends Error {
  readonly retryable: boolean = false;
}

export class RetryableError extends AstroTrustError {
  override readonly retryable = true;
}

export class TerminalError extends AstroTrustError {}

/** The Astro API refused the token (401/403): never read as an empty inventory. */
export class AstroApiAuthError extends TerminalError {
  override name = 'AstroApiAuthError';
}

/** The Astro API failed after the bounded retries, or answered something that is not a Deployment page. */
export class AstroApiError extends RetryableError {
  override name = 'AstroApiError';
}

/** A listing that contradicts itself (6.1): it is never used, since a Deployment missing from it would lose its trust. */
export class InconsistentListingError extends RetryableError {
  override name = 'InconsistentListingError';
  constructor(
    readonly check: 'totalCount-changed' | 'duplicate-id' | 'count-mismatch' | 'empty-page',
    message: string,
  ) {
    super(message);
  }
}

/**
 * A listing astro-trust refuses to act on: empty (unless allowed), shrunk past `maxShrinkPercent` since the
 * largest recent one, or `unreadable` (the snapshot to compare with has no `deployments` array).
 */
export class InventoryRefusedError extends TerminalError {
  override name = 'InventoryRefusedError';
  constructor(
    readonly kind: 'empty' | 'shrunk' | 'unreadable',
    message: string,
  ) {
    super(message);
  }
}

export class InventoryFileError extends TerminalError {
  override name = 'InventoryFileError';
}

export class IamSnapshotError extends TerminalError {
  override name = 'IamSnapshotError';
}

/** IAM refused a write for a reason retrying will not fix (LimitExceeded, a malformed document). */
export class IamWriteError extends TerminalError {
  override name = 'IamWriteError';
}

/** A principal IAM does not know yet (a new Astro role may take seconds to propagate); still failing after the retries. */
export class InvalidPrincipalError extends RetryableError {
  override name = 'InvalidPrincipalError';
  constructor(
    message: string,
    readonly principal: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** No AWS credentials (or none that may call IAM): says what to set. */
export class AwsAccessError extends TerminalError {
  override name = 'AwsAccessError';
}

/** IAM kept throttling or failing past the bounded retries. */
export class IamUnavailableError extends RetryableError {
  override name = 'IamUnavailableError';
}

/** The role changed between the plan and the write so that the plan no longer fits: plan again. */
export class ConcurrentEditError extends RetryableError {
  override name = 'ConcurrentEditError';
}

/** A managed role that does not exist (any more): astro-trust never creates roles. */
export class RoleMissingError extends TerminalError {
  override name = 'RoleMissingError';
}

/** What was written is not what IAM returns when read back. */
export class VerifyError extends RetryableError {
  override name = 'VerifyError';
}

/** The config file is invalid: each problem names the key path, the line and what was expected. */
export class ConfigError extends TerminalError {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super(`${file}: invalid config\n${problems.map((p) => `  - ${p}`).join('\n')}`, options);
  }
}

/** A trust policy that is not a policy document (from IAM, a snapshot or CloudTrail). */
export class PolicyParseError extends TerminalError {
  override name = 'PolicyParseError';
}

/** A request body over the size an endpoint accepts. */
export class PayloadTooLargeError extends TerminalError {
  override name = 'PayloadTooLargeError';
}

export class UsageError extends TerminalError {
  override name = 'UsageError';
}

/**
 * A saved plan that no longer describes what it would change (DESIGN 7.3): a role edited since the plan,
 * another config, a plan older than --max-age. Nothing is written for what it refuses; plan again.
 */
export class StalePlanError extends TerminalError {
  override name = 'StalePlanError';
}

/** No config file where the discovery rule looks (`--config`, `ASTRO_TRUST_CONFIG`, `./astro-trust.yaml`). */
export class ConfigNotFoundError extends TerminalError {
  override name = 'ConfigNotFoundError';
}

/**
 * Whether a later try may succeed: an AstroTrustError says so itself; anything else (a bug, an error from a
 * library astro-trust did not wrap) is treated as retryable so that work is retried rather than dropped.
 */
export function isRetryable(err: unknown): boolean {
  return err instanceof AstroTrustError ? err.retryable : true;
}

/** One line for a person: the message, then each cause's message. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e instanceof Error) {
      if (!parts.includes(e.message)) parts.push(e.message);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(': ');
}

/**
 * The member role of another account could not be assumed (DESIGN 3.6): only that account's roles fail.
 * Retryable when STS throttled or the network failed; terminal when STS refused (deploy the member stack).
 */
export class MemberAccountError extends AstroTrustError {
  override name = 'MemberAccountError';
  override readonly retryable: boolean;
  constructor(
    readonly account: string,
    readonly memberRoleArn: string,
    cause: unknown,
    /** What the role was assumed for: which stack parameter must name the caller. */
    access: 'read' | 'write' = 'write',
  ) {
    const e = cause as { name?: string; message?: string; code?: string };
    const transient =
      /Throttl|RequestLimitExceeded|ServiceUnavailable|InternalFailure|TimeoutError/.test(e?.name ?? '') ||
      /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND/.test(`${e?.code ?? ''} ${e?.message ?? ''}`);
    const noCredentials = e?.name === 'CredentialsProviderError';
    // A mistyped region shows up here first: the regional STS endpoint does not resolve.
    const unresolved = /getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (\S+)/.exec(e?.message ?? '')?.[1];
    super(
      `cannot assume ${memberRoleArn} (${e?.name ?? 'Error'}): ` +
        (unresolved
          ? `the STS endpoint ${unresolved} does not resolve: check AWS_REGION (is it a region?) and AWS_ENDPOINT_URL`
          : transient
            ? 'STS did not answer; the next reconcile tries again'
            : noCredentials
              ? 'no AWS credentials to assume it with: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or plan offline with --iam-snapshot ' +
                `${account}=FILE`
              : `deploy deploy/member-account.yml in account ${account} with ${access === 'write' ? "HubReconcileRoleArn (the hub's reconcile role, or the role serve runs as) or ApplyPrincipalArns (who runs apply)" : "HubReaderRoleArns (the hub's backfill role) or PlanPrincipalArns (who runs plan)"} naming the role astro-trust runs as (docs/accounts.md), or remove that account's roles from the config`),
      { cause },
    );
    this.retryable = transient;
  }
}
