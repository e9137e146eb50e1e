import { CreateRoleCommand, GetRoleCommand, UpdateAssumeRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { countCommands, createIamClient, IamTrustStore } from '../../../src/adapters/aws/iam';
import {
  ConcurrentEditError,
  IamWriteError,
  InvalidPrincipalError,
  IamUnavailableError,
  isRetryable,
  VerifyError,
} from '../../../src/errors';
import { parseTrustPolicy, samePolicy, type PolicyDocument } from '../../../src/domain/policy';
import { faultProxy, type FaultProxy } from '../../support/fault-proxy';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../../support/moto';

const FAST = { baseDelayMs: 1, maxDelayMs: 2, principalBaseDelayMs: 1, verifyDelayMs: 1 };
const doc = (...arns: string[]): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [
    { Sid: 'AstroTrustWorkloadIdentity', Effect: 'Allow', Principal: { AWS: arns }, Action: 'sts:AssumeRole' },
  ],
});

const owned = (d: PolicyDocument) => ({ statements: d.Statement, maxPolicyChars: 2048 });
const partner = {
  Sid: 'PartnerAccess',
  Effect: 'Allow',
  Principal: { AWS: 'arn:aws:iam::222233334444:root' },
  Action: 'sts:AssumeRole',
};

let moto: Moto;
let proxy: FaultProxy;
let iam: IAMClient;
beforeAll(async () => {
  moto = await startMoto();
  proxy = await faultProxy(moto.endpoint);
});
afterAll(async () => {
  await proxy?.close();
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  proxy.faults.length = 0;
  proxy.actions.length = 0;
  proxy.stale = undefined;
  proxy.afterForward = undefined;
  iam = createIamClient({ region: 'us-east-1', endpoint: proxy.url, credentials: TEST_CREDENTIALS });
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'r1',
      AssumeRolePolicyDocument: JSON.stringify(doc('arn:aws:iam::111928029897:role/astro-a')),
    }),
  );
  proxy.actions.length = 0;
});

describe('IamTrustStore against moto', () => {
  it('reads roles (decoding the URL-encoded document) and reports a missing one as undefined', async () => {
    const raw = await iam.send(new GetRoleCommand({ RoleName: 'r1' }));
    expect(raw.Role!.AssumeRolePolicyDocument).toMatch(/^%7B/);
    const states = await new IamTrustStore(iam, FAST).readRoles(['r1', 'nope']);
    expect(states.get('r1')!.arn).toMatchObject({ name: 'r1', accountId: '123456789012', partition: 'aws' });
    expect(samePolicy(states.get('r1')!.document, doc('arn:aws:iam::111928029897:role/astro-a'))).toBe(true);
    expect(states.get('nope')).toBeUndefined();
  });

  it('reads many roles with ListRoles pages instead of one GetRole each, matching names case-insensitively', async () => {
    const direct = moto.iam();
    const names = Array.from({ length: 24 }, (_, i) => `many-${i}`);
    for (const n of names)
      await direct.send(
        new CreateRoleCommand({
          RoleName: n,
          AssumeRolePolicyDocument: JSON.stringify(doc(`arn:aws:iam::111928029897:role/astro-${n}`)),
        }),
      );
    const counts = countCommands(iam);
    const asked = [...names.slice(0, 20).map((n, i) => (i === 3 ? n.toUpperCase() : n)), 'no-such-role'];
    const states = await new IamTrustStore(iam, FAST).readRoles(asked);
    expect(Object.fromEntries(counts)).toEqual({ ListRolesCommand: 1 });
    expect(samePolicy(states.get('MANY-3')!.document, doc('arn:aws:iam::111928029897:role/astro-many-3'))).toBe(true);
    expect(states.get('many-19')!.arn.name).toBe('many-19');
    expect(states.get('no-such-role')).toBeUndefined();
    // Below the threshold: one GetRole each.
    counts.clear();
    await new IamTrustStore(iam, FAST).readRoles(['many-1', 'many-2']);
    expect(Object.fromEntries(counts)).toEqual({ GetRoleCommand: 2 });
  });

  it('refuses a role of another account (<account>/<name>) instead of reading it as missing: only the routed store may', async () => {
    await expect(new IamTrustStore(iam).readRoles(['444455556666/data-lake-reader'])).rejects.toThrow(
      /role 444455556666\/data-lake-reader is in another account/,
    );
  });

  it('writes minified JSON and verifies by reading back', async () => {
    const counts = countCommands(iam);
    const target = doc('arn:aws:iam::111928029897:role/astro-a', 'arn:aws:iam::111928029897:role/astro-b');
    await new IamTrustStore(iam, FAST).writeTrust('r1', owned(target));
    expect(Object.fromEntries(counts)).toEqual({ UpdateAssumeRolePolicyCommand: 1, GetRoleCommand: 2 });
    const back = await iam.send(new GetRoleCommand({ RoleName: 'r1' }));
    expect(samePolicy(parseTrustPolicy(back.Role!.AssumeRolePolicyDocument), target)).toBe(true);
  });

  it('retries Throttling and 500s with backoff, then succeeds', async () => {
    proxy.faults.push({
      action: 'UpdateAssumeRolePolicy',
      times: 2,
      status: 400,
      code: 'Throttling',
      message: 'Rate exceeded',
    });
    proxy.faults.push({ action: 'GetRole', times: 1, status: 500, code: 'ServiceFailure', message: 'internal' });
    await new IamTrustStore(iam, FAST).writeTrust('r1', owned(doc('arn:aws:iam::111928029897:role/astro-z')));
    // Every attempt reads the role first; the last GetRole is the read-back.
    expect(proxy.actions).toEqual([
      'GetRole',
      'GetRole',
      'UpdateAssumeRolePolicy',
      'GetRole',
      'UpdateAssumeRolePolicy',
      'GetRole',
      'UpdateAssumeRolePolicy',
      'GetRole',
    ]);
  });

  it('bounds throttling retries and says so', async () => {
    proxy.faults.push({
      action: 'UpdateAssumeRolePolicy',
      times: 99,
      status: 400,
      code: 'Throttling',
      message: 'Rate exceeded',
    });
    const err = await new IamTrustStore(iam, { ...FAST, throttleAttempts: 3 })
      .writeTrust('r1', owned(doc('arn:aws:iam::111928029897:role/astro-z')))
      .catch((e) => e);
    expect(err).toBeInstanceOf(IamUnavailableError);
    expect(proxy.actions.filter((a) => a === 'UpdateAssumeRolePolicy')).toHaveLength(3);
  });

  it('never retries LimitExceeded', async () => {
    proxy.faults.push({
      action: 'UpdateAssumeRolePolicy',
      times: 99,
      status: 409,
      code: 'LimitExceeded',
      message: 'Cannot exceed quota for ACLSizePerRole: 2048',
    });
    const err = await new IamTrustStore(iam, FAST)
      .writeTrust('r1', owned(doc('arn:aws:iam::111928029897:role/astro-z')))
      .catch((e) => e);
    expect(err).toBeInstanceOf(IamWriteError);
    expect(err.message).toMatch(/over the account's quota/);
    expect(proxy.actions).toEqual(['GetRole', 'UpdateAssumeRolePolicy']);
  });

  it('retries an Invalid principal a bounded number of times, then names it', async () => {
    const bad = 'arn:aws:iam::111928029897:role/astro-new-1';
    proxy.faults.push({
      action: 'UpdateAssumeRolePolicy',
      times: 99,
      status: 400,
      code: 'MalformedPolicyDocument',
      message: `Invalid principal in policy: "AWS":"${bad}"`,
    });
    const err = await new IamTrustStore(iam, { ...FAST, principalAttempts: 3 })
      .writeTrust('r1', owned(doc(bad)))
      .catch((e) => e);
    expect(err).toBeInstanceOf(InvalidPrincipalError);
    expect(err.principal).toBe(bad);
    expect(proxy.actions.filter((a) => a === 'UpdateAssumeRolePolicy')).toHaveLength(3);
  });

  it('succeeds when the new principal propagates during the retries', async () => {
    proxy.faults.push({
      action: 'UpdateAssumeRolePolicy',
      times: 2,
      status: 400,
      code: 'MalformedPolicyDocument',
      message: 'Invalid principal in policy: "AWS":"arn:aws:iam::111928029897:role/astro-new-2"',
    });
    await new IamTrustStore(iam, FAST).writeTrust('r1', owned(doc('arn:aws:iam::111928029897:role/astro-new-2')));
    expect(proxy.actions.slice(-1)).toEqual(['GetRole']);
  });

  it.each([
    ['Throttling', 400, 'Throttling', 'Rate exceeded'],
    [
      'Invalid principal (a new Astro role propagating)',
      400,
      'MalformedPolicyDocument',
      'Invalid principal in policy: "AWS":"arn:aws:iam::111928029897:role/astro-new-3"',
    ],
  ])(
    'a statement added while a write is retried after %s is kept (read-merge-write on every attempt)',
    async (_l, status, code, message) => {
      const direct = moto.iam();
      proxy.faults.push({
        action: 'UpdateAssumeRolePolicy',
        times: 1,
        status,
        code,
        message,
        before: async () => {
          const now = parseTrustPolicy(
            (await direct.send(new GetRoleCommand({ RoleName: 'r1' }))).Role!.AssumeRolePolicyDocument,
          );
          await direct.send(
            new UpdateAssumeRolePolicyCommand({
              RoleName: 'r1',
              PolicyDocument: JSON.stringify({ ...now, Statement: [...now.Statement, partner] }),
            }),
          );
        },
      });
      const target = doc('arn:aws:iam::111928029897:role/astro-new-3');
      expect(await new IamTrustStore(iam, FAST).writeTrust('r1', owned(target))).toBe('written');
      const back = parseTrustPolicy(
        (await direct.send(new GetRoleCommand({ RoleName: 'r1' }))).Role!.AssumeRolePolicyDocument,
      );
      expect(back.Statement).toEqual([partner, ...target.Statement]);
    },
  );

  it('keeps the policy Id exactly as read (a missing Version: see the domain tests; moto refuses one)', async () => {
    const direct = moto.iam();
    const original = {
      Version: '2012-10-17',
      Id: 'team-a-trust',
      Statement: [partner, ...doc('arn:aws:iam::111928029897:role/astro-a').Statement],
    };
    await direct.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'r1', PolicyDocument: JSON.stringify(original) }));
    await new IamTrustStore(iam, FAST).writeTrust('r1', owned(doc('arn:aws:iam::111928029897:role/astro-b')));
    const back = parseTrustPolicy(
      (await direct.send(new GetRoleCommand({ RoleName: 'r1' }))).Role!.AssumeRolePolicyDocument,
    );
    expect(back.Id).toBe('team-a-trust');
    expect(back.Version).toBe('2012-10-17');
    expect(back.Statement).toEqual([partner, ...doc('arn:aws:iam::111928029897:role/astro-b').Statement]);
  });

  it('writes nothing when the role already holds the owned statements', async () => {
    const counts = countCommands(iam);
    expect(
      await new IamTrustStore(iam, FAST).writeTrust('r1', owned(doc('arn:aws:iam::111928029897:role/astro-a'))),
    ).toBe('unchanged');
    expect(Object.fromEntries(counts)).toEqual({ GetRoleCommand: 1 });
  });

  it('retries a throttled CreateOpenIDConnectProvider, and reports it retryable when it keeps failing', async () => {
    const issuer = 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789';
    proxy.faults.push({
      action: 'CreateOpenIDConnectProvider',
      times: 2,
      status: 400,
      code: 'Throttling',
      message: 'Rate exceeded',
    });
    expect(await new IamTrustStore(iam, FAST).ensureOidcProviders('aws', '123456789012', [issuer])).toEqual({
      created: [issuer],
    });
    expect(proxy.actions.filter((a) => a === 'CreateOpenIDConnectProvider')).toHaveLength(3);
    const other = 'oidc.eks.us-east-1.amazonaws.com/id/00000000000000000000000000000000';
    proxy.faults.push({
      action: 'CreateOpenIDConnectProvider',
      times: 99,
      status: 400,
      code: 'Throttling',
      message: 'Rate exceeded',
    });
    const err = await new IamTrustStore(iam, { ...FAST, throttleAttempts: 2 })
      .ensureOidcProviders('aws', '123456789012', [other])
      .catch((e) => e);
    expect(err).toBeInstanceOf(IamUnavailableError);
    expect(isRetryable(err)).toBe(true);
  });

  it('creates a missing OIDC provider once, with audience sts.amazonaws.com', async () => {
    const store = new IamTrustStore(iam, FAST);
    const issuer = 'oidc.eks.us-east-1.amazonaws.com/id/ABC';
    expect(await store.ensureOidcProviders('aws', '123456789012', [issuer])).toEqual({ created: [issuer] });
    expect(await store.ensureOidcProviders('aws', '123456789012', [issuer])).toEqual({ created: [] });
    expect(await new IamTrustStore(iam, FAST).ensureOidcProviders('aws', '123456789012', [issuer])).toEqual({
      created: [],
    });
    expect(proxy.actions.filter((a) => a === 'CreateOpenIDConnectProvider')).toHaveLength(1);
  });

  it('gives the read before a write, the write and the read-back each their own retry budget', async () => {
    // 4 throttled reads and 4 throttled writes: over 6 attempts together, within 6 for each call (DESIGN 7.4).
    proxy.faults.push({ action: 'GetRole', times: 4, status: 400, code: 'Throttling', message: 'Rate exceeded' });
    proxy.faults.push({
      action: 'UpdateAssumeRolePolicy',
      times: 4,
      status: 400,
      code: 'Throttling',
      message: 'Rate exceeded',
    });
    const target = doc('arn:aws:iam::111928029897:role/astro-budget');
    expect(await new IamTrustStore(iam, { ...FAST, attempts: 6 }).writeTrust('r1', owned(target))).toBe('written');
    // Each write attempt still reads the role first (DESIGN 6.3); only the last write went through.
    expect(proxy.actions.filter((a) => a === 'UpdateAssumeRolePolicy')).toHaveLength(5);
    const back = parseTrustPolicy(
      (await moto.iam().send(new GetRoleCommand({ RoleName: 'r1' }))).Role!.AssumeRolePolicyDocument,
    );
    expect(samePolicy(back, target)).toBe(true);
  });
});

describe('eventual consistency: reading back after a write', () => {
  const target = () => doc('arn:aws:iam::111928029897:role/astro-a', 'arn:aws:iam::111928029897:role/astro-new');

  it('waits out a read-back that still shows the document from before the write: one write, no failure', async () => {
    proxy.stale = { ms: 2_500 };
    const lines: string[] = [];
    // The default read-back timings, as every command and function uses them.
    const store = new IamTrustStore(iam, { baseDelayMs: 1, maxDelayMs: 2 }, (l) => lines.push(l));
    expect(await store.writeTrust('r1', owned(target()))).toBe('written');
    expect(proxy.actions.filter((a) => a === 'UpdateAssumeRolePolicy')).toHaveLength(1);
    expect(proxy.staleServed).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toMatch(/fail|error/i);
  });

  it('says so when IAM still shows the document from before the write after the whole wait', async () => {
    proxy.stale = { ms: 60_000 };
    const err = await new IamTrustStore(iam, { ...FAST, verifyWindowMs: 300 })
      .writeTrust('r1', owned(target()))
      .catch((e) => e);
    expect(err).toBeInstanceOf(VerifyError);
    expect(isRetryable(err)).toBe(true);
    expect(err.message).toMatch(/still shows the trust policy from before the write/);
    expect(proxy.actions.filter((a) => a === 'UpdateAssumeRolePolicy')).toHaveLength(1);
  });

  it('names another writer when the read-back shows a third document, and writes nothing more', async () => {
    const other = doc('arn:aws:iam::111928029897:role/astro-someone-else');
    const direct = moto.iam();
    proxy.afterForward = async (action) => {
      if (action !== 'UpdateAssumeRolePolicy') return;
      proxy.afterForward = undefined;
      await direct.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'r1', PolicyDocument: JSON.stringify(other) }));
    };
    const err = await new IamTrustStore(iam, FAST).writeTrust('r1', owned(target())).catch((e) => e);
    expect(err).toBeInstanceOf(ConcurrentEditError);
    expect(err.message).toMatch(/another writer changed the role right after astro-trust wrote it/);
    expect(proxy.actions.filter((a) => a === 'UpdateAssumeRolePolicy')).toHaveLength(1);
    // The other writer's document stands: astro-trust never writes twice on a read-back.
    const back = parseTrustPolicy(
      (await direct.send(new GetRoleCommand({ RoleName: 'r1' }))).Role!.AssumeRolePolicyDocument,
    );
    expect(samePolicy(back, other)).toBe(true);
  });
});
