/**
 * An independent judge of what astro-trust writes: `@cloud-copilot/iam-simulate`, an IAM policy evaluator
 * written by others, evaluates the proposed trust policy for generated inventories, configs and foreign
 * statements. Every declared principal may assume the role (right action, audience, service account);
 * undeclared ones may not (another namespace, account, issuer, service account, audience, look-alike names).
 * The generator labels each Deployment with the kind of identity and issuer it drew, so what should be
 * trusted follows from the labels, not from astro-trust's own rules.
 */
import { canAssumeRole } from '../support/oracle';
import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import fc from 'fast-check';
import { parseRoleArn, type Deployment } from '../../src/domain/deployment';
import type { Component, RoleSpec } from '../../src/domain/desired';
import { knownIssuersOf, planRole } from '../../src/domain/plan';
import type { PolicyDocument, Statement } from '../../src/domain/policy';
import { oidcProviderArn } from '../../src/domain/statements';

// iam-simulate 0.1.173's unvalidated entry point loads the resource policy without metadata and then reads
// its name: give every policy loaded without metadata a name (the evaluation itself is untouched).
jest.mock('@cloud-copilot/iam-policy', () => {
  const actual = jest.requireActual('@cloud-copilot/iam-policy');
  return {
    ...actual,
    loadPolicy: (policy: unknown, metadata?: object) =>
      actual.loadPolicy(policy, metadata ?? { name: 'ResourcePolicy' }),
  };
});

const ACCOUNT = '123456789012';
const ASTRO = '111928029897';
const PARTNER = '222222222222';
const ROLE = parseRoleArn(`arn:aws:iam::${ACCOUNT}:role/oracle-role`)!;
const EKS = [
  'oidc.eks.us-east-1.amazonaws.com/id/A1B2C3D4E5F60718293A4B5C6D7E8F90',
  'oidc.eks.eu-west-1.amazonaws.com/id/0F1E2D3C4B5A69788796A5B4C3D2E1F0',
];
const NOT_EKS = [
  'oidc.eks.us-east-1.amazonaws.com.evil.example/id/A1B2C3D4E5F60718293A4B5C6D7E8F90',
  'evil.example.com',
];
// Namespaces that are prefixes of each other: a look-alike must never pass for another.
const NAMESPACES = ['ns-1', 'ns-10', 'ns-1-dr', 'orbit-7', 'orbit-77', 'quasar-3'];

type IdentityKind = 'astro' | 'customer' | 'foreign-account' | 'other-namespace';
interface Labelled {
  deployment: Deployment;
  identityKind: IdentityKind;
  eks: boolean;
  onAws: boolean;
  declared: boolean;
}

const identityFor = (kind: IdentityKind, ns: string, i: number) =>
  kind === 'astro'
    ? `arn:aws:iam::${ASTRO}:role/astro-${ns}`
    : kind === 'customer'
      ? `arn:aws:iam::${ACCOUNT}:role/airflow-${i}`
      : kind === 'foreign-account'
        ? `arn:aws:iam::999999999999:role/airflow-${i}`
        : `arn:aws:iam::${ASTRO}:role/astro-${ns === 'quasar-3' ? 'orbit-7' : 'quasar-3'}`;

const caseArb = fc
  .record({
    picks: fc.uniqueArray(
      fc.record({
        ns: fc.constantFrom(...NAMESPACES),
        identityKind: fc.constantFrom<IdentityKind>('astro', 'astro', 'customer', 'foreign-account', 'other-namespace'),
        issuer: fc.constantFrom(...EKS, ...EKS, ...NOT_EKS),
        onAws: fc.boolean().map((b) => b || Math.random() < 0.7),
        declared: fc.boolean(),
        airflow: fc.constantFrom('3.0.2', '2.10.5'),
      }),
      { selector: (p) => p.ns, minLength: 1, maxLength: NAMESPACES.length },
    ),
    trust: fc.constantFrom<'workload-identity' | 'oidc'>('workload-identity', 'oidc'),
    serviceAccounts: fc.oneof(
      fc.constant<'all'>('all'),
      fc.uniqueArray(
        fc.constantFrom<Component>('scheduler', 'worker', 'triggerer', 'dag-processor', 'apiserver', 'kpo'),
        { minLength: 1 },
      ),
    ),
    foreign: fc.subarray<Statement>([
      { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
      {
        Sid: 'Partner',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${PARTNER}:root` },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'sts:ExternalId': 'partner-1' } },
      },
    ]),
    // Owned statements a person edited or that are stale: they must be replaced, not kept.
    staleOwned: fc.boolean(),
  })
  .map((c) => {
    const labelled: Labelled[] = c.picks.map((p, i) => ({
      deployment: {
        id: `cloracle${i}`,
        name: `dep-${p.ns}`,
        namespace: p.ns,
        workspaceId: 'ws',
        airflowVersion: p.airflow,
        cloudProvider: p.onAws ? 'AWS' : 'GCP',
        workloadIdentity: identityFor(p.identityKind, p.ns, i),
        oidcIssuer: p.issuer,
      },
      identityKind: p.identityKind,
      eks: EKS.includes(p.issuer),
      onAws: p.onAws,
      declared: p.declared,
    }));
    return { ...c, labelled };
  });

const assumeRole = (policy: PolicyDocument, principal: string) =>
  canAssumeRole(policy, ROLE.arn, principal, { strict: true });

/** STS sets `<issuer>:aud` and `<issuer>:sub` from the token; iam-data knows no issuer-specific keys, hence the unvalidated run. */
function assumeWithWebIdentity(
  policy: PolicyDocument,
  issuer: string,
  sub: string,
  aud = 'sts.amazonaws.com',
): boolean {
  const r = runUnsafeSimulation(
    {
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: policy,
      request: {
        action: 'sts:AssumeRoleWithWebIdentity',
        principal: oidcProviderArn('aws', ACCOUNT, issuer),
        resource: { accountId: ACCOUNT, resource: ROLE.arn },
        contextVariables: { [`${issuer}:aud`]: aud, [`${issuer}:sub`]: sub },
      },
    },
    {},
  );
  return r === 'Allowed';
}

const sa = (ns: string, c: Component, airflow?: string) =>
  `system:serviceaccount:${ns}:${ns}-${c === 'kpo' ? 'kpo' : `${c === 'apiserver' && airflow?.startsWith('2.') ? 'webserver' : c}-serviceaccount`}`;

describe('what astro-trust writes, judged by an IAM policy evaluator (iam-simulate)', () => {
  it('trusts every declared principal and refuses every undeclared one', async () => {
    let probes = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ labelled, trust, serviceAccounts, foreign, staleOwned }) => {
        const deployments = labelled.map((l) => l.deployment);
        const ids = labelled.filter((l) => l.declared).map((l) => ({ id: l.deployment.id }));
        const spec: RoleSpec = {
          name: ROLE.name,
          roleName: ROLE.name,
          trust,
          mode: 'enforce',
          maxPolicyChars: 100_000,
          maxRemovals: 1000,
          maxRevertsPerHour: 3,
          deployments: ids.length ? ids : [{ id: 'nothing-declared' }],
          serviceAccounts: trust === 'oidc' ? serviceAccounts : 'all',
        };
        const stale: Statement[] = staleOwned
          ? [
              {
                Sid: 'AstroTrustWorkloadIdentity',
                Effect: 'Allow',
                Principal: { AWS: `arn:aws:iam::${ASTRO}:role/astro-stale-9` },
                Action: 'sts:AssumeRole',
              },
              {
                Sid: 'AstroTrustOidc00000000',
                Effect: 'Allow',
                Principal: { Federated: oidcProviderArn('aws', ACCOUNT, EKS[0]!) },
                Action: 'sts:AssumeRoleWithWebIdentity',
                Condition: { StringLike: { [`${EKS[0]}:sub`]: 'system:serviceaccount:*:*' } },
              },
            ]
          : [];
        const plan = planRole({
          spec,
          deployments,
          state: { arn: ROLE, document: { Version: '2012-10-17', Statement: [...foreign, ...stale] } },
          knownIssuers: knownIssuersOf(deployments),
        });
        const policy = plan.proposed!;
        const declared = labelled.filter((l) => l.declared);
        // An identity several Deployments share is trusted when any declared Deployment has it (and reported as shared-identity).
        const trustedIdentities = new Set(
          declared
            .filter((l) => l.onAws && (l.identityKind === 'astro' || l.identityKind === 'customer'))
            .map((l) => l.deployment.workloadIdentity!),
        );

        if (trust === 'workload-identity') {
          for (const l of labelled) {
            const expected = trustedIdentities.has(l.deployment.workloadIdentity!);
            expect({
              who: l.deployment.workloadIdentity,
              allowed: await assumeRole(policy, l.deployment.workloadIdentity!),
            }).toEqual({ who: l.deployment.workloadIdentity, allowed: expected });
            probes++;
          }
          for (const outsider of [
            `arn:aws:iam::999999999999:role/astro-${labelled[0]!.deployment.namespace}`,
            `arn:aws:iam::${ASTRO}:role/astro-stale-9`,
            `arn:aws:iam::${ASTRO}:role/astro-${labelled[0]!.deployment.namespace}0`,
          ]) {
            if (trustedIdentities.has(outsider)) continue;
            expect({ who: outsider, allowed: await assumeRole(policy, outsider) }).toEqual({
              who: outsider,
              allowed: false,
            });
            probes++;
          }
          // The right identity with the wrong action gets nothing.
          for (const l of declared)
            expect(assumeWithWebIdentity(policy, l.deployment.oidcIssuer!, sa(l.deployment.namespace, 'worker'))).toBe(
              false,
            );
        } else {
          const components: Component[] = serviceAccounts === 'all' ? ['scheduler', 'worker', 'kpo'] : serviceAccounts;
          const missing = (
            ['scheduler', 'worker', 'triggerer', 'dag-processor', 'apiserver', 'kpo'] as Component[]
          ).filter((c) => serviceAccounts !== 'all' && !serviceAccounts.includes(c));
          for (const l of labelled) {
            const d = l.deployment;
            const expected = l.declared && l.onAws && l.eks;
            for (const c of components) {
              expect({
                ns: d.namespace,
                c,
                allowed: assumeWithWebIdentity(policy, d.oidcIssuer!, sa(d.namespace, c, d.airflowVersion)),
              }).toEqual({ ns: d.namespace, c, allowed: expected });
              probes++;
            }
            for (const c of missing)
              expect(assumeWithWebIdentity(policy, d.oidcIssuer!, sa(d.namespace, c, d.airflowVersion))).toBe(false);
            if (expected) {
              // Wrong audience; the same namespace on the other EKS cluster; a look-alike namespace.
              expect(
                assumeWithWebIdentity(
                  policy,
                  d.oidcIssuer!,
                  sa(d.namespace, components[0]!, d.airflowVersion),
                  'other-audience',
                ),
              ).toBe(false);
              const other = EKS.find((i) => i !== d.oidcIssuer)!;
              if (
                !labelled.some(
                  (x) =>
                    x.declared &&
                    x.onAws &&
                    x.deployment.oidcIssuer === other &&
                    x.deployment.namespace === d.namespace,
                )
              ) {
                expect(assumeWithWebIdentity(policy, other, sa(d.namespace, components[0]!, d.airflowVersion))).toBe(
                  false,
                );
              }
              expect(
                assumeWithWebIdentity(policy, d.oidcIssuer!, sa(`${d.namespace}x`, components[0]!, d.airflowVersion)),
              ).toBe(false);
              probes += 3;
            }
          }
          // No namespace wildcard survives, and no identity can use the OIDC statements for sts:AssumeRole.
          expect(
            assumeWithWebIdentity(policy, EKS[0]!, 'system:serviceaccount:tenant-x:tenant-x-worker-serviceaccount'),
          ).toBe(false);
        }
        // Foreign statements still work as written.
        if (foreign.some((s) => s.Sid === 'Partner'))
          expect(policy.Statement).toContainEqual(foreign.find((s) => s.Sid === 'Partner'));
      }),
      { numRuns: 300 },
    );
    if (process.env.ASTRO_TRUST_REPORT) console.log(JSON.stringify({ cases: 300, probes }));
    expect(probes).toBeGreaterThan(1000);
  });
});
