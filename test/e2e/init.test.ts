/**
 * `astro-trust init` against moto with a realistic estate (DESIGN 7.3): 50 roles, 35 of them trusting Astro
 * Deployments by hand (identities as a string or a list, with and without Sid, namespaces on the cluster's
 * OIDC issuer, a DR identity, two roles astro-trust manages already, a deleted Deployment's identity, a
 * namespace wildcard, a Condition) and 14 that trust nothing of Astro. init reads (ListRoles only) and
 * writes a config; the first plan with it writes nothing and proposes, per role, exactly the trust the
 * hand-made statements grant today; enforced, IAM (judged by an IAM policy evaluator) trusts the same.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  GetRoleCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { loadConfig } from '../../src/config/config';
import { entriesTrusted } from '../../src/domain/adopt';
import { entryKey } from '../../src/domain/desired';
import { parseTrustPolicy, type PolicyDocument, type Statement } from '../../src/domain/policy';
import { cli } from '../support/cli';
import { ACCOUNT, apiDeployment, astroRole, ISSUER, ISSUER_DR } from '../support/fixtures';
import { clustersPage, isClustersRequest } from '../support/astro-api';
import { fakeService, json } from '../support/http';
import { faultProxy, type FaultProxy } from '../support/fault-proxy';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';
import { canAssumeRole } from '../support/oracle';

const ORG = 'clorg0000000000000000000001';
const ns = (n: number) => `stellar-orbit-${1000 + n}`;
const id = (n: number) => `cldep${String(n).padStart(6, '0')}x`;
const deployments = Array.from({ length: 40 }, (_, i) => {
  const n = i + 1;
  const dr =
    n === 36 || n === 37
      ? { effectiveDRWorkloadIdentity: `${astroRole(ns(n))}-dr`, drOidcIssuerUrl: `https://${ISSUER_DR}` }
      : {};
  return apiDeployment(n, {
    organizationId: ORG,
    cloudProvider: 'AWS',
    ...(n >= 10 && n <= 12 ? { airflowVersion: '2.10.5' } : {}),
    ...dr,
  });
});

const provider = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`;
const allow = (principal: Statement['Principal'], extra: Partial<Statement> = {}): Statement => ({
  Effect: 'Allow',
  Principal: principal,
  Action: 'sts:AssumeRole',
  ...extra,
});
const service = (name: string) => allow({ Service: name });
const web = (subs: string[], sid?: string): Statement => ({
  ...(sid ? { Sid: sid } : {}),
  Effect: 'Allow',
  Principal: { Federated: provider },
  Action: 'sts:AssumeRoleWithWebIdentity',
  Condition: { StringEquals: { [`${ISSUER}:aud`]: 'sts.amazonaws.com' }, StringLike: { [`${ISSUER}:sub`]: subs } },
});
const doc = (...s: Statement[]): PolicyDocument => ({ Version: '2012-10-17', Statement: s });

/** The estate: role name -> trust policy, and what init must declare for it (Deployment numbers). */
const estate: Record<string, { policy: PolicyDocument; declares?: number[] }> = {};
for (let i = 0; i < 20; i++) {
  const ns3 = i % 3 === 0 ? [i + 1, i + 2, i + 3] : [i + 1, i + 2];
  // wi-04 also trusts Deployment 36 and its DR identity; wi-05 Deployment 37 without its DR identity.
  if (i === 4) ns3.push(36);
  if (i === 5) ns3.push(37);
  const arns = ns3.flatMap((n) => (n === 36 ? [astroRole(ns(n)), `${astroRole(ns(n))}-dr`] : [astroRole(ns(n))]));
  const grant = allow({ AWS: arns.length === 1 ? arns[0]! : arns }, i % 2 === 0 ? { Sid: 'AstroAccess' } : {});
  estate[`wi-${String(i).padStart(2, '0')}`] = {
    policy: i % 2 === 0 ? doc(service('glue.amazonaws.com'), grant) : doc(grant),
    declares: ns3,
  };
}
for (let i = 0; i < 10; i++) {
  const pair = [21 + i, 22 + i];
  const subs =
    i >= 8
      ? pair.flatMap((n) => [
          `system:serviceaccount:${ns(n)}:${ns(n)}-worker-serviceaccount`,
          `system:serviceaccount:${ns(n)}:${ns(n)}-scheduler-serviceaccount`,
        ])
      : pair.map((n) => `system:serviceaccount:${ns(n)}:*`);
  estate[`oidc-${String(i).padStart(2, '0')}`] = {
    policy: doc(web(subs, i % 2 ? undefined : 'AirflowPods')),
    declares: pair,
  };
}
for (const name of ['managed-00', 'managed-01'])
  estate[name] = {
    policy: doc(allow({ AWS: [astroRole(ns(35))] }, { Sid: 'AstroTrustWorkloadIdentity' })),
    declares: [35],
  };
estate.ghost = { policy: doc(allow({ AWS: [astroRole(ns(2)), astroRole('deleted-nova-9999')] })), declares: [2] };
estate.cond = {
  policy: doc(allow({ AWS: astroRole(ns(7)) }, { Condition: { StringEquals: { 'sts:ExternalId': 'x-123' } } })),
  declares: [7],
};
estate.mixed = {
  policy: doc(allow({ AWS: [astroRole(ns(8)), astroRole(ns(9))] }), web([`system:serviceaccount:${ns(39)}:*`])),
  declares: [8, 9],
};
estate.wildcard = { policy: doc(web(['system:serviceaccount:*:*'], 'QuickFix')) };
for (let i = 0; i < 14; i++) {
  estate[`svc-${String(i).padStart(2, '0')}`] = {
    policy:
      i % 3 === 0
        ? doc(service('ec2.amazonaws.com'))
        : i % 3 === 1
          ? doc(service('lambda.amazonaws.com'), allow({ AWS: `arn:aws:iam::${ACCOUNT}:root` }))
          : doc(allow({ AWS: 'arn:aws:iam::222233334444:role/ci-deployer' })),
  };
}

const adopted = Object.entries(estate).filter(([, r]) => r.declares);
/** Roles whose declared trust is not exactly what IAM holds, each named by init: a Condition, a DR identity. */
const flagged = ['cond', 'wi-05'];

let moto: Moto;
let proxy: FaultProxy;
let iam: IAMClient;
let dir: string;
const saved = { ...process.env };
const writesIn = (actions: string[]) => actions.filter((a) => !/^(Get|List)/.test(a));

async function trust(role: string): Promise<PolicyDocument> {
  return parseTrustPolicy((await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument);
}

const canAssume = (policy: PolicyDocument, role: string, principal: string) =>
  canAssumeRole(policy, `arn:aws:iam::${ACCOUNT}:role/${role}`, principal);

beforeAll(async () => {
  moto = await startMoto();
  proxy = await faultProxy(moto.endpoint);
  iam = moto.iam();
  await iam.send(
    new CreateOpenIDConnectProviderCommand({ Url: `https://${ISSUER}`, ClientIDList: ['sts.amazonaws.com'] }),
  );
  for (const [name, r] of Object.entries(estate))
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(r.policy) }));
  dir = mkdtempSync(join(tmpdir(), 'astro-trust-init-'));
  writeFileSync(
    join(dir, 'deployments.json'),
    JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: deployments.length }),
  );
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: proxy.url,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
  });
});
afterAll(async () => {
  process.env = saved;
  await proxy?.close();
  await moto?.stop();
});

describe('astro-trust init on an estate of 50 roles', () => {
  let summary = '';

  it('reads IAM with ListRoles only and writes a config declaring, by id and in observe mode, what each role trusts today', async () => {
    proxy.actions.length = 0;
    const r = await cli(['init', '--inventory', 'deployments.json'], { cwd: dir });
    summary = r.stdout;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect([...new Set(proxy.actions)]).toEqual(['ListRoles']);
    const config = loadConfig(join(dir, 'astro-trust.yaml'));
    expect(config.organizationId).toBe(ORG);
    expect(config.inventory).toMatchObject({ source: 'file', path: join(dir, 'deployments.json') });
    expect(Object.fromEntries(config.roles.map((x) => [x.name, x.deployments!.map((d) => d.id)]))).toEqual(
      Object.fromEntries(adopted.map(([name, x]) => [name, x.declares!.map(id)])),
    );
    expect(new Set(config.roles.map((x) => x.mode))).toEqual(new Set(['observe']));
    const oidc = config.roles.filter((x) => x.trust === 'oidc');
    expect(oidc.map((x) => [x.name, x.serviceAccounts])).toEqual([
      ...Array.from({ length: 8 }, (_, i) => [`oidc-0${i}`, 'all']),
      ['oidc-08', ['scheduler', 'worker']],
      ['oidc-09', ['scheduler', 'worker']],
    ]);
    // What the config cannot say exactly is said, role by role.
    expect(summary).toMatch(/Read 50 roles in account 123456789012 and 40 Deployments .*nothing was written to AWS/);
    expect(summary).toMatch(/35 roles trust Astro Deployments today/);
    expect(summary).toMatch(
      /ghost .*\n {4}note: statement #1 trusts arn:aws:iam::111928029897:role\/astro-deleted-nova-9999, the identity of no Deployment/,
    );
    expect(summary).toMatch(
      /cond .*\n {4}note: statement #1 grants its Astro identities only under a Condition \(StringEquals\)/,
    );
    expect(summary).toMatch(
      /wi-05 .*\+1 not trusted today.*\n {4}note: declaring these Deployments trusts 1 principal the role does not trust today \(arn:aws:iam::111928029897:role\/astro-stellar-orbit-1037-dr\)/,
    );
    expect(summary).toMatch(/mixed .*\n {4}note: it also trusts 1 Deployment through OIDC/);
    expect(summary).toMatch(/not adopted: wildcard\n {4}statement "QuickFix" trusts system:serviceaccount:\*:\*/);
    expect(summary).not.toMatch(/svc-/);
  });

  it('the first plan writes nothing, removes nothing and adds exactly what the hand-made statements trust today', async () => {
    proxy.actions.length = 0;
    const r = await cli(['plan', '--json', '--detailed-exitcode'], { cwd: dir });
    expect(r.code).toBe(3); // observe roles differ: a person walks them to enforce (docs/adoption.md)
    expect(writesIn(proxy.actions)).toEqual([]);
    const plan = JSON.parse(r.stdout) as {
      roles: {
        role: string;
        status: string;
        write: boolean;
        add: { principal: string; issuer?: string }[];
        remove: unknown[];
        findings: { kind: string; principal: string }[];
      }[];
    };
    expect(plan.roles.map((x) => x.role).sort()).toEqual(adopted.map(([n]) => n).sort());
    for (const role of plan.roles) {
      expect({ role: role.role, remove: role.remove, write: role.write }).toEqual({
        role: role.role,
        remove: [],
        write: false,
      });
      const today = new Set(entriesTrusted(estate[role.role]!.policy.Statement).map(entryKey));
      const added = role.add.map((c) => (c.issuer ? `oidc ${c.issuer} ${c.principal}` : `aws ${c.principal}`));
      if (role.role.startsWith('managed-')) expect(role.status).toBe('in-sync');
      else if (flagged.includes(role.role)) expect(added.some((k) => !today.has(k))).toBe(role.role === 'wi-05');
      else
        expect({ role: role.role, notTrustedToday: added.filter((k) => !today.has(k)) }).toEqual({
          role: role.role,
          notTrustedToday: [],
        });
      // Declared trust in a hand-made statement is quiet; only what init could not declare is a finding.
      const kinds = role.findings.map((f) => `${f.kind} ${f.principal}`);
      if (role.role === 'ghost') expect(kinds).toEqual([`undeclared-astro-identity ${astroRole('deleted-nova-9999')}`]);
      else if (role.role === 'mixed')
        expect(kinds).toEqual([`undeclared-namespace ${ISSUER}:sub=system:serviceaccount:${ns(39)}:*`]);
      else expect({ role: role.role, kinds }).toEqual({ role: role.role, kinds: [] });
    }
    // The trust policies are as they were.
    for (const [name, r2] of adopted.slice(0, 5)) expect(await trust(name)).toEqual(r2.policy);
  });

  it('switched to enforce and applied, every adopted role trusts exactly what it trusted by hand (IAM policy evaluator)', async () => {
    const file = join(dir, 'astro-trust.yaml');
    // Enforced; and paced for moto rather than for a real account's IAM (the default is 10 requests a second).
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('  mode: observe', '  mode: enforce\n  iamRequestsPerSecond: 500'),
    );
    const r = await cli(['apply', '--yes'], { cwd: dir });
    expect(r.stdout).toMatch(/Apply: 33 written, 2 unchanged, 0 observe-only, 0 blocked, 0 failed\./);
    const identities = [
      ...deployments.flatMap((d) => [d.effectiveWorkloadIdentity as string, `${d.effectiveWorkloadIdentity}-dr`]),
      astroRole('deleted-nova-9999'),
    ];
    let allowedPairs = 0;
    for (const [name, x] of adopted) {
      const after = await trust(name);
      // Foreign statements stay exactly as they were.
      expect(after.Statement.filter((s) => !s.Sid?.startsWith('AstroTrust'))).toEqual(
        x.policy.Statement.filter((s) => !s.Sid?.startsWith('AstroTrust')),
      );
      if (flagged.includes(name)) continue;
      const before = new Set(entriesTrusted(x.policy.Statement).map(entryKey));
      expect({
        name,
        entries: entriesTrusted(after.Statement)
          .map(entryKey)
          .filter((k) => !before.has(k)),
      }).toEqual({
        name,
        entries: [],
      });
      if (name.startsWith('oidc-')) continue;
      for (const principal of identities) {
        const allowed = await canAssume(x.policy, name, principal);
        if (allowed) allowedPairs++;
        expect({ name, principal, allowed: await canAssume(after, name, principal) }).toEqual({
          name,
          principal,
          allowed,
        });
      }
    }
    // Not vacuous: each declared identity was allowed before (and so after).
    expect(allowedPairs).toBe(
      adopted
        .filter(([n]) => !flagged.includes(n) && !n.startsWith('oidc-'))
        .reduce(
          (sum, [n]) => sum + entriesTrusted(estate[n]!.policy.Statement).filter((e) => e.kind === 'aws').length,
          0,
        ),
    );
  }, 120_000);

  it('never overwrites a config; --out - prints it; with --organization-id it lists the Deployments with the Astro API', async () => {
    const again = await cli(['init', '--inventory', 'deployments.json'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/astro-trust\.yaml exists: init never overwrites a config/);

    const api = await fakeService((req, res) => {
      if (isClustersRequest(req.url)) return json(res, 200, clustersPage(req.url));
      const q = new URL(req.url, 'http://x').searchParams;
      const offset = Number(q.get('offset'));
      json(res, 200, {
        deployments: deployments.slice(offset, offset + Number(q.get('limit'))),
        limit: Number(q.get('limit')),
        offset,
        totalCount: deployments.length,
      });
    });
    try {
      const r = await cli(['init', '--organization-id', ORG, '--out', '-'], {
        cwd: dir,
        env: { ...process.env, ASTRO_API_TOKEN: 'token', ASTRO_API_URL: api.url },
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^# Written by astro-trust init/);
      expect(r.stdout).toMatch(/\ninventory:\n {2}source: api\ndefaults:\n {2}mode: observe/);
      expect(r.stderr).toMatch(/35 roles trust Astro Deployments today; the config \(stdout\) declares them/);
      expect(api.requests[0]!.url).toContain(`/v1/organizations/${ORG}/deployments`);
      expect(api.requests[0]!.headers.authorization).toBe('Bearer token');
      const noToken = await cli(['init', '--organization-id', ORG, '--out', '-'], { cwd: dir, env: {} });
      expect(noToken.stderr).toMatch(/set ASTRO_API_TOKEN/);
    } finally {
      await api.close();
    }
  });
});
