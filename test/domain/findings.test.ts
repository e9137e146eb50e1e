/** Findings (DESIGN 3.5, 7.1): judged by what a statement grants; ids; acknowledgements by id that expire. */
import fc from 'fast-check';
import {
  acknowledge,
  findForeign,
  findingId,
  standing,
  type Finding,
  type FindingContext,
} from '../../src/domain/findings';
import { grantKey, parseGrants } from '../../src/domain/grant';
import { knownIssuersOf, planRole } from '../../src/domain/plan';
import type { Statement } from '../../src/domain/policy';
import { detailedExitCode } from '../../src/cli/render';
import {
  ACCOUNT,
  ASTRO_ACCOUNT,
  ISSUER,
  apiDeployment,
  astroRole,
  deployments,
  roleState,
  spec,
} from '../support/fixtures';

const OUTSIDE = '999988887777';
const ORG = 'o-a1b2c3d4e5';
// DataDog Stratus Red Team, aws.persistence.iam-backdoor-role: a statement trusting an outside account's root.
const backdoor: Statement = {
  Sid: 'Backdoor',
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${OUTSIDE}:root` },
  Action: 'sts:AssumeRole',
};
const ctx = (over: Partial<FindingContext> = {}): FindingContext => ({
  role: 'r',
  roleAccount: ACCOUNT,
  partition: 'aws',
  desired: [{ kind: 'aws', arn: astroRole('ns-1'), deploymentIds: ['d'] }],
  astroIssuers: new Set([ISSUER]),
  astroAccounts: new Set([ASTRO_ACCOUNT]),
  trustedAccounts: [],
  trustedOrganizations: [],
  ...over,
});
const find = (statements: Statement[], c = ctx()) => findForeign(parseGrants({ Statement: statements }), c);
const kinds = (statements: Statement[], c = ctx()) => find(statements, c).map((f) => f.kind);
const star = (Condition?: Statement['Condition']): Statement => ({
  Effect: 'Allow',
  Principal: { AWS: '*' },
  Action: 'sts:AssumeRole',
  ...(Condition ? { Condition } : {}),
});
const federated = (Federated: string, Condition?: Statement['Condition']): Statement => ({
  Effect: 'Allow',
  Principal: { Federated },
  Action: 'sts:AssumeRoleWithWebIdentity',
  ...(Condition ? { Condition } : {}),
});
const GITHUB = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
const gh = (sub?: string | string[], op = 'StringLike') => {
  const condition: Record<string, Record<string, string | string[]>> = {
    StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
  };
  if (sub) (condition[op] ??= {})['token.actions.githubusercontent.com:sub'] = sub;
  return federated(GITHUB, condition);
};

describe('findForeign: accounts, roots and NotPrincipal', () => {
  it.each<[string, Statement, Partial<FindingContext>, string[]]>([
    ['the Stratus backdoor (an outside account root)', backdoor, {}, ['external-account']],
    ['an outside account as a bare id', { ...backdoor, Principal: { AWS: OUTSIDE } }, {}, ['external-account']],
    [
      'a user in an outside account',
      { ...backdoor, Principal: { AWS: `arn:aws:iam::${OUTSIDE}:user/x` } },
      {},
      ['external-account'],
    ],
    ['an outside account listed in findings.trustedAccounts', backdoor, { trustedAccounts: [OUTSIDE] }, []],
    ["the role's own account", { ...backdoor, Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } }, {}, []],
    ["a declared Deployment's identity", { ...backdoor, Principal: { AWS: astroRole('ns-1') } }, {}, []],
    ['a service principal', { ...backdoor, Principal: { Service: 'glue.amazonaws.com' } }, {}, []],
    [
      'Allow with NotPrincipal',
      {
        Sid: 'AllButOne',
        Effect: 'Allow',
        NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:role/x` },
        Action: 'sts:AssumeRole',
      },
      {},
      ['not-principal'],
    ],
    [
      'Deny with NotPrincipal (a restriction, not a grant)',
      { Effect: 'Deny', NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:role/x` }, Action: 'sts:AssumeRole' },
      {},
      [],
    ],
    ['an outside root allowed only sts:TagSession (no way in)', { ...backdoor, Action: 'sts:TagSession' }, {}, []],
    ['an outside root allowed sts:*', { ...backdoor, Action: 'sts:*' }, {}, ['external-account']],
    [
      'an outside root allowed NotAction sts:TagSession',
      { ...backdoor, Action: undefined, NotAction: 'sts:TagSession' },
      {},
      ['external-account'],
    ],
  ])('%s', (_l, statement, over, expected) => {
    expect(kinds([JSON.parse(JSON.stringify(statement))], ctx(over))).toEqual(expected);
  });
});

describe("findForeign: Astro's identity accounts (astro-account-principal)", () => {
  it.each<[string, string, string[]]>([
    ['its root', `arn:aws:iam::${ASTRO_ACCOUNT}:root`, ['astro-account-principal']],
    ['its account id', ASTRO_ACCOUNT, ['astro-account-principal']],
    ['a user there', `arn:aws:iam::${ASTRO_ACCOUNT}:user/someone`, ['astro-account-principal']],
    ['another role there', `arn:aws:iam::${ASTRO_ACCOUNT}:role/platform-admin`, ['astro-account-principal']],
    ['an undeclared astro-<ns> role there', astroRole('someone-else'), ['undeclared-astro-identity']],
    ['a declared identity there', astroRole('ns-1'), []],
  ])('%s', (_l, principal, expected) => {
    expect(kinds([{ ...backdoor, Principal: { AWS: principal } }])).toEqual(expected);
  });

  it('findings.trustedAccounts never exempts an Astro identity account', () => {
    const root = { ...backdoor, Principal: { AWS: `arn:aws:iam::${ASTRO_ACCOUNT}:root` } };
    expect(kinds([root], ctx({ trustedAccounts: [ASTRO_ACCOUNT] }))).toEqual(['astro-account-principal']);
  });
});

describe('findForeign: * is quiet only when a condition confines it to trusted principals', () => {
  it.each<[string, Statement, Partial<FindingContext>, string[]]>([
    ['no condition', star(), {}, ['wildcard-principal']],
    ['"Principal": "*"', { ...star(), Principal: '*' }, {}, ['wildcard-principal']],
    [
      'aws:PrincipalOrgID of a trusted organization',
      star({ StringEquals: { 'aws:PrincipalOrgID': ORG } }),
      { trustedOrganizations: [ORG] },
      [],
    ],
    [
      'aws:PrincipalOrgID of an organization not listed',
      star({ StringEquals: { 'aws:PrincipalOrgID': ORG } }),
      {},
      ['wildcard-principal'],
    ],
    [
      'aws:PrincipalOrgID with IfExists (a caller without it passes)',
      star({ StringEqualsIfExists: { 'aws:PrincipalOrgID': ORG } }),
      { trustedOrganizations: [ORG] },
      ['wildcard-principal'],
    ],
    [
      'aws:PrincipalOrgID as a wildcard',
      star({ StringLike: { 'aws:PrincipalOrgID': 'o-*' } }),
      { trustedOrganizations: [ORG] },
      ['wildcard-principal'],
    ],
    ['aws:PrincipalAccount of this account', star({ StringEquals: { 'aws:PrincipalAccount': ACCOUNT } }), {}, []],
    [
      'aws:PrincipalAccount of this and an outside account',
      star({ StringEquals: { 'aws:PrincipalAccount': [ACCOUNT, OUTSIDE] } }),
      {},
      ['wildcard-principal'],
    ],
    [
      'aws:PrincipalAccount of a trusted account',
      star({ StringEquals: { 'aws:PrincipalAccount': OUTSIDE } }),
      { trustedAccounts: [OUTSIDE] },
      [],
    ],
    [
      "aws:PrincipalAccount of Astro's account, even listed as trusted",
      star({ StringEquals: { 'aws:PrincipalAccount': ASTRO_ACCOUNT } }),
      { trustedAccounts: [ASTRO_ACCOUNT] },
      ['wildcard-principal'],
    ],
    ['aws:SourceAccount of this account', star({ StringEquals: { 'aws:SourceAccount': ACCOUNT } }), {}, []],
    // terraform-aws-modules/iam: ExplicitSelfRoleAssumption.
    [
      'aws:PrincipalArn ArnLike a role of this account',
      star({ ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/ci-*` } }),
      {},
      [],
    ],
    [
      'aws:PrincipalArn ArnLike any account',
      star({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/ci' } }),
      {},
      ['wildcard-principal'],
    ],
    [
      'aws:PrincipalArn ArnNotEquals (excludes one, admits the rest)',
      star({ ArnNotEquals: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/x` } }),
      {},
      ['wildcard-principal'],
    ],
    ['sts:ExternalId only', star({ StringEquals: { 'sts:ExternalId': 'secret' } }), {}, ['wildcard-principal']],
  ])('%s', (_l, statement, over, expected) => {
    expect(kinds([statement], ctx(over))).toEqual(expected);
  });

  it('names the condition that does not confine it', () => {
    const [f] = find([star({ StringEquals: { 'sts:ExternalId': 'secret' } })]);
    expect(f!.detail).toMatch(/its condition \(StringEquals sts:externalid=secret\) does not confine it/);
    expect(f!.condition).toEqual({ StringEquals: { 'sts:externalid': ['secret'] } });
  });
});

describe('findForeign: federation', () => {
  it.each<[string, Statement, string[]]>([
    // aws-actions/configure-aws-credentials README; terraform-aws-modules/iam iam-github-oidc-role.
    ['GitHub, one repository', gh('repo:my-org/my-repo:*'), []],
    ['GitHub, one branch (StringEquals)', gh('repo:my-org/my-repo:ref:refs/heads/main', 'StringEquals'), []],
    ['GitHub, every repository of one owner', gh('repo:my-org/*'), []],
    ['GitHub, a customized subject pinned to an owner id', gh('repository_owner_id:1234:repository_id:5678'), []],
    ['GitHub, any repository (repo:*)', gh('repo:*'), ['unrestricted-federation']],
    ['GitHub, *', gh('*'), ['unrestricted-federation']],
    ['GitHub, owner as a wildcard', gh('repo:*/deploy:*'), ['unrestricted-federation']],
    ['GitHub, one pinned and one open subject', gh(['repo:my-org/app:*', 'repo:*']), ['unrestricted-federation']],
    ['GitHub, aud only', gh(), ['unrestricted-federation']],
    [
      'GitHub, sub only (no aud)',
      federated(GITHUB, { StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:o/r:*' } }),
      ['unrestricted-federation'],
    ],
    [
      'GitHub, sub only in StringNotLike (pins nothing)',
      federated(GITHUB, {
        StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
        StringNotLike: { 'token.actions.githubusercontent.com:sub': 'repo:evil/*' },
      }),
      ['unrestricted-federation'],
    ],
    [
      'GitLab with an audience',
      federated(`arn:aws:iam::${ACCOUNT}:oidc-provider/gitlab.com`, {
        StringEquals: { 'gitlab.com:aud': 'https://gitlab.com' },
        StringLike: { 'gitlab.com:sub': 'project_path:g/p:*' },
      }),
      [],
    ],
    [
      'another EKS cluster without an audience',
      federated(
        `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/0F1E2D3C4B5A69788796A5B4C3D2E1F0`,
        {
          StringEquals: {
            'oidc.eks.eu-west-1.amazonaws.com/id/0F1E2D3C4B5A69788796A5B4C3D2E1F0:sub': 'system:serviceaccount:*:*',
          },
        },
      ),
      ['unrestricted-federation'],
    ],
    [
      'Cognito with its identity pool as aud',
      federated('cognito-identity.amazonaws.com', {
        StringEquals: { 'cognito-identity.amazonaws.com:aud': 'us-east-1:12345678-corner-cafe-123456790ab' },
      }),
      [],
    ],
    [
      'Cognito without aud',
      federated('cognito-identity.amazonaws.com', {
        'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
      }),
      ['unrestricted-federation'],
    ],
    [
      'Google without aud',
      federated('accounts.google.com', { 'ForAllValues:StringEquals': { 'accounts.google.com:sub': '1234' } }),
      ['unrestricted-federation'],
    ],
    [
      'SAML',
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:saml-provider/Okta` },
        Action: 'sts:AssumeRoleWithSAML',
        Condition: { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } },
      },
      [],
    ],
  ])('%s', (_l, statement, expected) => {
    expect(kinds([statement])).toEqual(expected);
  });

  it('namespace findings only on Astro issuers', () => {
    const astro = federated(`arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`, {
      StringLike: { [`${ISSUER}:sub`]: 'system:serviceaccount:*:*' },
    });
    expect(kinds([astro])).toEqual(['namespace-wildcard']);
    expect(kinds([astro], ctx({ astroIssuers: new Set() }))).toEqual(['unrestricted-federation']);
  });
});

describe('findForeign: what it cannot evaluate is a finding, never a crash or silence', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'an unknown condition operator',
      { ...star(), Condition: { StringSoundsLike: { 'aws:x': 'y' } } },
      /unknown condition operator "StringSoundsLike"/,
    ],
    ['a Resource element', { ...backdoor, Resource: '*' }, /Resource is not allowed in a trust policy/],
    ['no principal at all', { Effect: 'Allow', Action: 'sts:AssumeRole' }, /exactly one of Principal and NotPrincipal/],
    ['an effect IAM does not have', { ...backdoor, Effect: 'allow' }, /Effect must be "Allow" or "Deny"/],
    [
      'a condition value that is an object',
      { ...star(), Condition: { StringEquals: { 'aws:x': { y: 1 } } } },
      /must be a string, number, boolean/,
    ],
    [
      'a principal type IAM does not have',
      { ...backdoor, Principal: { Robot: 'r2d2' } },
      /unknown principal type "Robot"/,
    ],
  ])('%s', (_l, statement, detail) => {
    const f = find([statement as unknown as Statement]);
    expect(f).toEqual([
      expect.objectContaining({ kind: 'unevaluable-statement', detail: expect.stringMatching(detail) }),
    ]);
  });
});

describe('bad input is a finding, never a crash (property)', () => {
  const value = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom('*', 'Allow', 'Deny', 'sts:AssumeRole', `arn:aws:iam::${OUTSIDE}:root`, 'AROA5XK7QEXAMPLE2ZJ4B'),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
  );
  const element = fc.oneof(
    value,
    fc.array(value, { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 12 }), value),
  );
  const statementArb = fc.record(
    {
      Sid: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
      Effect: fc.constantFrom('Allow', 'Deny', 'allow', 'Maybe'),
      Principal: fc.oneof(element, fc.dictionary(fc.constantFrom('AWS', 'Federated', 'Service', 'Robot'), element)),
      NotPrincipal: element,
      Action: element,
      NotAction: element,
      Resource: element,
      Condition: fc.oneof(
        element,
        fc.dictionary(
          fc.constantFrom('StringEquals', 'ForAnyValue:StringLike', 'NumericLessThan', 'Null', 'Nope', 'BoolIfExists'),
          fc.dictionary(fc.constantFrom('aws:PrincipalOrgID', 'aws:SourceIp', 'x:sub'), element),
        ),
      ),
    },
    { requiredKeys: ['Effect'] },
  );

  it('any statement object: planRole answers, and a statement it cannot read is an unevaluable-statement finding', () => {
    const inv = deployments(apiDeployment(1));
    fc.assert(
      fc.property(fc.array(statementArb, { minLength: 1, maxLength: 3 }), (statements) => {
        const p = planRole({
          spec: spec(),
          deployments: inv,
          state: roleState('data-reader', statements as Statement[]),
          knownIssuers: knownIssuersOf(inv),
          nowMs: Date.parse('2026-11-26T00:00:00Z'),
        });
        // One finding per distinct unreadable grant (identical statements are one grant, one id).
        const first = new Map<string, number>();
        for (const g of parseGrants({ Statement: statements as Statement[] }))
          if (g.problems.length > 0 && !first.has(grantKey(g))) first.set(grantKey(g), g.index);
        for (const index of first.values())
          expect(p.findings).toContainEqual(
            expect.objectContaining({ kind: 'unevaluable-statement', statement: index }),
          );
      }),
      { numRuns: 300 },
    );
  });
});

describe('finding ids', () => {
  const id = (s: Statement, c = ctx()) => find([s], c)[0]!.id;
  const conditioned = star({ StringEquals: { 'aws:PrincipalOrgID': [ORG, 'o-zzzzzzzzzz'] } });

  it('are 16 hex characters, stable across a Sid, value order, key case and list-or-string', () => {
    expect(id(conditioned)).toMatch(/^[0-9a-f]{16}$/);
    expect(id({ ...conditioned, Sid: 'Renamed' })).toBe(id(conditioned));
    expect(id(star({ StringEquals: { 'AWS:PRINCIPALORGID': ['o-zzzzzzzzzz', ORG] } }))).toBe(id(conditioned));
    expect(id({ ...backdoor, Action: ['sts:AssumeRole'] })).toBe(id(backdoor));
  });

  it('change with the grant: a condition removed, another action, another role', () => {
    const ids = new Set([
      id(conditioned),
      id(star()),
      id({ ...conditioned, Action: 'sts:*' }),
      id(conditioned, ctx({ role: 'other-role' })),
    ]);
    expect(ids.size).toBe(4);
  });

  it('are SHA-256 of role, kind, principal and the grant', () => {
    const f = find([backdoor])[0]!;
    expect(f.id).toBe(
      findingId(
        'r',
        'external-account',
        `arn:aws:iam::${OUTSIDE}:root`,
        JSON.stringify({ Effect: 'Allow', Action: ['sts:assumerole'], Condition: null }),
      ),
    );
  });
});

describe('acknowledgements by id', () => {
  const f: Finding = {
    id: '0123456789abcdef',
    kind: 'external-account',
    principal: `arn:aws:iam::${OUTSIDE}:root`,
    sid: 'Backdoor',
    condition: null,
    detail: '',
  };
  const ack = { finding: f.id, reason: 'migrating, OPS-123', expires: '2027-03-01' };
  const at = (iso: string) => Date.parse(iso);

  it('marks the finding with that id until 00:00 UTC of its expiry date, then it is back', () => {
    expect(acknowledge([f], [ack], at('2026-11-26T12:00:00Z'))[0]!.acknowledgement).toEqual({
      reason: 'migrating, OPS-123',
      expires: '2027-03-01',
      daysLeft: 95,
    });
    expect(acknowledge([f], [ack], at('2027-02-28T23:59:59Z'))[0]!.acknowledgement!.daysLeft).toBe(1);
    expect(acknowledge([f], [ack], at('2027-03-01T00:00:00Z'))[0]!.acknowledgement).toBeUndefined();
    expect(
      acknowledge([{ ...f, id: 'fedcba9876543210' }], [ack], at('2026-11-26T12:00:00Z'))[0]!.acknowledgement,
    ).toBeUndefined();
    expect(standing(acknowledge([f], [ack], at('2027-03-02T00:00:00Z')))).toHaveLength(1);
  });
});

describe('plan --detailed-exitcode (0 / 2 / 3)', () => {
  const inv = deployments(apiDeployment(1));
  const owned = planRole({
    spec: spec(),
    deployments: inv,
    state: roleState('data-reader', []),
    knownIssuers: knownIssuersOf(inv),
  }).proposed!.Statement;
  const plan = (
    statements: Statement[],
    over: Parameters<typeof planRole>[0]['findingRules'] = undefined,
    nowMs = Date.parse('2026-11-26T00:00:00Z'),
    s = spec(),
  ) => ({
    organizationId: 'o',
    inventory: { source: 't', deployments: 1, warnings: [] },
    roles: [
      planRole({
        spec: s,
        deployments: inv,
        state: roleState('data-reader', statements),
        knownIssuers: knownIssuersOf(inv),
        findingRules: over,
        nowMs,
      }),
    ],
  });

  it('0 when in sync with no finding; 2 when apply would write; 3 for the Stratus backdoor on an enforce role', () => {
    expect(detailedExitCode(plan(owned))).toBe(0);
    expect(detailedExitCode(plan([]))).toBe(2);
    const p = plan([...owned, backdoor]);
    expect(p.roles[0]!.status).toBe('in-sync');
    expect(p.roles[0]!.findings.map((x) => x.kind)).toEqual(['external-account']);
    expect(detailedExitCode(p)).toBe(3);
  });

  it('acknowledged by id -> 0; expired -> 3 again; an observe role that differs -> 3', () => {
    const id = plan([...owned, backdoor]).roles[0]!.findings[0]!.id;
    const rules = {
      trustedAccounts: [],
      trustedOrganizations: [],
      acknowledge: [{ finding: id, reason: 'OPS-1', expires: '2027-03-01' }],
    };
    expect(detailedExitCode(plan([...owned, backdoor], rules))).toBe(0);
    expect(detailedExitCode(plan([...owned, backdoor], rules, Date.parse('2027-03-01T00:00:00Z')))).toBe(3);
    expect(detailedExitCode(plan([], undefined, undefined, spec({ mode: 'observe' })))).toBe(3);
  });

  it('a denied declared identity is status denied (3); acknowledged, the role is in sync again (0)', () => {
    const deny: Statement = { Sid: 'Lockdown', Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole' };
    const p = plan([...owned, deny]);
    expect(p.roles[0]!.status).toBe('denied');
    expect(p.roles[0]!.findings).toEqual([
      expect.objectContaining({
        kind: 'declared-trust-denied',
        principal: astroRole('stellar-orbit-1001'),
        sid: 'Lockdown',
        statement: 1,
        deployments: [{ id: inv[0]!.id, name: 'deployment-1' }],
        detail: expect.stringMatching(/statement "Lockdown" denies this declared identity/),
      }),
    ]);
    expect(detailedExitCode(p)).toBe(3);
    const rules = {
      trustedAccounts: [],
      trustedOrganizations: [],
      acknowledge: [{ finding: p.roles[0]!.findings[0]!.id, reason: 'quarantined, OPS-9', expires: '2027-03-01' }],
    };
    const acked = plan([...owned, deny], rules);
    expect(acked.roles[0]!.status).toBe('in-sync');
    expect(detailedExitCode(acked)).toBe(0);
  });
});
