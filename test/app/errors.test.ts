/** One error tree (src/errors.ts): every error astro-trust throws says whether a retry can help. */
import { ConfigError } from '../../src/config/config';
import { parseTrustPolicy, PolicyParseError } from '../../src/domain/policy';
import { reconcileRole } from '../../src/app/reconcile';
import { AstroTrustError, isRetryable, RoleMissingError, TerminalError } from '../../src/errors';
import { parseConfig } from '../../src/config/config';
import type { TrustStore } from '../../src/adapters/ports';
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

  it('a reconcile whose role policy cannot be parsed fails as not retryable', async () => {
    const config = parseConfig('version: 1\norganizationId: o\ninventory: { source: file, path: ./d.json }\nroles:\n  - { name: r, trust: oidc }\n', '/x/c.yaml');
    const events: AstroTrustEvent[] = [];
    const store = { readRoles: async () => parseTrustPolicy('{"Statement": [1]}') } as unknown as TrustStore;
    const inventory = { description: 'test', list: async () => ({ deployments: [{ id: 'd', name: 'd', namespace: 'n', workspaceId: 'w' }], warnings: [] }) };
    await expect(reconcileRole({ config, inventory, store, events: { publish: async (e) => void events.push(...e) } }, { role: 'r', reason: 'resync' })).rejects.toBeInstanceOf(PolicyParseError);
    expect(events).toEqual([{ type: 'ReconcileFailed', detail: expect.objectContaining({ role: 'r', retryable: false }) }]);
  });
});
