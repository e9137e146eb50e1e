import { planRole, knownIssuersOf, type RolePlan } from '../../src/domain/plan';
import { policyChars, samePolicy, type Statement } from '../../src/domain/policy';
import { ownedStatements } from '../../src/domain/statements';
import type { TrustEntry } from '../../src/domain/desired';
import {
  ACCOUNT,
  apiDeployment,
  astroRole,
  deployments,
  ISSUER,
  ISSUER_DR,
  roleState,
  spec,
} from '../support/fixtures';

const aws = (...arns: string[]): TrustEntry[] => arns.map((arn) => ({ kind: 'aws', arn, deploymentIds: [] }));
const owned = (entries: TrustEntry[]) => ownedStatements('aws', ACCOUNT, entries);
const glue: Statement = {
  Sid: 'AllowGlue',
  Effect: 'Allow',
  Principal: { Service: 'glue.amazonaws.com' },
  Action: 'sts:AssumeRole',
};

const d1 = apiDeployment(1);
const d2 = apiDeployment(2);
const d3 = apiDeployment(3, { workspaceId: 'clwsother', name: 'prod-billing' });
const inventory = deployments(d1, d2, d3);
const ns = (d: Record<string, unknown>) => d.namespace as string;

function plan(s = spec(), statements: Statement[] | null = [], inv = inventory): RolePlan {
  return planRole({
    spec: s,
    deployments: inv,
    state: statements ? roleState(s.name, statements) : undefined,
    knownIssuers: knownIssuersOf(inv),
  });
}

describe('planRole: workload-identity', () => {
  it('is in sync when the owned statement trusts exactly the declared identities', () => {
    const p = plan(spec(), [glue, ...owned(aws(astroRole(ns(d1)), astroRole(ns(d2))))]);
    expect(p.status).toBe('in-sync');
    expect(p.add).toEqual([]);
    expect(p.remove).toEqual([]);
    expect(p.declared.map((d) => d.matchedBy)).toEqual([
      'workspaceId "clws0000000001"',
      'workspaceId "clws0000000001"',
    ]);
  });

  it('onboards a new Deployment and keeps foreign statements exactly', () => {
    const p = plan(spec({ deployments: [{ workspaceId: 'clws0000000001' }, { name: 'prod-*' }] }), [
      glue,
      ...owned(aws(astroRole(ns(d1)), astroRole(ns(d2)))),
    ]);
    expect(p.status).toBe('changes');
    expect(p.add).toEqual([
      { principal: astroRole(ns(d3)), deploymentIds: [d3.id], deployments: [{ id: d3.id, name: 'prod-billing' }] },
    ]);
    expect(p.proposed!.Statement[0]).toEqual(glue);
    expect(p.proposed!.Statement).toHaveLength(2);
  });

  it('offboards an identity no declared Deployment has', () => {
    const p = plan(spec(), owned(aws(astroRole(ns(d1)), astroRole(ns(d2)), astroRole('gone-1'))));
    expect(p.remove).toEqual([
      { principal: astroRole('gone-1'), deploymentIds: [], reason: 'no declared Deployment has this identity' },
    ]);
    expect(p.status).toBe('changes');
  });

  it('writes the first owned statement into a role that has only foreign ones', () => {
    const p = plan(spec(), [glue]);
    expect(p.add).toHaveLength(2);
    expect(p.proposed!.Statement[1]).toEqual({
      Sid: 'AstroTrustWorkloadIdentity',
      Effect: 'Allow',
      Principal: { AWS: [astroRole(ns(d1)), astroRole(ns(d2))].sort() },
      Action: 'sts:AssumeRole',
    });
  });

  it('trusts the DR identity too', () => {
    const dr = apiDeployment(9, { effectiveDRWorkloadIdentity: astroRole('stellar-orbit-1009-dr') });
    const p = plan(spec({ deployments: [{ id: dr.id as string }] }), [], deployments(dr));
    expect(p.add.map((a) => a.principal)).toEqual([
      astroRole('stellar-orbit-1009'),
      astroRole('stellar-orbit-1009-dr'),
    ]);
  });

  it('trusts effectiveWorkloadIdentity only: the Deployment object has no workloadIdentity field to fall back on', () => {
    const old = apiDeployment(4, {
      effectiveWorkloadIdentity: undefined,
      workloadIdentity: astroRole('stellar-orbit-1004'),
    });
    const p = plan(spec({ deployments: [{ id: old.id as string }] }), [], deployments(old));
    expect(p.add).toEqual([]);
    expect(p.skipped).toEqual([expect.objectContaining({ reason: 'has no workload identity' })]);
  });

  it('rewrites an owned statement edited by hand (Effect changed) without principal changes', () => {
    const [s] = owned(aws(astroRole(ns(d1)), astroRole(ns(d2))));
    const p = plan(spec(), [{ ...s!, Action: ['sts:AssumeRole', 'sts:TagSession'] }]);
    expect(p.status).toBe('changes');
    expect(p.rewritesOwned).toBe(true);
  });

  it('leaves a valid policy that trusts no Astro identity when the declared set becomes empty', () => {
    const p = plan(spec({ deployments: [{ id: 'nobody' }] }), owned(aws(astroRole(ns(d1)))));
    expect(p.proposed!.Statement).toEqual([
      { Sid: 'AstroTrustNone', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' },
    ]);
    const withForeign = plan(spec({ deployments: [{ id: 'nobody' }] }), [glue, ...owned(aws(astroRole(ns(d1))))]);
    expect(withForeign.proposed!.Statement).toEqual([glue]);
  });

  it('reports a missing role and plans nothing for it', () => {
    expect(plan(spec(), null).status).toBe('missing');
  });

  it('plans observe roles like enforce ones (apply skips them)', () => {
    const p = plan(spec({ mode: 'observe' }), []);
    expect(p.status).toBe('changes');
    expect(p.mode).toBe('observe');
  });

  it('skips a Deployment whose identity is in another partition', () => {
    const cn = apiDeployment(5, { effectiveWorkloadIdentity: 'arn:aws-cn:iam::111928029897:role/astro-x' });
    const p = plan(spec({ deployments: [{ id: cn.id as string }] }), [], deployments(cn));
    expect(p.add).toEqual([]);
    expect(p.skipped[0]!.reason).toMatch(/partition aws-cn/);
  });
});

describe('planRole: unexpected trust in foreign statements', () => {
  const base = owned(aws(astroRole(ns(d1)), astroRole(ns(d2))));
  it.each<[string, Statement, string, string]>([
    [
      'undeclared Astro identity',
      { Sid: 'Manual', Effect: 'Allow', Principal: { AWS: astroRole('someone-else') }, Action: 'sts:AssumeRole' },
      'undeclared-astro-identity',
      astroRole('someone-else'),
    ],
    [
      'orphaned principal',
      { Sid: 'Old', Effect: 'Allow', Principal: { AWS: 'AROA5XK7QEXAMPLE2ZJ4B' }, Action: 'sts:AssumeRole' },
      'orphaned-principal',
      'AROA5XK7QEXAMPLE2ZJ4B',
    ],
    ['wildcard principal', { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' }, 'wildcard-principal', '*'],
    [
      'namespace wildcard',
      {
        Sid: 'Quick',
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringLike: { [`${ISSUER}:sub`]: 'system:serviceaccount:*:*' } },
      },
      'namespace-wildcard',
      `${ISSUER}:sub=system:serviceaccount:*:*`,
    ],
    [
      'undeclared namespace on an Astro issuer',
      {
        Sid: 'Other',
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${ISSUER}:sub`]: 'system:serviceaccount:tenant-b:x' } },
      },
      'undeclared-namespace',
      `${ISSUER}:sub=system:serviceaccount:tenant-b:x`,
    ],
    [
      'an Astro issuer with no sub condition at all',
      {
        Sid: 'NoSub',
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
      },
      'namespace-wildcard',
      `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`,
    ],
  ])('finds %s, alerts only', (_l, statement, kind, principal) => {
    const p = plan(spec(), [...base, statement]);
    expect(p.findings).toEqual([expect.objectContaining({ kind, principal })]);
    expect(p.status).toBe('in-sync');
    expect(p.proposed!.Statement).toContainEqual(statement);
  });

  it('does not flag a foreign statement that trusts a declared identity or a non-Astro principal', () => {
    const p = plan(spec(), [
      ...base,
      glue,
      { Sid: 'Dup', Effect: 'Allow', Principal: { AWS: astroRole(ns(d1)) }, Action: 'sts:AssumeRole' },
    ]);
    expect(p.findings).toEqual([]);
  });

  it('removes a wildcard and an orphan found inside owned statements', () => {
    const p = plan(spec(), owned(aws(astroRole(ns(d1)), astroRole(ns(d2)), 'AROA5XK7QEXAMPLE2ZJ4B', '*')));
    expect(p.remove.map((r) => [r.principal, r.reason])).toEqual([
      ['*', 'wildcard principal'],
      ['AROA5XK7QEXAMPLE2ZJ4B', 'orphaned principal (deleted role)'],
    ]);
  });
});

describe('planRole: oidc', () => {
  const af2 = apiDeployment(7, {
    airflowVersion: '2.10.5',
    effectiveWorkloadIdentity: `arn:aws:iam::${ACCOUNT}:role/etl-runner`,
  });
  const af3 = apiDeployment(8, {
    effectiveWorkloadIdentity: `arn:aws:iam::${ACCOUNT}:role/etl-runner`,
    drOidcIssuerUrl: `https://${ISSUER_DR}`,
  });
  const other = apiDeployment(6);
  const inv = deployments(af2, af3, other);

  it('trusts every Deployment that uses the role as its identity, per namespace, per issuer', () => {
    const p = plan(spec({ name: 'etl-runner', trust: 'oidc', deployments: undefined }), [], inv);
    expect(p.declared.map((d) => d.id)).toEqual([af2.id, af3.id]);
    expect(p.add.map((a) => `${a.issuer} ${a.principal}`)).toEqual([
      `${ISSUER} system:serviceaccount:${ns(af2)}:*`,
      `${ISSUER} system:serviceaccount:${ns(af3)}:*`,
      `${ISSUER_DR} system:serviceaccount:${ns(af3)}:*`,
    ]);
    expect(p.oidcIssuers).toEqual([ISSUER, ISSUER_DR].sort());
    const statement = p.proposed!.Statement.find(
      (s) => s.Sid?.startsWith('AstroTrustOidc') && JSON.stringify(s).includes(ISSUER),
    )!;
    expect(statement.Principal).toEqual({ Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}` });
    expect(statement.Condition).toEqual({
      StringEquals: { [`${ISSUER}:aud`]: 'sts.amazonaws.com' },
      StringLike: { [`${ISSUER}:sub`]: [`system:serviceaccount:${ns(af2)}:*`, `system:serviceaccount:${ns(af3)}:*`] },
    });
    expect(JSON.stringify(p.proposed)).not.toContain('https://');
  });

  it('names the API server service account by Airflow major version', () => {
    const p = plan(
      spec({ name: 'etl-runner', trust: 'oidc', deployments: undefined, serviceAccounts: ['apiserver', 'kpo'] }),
      [],
      deployments(af2),
    );
    expect(p.add.map((a) => a.principal)).toEqual([
      `system:serviceaccount:${ns(af2)}:${ns(af2)}-kpo`,
      `system:serviceaccount:${ns(af2)}:${ns(af2)}-webserver-serviceaccount`,
    ]);
    const p3 = plan(
      spec({ name: 'etl-runner', trust: 'oidc', deployments: undefined, serviceAccounts: ['apiserver'] }),
      [],
      deployments(af3),
    );
    expect(p3.add[0]!.principal).toBe(`system:serviceaccount:${ns(af3)}:${ns(af3)}-apiserver-serviceaccount`);
  });
});

describe('guards', () => {
  it('writes what fits of a new role, oldest first, and names exactly the Deployments left out', () => {
    const many = deployments(
      ...Array.from({ length: 40 }, (_, i) =>
        apiDeployment(i, { createdAt: new Date(Date.UTC(2026, 0, 40 - i)).toISOString() }),
      ),
    );
    const p = plan(spec({ maxPolicyChars: 1024 }), [], many);
    expect(p.status).toBe('changes');
    expect(p.guard).toBeUndefined();
    expect(p.policy.proposedChars).toBeLessThanOrEqual(1024);
    // createdAt runs backwards with the index: the oldest are the highest indexes, and they are the ones trusted.
    const trusted = new Set(p.add.flatMap((a) => a.deploymentIds));
    const left = p.notFitting.map((d) => d.id);
    expect(trusted.size + left.length).toBe(40);
    const rank = (id: string) => many.findIndex((d) => d.id === id);
    expect(Math.min(...[...trusted].map(rank))).toBeGreaterThan(Math.max(...left.map(rank)));
    expect(p.notFitting[0]).toEqual({ id: many[left.length - 1]!.id, name: many[left.length - 1]!.name });
    // One more Deployment would not have fitted.
    const withOneMore = plan(
      spec({ maxPolicyChars: 1024 }),
      [],
      many.filter((d) => trusted.has(d.id) || d.id === left.at(-1)),
    );
    expect(withOneMore.notFitting.map((d) => d.id)).toEqual([left.at(-1)]);
  });

  it('blocks only when even the principals trusted today do not fit, and names the Deployments waiting', () => {
    const many = deployments(...Array.from({ length: 40 }, (_, i) => apiDeployment(i)));
    const big = plan(spec({ maxPolicyChars: 100_000 }), [], many.slice(0, 30));
    const p = plan(spec({ maxPolicyChars: 1024 }), [...big.proposed!.Statement, glue], many);
    expect(p.status).toBe('blocked');
    expect(p.guard!.kind).toBe('policy-too-large');
    expect(p.guard!.message).toContain('the principals trusted today do not fit the limit');
    expect(p.notFitting.map((d) => d.id)).toEqual(many.slice(30).map((d) => d.id));
    expect(p.guard!.message).toContain(`Not trusted for lack of room: ${many[30]!.name} (${many[30]!.id})`);
  });

  it('a full role reports the Deployments that do not fit without writing', () => {
    const many = deployments(...Array.from({ length: 12 }, (_, i) => apiDeployment(i)));
    const first = plan(spec({ maxPolicyChars: 100_000 }), [], many.slice(0, 10));
    const limit = first.policy.proposedChars;
    const p = plan(spec({ maxPolicyChars: limit }), first.proposed!.Statement, many);
    expect(p.status).toBe('blocked');
    expect(p.guard!.message).toMatch(/no room left .* for 2 declared Deployments/);
    expect(p.notFitting.map((d) => d.id)).toEqual([many[10]!.id, many[11]!.id]);
  });

  it('a role at the quota still offboards a deleted Deployment and gives its room to the oldest new one (regression)', () => {
    const today = deployments(...Array.from({ length: 10 }, (_, i) => apiDeployment(i)));
    const full = plan(spec({ maxPolicyChars: 100_000 }), [], today);
    const limit = full.policy.proposedChars;
    const fresh = deployments(
      ...Array.from({ length: 8 }, (_, i) => apiDeployment(100 + i, { createdAt: `2026-11-0${i + 1}T00:00:00Z` })),
    );
    const inv = [...today.slice(1), ...fresh];
    const p = plan(spec({ maxPolicyChars: limit }), full.proposed!.Statement, inv);
    expect(p.status).toBe('changes');
    expect(p.remove.map((r) => r.principal)).toEqual([today[0]!.workloadIdentity]);
    expect(p.add.map((a) => a.deploymentIds[0])).toEqual([fresh[0]!.id]);
    expect(p.notFitting.map((d) => d.id)).toEqual(fresh.slice(1).map((d) => d.id));
    expect(p.policy.proposedChars).toBeLessThanOrEqual(limit);
  });

  it('blocks more removals than maxRemovals', () => {
    const gone = Array.from({ length: 6 }, (_, i) => astroRole(`gone-${i}`));
    const p = plan(spec(), owned(aws(astroRole(ns(d1)), astroRole(ns(d2)), ...gone)));
    expect(p.status).toBe('blocked');
    expect(p.guard!.kind).toBe('too-many-removals');
    expect(p.remove).toHaveLength(6);
    expect(plan(spec({ maxRemovals: 6 }), owned(aws(astroRole(ns(d1)), astroRole(ns(d2)), ...gone))).status).toBe(
      'changes',
    );
  });

  it('counts an OIDC namespace once against maxRemovals, however many service accounts it had', () => {
    const subs = ['scheduler', 'worker', 'triggerer', 'dag-processor', 'apiserver', 'kpo'].map(
      (c) => `system:serviceaccount:old-ns:old-ns-${c}`,
    );
    const statements = ownedStatements(
      'aws',
      ACCOUNT,
      subs.map((sub) => ({ kind: 'oidc', issuer: ISSUER, sub, deploymentIds: [] })),
    );
    const p = plan(spec({ trust: 'oidc', maxRemovals: 1 }), statements);
    expect(p.remove).toHaveLength(6);
    expect(p.status).toBe('changes');
  });

  it('does not block a role that is already in sync even when it is over the limit', () => {
    const many = deployments(...Array.from({ length: 40 }, (_, i) => apiDeployment(i)));
    const big = plan(spec({ maxPolicyChars: 100_000 }), [], many);
    const p = plan(spec({ maxPolicyChars: 1024 }), big.proposed!.Statement, many);
    expect(p.status).toBe('in-sync');
    expect(policyChars(p.proposed!)).toBeGreaterThan(1024);
    expect(samePolicy(p.proposed!, big.proposed!)).toBe(true);
  });
});
