/** One error tree (src/errors.ts): every error astro-trust throws says whether a retry can help. */
import { ConfigError } from '../../src/config/config';
import { parseTrustPolicy, PolicyParseError } from '../../src/domain/policy';
import { reconcileRole } from '../../src/app/reconcile';
import { AstroTrustError, isRetryable, MemberAccountError, RoleMissingError, TerminalError } from '../../src/errors';
import { parseConfig } from '../../src/config/config';
import type { TrustStore } from '../../src/app/ports';
import type { AstroTrustEvent } from '../../src/domain/events';

describe('the error tree', () => {
  it('config and policy errors are terminal AstroTrustErrors', () => {
    const config = (() => {
      try {
        parseConfig('version: 2\n', 'c.yaml');
      } catch (err) {
        return err;
      }
    })();
    expect(config).toBeInstanceOf(ConfigError);
    expect(config).toBeInstanceOf(TerminalError);
    expect(isRetryable(config)).toBe(false);
    const policy = (() => {
      try {
        parseTrustPolicy('not json');
      } catch (err) {
        return err;
      }
    })();
    expect(policy).toBeInstanceOf(PolicyParseError);
    expect(policy).toBeInstanceOf(AstroTrustError);
    expect(isRetryable(policy)).toBe(false);
    expect(isRetryable(new RoleMissingError('x'))).toBe(false);
    // Anything astro-trust did not classify is retried rather than dropped.
    expect(isRetryable(new Error('bug'))).toBe(true);
  });

  it.each<[string, Record<string, unknown>, boolean, RegExp]>([
    [
      'STS refused',
      { name: 'AccessDenied', message: 'not authorized to perform: sts:AssumeRole' },
      false,
      /\(AccessDenied\): deploy deploy\/member-account.yml in account 444455556666/,
    ],
    [
      'STS throttled',
      { name: 'Throttling', message: 'Rate exceeded' },
      true,
      /\(Throttling\): STS did not answer; the next reconcile tries again/,
    ],
    [
      'STS unreachable',
      { name: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' },
      true,
      /STS did not answer/,
    ],
    [
      'no credentials',
      { name: 'CredentialsProviderError', message: 'Could not load credentials from any providers' },
      false,
      /no AWS credentials to assume it with: set AWS_PROFILE .*--iam-snapshot 444455556666=FILE/,
    ],
  ])(
    'a member role that cannot be assumed (%s) says what to do, and whether a retry can help',
    (_what, cause, retryable, message) => {
      const err = new MemberAccountError(
        '444455556666',
        'arn:aws:iam::444455556666:role/astro-trust-member',
        Object.assign(new Error(String(cause.message)), cause),
      );
      expect(err.message).toMatch(/^cannot assume arn:aws:iam::444455556666:role\/astro-trust-member /);
      expect(err.message).toMatch(message);
      expect(isRetryable(err)).toBe(retryable);
    },
  );

  it('a reconcile whose role policy cannot be parsed fails as not retryable', async () => {
    const config = parseConfig(
      'version: 1\norganizationId: o\ninventory: { source: file, path: ./d.json }\nroles:\n  - { name: r, trust: oidc }\n',
      '/x/c.yaml',
    );
    const events: AstroTrustEvent[] = [];
    const store = { readRoles: async () => parseTrustPolicy('{"Statement": [1]}') } as unknown as TrustStore;
    const inventory = {
      description: 'test',
      list: async () => ({ deployments: [{ id: 'd', name: 'd', namespace: 'n', workspaceId: 'w' }], warnings: [] }),
    };
    await expect(
      reconcileRole(
        { config, inventory, store, events: { publish: async (e) => void events.push(...e) } },
        { role: 'r', reason: 'resync' },
      ),
    ).rejects.toBeInstanceOf(PolicyParseError);
    expect(events).toEqual([
      { type: 'ReconcileFailed', detail: expect.objectContaining({ role: 'r', retryable: false }) },
    ]);
  });
});
