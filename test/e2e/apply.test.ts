/** `astro-trust plan` / `apply` end to end against moto: converge, idempotence, foreign statements, guards. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateRoleCommand,
  GetRoleCommand,
  ListOpenIDConnectProvidersCommand,
  UpdateAssumeRolePolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { countCommands, IamTrustStore } from '../../src/adapters/aws/iam';
import { isOwned, policyChars, parseTrustPolicy, type PolicyDocument, type Statement } from '../../src/domain/policy';
import { canAssumeRole } from '../support/oracle';
import { cli } from '../support/cli';
import { ACCOUNT, apiDeployment, astroRole, ISSUER } from '../support/fixtures';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';

const glue: Statement = {
  Sid: 'AllowGlue',
  Effect: 'Allow',
  Principal: { Service: 'glue.amazonaws.com' },
  Action: 'sts:AssumeRole',
};
const ec2: Statement = { Effect: 'Allow', Principal: { Service: ['ec2.amazonaws.com'] }, Action: ['sts:AssumeRole'] };
const owned = (...arns: string[]): Statement => ({
  Sid: 'AstroTrustWorkloadIdentity',
  Effect: 'Allow',
  Principal: { AWS: arns },
  Action: 'sts:AssumeRole',
});
const policy = (...s: Statement[]): PolicyDocument => ({ Version: '2012-10-17', Statement: s });

const inventory = [
  apiDeployment(1),
  apiDeployment(2),
  apiDeployment(3, { workspaceId: 'clwsoidc', effectiveWorkloadIdentity: `arn:aws:iam::${ACCOUNT}:role/oidc-runner` }),
  ...Array.from({ length: 12 }, (_, i) => apiDeployment(100 + i, { workspaceId: 'clwsbig' })),
];
const config = `version: 1
organizationId: org1
inventory: { source: file, path: ./deployments.json }
roles:
  - { name: wi-reader, trust: workload-identity, deployments: [{ workspaceId: clws0000000001 }] }
  - { name: oidc-runner, trust: oidc }
  - { name: observer, trust: workload-identity, mode: observe, deployments: [{ name: "deployment-1" }] }
  - { name: big-role, trust: workload-identity, maxPolicyChars: 600, deployments: [{ workspaceId: clwsbig }] }
  - { name: purge-role, trust: workload-identity, maxRemovals: 1, deployments: [{ name: "deployment-2" }] }
`;

const initial: Record<string, PolicyDocument> = {
  'wi-reader': policy(glue, owned(astroRole('stellar-orbit-1001'), astroRole('deleted-9'))),
  'oidc-runner': policy(ec2),
  observer: policy(glue),
  'big-role': policy(glue),
  'purge-role': policy(
    owned(astroRole('stellar-orbit-1002'), astroRole('gone-1'), astroRole('gone-2'), astroRole('gone-3')),
  ),
};

let moto: Moto;
let iam: IAMClient;
let counts: Map<string, number>;
let dir: string;
const cfg = () => join(dir, 'astro-trust.yaml');
const store = () => new IamTrustStore(iam, { baseDelayMs: 1, verifyDelayMs: 1 });
const adapters = () => ({ adapters: { store: store() } });

async function trust(role: string): Promise<PolicyDocument> {
  const out = await iam.send(new GetRoleCommand({ RoleName: role }));
  return parseTrustPolicy(out.Role!.AssumeRolePolicyDocument);
}

beforeAll(async () => {
  moto = await startMoto();
  iam = moto.iam();
  counts = countCommands(iam);
  dir = mkdtempSync(join(tmpdir(), 'astro-trust-e2e-'));
  writeFileSync(
    join(dir, 'deployments.json'),
    JSON.stringify({ deployments: inventory, limit: 1000, offset: 0, totalCount: inventory.length }),
  );
  writeFileSync(cfg(), config);
  for (const [name, doc] of Object.entries(initial)) {
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(doc) }));
  }
  counts.clear();
});
afterAll(async () => {
  await moto?.stop();
});

describe('astro-trust against moto', () => {
  it('plan reads through the SDK environment (AWS_ENDPOINT_URL) and exits 2 with --detailed-exitcode', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
    });
    try {
      const r = await cli(['plan', '--config', cfg(), '--detailed-exitcode']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(
        /~ wi-reader \(workload-identity, enforce\)\n {4}\+ arn:aws:iam::111928029897:role\/astro-stellar-orbit-1002/,
      );
      expect(r.stdout).toMatch(
        /- arn:aws:iam::111928029897:role\/astro-deleted-9 {2}\(no declared Deployment has this identity\)/,
      );
      // A role over the size quota is written with what fits; the rest is named.
      expect(r.stdout).toMatch(/~ big-role \(workload-identity, enforce\)/);
      expect(r.stdout).toMatch(
        /6 declared Deployments left out for lack of room[^\n]*\n {6}deployment-106 \(cldep000106x\)/,
      );
      expect(r.stdout).toMatch(
        /Plan: 3 to change \(\+8 -1 principals\), 0 in sync, 1 observe-only with changes, 1 blocked by a guard\./,
      );
    } finally {
      process.env = saved;
    }
  });

  it('apply refuses to write without --yes when stdin is not a terminal', async () => {
    const r = await cli(['apply', '--config', cfg()], adapters());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing without --yes/);
    expect(counts.get('UpdateAssumeRolePolicyCommand') ?? 0).toBe(0);
  });

  it('apply asks on a terminal and writes nothing when the answer is not yes', async () => {
    const r = await cli(['apply', '--config', cfg()], { ...adapters(), stdinIsTTY: true, confirm: async () => false });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Apply cancelled; nothing was written/);
    expect(counts.get('UpdateAssumeRolePolicyCommand') ?? 0).toBe(0);
  });

  it('apply converges both trust kinds, keeps foreign statements, and stops at the guards', async () => {
    counts.clear();
    const r = await cli(['apply', '--config', cfg(), '--yes'], adapters());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/wrote {3}wi-reader/);
    expect(r.stdout).toMatch(/wrote {3}oidc-runner/);
    expect(r.stdout).toMatch(/skipped observer: observe mode, not written/);
    expect(r.stdout).toMatch(/wrote {3}big-role/);
    expect(r.stdout).toMatch(/6 declared Deployments were left out for lack of room/);
    expect(r.stdout).toMatch(/blocked purge-role: the plan removes 3 trusted identities, more than maxRemovals \(1\)/);
    expect(r.stdout).toMatch(
      /created IAM OIDC provider https:\/\/oidc\.eks\.us-east-1\.amazonaws\.com\/id\/ABCDEF0123456789/,
    );
    expect(r.stdout).toMatch(/Apply: 3 written, 0 unchanged, 1 observe-only, 1 blocked, 0 failed\. Not converged\./);
    expect(counts.get('UpdateAssumeRolePolicyCommand')).toBe(3);

    const wi = await trust('wi-reader');
    expect(wi.Statement.filter((s) => !isOwned(s))).toEqual([glue]);
    // What moto holds after the write, judged by an IAM policy evaluator: declared in, offboarded out.
    const canAssume = (principal: string) => canAssumeRole(wi, `arn:aws:iam::${ACCOUNT}:role/wi-reader`, principal);
    expect(await canAssume(astroRole('stellar-orbit-1001'))).toBe(true);
    expect(await canAssume(astroRole('stellar-orbit-1002'))).toBe(true);
    expect(await canAssume(astroRole('deleted-9'))).toBe(false);
    expect(wi.Statement.find(isOwned)!.Principal).toEqual({
      AWS: [astroRole('stellar-orbit-1001'), astroRole('stellar-orbit-1002')],
    });

    const oidc = await trust('oidc-runner');
    expect(oidc.Statement[0]).toEqual(ec2);
    expect(oidc.Statement[1]).toMatchObject({
      Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}` },
      Condition: { StringLike: { [`${ISSUER}:sub`]: ['system:serviceaccount:stellar-orbit-1003:*'] } },
    });
    const providers = await iam.send(new ListOpenIDConnectProvidersCommand({}));
    expect(providers.OpenIDConnectProviderList!.map((p) => p.Arn)).toEqual([
      `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`,
    ]);

    // big-role trusts exactly the Deployments that fit (the oldest six) and is within its quota.
    const big = await trust('big-role');
    expect(policyChars(big)).toBeLessThanOrEqual(600);
    expect(big.Statement.find(isOwned)!.Principal).toEqual({
      AWS: Array.from({ length: 6 }, (_, i) => astroRole(`stellar-orbit-${1100 + i}`)),
    });

    // Untouched: observe mode and the removal guard.
    for (const role of ['observer', 'purge-role']) expect(await trust(role)).toEqual(initial[role]);
  });

  it('a second apply makes zero UpdateAssumeRolePolicy calls and one read per role', async () => {
    counts.clear();
    const r = await cli(['apply', '--config', cfg(), '--yes', '--role', 'wi-reader,oidc-runner'], {
      ...adapters(),
      stderrIsTTY: true,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/reading trust policies 2\/2/);
    expect(r.stdout).toMatch(/Apply: 0 written, 2 unchanged/);
    // One read per role, and one fresh look at the account's OIDC providers (an oidc role is planned).
    expect(Object.fromEntries(counts)).toEqual({ GetRoleCommand: 2, ListOpenIDConnectProvidersCommand: 1 });
    const plan = await cli(
      ['plan', '--config', cfg(), '--role', 'wi-reader', '--role', 'oidc-runner', '--detailed-exitcode'],
      adapters(),
    );
    expect(plan.code).toBe(0);
  });

  it('--json prints one document with status, changes, findings and size per role', async () => {
    const r = await cli(['plan', '--config', cfg(), '--json'], adapters());
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    const byRole = Object.fromEntries(doc.roles.map((x: { role: string }) => [x.role, x]));
    expect(byRole['wi-reader']).toMatchObject({ status: 'in-sync', add: [], remove: [], policy: { limit: 2048 } });
    expect(byRole['big-role']).toMatchObject({ status: 'blocked', guard: { kind: 'policy-too-large' } });
    expect(byRole['big-role'].notFitting).toHaveLength(6);
    expect(byRole['purge-role'].remove).toHaveLength(3);
    expect(doc.summary).toMatchObject({ inSync: 2, blocked: 2, observeOnly: 1 });
  });

  it('an unknown --role is an error that lists the declared roles', async () => {
    const r = await cli(['plan', '--config', cfg(), '--role', 'nope'], adapters());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /--role nope: not declared in .*declared roles: wi-reader, oidc-runner, observer, big-role, purge-role/,
    );
  });

  it('a statement a colleague adds while apply waits for "yes" is kept: the plan is merged into the role as read at write time', async () => {
    const breakGlass: Statement = {
      Sid: 'BreakGlass',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/break-glass` },
      Action: 'sts:AssumeRole',
    };
    await iam.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: 'wi-reader',
        PolicyDocument: JSON.stringify(policy(glue, owned(astroRole('stellar-orbit-1001')))),
      }),
    );
    const r = await cli(['apply', '--config', cfg(), '--role', 'wi-reader'], {
      ...adapters(),
      stdinIsTTY: true,
      confirm: async () => {
        const now = await trust('wi-reader');
        await iam.send(
          new UpdateAssumeRolePolicyCommand({
            RoleName: 'wi-reader',
            PolicyDocument: JSON.stringify({ ...now, Statement: [...now.Statement, breakGlass] }),
          }),
        );
        return true;
      },
    });
    expect(r.code).toBe(0);
    const after = await trust('wi-reader');
    expect(after.Statement.filter((s) => !isOwned(s))).toEqual([glue, breakGlass]);
    expect(after.Statement.find(isOwned)!.Principal).toEqual({
      AWS: [astroRole('stellar-orbit-1001'), astroRole('stellar-orbit-1002')],
    });
  });

  it('a role missing in IAM fails plan and apply', async () => {
    writeFileSync(join(dir, 'missing.yaml'), config.replace('name: observer', 'name: no-such-role'));
    const r = await cli(
      ['apply', '--config', join(dir, 'missing.yaml'), '--yes', '--role', 'no-such-role'],
      adapters(),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\? no-such-role .*the role does not exist in IAM/);
    expect(r.stdout).toMatch(/failed {2}no-such-role: the role does not exist in IAM/);
  });
});
