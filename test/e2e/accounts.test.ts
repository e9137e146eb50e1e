/**
 * Several AWS accounts (DESIGN 3.6, issue 12) against moto, which keeps IAM per account and lets AssumeRole
 * credentials act in the assumed role's account. A proxy in front of moto plays STS refusing one account's
 * member role (moto itself assumes any role). The command line does the apply, wired as a person runs it:
 * AWS_ENDPOINT_URL, the SDK's credentials, the member role assumed per account.
 */
import {
  CreateRoleCommand,
  GetRoleCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memberTrustStore } from '../../src/adapters/aws/accounts';
import { FileInventory } from '../../src/adapters/astro/inventory-file';
import type { Notifier } from '../../src/adapters/slack/notifier';
import { renderSlack } from '../../src/adapters/slack/message';
import { storeFor } from '../../src/cli/io';
import { startServer } from '../../src/cli/serve';
import { loadConfig } from '../../src/config/config';
import type { AstroTrustEvent } from '../../src/domain/events';
import { isOwned, parseTrustPolicy, type PolicyDocument } from '../../src/domain/policy';
import { cli } from '../support/cli';
import { faultProxy, type FaultProxy } from '../support/fault-proxy';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';
import { testSecret } from '../support/world';

const HOME = '123456789012'; // moto's default account: the credentials astro-trust runs with
const DATA = '444455556666';
const LAKE = '555566667777';
const LOCKED = '777788889999'; // its member role cannot be assumed
const OTHER = '666677778888'; // not in the config: its same-named role must stay as it is
const ASTRO = '111928029897';
const ISSUER = 'oidc.eks.us-east-1.amazonaws.com/id/5C1F3A6B9D2E4F7081A2B3C4D5E6F708';
const GLUE = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
};

let moto: Moto;
let proxy: FaultProxy;
let dir: string;
let configFile: string;
const iamIn = new Map<string, IAMClient>();
const saved = { ...process.env };

const dep = (i: number, workspaceId: string, extra: Record<string, unknown> = {}) => ({
  id: `clacct${String(i).padStart(8, '0')}`,
  name: `prod-${i}`,
  namespace: `acct-orbit-${i}`,
  workspaceId,
  cloudProvider: 'AWS',
  airflowVersion: '3.0.2',
  createdAt: new Date(Date.UTC(2026, 0, i + 1)).toISOString(),
  effectiveWorkloadIdentity: `arn:aws:iam::${ASTRO}:role/astro-acct-orbit-${i}`,
  oidcIssuerUrl: `https://${ISSUER}`,
  ...extra,
});

/** IAM as seen inside an account: moto's own credentials for the home account, an assumed role for the others. */
async function iam(account: string): Promise<IAMClient> {
  if (iamIn.has(account)) return iamIn.get(account)!;
  const client = account === HOME ? moto.iam() : await moto.iamIn(account);
  iamIn.set(account, client);
  return client;
}
async function trust(account: string, role: string): Promise<PolicyDocument> {
  return parseTrustPolicy(
    (await (await iam(account)).send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument,
  );
}
const ownedPrincipals = (doc: PolicyDocument) => JSON.stringify(doc.Statement.filter(isOwned));

beforeAll(async () => {
  moto = await startMoto();
  proxy = await faultProxy(moto.endpoint);
  proxy.faults.push({
    action: 'AssumeRole',
    times: 1000,
    status: 403,
    code: 'AccessDenied',
    message: `User: arn:aws:sts::${HOME}:assumed-role/astro-trust-prod-reconcile/x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${LOCKED}:role/astro-trust-member`,
    match: (p) => (p.get('RoleArn') ?? '').includes(`::${LOCKED}:`),
  });
  for (const [account, role] of [
    [HOME, 'data-lake-reader'],
    [DATA, 'data-lake-reader'],
    [LAKE, 'lake-writer'],
    [LOCKED, 'archive-writer'],
    [LOCKED, 'audit-writer'],
    [OTHER, 'data-lake-reader'],
  ] as const) {
    await (
      await iam(account)
    ).send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: JSON.stringify(GLUE) }));
  }
  dir = mkdtempSync(join(tmpdir(), 'astro-trust-accounts-'));
  writeFileSync(
    join(dir, 'deployments.json'),
    JSON.stringify({
      deployments: [dep(1, 'clwsA'), dep(2, 'clwsB'), dep(3, 'clwsC')],
      limit: 100,
      offset: 0,
      totalCount: 3,
    }),
  );
  configFile = join(dir, 'astro-trust.yaml');
  writeFileSync(
    configFile,
    `version: 1
organizationId: org
inventory: { source: file, path: ./deployments.json }
roles:
  - { name: data-lake-reader, trust: workload-identity, deployments: [{ workspaceId: clwsA }] }
  - { name: data-lake-reader, account: "${DATA}", trust: workload-identity, deployments: [{ workspaceId: clwsB }] }
  - { name: lake-writer, account: "${LAKE}", trust: oidc, serviceAccounts: [worker], deployments: [{ workspaceId: clwsC }] }
  - { name: archive-writer, account: "${LOCKED}", trust: workload-identity, deployments: [{ workspaceId: clwsA }] }
  - { name: audit-writer, account: "${LOCKED}", trust: workload-identity, deployments: [{ workspaceId: clwsB }] }
`,
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

describe('one astro-trust, several accounts', () => {
  it('apply converges the roles of the home account and two member accounts, fails only the account whose member role cannot be assumed, and leaves a same-named role elsewhere alone', async () => {
    proxy.actions.length = 0;
    const r = await cli(['apply', '--config', configFile, '--yes', '--json']);
    expect(r.code).toBe(1); // not converged: one account could not be reached
    const out = JSON.parse(r.stdout) as {
      roles: { role: string; status: string; account?: string; error?: { message: string } }[];
      apply: { outcomes: { role: string; result: string; message?: string }[] };
    };
    expect(out.apply.outcomes.map((o) => [o.role, o.result])).toEqual([
      ['data-lake-reader', 'written'],
      [`${DATA}/data-lake-reader`, 'written'],
      [`${LAKE}/lake-writer`, 'written'],
      [`${LOCKED}/archive-writer`, 'failed'],
      [`${LOCKED}/audit-writer`, 'failed'],
    ]);
    const locked = out.roles.find((x) => x.role === `${LOCKED}/archive-writer`)!;
    expect(locked).toMatchObject({ status: 'unreachable', account: LOCKED });
    expect(locked.error!.message).toMatch(
      new RegExp(
        `cannot assume arn:aws:iam::${LOCKED}:role/astro-trust-member \\(AccessDenied\\): deploy deploy/member-account.yml in account ${LOCKED}`,
      ),
    );

    // Each account's role trusts its own declared Deployments, written with that account's credentials.
    expect(ownedPrincipals(await trust(HOME, 'data-lake-reader'))).toContain('astro-acct-orbit-1');
    expect(ownedPrincipals(await trust(HOME, 'data-lake-reader'))).not.toContain('astro-acct-orbit-2');
    expect(ownedPrincipals(await trust(DATA, 'data-lake-reader'))).toContain('astro-acct-orbit-2');
    expect(ownedPrincipals(await trust(DATA, 'data-lake-reader'))).not.toContain('astro-acct-orbit-1');
    expect(ownedPrincipals(await trust(LAKE, 'lake-writer'))).toContain(
      'system:serviceaccount:acct-orbit-3:acct-orbit-3-worker-serviceaccount',
    );
    expect(ownedPrincipals(await trust(LAKE, 'lake-writer'))).toContain(`arn:aws:iam::${LAKE}:oidc-provider/${ISSUER}`);
    // The OIDC provider is created in the lake account, nowhere else.
    const providers = async (a: string) =>
      ((await (await iam(a)).send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList ?? []).map(
        (p) => p.Arn,
      );
    expect(await providers(LAKE)).toEqual([`arn:aws:iam::${LAKE}:oidc-provider/${ISSUER}`]);
    expect(await providers(HOME)).toEqual([]);
    expect(await providers(DATA)).toEqual([]);
    // Untouched: the same name in an account the config does not name, and the account that could not be reached.
    expect(await trust(OTHER, 'data-lake-reader')).toEqual(GLUE);
    expect(await trust(LOCKED, 'archive-writer')).toEqual(GLUE);
    // One AssumeRole per member account for the whole run, whatever its number of roles: credentials are
    // kept, and a refusal is not asked again for each of the locked account's two roles.
    expect(proxy.actions.filter((a) => a === 'AssumeRole')).toHaveLength(3);

    const again = await cli(['plan', '--config', configFile, '--json', '--detailed-exitcode']);
    const plan = JSON.parse(again.stdout) as { roles: { role: string; status: string }[] };
    expect(plan.roles.map((x) => x.status)).toEqual(['in-sync', 'in-sync', 'in-sync', 'unreachable', 'unreachable']);
    expect(again.code).toBe(1);
  }, 60_000);

  it('keeps member credentials until shortly before they expire, then assumes the role again', async () => {
    const store = memberTrustStore(DATA, {
      memberRoleName: 'astro-trust-member',
      access: 'read',
      region: 'us-east-1',
      endpoint: proxy.url,
      masterCredentials: TEST_CREDENTIALS,
      timings: { verifyDelayMs: 1 },
    });
    proxy.actions.length = 0;
    await store.readRoles(['data-lake-reader']);
    await store.readRoles(['data-lake-reader']);
    expect(proxy.actions.filter((a) => a === 'AssumeRole')).toHaveLength(1);
    const realNow = Date.now;
    // moto's credentials last an hour: two hours later they are expired and assumed again before the call.
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 2 * 3600_000);
    try {
      await store.readRoles(['data-lake-reader']);
    } finally {
      jest.mocked(Date.now).mockRestore();
    }
    const afterExpiry = proxy.actions.filter((a) => a === 'AssumeRole').length;
    expect(afterExpiry).toBeGreaterThanOrEqual(2);
    // Back at the real time, the credentials assumed last are fresh: kept.
    await store.readRoles(['data-lake-reader']);
    expect(proxy.actions.filter((a) => a === 'AssumeRole')).toHaveLength(afterExpiry);
  });

  it('asks STS once for an account that refuses, however many reads follow, and again after a minute', async () => {
    let now = Date.now();
    const store = memberTrustStore(LOCKED, {
      memberRoleName: 'astro-trust-member',
      access: 'read',
      region: 'us-east-1',
      endpoint: proxy.url,
      masterCredentials: TEST_CREDENTIALS,
      now: () => now,
    });
    proxy.actions.length = 0;
    for (const role of ['archive-writer', 'audit-writer', 'archive-writer'])
      await expect(store.readRoles([role])).rejects.toThrow(/cannot assume .*777788889999.*\(AccessDenied\)/);
    expect(proxy.actions.filter((a) => a === 'AssumeRole')).toHaveLength(1);
    now += 61_000;
    await expect(store.readRoles(['archive-writer'])).rejects.toThrow(/AccessDenied/);
    expect(proxy.actions.filter((a) => a === 'AssumeRole')).toHaveLength(2);
  });

  it('plan reads member accounts through the read-only <memberRoleName>-reader, apply writes through the member role; a person sets no source identity', async () => {
    const assumed: { role: string; session: string | null; sourceIdentity: string | null }[] = [];
    const spy = {
      action: 'AssumeRole',
      times: 1,
      status: 500,
      code: 'unused',
      message: 'unused',
      // Records every AssumeRole and lets it through (a fault that never matches).
      match: (p: URLSearchParams) => {
        assumed.push({
          role: p.get('RoleArn') ?? '',
          session: p.get('RoleSessionName'),
          sourceIdentity: p.get('SourceIdentity'),
        });
        return false;
      },
    };
    proxy.faults.unshift(spy);
    try {
      await cli(['plan', '--config', configFile, '--role', `${DATA}/data-lake-reader`, '--json']);
      expect(assumed).toEqual([
        { role: `arn:aws:iam::${DATA}:role/astro-trust-member-reader`, session: 'astro-trust', sourceIdentity: null },
      ]);
      assumed.length = 0;
      await cli(['apply', '--config', configFile, '--role', `${DATA}/data-lake-reader`, '--yes', '--json']);
      expect(assumed).toEqual([
        { role: `arn:aws:iam::${DATA}:role/astro-trust-member`, session: 'astro-trust', sourceIdentity: null },
      ]);
    } finally {
      proxy.faults.splice(proxy.faults.indexOf(spy), 1);
    }
  }, 60_000);

  it("a CloudTrail event from a member account is matched to that account's role and alerted with its account; astro-trust's own member-role change is not", async () => {
    const alerts: AstroTrustEvent[] = [];
    const notifier: Notifier = { notify: async (e) => (alerts.push(e), 'sent') };
    const config = loadConfig(configFile);
    const server = await startServer({
      config,
      store: storeFor({ env: process.env } as never, config, undefined, {
        access: 'write',
        sourceIdentity: 'astro-trust',
        homeAccount: HOME,
      }),
      inventory: new FileInventory(join(dir, 'deployments.json')),
      notifier,
      secrets: [testSecret('accounts')],
      selfArns: [],
      homeAccount: HOME,
      eventsToken: 'tok',
      port: 0,
      resyncIntervalMs: 0,
      resyncAtStart: false,
    });
    try {
      // Someone in the data account adds a principal to astro-trust's statement.
      const doc = await trust(DATA, 'data-lake-reader');
      const owned = doc.Statement.find(isOwned)!;
      (owned.Principal as { AWS: string[] | string }).AWS = [
        ...[(owned.Principal as { AWS: string[] | string }).AWS].flat(),
        `arn:aws:iam::${ASTRO}:role/astro-intruder-0666`,
      ];
      await (
        await iam(DATA)
      ).send(new UpdateAssumeRolePolicyCommand({ RoleName: 'data-lake-reader', PolicyDocument: JSON.stringify(doc) }));
      const event = (account: string, issuer: string, session = 'y', sourceIdentity?: string) => ({
        source: 'aws.iam',
        'detail-type': 'AWS API Call via CloudTrail',
        account,
        region: 'us-east-1',
        detail: {
          eventName: 'UpdateAssumeRolePolicy',
          eventTime: '2026-11-26T10:00:00Z',
          eventID: `evt-${account}-${issuer.length}-${session}`,
          sourceIPAddress: '203.0.113.9',
          requestParameters: { roleName: 'data-lake-reader' },
          userIdentity: {
            type: 'AssumedRole',
            arn: `arn:aws:sts::${account}:assumed-role/${issuer.split('/').pop()}/${session}`,
            sessionContext: { sessionIssuer: { arn: issuer }, ...(sourceIdentity ? { sourceIdentity } : {}) },
          },
        },
      });
      const post = async (body: unknown) =>
        (
          await fetch(`${server.url}/events/eventbridge`, {
            method: 'POST',
            headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })
        ).json();
      expect(await post(event(DATA, `arn:aws:iam::${DATA}:role/AWSReservedSSO_Admin`))).toMatchObject({
        enqueued: { role: `${DATA}/data-lake-reader`, reason: 'iam-change' },
      });
      expect(await post(event(OTHER, `arn:aws:iam::${OTHER}:role/admin`))).toEqual({
        ignored: `account ${OTHER} is not one the config names`,
      });
      expect(
        await post(event(DATA, `arn:aws:iam::${DATA}:role/astro-trust-member`, 'astro-trust', 'astro-trust')),
      ).toEqual({
        ignored: 'changed by astro-trust itself (its member role, in a session the hub opened)',
      });
      await server.settled();
      const drift = alerts.find((a) => a.type === 'DriftDetected')!;
      expect(drift.detail).toMatchObject({ role: `${DATA}/data-lake-reader`, accountId: DATA, action: 'reverted' });
      const slack = renderSlack(drift);
      expect(JSON.stringify(slack.blocks)).toContain(DATA);
      expect(ownedPrincipals(await trust(DATA, 'data-lake-reader'))).not.toContain('astro-intruder-0666');
      // The home account's same-named role was not touched by the member account's event.
      expect(ownedPrincipals(await trust(HOME, 'data-lake-reader'))).not.toContain('astro-intruder-0666');
    } finally {
      await server.close();
    }
  }, 60_000);

  it('apply FILE across accounts: each role checked and written with its own account credentials; a role edited in a member account is refused alone', async () => {
    for (const account of [HOME, DATA])
      await (
        await iam(account)
      ).send(new UpdateAssumeRolePolicyCommand({ RoleName: 'data-lake-reader', PolicyDocument: JSON.stringify(GLUE) }));
    const planFile = join(dir, 'accounts-plan.json');
    const planned = await cli(['plan', '--config', configFile, '--role', 'data-lake-reader', '-out', planFile]);
    expect(planned.code).toBe(0);
    const edited = {
      ...GLUE,
      Statement: [
        ...GLUE.Statement,
        {
          Sid: 'Auditor',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${DATA}:role/auditor` },
          Action: 'sts:AssumeRole',
        },
      ],
    };
    await (
      await iam(DATA)
    ).send(new UpdateAssumeRolePolicyCommand({ RoleName: 'data-lake-reader', PolicyDocument: JSON.stringify(edited) }));
    const r = await cli(['apply', planFile, '--config', configFile, '--json']);
    expect(r.code).toBe(1);
    const outcomes = (
      JSON.parse(r.stdout) as { apply: { outcomes: { role: string; result: string; message?: string }[] } }
    ).apply.outcomes;
    expect(outcomes.map((o) => [o.role, o.result])).toEqual([
      ['data-lake-reader', 'written'],
      [`${DATA}/data-lake-reader`, 'refused'],
    ]);
    expect(outcomes[1]!.message).toMatch(/role data-lake-reader changed since the plan: statement "Auditor" added/);
    expect(ownedPrincipals(await trust(HOME, 'data-lake-reader'))).toContain('astro-acct-orbit-1');
    expect(await trust(DATA, 'data-lake-reader')).toEqual(edited);
  }, 60_000);

  /** `astro-trust serve` on the multi-account config, until `stop`; its stderr, the AssumeRole calls it made. */
  async function serveCli(env: Record<string, string>, during: (url: string) => Promise<void>) {
    const assumed: { role: string; sourceIdentity: string | null }[] = [];
    const spy = {
      action: 'AssumeRole',
      times: 1,
      status: 500,
      code: 'unused',
      message: 'unused',
      match: (p: URLSearchParams) => {
        assumed.push({ role: p.get('RoleArn') ?? '', sourceIdentity: p.get('SourceIdentity') });
        return false;
      },
    };
    proxy.faults.unshift(spy);
    proxy.actions.length = 0;
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let url = '';
    const running = cli(
      [
        'serve',
        '--config',
        configFile,
        '--port',
        '0',
        '--resync-interval',
        '0',
        '--watch-interval',
        '0',
        '--snapshot',
        join(dir, 'serve-state', 'snapshot.json'),
        '--dead-letters',
        join(dir, 'serve-state', 'dead-letters.jsonl'),
      ],
      {
        env: {
          ...process.env,
          ASTRO_TRUST_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
          ASTRO_TRUST_EVENTS_TOKEN: 'tok',
          SLACK_WEBHOOK_URL: '',
          ...env,
        },
        untilStopped: () => stopped,
        onListening: (u) => (url = u),
      },
    );
    try {
      const deadline = Date.now() + 20_000;
      const idle = async () => {
        if (!url) return false;
        const h = (await (await fetch(`${url}/healthz`)).json()) as { queued: number; processed: number };
        return h.queued === 0 && h.processed >= 5;
      };
      // The resync at start reads every role: wait for it, so its STS calls are counted.
      while (!(await idle()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await during(url);
    } finally {
      stop();
      proxy.faults.splice(proxy.faults.indexOf(spy), 1);
    }
    const r = await running;
    return { ...r, assumed, stsIdentityCalls: proxy.actions.filter((a) => a === 'GetCallerIdentity').length };
  }
  const postEvent = async (url: string, body: unknown) =>
    (
      await fetch(`${url}/events/eventbridge`, {
        method: 'POST',
        headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json();
  const iamEvent = (account: string, eventName: string, roleName: string) => ({
    source: 'aws.iam',
    'detail-type': 'AWS API Call via CloudTrail',
    account,
    region: 'us-east-1',
    detail: {
      eventName,
      eventTime: '2026-11-26T11:00:00Z',
      eventID: `evt-serve-${account}-${eventName}`,
      requestParameters: { roleName, policyName: 'widen' },
      userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${account}:user/mallory` },
    },
  });

  it('serve learns its home account with one sts:GetCallerIdentity, ignores IAM events of accounts the config does not name, writes members as the hub, and alerts a change to the member role', async () => {
    const r = await serveCli({}, async (url) => {
      expect(await postEvent(url, iamEvent(OTHER, 'UpdateAssumeRolePolicy', 'data-lake-reader'))).toEqual({
        ignored: `account ${OTHER} is not one the config names`,
      });
      expect(await postEvent(url, iamEvent(DATA, 'PutRolePolicy', 'astro-trust-member'))).toMatchObject({
        selfTampering: { role: `${DATA}/astro-trust-member`, kind: 'member-role', policy: 'widen' },
      });
    });
    expect(r.code).toBe(0);
    expect(r.stsIdentityCalls).toBe(1);
    // The resync at start wrote the member accounts through the member role, in sessions marked as the hub's.
    expect(r.assumed.length).toBeGreaterThan(0);
    for (const a of r.assumed)
      expect(a).toMatchObject({
        role: expect.stringMatching(/:role\/astro-trust-member$/),
        sourceIdentity: 'astro-trust',
      });
    expect(r.stderr).toMatch(
      /astro-trust's own role \*?444455556666\/astro-trust-member\*? was changed \(PutRolePolicy\)/,
    );
  }, 60_000);

  it('serve with ASTRO_TRUST_HOME_ACCOUNT asks STS nothing; a value that is not an account is refused', async () => {
    const r = await serveCli({ ASTRO_TRUST_HOME_ACCOUNT: HOME }, async () => {});
    expect(r.code).toBe(0);
    expect(r.stsIdentityCalls).toBe(0);
    const bad = await cli(['serve', '--config', configFile, '--port', '0'], {
      env: { ...process.env, ASTRO_TRUST_WEBHOOK_SECRET: testSecret('accounts'), ASTRO_TRUST_HOME_ACCOUNT: 'prod' },
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ASTRO_TRUST_HOME_ACCOUNT=prod: expected the 12-digit AWS account serve runs in/);
  }, 60_000);
});
