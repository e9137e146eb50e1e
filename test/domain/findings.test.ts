/** Findings (DESIGN 3.5): what a person must look at, and acknowledgements that expire. */
import { acknowledge, findUnexpected, standing, type Finding } from '../../src/domain/findings';
import { knownIssuersOf, planRole } from '../../src/domain/plan';
import type { Statement } from '../../src/domain/policy';
import { detailedExitCode } from '../../src/cli/render';
import { ACCOUNT, apiDeployment, astroRole, deployments, roleState, spec } from '../support/fixtures';

const OUTSIDE = '999988887777';
// DataDog Stratus Red Team, aws.persistence.iam-backdoor-role: a statement trusting an outside account's root.
const backdoor: Statement = {
  Sid: 'Backdoor',
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${OUTSIDE}:root` },
  Action: 'sts:AssumeRole',
};
const ctx = (trustedAccounts: string[] = []) => ({
  desired: [{ kind: 'aws' as const, arn: astroRole('ns-1'), deploymentIds: ['d'] }],
  knownIssuers: new Set<string>(),
  roleAccount: ACCOUNT,
  trustedAccounts,
});

describe('findUnexpected: external accounts and NotPrincipal', () => {
  it.each<[string, Statement, string[], string[]]>([
    ['the Stratus backdoor (an outside account root)', backdoor, [], ['external-account']],
    ['an outside account as a bare id', { ...backdoor, Principal: { AWS: OUTSIDE } }, [], ['external-account']],
    [
      'a user in an outside account',
      { ...backdoor, Principal: { AWS: `arn:aws:iam::${OUTSIDE}:user/x` } },
      [],
      ['external-account'],
    ],
    ['an outside account listed in findings.trustedAccounts', backdoor, [OUTSIDE], []],
    ["the role's own account", { ...backdoor, Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } }, [], []],
    [
      "a declared Deployment identity's account",
      { ...backdoor, Principal: { AWS: 'arn:aws:iam::111928029897:role/other-tool' } },
      [],
      [],
    ],
    ['a service principal', { ...backdoor, Principal: { Service: 'glue.amazonaws.com' } }, [], []],
    [
      'Allow with NotPrincipal',
      {
        Sid: 'AllButOne',
        Effect: 'Allow',
        NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:role/x` },
        Action: 'sts:AssumeRole',
      },
      [],
      ['not-principal'],
    ],
    [
      'Deny with NotPrincipal (a restriction, not a grant)',
      { Effect: 'Deny', NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:role/x` }, Action: 'sts:AssumeRole' },
      [],
      [],
    ],
  ])('%s', (_l, statement, trusted, kinds) => {
    expect(findUnexpected([statement], ctx(trusted)).map((f) => f.kind)).toEqual(kinds);
  });
});

describe('acknowledgements', () => {
  const f: Finding = {
    kind: 'external-account',
    principal: `arn:aws:iam::${OUTSIDE}:root`,
    sid: 'Backdoor',
    detail: '',
  };
  const ack = { role: 'r', principal: f.principal, reason: 'migrating, OPS-123', expires: '2027-03-01' };
  const at = (iso: string) => Date.parse(iso);

  it('marks a matching finding until 00:00 UTC of its expiry date, then it is back', () => {
    expect(acknowledge([f], 'r', [ack], at('2026-11-26T12:00:00Z'))[0]!.acknowledgement).toEqual({
      reason: 'migrating, OPS-123',
      expires: '2027-03-01',
      daysLeft: 95,
    });
    expect(acknowledge([f], 'r', [ack], at('2027-02-28T23:59:59Z'))[0]!.acknowledgement!.daysLeft).toBe(1);
    expect(acknowledge([f], 'r', [ack], at('2027-03-01T00:00:00Z'))[0]!.acknowledgement).toBeUndefined();
    expect(acknowledge([f], 'other-role', [ack], at('2026-11-26T12:00:00Z'))[0]!.acknowledgement).toBeUndefined();
    expect(standing(acknowledge([f], 'r', [ack], at('2027-03-02T00:00:00Z')))).toHaveLength(1);
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
    expect(p.roles[0]!.unexpected.map((x) => x.kind)).toEqual(['external-account']);
    expect(detailedExitCode(p)).toBe(3);
  });

  it('acknowledged -> 0; expired -> 3 again; an observe role that differs -> 3', () => {
    const rules = {
      trustedAccounts: [],
      acknowledge: [
        { role: 'data-reader', principal: `arn:aws:iam::${OUTSIDE}:root`, reason: 'OPS-1', expires: '2027-03-01' },
      ],
    };
    expect(detailedExitCode(plan([...owned, backdoor], rules))).toBe(0);
    expect(detailedExitCode(plan([...owned, backdoor], rules, Date.parse('2027-03-01T00:00:00Z')))).toBe(3);
    expect(detailedExitCode(plan([], undefined, undefined, spec({ mode: 'observe' })))).toBe(3);
  });
});
