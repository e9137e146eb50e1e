import fc from 'fast-check';
import { normalizeDeployments } from '../../src/domain/deployment';
import { InconsistentListingError } from '../../src/errors';
import { knownIssuersOf, planRole } from '../../src/domain/plan';
import { apiDeployment, roleState, spec } from '../support/fixtures';

describe('normalizeDeployments: hostile inventory values', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a namespace wildcard', { namespace: '*' }, /namespace "\*" is not a Kubernetes namespace/],
    ['a namespace with ?', { namespace: 'ab?c' }, /not a Kubernetes namespace/],
    ['a namespace with :', { namespace: 'a:b' }, /not a Kubernetes namespace/],
    ['a namespace with quotes', { namespace: 'a"b' }, /not a Kubernetes namespace/],
    ['a very long namespace', { namespace: 'a'.repeat(500) }, /not a Kubernetes namespace/],
    ['no namespace', { namespace: undefined }, /not a Kubernetes namespace/],
    ['no workspace', { workspaceId: undefined }, /no workspaceId/],
    ['an id with a quote', { id: 'x"y' }, /no valid id/],
  ])('leaves out a Deployment with %s', (_l, over, message) => {
    const inv = normalizeDeployments([{ ...apiDeployment(1), ...over }]);
    expect(inv.deployments).toEqual([]);
    expect(inv.warnings[0]!.message).toMatch(message);
  });

  it.each<[string, Record<string, unknown>]>([
    ['an identity with a wildcard', { effectiveWorkloadIdentity: 'arn:aws:iam::111928029897:role/astro-*' }],
    ['an identity that is a user', { effectiveWorkloadIdentity: 'arn:aws:iam::111928029897:user/x' }],
    ['an identity that is an account root', { effectiveWorkloadIdentity: 'arn:aws:iam::111928029897:root' }],
    ['an identity with an injected quote', { effectiveWorkloadIdentity: 'arn:aws:iam::111928029897:role/a","*' }],
    ['an issuer over http', { oidcIssuerUrl: 'http://oidc.example.com/id/x' }],
    ['an issuer with a wildcard', { oidcIssuerUrl: 'https://*.example.com' }],
  ])('keeps the Deployment but ignores %s', (_l, over) => {
    const inv = normalizeDeployments([{ ...apiDeployment(1), ...over }]);
    expect(inv.deployments).toHaveLength(1);
    expect(inv.warnings).toHaveLength(1);
  });

  it('refuses the whole listing when an id appears twice (never "first copy wins")', () => {
    const hostile = { ...apiDeployment(1), effectiveWorkloadIdentity: 'arn:aws:iam::999999999999:role/attacker' };
    expect(() => normalizeDeployments([hostile, apiDeployment(1)])).toThrow(InconsistentListingError);
    expect(() => normalizeDeployments([apiDeployment(1), hostile])).toThrow(/appears twice/);
  });

  it('never lets any string value produce a wildcard or a foreign principal (property)', () => {
    const hostile = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom('*', '?', ':', '"', 'a*b', "x'y", 'arn:aws:iam::*:role/*', 'system:serviceaccount:*:*'),
    );
    fc.assert(
      fc.property(
        fc.record(
          {
            id: hostile,
            name: hostile,
            namespace: hostile,
            workspaceId: hostile,
            effectiveWorkloadIdentity: hostile,
            oidcIssuerUrl: hostile,
            airflowVersion: hostile,
          },
          { requiredKeys: [] },
        ),
        (raw) => {
          const inv = normalizeDeployments([{ ...apiDeployment(1), ...raw }]);
          for (const trust of ['workload-identity', 'oidc'] as const) {
            const p = planRole({
              spec: spec({ trust, deployments: [{ name: '*' }] }),
              deployments: inv.deployments,
              state: roleState('r', []),
              knownIssuers: knownIssuersOf(inv.deployments),
            });
            for (const a of p.add) {
              expect(a.principal).not.toMatch(trust === 'oidc' ? /^system:serviceaccount:[^:]*[*?"][^:]*:/ : /[*?"]/);
              if (trust === 'workload-identity')
                expect(a.principal).toMatch(/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
