/**
 * Release-3 review: hostile or unusual trust policies that made astro-trust say less than the truth (DESIGN 7.1).
 * Each of these failed on the release-3 integration commit a6d6cd5: a grant that raised no finding, an
 * acknowledgement that silenced more than the grant it was made for, a declared Deployment locked out while the role
 * read `in-sync`, or a plan that never finished.
 */
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { detailedExitCode } from '../../src/cli/render';
import type { FindingRules } from '../../src/domain/findings';
import { globMatch } from '../../src/domain/grant';
import { knownIssuersOf, planRole, type RolePlan } from '../../src/domain/plan';
import type { Statement } from '../../src/domain/policy';
import type { Deployment } from '../../src/domain/deployment';
import type { RoleSpec } from '../../src/domain/desired';
import { ACCOUNT, ISSUER, apiDeployment, deployments, roleState, spec } from '../support/fixtures';

const NOW = Date.parse('2026-11-26T00:00:00Z');
const inv = deployments(apiDeployment(1));
const NS = inv[0]!.namespace;
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`;

/** The role as astro-trust writes it for `s`, plus the foreign statements given. */
function plan(
  foreign: Statement[],
  rules?: Partial<FindingRules>,
  s: RoleSpec = spec(),
  d: Deployment[] = inv,
): RolePlan {
  const owned = planRole({
    spec: s,
    deployments: d,
    state: roleState('data-reader', []),
    knownIssuers: knownIssuersOf(d),
  }).proposed!.Statement;
  return planRole({
    spec: s,
    deployments: d,
    state: roleState('data-reader', [...foreign, ...owned]),
    knownIssuers: knownIssuersOf(d),
    findingRules: { trustedAccounts: [], trustedOrganizations: [], acknowledge: [], ...rules },
    nowMs: NOW,
  });
}

const ack = (...ids: string[]): Partial<FindingRules> => ({
  acknowledge: ids.map((finding) => ({ finding, reason: 'known, OPS-1', expires: '2027-01-01' })),
});
const exit = (p: RolePlan) =>
  detailedExitCode({ organizationId: 'o', inventory: { source: 't', deployments: 1, warnings: [] }, roles: [p] });
const ids = (p: RolePlan) => p.findings.map((f) => f.id);
const open = (p: RolePlan) => p.findings.filter((f) => !f.acknowledgement);

/**
 * Runs `fn` under a watchdog that interrupts it: a matcher that backtracks exponentially never returns, and a test that
 * waited for it would hang the suite. 20 s is a guard against a hang, not a speed figure (the fixed code answers in
 * microseconds; the code before the fix ran for hours).
 */
function finishes<T>(fn: () => T): T {
  return runInNewContext('fn()', { fn }, { timeout: 20_000 }) as T;
}

describe('a wildcard pattern cannot stall the evaluator (catastrophic backtracking)', () => {
  // `*?*?...` became `.*..*.` in a regular expression: exponential backtracking when it does not match.
  const pathological = `${'*?'.repeat(24)}*Z`;

  it('globMatch answers a pathological pattern', () => {
    expect(finishes(() => globMatch(pathological, `arn:aws:iam::111928029897:role/astro-${NS}`))).toBe(false);
    expect(finishes(() => globMatch('*?'.repeat(24), 'x'.repeat(60)))).toBe(true);
    expect(finishes(() => globMatch(`${'**?'.repeat(30)}`, 'x'.repeat(29)))).toBe(false);
  });

  it('a foreign Deny whose condition is such a pattern does not stop the plan of the role', () => {
    const p = finishes(() =>
      plan([
        {
          Sid: 'Stall',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'sts:AssumeRole',
          Condition: { StringLike: { 'aws:PrincipalArn': pathological } },
        },
      ]),
    );
    expect(p.status).toBe('in-sync');
    expect(p.findings).toEqual([]);
  });

  it("keeps IAM's semantics: * any run, ? one character, case-insensitive only when asked", () => {
    // A reference matcher by dynamic programming over (pattern, value) prefixes.
    const reference = (p: string, v: string, ci: boolean) => {
      const [a, b] = ci ? [p.toLowerCase(), v.toLowerCase()] : [p, v];
      let row = Array.from({ length: b.length + 1 }, (_, j) => j === 0);
      for (const c of a) {
        const next = Array.from({ length: b.length + 1 }, () => false);
        next[0] = c === '*' && row[0]!;
        for (let j = 1; j <= b.length; j++)
          next[j] = c === '*' ? row[j]! || next[j - 1]! : row[j - 1]! && (c === '?' || c === b[j - 1]);
        row = next;
      }
      return row[b.length]!;
    };
    const text = fc.string({ unit: fc.constantFrom('a', 'A', 'b', ':', '/', '.', '\n'), maxLength: 8 });
    const pattern = fc.string({ unit: fc.constantFrom('a', 'A', 'b', ':', '*', '?', '.', '\n'), maxLength: 8 });
    fc.assert(
      fc.property(pattern, text, fc.boolean(), (p, v, ci) => globMatch(p, v, ci) === reference(p, v, ci)),
      { numRuns: 2000 },
    );
  });
});

describe('declared-trust-denied names every statement that blocks a declared identity', () => {
  // "Deny unless the caller is in our organization": astro-trust cannot know Astro's organization, so it may deny.
  const orgDeny: Statement = {
    Sid: 'OnlyOurOrg',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: 'sts:AssumeRole',
    Condition: { StringNotEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
  };
  // "Deny from outside our network": a second statement that may lock the Deployment out.
  const ipDeny: Statement = {
    Sid: 'OnlyOurNetwork',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: 'sts:AssumeRole',
    Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
  };

  it('an acknowledged "may deny" does not silence a second deny added later', () => {
    const first = plan([orgDeny]);
    expect(first.status).toBe('denied');
    const acked = plan([orgDeny], ack(first.findings[0]!.id));
    expect(acked.status).toBe('in-sync');

    const later = plan([orgDeny, ipDeny], ack(first.findings[0]!.id));
    expect(open(later).map((f) => [f.kind, f.sid])).toEqual([['declared-trust-denied', 'OnlyOurNetwork']]);
    expect(open(later)[0]!.detail).toMatch(/may deny .* aws:sourceip/);
    expect(later.status).toBe('denied');
    expect(exit(later)).toBe(3);
  });

  it('an explicit deny and a deny that may apply are both named', () => {
    const explicit: Statement = { Sid: 'NoAstro', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };
    const p = plan([orgDeny, explicit]);
    expect(p.findings.map((f) => f.sid).sort()).toEqual(['NoAstro', 'OnlyOurOrg']);
  });

  it("a namespace's later service accounts are judged too, not only the first one a deny may block", () => {
    const oidc = spec({ trust: 'oidc' });
    // May block every service account (the source IP of a pod is not known).
    const mayDeny: Statement = {
      Sid: 'OnlyOurNetwork',
      Effect: 'Deny',
      Principal: { Federated: PROVIDER },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
    };
    // Blocks the workers for certain: the scheduler, probed first, is not concerned.
    const noWorkers: Statement = {
      Sid: 'NoWorkers',
      Effect: 'Deny',
      Principal: { Federated: PROVIDER },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringLike: { [`${ISSUER}:sub`]: 'system:serviceaccount:*:*-worker-serviceaccount' } },
    };
    const first = plan([mayDeny], {}, oidc);
    expect(first.status).toBe('denied');
    const p = plan([mayDeny, noWorkers], ack(first.findings[0]!.id), oidc);
    expect(open(p).map((f) => f.sid)).toEqual(['NoWorkers']);
    expect(open(p)[0]!.detail).toMatch(
      /denies this declared identity \(as system:serviceaccount:.*-worker-serviceaccount\)/,
    );
    expect(p.status).toBe('denied');
  });
});

describe('what a Deployment identity session carries: aws:FederatedProvider is not known absent', () => {
  // A Deployment identity whose session came from the cluster's OIDC provider (IRSA) carries aws:FederatedProvider
  // into its sts:AssumeRole calls; astro-trust cannot tell how Astro opened the session.
  it.each<[string, Statement['Condition']]>([
    ['deny every session that came through web identity federation', { Null: { 'aws:FederatedProvider': 'false' } }],
    [
      'deny sessions of any OIDC provider',
      { StringLike: { 'aws:FederatedProvider': 'arn:aws:iam::*:oidc-provider/*' } },
    ],
  ])('%s: a deny that may apply', (_label, Condition) => {
    const p = plan([
      { Sid: 'NoFederated', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition },
    ]);
    expect(p.findings.map((f) => [f.kind, f.sid])).toEqual([['declared-trust-denied', 'NoFederated']]);
    expect(p.findings[0]!.detail).toMatch(/may deny .*aws:federatedprovider/);
    expect(p.status).toBe('denied');
  });
});

describe('an audience condition that is a wildcard does not pin the audience', () => {
  const github = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
  const gh = (aud: string): Statement => ({
    Effect: 'Allow',
    Principal: { Federated: github },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: {
      StringLike: {
        'token.actions.githubusercontent.com:aud': aud,
        'token.actions.githubusercontent.com:sub': 'repo:my-org/my-repo:*',
      },
    },
  });
  const cognito = (aud: string): Statement => ({
    Effect: 'Allow',
    Principal: { Federated: 'cognito-identity.amazonaws.com' },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: { StringLike: { 'cognito-identity.amazonaws.com:aud': aud } },
  });

  it.each<[string, Statement]>([
    ['GitHub, aud "?*" (any non-empty audience)', gh('?*')],
    ['GitHub, aud "**"', gh('**')],
    ['Cognito, aud "us-east-1:*" (every identity pool of the region, any account)', cognito('us-east-1:*')],
    ['Cognito, aud "*:*"', cognito('*:*')],
  ])('%s is unrestricted-federation', (_label, statement) => {
    const p = plan([statement]);
    expect(p.findings.map((f) => f.kind)).toEqual(['unrestricted-federation']);
    expect(p.findings[0]!.detail).toMatch(/wildcard/);
    expect(exit(p)).toBe(3);
  });

  it('a pinned audience is still no finding', () => {
    expect(plan([gh('sts.amazonaws.com')]).findings).toEqual([]);
    expect(plan([cognito('us-east-1:11111111-2222-3333-4444-555555555555')]).findings).toEqual([]);
  });
});

describe('finding ids: a changed grant is a new id; order and Sid are not', () => {
  const roots = Array.from({ length: 30 }, (_, i) => `arn:aws:iam::${String(200000000000 + i)}:root`);
  const notPrincipal = (except: string[]): Statement => ({
    Sid: 'AllButThese',
    Effect: 'Allow',
    NotPrincipal: { AWS: except },
    Action: 'sts:AssumeRole',
  });

  it('NotPrincipal: fewer exceptions (a wider grant) is a new id, also past the first 300 characters', () => {
    const wide = plan([notPrincipal(roots.slice(0, 25))]);
    const narrow = plan([notPrincipal(roots)]);
    expect(narrow.findings.map((f) => f.kind)).toEqual(['not-principal']);
    expect(ids(wide)).not.toEqual(ids(narrow));
    // Acknowledging the narrow grant does not silence the wide one.
    expect(open(plan([notPrincipal(roots.slice(0, 25))], ack(narrow.findings[0]!.id)))).toHaveLength(1);
  });

  it('NotPrincipal: the order of the exceptions is not part of the id', () => {
    expect(ids(plan([notPrincipal([...roots].reverse())]))).toEqual(ids(plan([notPrincipal(roots)])));
  });

  it('an unevaluable statement: its Sid and its position are not part of the id, its content is', () => {
    // An account id written as a number: astro-trust cannot place the principal.
    const odd = (Sid?: string, account = 999988887777): Statement =>
      ({
        ...(Sid ? { Sid } : {}),
        Effect: 'Allow',
        Principal: { AWS: account },
        Action: 'sts:AssumeRole',
      }) as unknown as Statement;
    const service: Statement = {
      Effect: 'Allow',
      Principal: { Service: 'ec2.amazonaws.com' },
      Action: 'sts:AssumeRole',
    };
    const base = plan([odd('Legacy')]);
    expect(base.findings.map((f) => f.kind)).toEqual(['unevaluable-statement']);
    expect(ids(plan([odd('Renamed')]))).toEqual(ids(base));
    expect(ids(plan([odd()]))).toEqual(ids(base));
    expect(ids(plan([service, odd()]))).toEqual(ids(base));
    expect(ids(plan([odd('Legacy', 111122223333)]))).not.toEqual(ids(base));
  });

  it('shared-identity: another Deployment starting to use the shared identity is a new id', () => {
    const shared = `arn:aws:iam::${ACCOUNT}:role/AirflowS3Logs-clcl0000000001`;
    const hybrid = (n: number, workspaceId: string) =>
      apiDeployment(n, { type: 'HYBRID', workspaceId, effectiveWorkloadIdentity: shared });
    const before = deployments(hybrid(1, 'clws0000000001'), hybrid(2, 'clwsother'));
    const after = deployments(hybrid(1, 'clws0000000001'), hybrid(2, 'clwsother'), hybrid(3, 'clwsother'));
    const known = plan([], {}, spec(), before);
    expect(known.findings.map((f) => f.kind)).toEqual(['shared-identity']);
    const p = plan([], ack(known.findings[0]!.id), spec(), after);
    expect(open(p).map((f) => [f.kind, f.deployments?.map((d) => d.name)])).toEqual([
      ['shared-identity', ['deployment-2', 'deployment-3']],
    ]);
    // The same Deployments in another order: the same id.
    const reordered = deployments(hybrid(3, 'clwsother'), hybrid(1, 'clws0000000001'), hybrid(2, 'clwsother'));
    expect(ids(plan([], {}, spec(), reordered))).toEqual(ids(plan([], {}, spec(), after)));
  });
});
