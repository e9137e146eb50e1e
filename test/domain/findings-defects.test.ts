/**
 * The defects of issue 17 in findings (DESIGN 7.1), each as it was reported: a finding judged by the text of
 * its principal instead of by what the statement grants. Each of these failed on release 2 (commit 1a617d9).
 */
import { detailedExitCode } from '../../src/cli/render';
import { eventsForReconcile } from '../../src/domain/events';
import { knownIssuersOf, planRole, type RolePlan } from '../../src/domain/plan';
import type { Statement } from '../../src/domain/policy';
import { ACCOUNT, ASTRO_ACCOUNT, apiDeployment, deployments, roleState, spec } from '../support/fixtures';

const inv = deployments(apiDeployment(1));
const owned = planRole({
  spec: spec(),
  deployments: inv,
  state: roleState('data-reader', []),
  knownIssuers: knownIssuersOf(inv),
}).proposed!.Statement;
const NOW = Date.parse('2026-11-26T00:00:00Z');

type Rules = Parameters<typeof planRole>[0]['findingRules'];
function plan(statements: Statement[], findingRules?: Rules): RolePlan {
  return planRole({
    spec: spec(),
    deployments: inv,
    state: roleState('data-reader', [...owned, ...statements]),
    knownIssuers: knownIssuersOf(inv),
    findingRules,
    nowMs: NOW,
  });
}
const exit = (p: RolePlan) =>
  detailedExitCode({ organizationId: 'o', inventory: { source: 't', deployments: 1, warnings: [] }, roles: [p] });
// Findings of the plan (release 3: `findings`; release 2 called them `unexpected`).
const findingsOf = (p: RolePlan) =>
  ((p as unknown as Record<string, unknown>).findings ?? (p as unknown as Record<string, unknown>).unexpected) as {
    kind: string;
    principal: string;
    sid?: string;
    id?: string;
  }[];

const GITHUB = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;

describe('issue 17 defects: findings judge what a statement grants', () => {
  it('a GitHub Actions role scoped to one repository is not a namespace wildcard (no finding at all)', () => {
    // tulna07/workshop-1-tf-modules modules/security/gha-role/gha-trust-policy.tpl
    const p = plan([
      {
        Effect: 'Allow',
        Principal: { Federated: GITHUB },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:my-org/my-repo:*' },
          StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
        },
      },
    ]);
    expect(findingsOf(p)).toEqual([]);
    expect(exit(p)).toBe(0);
  });

  it('a GitHub Actions role with only an aud condition (any repository on GitHub) is unrestricted-federation', () => {
    // r12habh.github.io/ActionScope/oidc-trust/ "Missing sub Condition"
    const p = plan([
      {
        Effect: 'Allow',
        Principal: { Federated: GITHUB },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' } },
      },
    ]);
    expect(findingsOf(p).map((f) => f.kind)).toEqual(['unrestricted-federation']);
    expect(exit(p)).toBe(3);
  });

  it('a Cognito identity pool role without an aud condition (any identity pool) is unrestricted-federation', () => {
    const p = plan([
      {
        Effect: 'Allow',
        Principal: { Federated: 'cognito-identity.amazonaws.com' },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { 'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' } },
      },
    ]);
    expect(findingsOf(p).map((f) => f.kind)).toEqual(['unrestricted-federation']);
    expect(exit(p)).toBe(3);
  });

  it("the root of Astro's identity account (every Astro customer's identities) is astro-account-principal", () => {
    const p = plan([
      {
        Sid: 'AstroRoot',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ASTRO_ACCOUNT}:root` },
        Action: 'sts:AssumeRole',
      },
    ]);
    expect(findingsOf(p)).toEqual([
      expect.objectContaining({ kind: 'astro-account-principal', principal: `arn:aws:iam::${ASTRO_ACCOUNT}:root` }),
    ]);
    expect(exit(p)).toBe(3);
    // findings.trustedAccounts never exempts an Astro identity account.
    expect(
      findingsOf(
        plan(p.current!.Statement.slice(owned.length), { trustedAccounts: [ASTRO_ACCOUNT], acknowledge: [] } as never),
      ).map((f) => f.kind),
    ).toEqual(['astro-account-principal']);
  });

  it.each<[string, Statement]>([
    [
      'a data-perimeter Deny on aws:PrincipalAccount',
      {
        Sid: 'DenyOutsideAccount',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'sts:AssumeRole',
        Condition: { StringNotEquals: { 'aws:PrincipalAccount': [ACCOUNT] } },
      },
    ],
    [
      'a NotPrincipal Deny',
      {
        Sid: 'OnlyAdmins',
        Effect: 'Deny',
        NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:role/admin` },
        Action: 'sts:AssumeRole',
      },
    ],
  ])(
    '%s that blocks a declared Deployment makes the role not in-sync: exit 3, an alert naming the statement',
    (_l, deny) => {
      const p = plan([deny]);
      expect(p.status).not.toBe('in-sync');
      expect(findingsOf(p)).toEqual([expect.objectContaining({ kind: 'declared-trust-denied', sid: deny.Sid })]);
      expect(exit(p)).toBe(3);
      const events = eventsForReconcile(p, { role: p.role, reason: 'resync' }, { written: false });
      expect(events).toEqual([
        expect.objectContaining({
          type: 'DriftDetected',
          detail: expect.objectContaining({
            unexpected: [expect.objectContaining({ kind: 'declared-trust-denied', sid: deny.Sid })],
          }),
        }),
      ]);
    },
  );

  it('an acknowledged conditioned * does not silence a later unconditioned * statement', () => {
    const conditioned: Statement = {
      Sid: 'OrgOnly',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
    };
    const first = findingsOf(plan([conditioned]));
    expect(first.map((f) => f.kind)).toEqual(['wildcard-principal']);
    // Acknowledged the way the plan says to (release 2: role + principal; release 3: the finding's id).
    const ack = {
      role: 'data-reader',
      principal: first[0]!.principal,
      finding: first[0]!.id,
      reason: 'org-wide, OPS-7',
      expires: '2027-03-01',
    };
    const rules = { trustedAccounts: [], trustedOrganizations: [], acknowledge: [ack] } as never;
    expect(exit(plan([conditioned], rules))).toBe(0);
    const later = plan(
      [conditioned, { Sid: 'Everyone', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
      rules,
    );
    expect(exit(later)).toBe(3);
    const events = eventsForReconcile(later, { role: later.role, reason: 'resync' }, { written: false });
    expect(events).toEqual([
      expect.objectContaining({
        type: 'DriftDetected',
        detail: expect.objectContaining({
          unexpected: [expect.objectContaining({ kind: 'wildcard-principal', sid: 'Everyone' })],
        }),
      }),
    ]);
  });
});
