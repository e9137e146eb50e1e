/**
 * TrustStore.writeSavedTrust against moto, through the fault proxy (DESIGN 7.3): a saved plan's document is
 * written as it is, only while the role holds the policy the plan was made against; every attempt checks again.
 */
import { CreateRoleCommand, GetRoleCommand, UpdateAssumeRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { IamSnapshotStore } from '../../../src/adapters/aws/iam-snapshot';
import { createIamClient, IamTrustStore } from '../../../src/adapters/aws/iam';
import { parseTrustPolicy, samePolicy, type PolicyDocument } from '../../../src/domain/policy';
import { policyDigest } from '../../../src/domain/saved-plan';
import { StalePlanError } from '../../../src/errors';
import { faultProxy, type FaultProxy } from '../../support/fault-proxy';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../../support/moto';

const FAST = { baseDelayMs: 1, maxDelayMs: 2, principalBaseDelayMs: 1, verifyDelayMs: 1 };
const glue = {
  Sid: 'AllowGlue',
  Effect: 'Allow',
  Principal: { Service: 'glue.amazonaws.com' },
  Action: 'sts:AssumeRole',
};
const astro = (ns: string) => `arn:aws:iam::111928029897:role/astro-${ns}`;
const before: PolicyDocument = { Version: '2012-10-17', Id: 'keep-me', Statement: [glue] };
const after: PolicyDocument = {
  ...before,
  Statement: [
    glue,
    {
      Sid: 'AstroTrustWorkloadIdentity',
      Effect: 'Allow',
      Principal: { AWS: [astro('a-1')] },
      Action: 'sts:AssumeRole',
    },
  ],
};
const saved = { document: after, planned: before, liveDigest: policyDigest(before) };

let moto: Moto;
let proxy: FaultProxy;
let iam: IAMClient;
let direct: IAMClient;
const store = () => new IamTrustStore(iam, FAST);
const live = async () =>
  parseTrustPolicy((await direct.send(new GetRoleCommand({ RoleName: 'r' }))).Role!.AssumeRolePolicyDocument);
const put = (doc: PolicyDocument) =>
  direct.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'r', PolicyDocument: JSON.stringify(doc) }));
const updates = () => proxy.actions.filter((a) => a === 'UpdateAssumeRolePolicy').length;

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
  iam = createIamClient({ region: 'us-east-1', endpoint: proxy.url, credentials: TEST_CREDENTIALS });
  direct = moto.iam();
  await direct.send(new CreateRoleCommand({ RoleName: 'r', AssumeRolePolicyDocument: JSON.stringify(before) }));
});

describe('writeSavedTrust', () => {
  it('writes the saved document as it is (Id and foreign statements included) and reads it back', async () => {
    expect(await store().writeSavedTrust('r', saved)).toBe('written');
    expect(samePolicy(await live(), after)).toBe(true);
    expect((await live()).Id).toBe('keep-me');
    expect(await store().writeSavedTrust('r', saved)).toBe('unchanged');
    expect(updates()).toBe(1);
  });

  it('refuses a role whose policy changed since the plan, naming the statement; nothing written', async () => {
    const edited = {
      ...before,
      Statement: [glue, { ...glue, Sid: 'BreakGlass', Principal: { AWS: 'arn:aws:iam::123456789012:role/bg' } }],
    };
    await put(edited);
    const err = await store()
      .writeSavedTrust('r', saved)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StalePlanError);
    expect((err as Error).message).toMatch(
      /^role r changed since the plan: statement "BreakGlass" added \(live policy sha256:/,
    );
    expect(updates()).toBe(0);
    expect(samePolicy(await live(), edited)).toBe(true);
  });

  it('takes the same policy, reordered and with one-element lists as strings, as unchanged since the plan', async () => {
    const twoStatements: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [
        glue,
        { Sid: 'Ec2', Effect: 'Allow', Principal: { Service: ['ec2.amazonaws.com'] }, Action: ['sts:AssumeRole'] },
      ],
    };
    await put(twoStatements);
    await put({
      Version: '2012-10-17',
      Statement: [
        { ...twoStatements.Statement[1]!, Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
        glue,
      ],
    });
    const target = { ...twoStatements, Statement: [...twoStatements.Statement, after.Statement[1]!] };
    expect(
      await store().writeSavedTrust('r', {
        document: target,
        planned: twoStatements,
        liveDigest: policyDigest(twoStatements),
      }),
    ).toBe('written');
  });

  it('checks again on every attempt: a colleague editing the role while a write is throttled gets the role refused', async () => {
    proxy.faults.push({
      action: 'UpdateAssumeRolePolicy',
      times: 1,
      status: 400,
      code: 'Throttling',
      message: 'Rate exceeded',
      before: async () => {
        await put({ ...before, Statement: [glue, { ...glue, Sid: 'Colleague' }] });
      },
    });
    await expect(store().writeSavedTrust('r', saved)).rejects.toThrow(/statement "Colleague" added/);
  });

  it('a write that landed but whose answer was lost counts as written, and is not sent twice', async () => {
    proxy.faults.push({
      action: 'UpdateAssumeRolePolicy',
      times: 1,
      status: 500,
      code: 'ServiceFailure',
      message: 'internal error',
      before: () => put(after).then(() => undefined),
    });
    expect(await store().writeSavedTrust('r', saved)).toBe('written');
    expect(updates()).toBe(1);
  });

  it('an offline snapshot refuses it', async () => {
    await expect(new IamSnapshotStore('examples/iam-snapshot.json').writeSavedTrust()).rejects.toThrow(
      /an IAM snapshot is read-only/,
    );
  });
});
