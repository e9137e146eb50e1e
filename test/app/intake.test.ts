/** IAM-change intake: which CloudTrail events become drift checks. */
import { onDeploymentEvent, onIamChange } from '../../src/app/intake';
import { apiDeployment, deployments } from '../support/fixtures';
import { parseConfig } from '../../src/config/config';
import type { AstroTrustEvent, ReconcileRequest } from '../../src/domain/events';

const config = parseConfig(
  'version: 1\norganizationId: o\ninventory: { source: api }\nroles:\n  - { name: data-lake-reader, trust: oidc }\n',
  '/x/c.yaml',
);
const event = (roleName: string) => ({
  source: 'aws.iam',
  'detail-type': 'AWS API Call via CloudTrail',
  detail: {
    eventName: 'UpdateAssumeRolePolicy',
    eventID: 'e1',
    eventTime: '2026-11-26T00:00:00Z',
    requestParameters: { roleName },
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::123456789012:user/alice' },
  },
});

const noEvents = {
  publish: async () => {
    throw new Error('nothing to publish here');
  },
};

describe('onIamChange', () => {
  it.each(['data-lake-reader', 'Data-Lake-Reader', 'DATA-LAKE-READER'])(
    'matches %s case-insensitively, as IAM names roles, and queues the declared name',
    async (name) => {
      const queued: ReconcileRequest[] = [];
      const verdict = await onIamChange(
        { config, queue: { enqueue: async (r) => void queued.push(...r) }, events: noEvents, selfArns: [] },
        event(name),
      );
      expect(verdict).toMatchObject({ enqueued: { role: 'data-lake-reader', reason: 'iam-change' } });
      expect(queued.map((q) => q.role)).toEqual(['data-lake-reader']);
    },
  );

  it('ignores a role that is not managed, and a roleName that is not a string', async () => {
    const deps = { config, queue: { enqueue: async () => {} }, events: noEvents, selfArns: [] };
    expect(await onIamChange(deps, event('data-lake-reader-2'))).toEqual({
      ignored: 'role data-lake-reader-2 is not managed',
    });
    expect(await onIamChange(deps, event({ toString: () => 'data-lake-reader' } as never))).toEqual({
      ignored: 'role (none) is not managed',
    });
  });
});

describe('onIamChange: alert integrity and accounts (DESIGN 7.1)', () => {
  const HOME = '123456789012';
  const DATA = '444455556666';
  const STRANGER = '999988887777';
  const multi = parseConfig(
    'version: 1\norganizationId: o\ninventory: { source: api }\nroles:\n' +
      '  - { name: data-lake-reader, trust: workload-identity, deployments: [{ name: "*" }] }\n' +
      `  - { name: data-lake-reader, account: "${DATA}", trust: workload-identity, deployments: [{ name: "*" }] }\n`,
    '/x/c.yaml',
  );
  const RECONCILE = `arn:aws:iam::${HOME}:role/astro-trust-prod-ReconcileRole-1A2B3C`;
  const BACKFILL = `arn:aws:iam::${HOME}:role/astro-trust-prod-BackfillRole-4D5E6F`;
  /** A CloudTrail event in `account` by a session of `issuer` named `session`, with an optional source identity. */
  const call = (
    account: string,
    eventName: string,
    roleName: string,
    who: { issuer: string; session: string; sourceIdentity?: string },
    extra: Record<string, unknown> = {},
  ) => {
    const issuer = who.issuer.split('/').pop()!;
    return {
      source: 'aws.iam',
      'detail-type': 'AWS API Call via CloudTrail',
      account,
      region: 'us-east-1',
      detail: {
        eventName,
        eventID: `e-${account}-${eventName}-${who.session}-${who.sourceIdentity ?? 'none'}`,
        eventTime: '2026-11-26T00:00:00Z',
        sourceIPAddress: '203.0.113.7',
        requestParameters: { roleName, ...extra },
        userIdentity: {
          type: 'AssumedRole',
          arn: `arn:aws:sts::${account}:assumed-role/${issuer}/${who.session}`,
          sessionContext: {
            sessionIssuer: { arn: who.issuer },
            ...(who.sourceIdentity ? { sourceIdentity: who.sourceIdentity } : {}),
          },
        },
      },
    };
  };
  const member = `arn:aws:iam::${DATA}:role/astro-trust-member`;
  const run = async (envelope: ReturnType<typeof call>, homeAccount: string | undefined = HOME) => {
    const queued: ReconcileRequest[] = [];
    const published: AstroTrustEvent[] = [];
    const verdict = await onIamChange(
      {
        config: multi,
        queue: { enqueue: async (r) => void queued.push(...r) },
        events: { publish: async (e) => void published.push(...e) },
        selfArns: [RECONCILE],
        ownRoleArns: [RECONCILE, BACKFILL],
        ...(homeAccount ? { homeAccount } : {}),
      },
      envelope,
    );
    return { verdict, queued, published };
  };

  it("recognises astro-trust's own member-account change only in a session the hub opened: session name and source identity astro-trust", async () => {
    const own = await run(
      call(DATA, 'UpdateAssumeRolePolicy', 'data-lake-reader', {
        issuer: member,
        session: 'astro-trust',
        sourceIdentity: 'astro-trust',
      }),
    );
    expect(own.verdict).toEqual({
      ignored: 'changed by astro-trust itself (its member role, in a session the hub opened)',
    });
    expect(own.queued).toEqual([]);
  });

  it.each([
    ['without a source identity (a person who may assume the member role)', { session: 'astro-trust' }],
    ['with another session name', { session: 'alice', sourceIdentity: 'astro-trust' }],
    ["with a person's source identity", { session: 'astro-trust', sourceIdentity: 'alice@example.com' }],
    ['with the source identity in another case', { session: 'astro-trust', sourceIdentity: 'Astro-Trust' }],
  ])('a member-role session %s is not astro-trust: the change is drift-checked', async (_label, who) => {
    const r = await run(call(DATA, 'UpdateAssumeRolePolicy', 'data-lake-reader', { issuer: member, ...who }));
    expect(r.verdict).toMatchObject({
      enqueued: { role: `${DATA}/data-lake-reader`, reason: 'iam-change', drift: { arn: expect.any(String) } },
    });
    expect(r.queued).toHaveLength(1);
    if ('sourceIdentity' in who) expect(r.queued[0]!.drift!.sourceIdentity).toBe(who.sourceIdentity);
  });

  it.each([
    ['UpdateAssumeRolePolicy', 'astro-trust-member', DATA, 'member-role'],
    ['AttachRolePolicy', 'Astro-Trust-Member', DATA, 'member-role'],
    ['PutRolePolicy', 'astro-trust-member-reader', DATA, 'member-reader-role'],
    ['DeleteRole', 'astro-trust-member', DATA, 'member-role'],
    ['PutRolePolicy', 'astro-trust-prod-ReconcileRole-1A2B3C', HOME, 'hub-function-role'],
    ['UpdateAssumeRolePolicy', 'astro-trust-prod-BackfillRole-4D5E6F', HOME, 'hub-function-role'],
  ])('%s on %s in %s is self-tampering (%s): alerted, nothing queued', async (eventName, roleName, account, kind) => {
    // Even in a session the hub opened: astro-trust never changes its own roles.
    const r = await run(
      call(account, eventName, roleName, { issuer: member, session: 'astro-trust', sourceIdentity: 'astro-trust' }),
    );
    expect(r.verdict).toMatchObject({ selfTampering: { role: `${account}/${roleName}`, accountId: account, kind } });
    expect(r.queued).toEqual([]);
    expect(r.published).toEqual([
      {
        type: 'SelfTampering',
        detail: expect.objectContaining({
          role: `${account}/${roleName}`,
          kind,
          reason: 'iam-change',
          actor: expect.objectContaining({ eventName, sourceIp: '203.0.113.7', sourceIdentity: 'astro-trust' }),
        }),
      },
    ]);
  });

  it('names the policy a permissions change attached or wrote', async () => {
    const r = await run(
      call(
        DATA,
        'AttachRolePolicy',
        'astro-trust-member',
        { issuer: `arn:aws:iam::${DATA}:role/admin`, session: 'mallory' },
        { policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
      ),
    );
    expect(r.published[0]!.detail).toMatchObject({
      policy: 'arn:aws:iam::aws:policy/AdministratorAccess',
      roleArn: `arn:aws:iam::${DATA}:role/astro-trust-member`,
    });
  });

  it("the member role's name in the hub account, or in an account the config does not name, is not astro-trust's", async () => {
    const admin = { issuer: `arn:aws:iam::${HOME}:role/admin`, session: 'x' };
    expect((await run(call(HOME, 'PutRolePolicy', 'astro-trust-member', admin))).verdict).toEqual({
      ignored: 'event PutRolePolicy does not change trust',
    });
    expect((await run(call(STRANGER, 'PutRolePolicy', 'astro-trust-member', admin))).published).toEqual([]);
  });

  it('a permissions change to a managed role is not a trust change', async () => {
    const r = await run(
      call(HOME, 'PutRolePolicy', 'data-lake-reader', { issuer: `arn:aws:iam::${HOME}:role/admin`, session: 'x' }),
    );
    expect(r.verdict).toEqual({ ignored: 'event PutRolePolicy does not change trust' });
  });

  it.each([
    ['the home account known', HOME],
    ['the home account unknown', undefined],
  ])('ignores an IAM event from an account the config does not name (%s)', async (_label, homeAccount) => {
    const r = await run(
      call(STRANGER, 'UpdateAssumeRolePolicy', 'data-lake-reader', {
        issuer: `arn:aws:iam::${STRANGER}:role/admin`,
        session: 'x',
      }),
      homeAccount,
    );
    expect(r.verdict).toEqual({ ignored: `account ${STRANGER} is not one the config names` });
    expect(r.queued).toEqual([]);
  });

  it("matches the home account's roles by the home account, and a member's by its account", async () => {
    const someone = (a: string) => ({ issuer: `arn:aws:iam::${a}:role/admin`, session: 'x' });
    expect((await run(call(HOME, 'UpdateAssumeRolePolicy', 'data-lake-reader', someone(HOME)))).verdict).toMatchObject({
      enqueued: { role: 'data-lake-reader' },
    });
    expect((await run(call(DATA, 'UpdateAssumeRolePolicy', 'data-lake-reader', someone(DATA)))).verdict).toMatchObject({
      enqueued: { role: `${DATA}/data-lake-reader` },
    });
  });
});

describe('onDeploymentEvent: which roles an event queues', () => {
  const many = parseConfig(
    'version: 1\norganizationId: o\ninventory: { source: api }\nroles:\n' +
      Array.from(
        { length: 200 },
        (_, i) => `  - { name: role-${i}, trust: workload-identity, deployments: [{ workspaceId: ws-${i % 50} }] }`,
      ).join('\n') +
      '\n',
    '/x/c.yaml',
  );
  const d = deployments(apiDeployment(1, { workspaceId: 'ws-7' }))[0]!;
  const moved = { ...d, workspaceId: 'ws-9' };
  const run = async (
    type: 'deployment.created' | 'deployment.updated' | 'deployment.deleted',
    now: (typeof d)[],
    before?: (typeof d)[],
  ) => {
    const queued: ReconcileRequest[] = [];
    await onDeploymentEvent(
      {
        config: many,
        inventory: { description: 't', list: async () => ({ deployments: now, warnings: [] }) },
        queue: { enqueue: async (r) => void queued.push(...r) },
        ...(before ? { snapshots: { load: async () => before, save: async () => {} } } : {}),
      },
      { id: 'e', type, deploymentId: d.id, organizationId: 'o', occurredAt: '2026-11-26T00:00:00Z' },
    );
    return queued.map((q) => q.role).sort();
  };
  const declaring = (ws: number) => Array.from({ length: 4 }, (_, k) => `role-${ws + 50 * k}`).sort();

  it('created: the roles that declare it (4 of 200)', async () =>
    expect(await run('deployment.created', [d])).toEqual(declaring(7)));
  it('updated out of a workspace: the roles before and after (8 of 200)', async () =>
    expect(await run('deployment.updated', [moved], [d])).toEqual([...declaring(7), ...declaring(9)].sort()));
  it('deleted: the roles that declared it (4 of 200)', async () =>
    expect(await run('deployment.deleted', [], [d])).toEqual(declaring(7)));
  it('updated or deleted with no last listing: every role (200)', async () => {
    expect(await run('deployment.updated', [moved])).toHaveLength(200);
    expect(await run('deployment.deleted', [], [])).toHaveLength(200);
  });
});
