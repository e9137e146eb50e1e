/** DESIGN 6.2: which identities and issuers astro-trust may trust at all, and what it says about the rest. */
import { knownIssuersOf, planRole, type RolePlan } from '../../src/domain/plan';
import { NO_RULES, type IdentityRules, type RoleSpec } from '../../src/domain/desired';
import { clusterClouds, normalizeDeployments, type Deployment } from '../../src/domain/deployment';
import { ACCOUNT, ASTRO_ACCOUNT, apiDeployment, deployments, ISSUER, roleState, spec } from '../support/fixtures';

function plan(s: RoleSpec, inv: Deployment[], rules: IdentityRules = NO_RULES): RolePlan {
  return planRole({
    spec: s,
    deployments: inv,
    state: roleState(s.name, []),
    knownIssuers: knownIssuersOf(inv, rules),
    rules,
  });
}
const ns = (n: number) => `stellar-orbit-${1000 + n}`;
const one = (n: number, extra: Record<string, unknown>) => deployments(apiDeployment(n, extra));

describe('workload identities (6.2)', () => {
  it.each<[string, string, IdentityRules, boolean, RegExp | null]>([
    ['Astro-managed, own namespace', `arn:aws:iam::${ASTRO_ACCOUNT}:role/astro-${ns(1)}`, NO_RULES, true, null],
    ['Astro-managed with a DR suffix', `arn:aws:iam::${ASTRO_ACCOUNT}:role/astro-${ns(1)}-dr`, NO_RULES, true, null],
    [
      'Astro-managed, account listed',
      `arn:aws:iam::${ASTRO_ACCOUNT}:role/astro-${ns(1)}`,
      { identityAccounts: [ASTRO_ACCOUNT], oidcIssuers: [] },
      true,
      null,
    ],
    [
      'Astro-managed, account not listed',
      `arn:aws:iam::${ASTRO_ACCOUNT}:role/astro-${ns(1)}`,
      { identityAccounts: ['222233334444'], oidcIssuers: [] },
      false,
      /inventory.identityAccounts does not list/,
    ],
    [
      'any role in another account',
      'arn:aws:iam::999999999999:role/attacker',
      NO_RULES,
      false,
      /neither Astro-managed .* nor in the role's account/,
    ],
    [
      "another namespace's Astro identity",
      `arn:aws:iam::${ASTRO_ACCOUNT}:role/astro-${ns(2)}`,
      NO_RULES,
      false,
      /neither Astro-managed/,
    ],
    [
      'a look-alike prefix',
      `arn:aws:iam::${ASTRO_ACCOUNT}:role/astro-${ns(1)}0`,
      NO_RULES,
      false,
      /neither Astro-managed/,
    ],
    [
      'an Astro name under a path',
      `arn:aws:iam::${ASTRO_ACCOUNT}:role/x/astro-${ns(1)}`,
      NO_RULES,
      false,
      /neither Astro-managed/,
    ],
    [
      "a customer role in the managed role's account",
      `arn:aws:iam::${ACCOUNT}:role/airflow-identity`,
      NO_RULES,
      true,
      null,
    ],
    [
      'a customer role in a listed account',
      'arn:aws:iam::444455556666:role/airflow-identity',
      { identityAccounts: ['444455556666'], oidcIssuers: [] },
      true,
      null,
    ],
    ['another partition', `arn:aws-cn:iam::${ASTRO_ACCOUNT}:role/astro-${ns(1)}`, NO_RULES, false, /partition aws-cn/],
  ])('%s', (_l, identity, rules, trusted, why) => {
    const inv = one(1, { effectiveWorkloadIdentity: identity });
    const p = plan(spec(), inv, rules);
    expect(p.add.map((a) => a.principal)).toEqual(trusted ? [identity] : []);
    if (!trusted) {
      expect(p.skipped).toEqual([
        { deploymentId: inv[0]!.id, name: 'deployment-1', reason: expect.stringMatching(why!) },
      ]);
    }
  });

  it("refuses a suffixed identity that is another Deployment's own identity", () => {
    const inv = deployments(
      apiDeployment(1, {
        namespace: 'team',
        effectiveWorkloadIdentity: `arn:aws:iam::${ASTRO_ACCOUNT}:role/astro-team-b`,
      }),
      apiDeployment(2, {
        namespace: 'team-b',
        workspaceId: 'clwsother',
        effectiveWorkloadIdentity: `arn:aws:iam::${ASTRO_ACCOUNT}:role/astro-team-b`,
      }),
    );
    const p = plan(spec(), inv);
    expect(p.add).toEqual([]);
    expect(p.skipped[0]!.reason).toMatch(/is the workload identity of the Deployment in namespace team-b/);
  });

  it('skips Deployments that do not run on AWS, for both trust kinds', () => {
    for (const provider of ['GCP', 'AZURE']) {
      const inv = one(1, {
        cloudProvider: provider,
        oidcIssuerUrl: 'https://container.googleapis.com/v1/projects/p/locations/l/clusters/c',
      });
      for (const trust of ['workload-identity', 'oidc'] as const) {
        const p = plan(spec({ trust, deployments: [{ name: '*' }] }), inv);
        expect(p.add).toEqual([]);
        expect(p.skipped[0]!.reason).toBe(`runs on ${provider}: only Deployments on AWS can be trusted by an IAM role`);
        expect(p.oidcIssuers).toEqual([]);
      }
    }
    expect(plan(spec(), one(1, { cloudProvider: 'AWS' })).add).toHaveLength(1);
  });

  it('reads the clouds of a clusters listing, leaving out clusters without a valid id or cloud', () => {
    const clouds = clusterClouds([
      { id: 'clclaws', cloudProvider: 'AWS' },
      { id: 'clclgcp', cloudProvider: 'gcp' },
      { id: 'clclbad', cloudProvider: 'IBM' },
      { id: 'bad id', cloudProvider: 'AWS' },
      null,
    ]);
    expect([...clouds]).toEqual([
      ['clclaws', 'AWS'],
      ['clclgcp', 'GCP'],
    ]);
  });

  it("takes a Dedicated Deployment's cloud from its cluster: GCP refused as not on AWS, AWS trusted", () => {
    // As the API answers: no cloudProvider on a Dedicated Deployment; a GCP one has a GCP service account.
    const raw = [
      apiDeployment(1, { type: 'DEDICATED', clusterId: 'clclaws', cloudProvider: undefined }),
      apiDeployment(2, {
        type: 'DEDICATED',
        clusterId: 'clclgcp',
        cloudProvider: undefined,
        effectiveWorkloadIdentity: 'astro-stellar-orbit-1002@astro-project.iam.gserviceaccount.com',
        oidcIssuerUrl: 'https://container.googleapis.com/v1/projects/astro/locations/us-central1/clusters/c',
      }),
    ];
    const clusters = new Map([
      ['clclaws', 'AWS'],
      ['clclgcp', 'GCP'],
    ]);
    const inv = normalizeDeployments(raw, clusters).deployments;
    for (const trust of ['workload-identity', 'oidc'] as const) {
      const p = plan(spec({ trust, deployments: [{ name: '*' }] }), inv);
      expect(p.skipped).toEqual([
        expect.objectContaining({
          deploymentId: raw[1]!.id,
          reason: 'runs on GCP: only Deployments on AWS can be trusted by an IAM role',
        }),
      ]);
      expect(p.add.flatMap((a) => a.deploymentIds)).toContain(raw[0]!.id);
    }
  });
});

describe('OIDC issuers (6.2)', () => {
  const oidc = spec({ trust: 'oidc', deployments: [{ name: '*' }] });
  it.each<[string, string, IdentityRules, boolean]>([
    ['an EKS issuer', ISSUER, NO_RULES, true],
    [
      'an EKS issuer in China',
      'oidc.eks.cn-north-1.amazonaws.com.cn/id/ABCDEF0123456789ABCDEF0123456789',
      NO_RULES,
      true,
    ],
    [
      'an EKS issuer in GovCloud',
      'oidc.eks.us-gov-west-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789',
      NO_RULES,
      true,
    ],
    ['any https issuer', 'evil.example.com', NO_RULES, false],
    [
      'an EKS look-alike host',
      'oidc.eks.us-east-1.amazonaws.com.evil.example/id/ABCDEF0123456789ABCDEF0123456789',
      NO_RULES,
      false,
    ],
    ['an EKS id that is not 32 hex', 'oidc.eks.us-east-1.amazonaws.com/id/X', NO_RULES, false],
    ['an EKS issuer with more path', `${ISSUER}/extra`, NO_RULES, false],
    [
      'a listed issuer',
      'oidc.example.com/id/X',
      { oidcIssuers: ['oidc.example.com/id/X'], identityAccounts: undefined },
      true,
    ],
  ])('%s', (_l, issuer, rules, trusted) => {
    const inv = one(1, { oidcIssuerUrl: `https://${issuer}` });
    const p = plan(oidc, inv, rules);
    expect(p.oidcIssuers).toEqual(trusted ? [issuer] : []);
    expect(p.add.length > 0).toBe(trusted);
    if (!trusted)
      expect(p.skipped[0]!.reason).toMatch(/is not an EKS cluster issuer .* nor listed in inventory.oidcIssuers/);
  });
});

describe('shared identities (3.5 shared-identity)', () => {
  const shared = `arn:aws:iam::${ACCOUNT}:role/AirflowS3Logs-clcl0000000001`;
  const inv = deployments(
    apiDeployment(1, { type: 'HYBRID', effectiveWorkloadIdentity: shared }),
    apiDeployment(2, { type: 'HYBRID', workspaceId: 'clwsother', effectiveWorkloadIdentity: shared }),
    apiDeployment(3, { type: 'HYBRID', workspaceId: 'clwsother', effectiveWorkloadIdentity: shared }),
  );

  it('declaring one Deployment of a shared identity is a finding that names the others', () => {
    const p = plan(spec(), inv);
    expect(p.add.map((a) => a.principal)).toEqual([shared]);
    const f = p.findings.filter((x) => x.kind === 'shared-identity');
    expect(f).toHaveLength(1);
    expect(f[0]!.principal).toBe(shared);
    expect(f[0]!.deployments).toEqual([
      { id: inv[1]!.id, name: 'deployment-2' },
      { id: inv[2]!.id, name: 'deployment-3' },
    ]);
    expect(f[0]!.detail).toMatch(/also trusts 2 Deployments the role does not declare/);
  });

  it('is no finding when every Deployment that uses it is declared', () => {
    const p = plan(spec({ deployments: [{ name: '*' }] }), inv);
    expect(p.findings).toEqual([]);
  });
});

describe('the API server service account when airflowVersion is NA', () => {
  it.each([
    ['NA', '12.5.0', 'webserver'],
    ['NA', '3.0-2', 'apiserver'],
    [undefined, '11.1.0', 'webserver'],
    ['2.10.5', '3.0-2', 'webserver'],
  ])('airflowVersion %s, Runtime %s -> %s', (airflowVersion, astroRuntimeVersion, account) => {
    const inv = one(1, { airflowVersion, astroRuntimeVersion });
    const p = plan(spec({ trust: 'oidc', serviceAccounts: ['apiserver'], deployments: [{ name: '*' }] }), inv);
    expect(p.add.map((a) => a.principal)).toEqual([
      `system:serviceaccount:${ns(1)}:${ns(1)}-${account}-serviceaccount`,
    ]);
  });
});
