/**
 * Every raw payload in events/ fed through its Lambda handler (middy and all), against moto for IAM,
 * SQS, EventBridge and SSM, and a local server playing Slack.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { CreateTableCommand, DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { isOwned, parseTrustPolicy, type PolicyDocument } from '../../src/domain/policy';
import { createRolesFromSnapshot } from '../support/moto-roles';
import { resetRuntime } from '../../src/lambda/runtime';
import { secrets, secretsCacheMs } from '../../src/lambda/secrets';
import { loadConfig, parseConfig } from '../../src/config/config';
import { packConfig } from '../../src/config/pack';
import { renderSlack } from '../../src/adapters/slack/message';
import { fakeService, type FakeService } from '../support/http';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';
import { exampleWorld, fixture, FIXTURE_NOW_MS, FIXTURE_SECRET, type World } from '../support/world';

const SELF = 'arn:aws:iam::123456789012:role/astro-trust-prod-reconcile';
const BACKFILL = 'arn:aws:iam::123456789012:role/astro-trust-prod-backfill';
const context = {
  functionName: 'test',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;
type Handler = (event: unknown, context: Context) => Promise<unknown>;

let moto: Moto;
let world: World;
let slack: FakeService;
let slackStatus = 200;
let sqs: SQSClient;
let queueUrl: string;
let busTapUrl: string;
const fns: Record<string, Handler> = {};
type SQSRecordLike = { messageId: string; body: string; attributes: { MessageGroupId: string } };
const covered = new Set<string>();
const stdout: string[] = [];
/** What the functions wrote since the last call, as parsed JSON lines. */
function written(): Record<string, unknown>[] {
  return stdout.splice(0).flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

function load(path: string) {
  covered.add(path);
  return fixture<Record<string, unknown>>(path);
}

async function messages(url: string, max = 10) {
  const out = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: max, AttributeNames: ['All'], WaitTimeSeconds: 0 }),
  );
  return out.Messages ?? [];
}
async function drain(url: string) {
  await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
}
/** The functions read the config as packaging writes it: the loader's result, as JSON. */
function packaged(configFile: string): string {
  const out = `${configFile}.packaged.json`;
  writeFileSync(out, JSON.stringify(packConfig(loadConfig(configFile), process.cwd())));
  return out;
}
const ownedArns = (doc: PolicyDocument) =>
  (doc.Statement.find(isOwned)?.Principal as { AWS: string[] } | undefined)?.AWS ?? [];

beforeAll(async () => {
  // The functions write JSON log lines and EMF metrics to standard output (CloudWatch); keep them for the
  // assertions and out of the test output.
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  // Powertools writes WARN and ERROR lines to standard error.
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  jest.spyOn(console, 'log').mockImplementation(() => {});
  jest.spyOn(console, 'error').mockImplementation(() => {});
  moto = await startMoto();
  const aws = { region: 'us-east-1', endpoint: moto.endpoint, credentials: TEST_CREDENTIALS };
  world = await exampleWorld(moto.iam());
  slack = await fakeService((_req, res) => {
    res.writeHead(slackStatus, { 'content-type': 'text/plain' });
    res.end(slackStatus === 200 ? 'ok' : 'error');
  });
  sqs = new SQSClient(aws);
  queueUrl = (
    await sqs.send(new CreateQueueCommand({ QueueName: 'reconcile.fifo', Attributes: { FifoQueue: 'true' } }))
  ).QueueUrl!;
  busTapUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'bus-tap' }))).QueueUrl!;
  const tapArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: busTapUrl, AttributeNames: ['QueueArn'] })))
    .Attributes!.QueueArn!;
  const events = new EventBridgeClient(aws);
  await events.send(new CreateEventBusCommand({ Name: 'astro-trust-test' }));
  await events.send(
    new PutRuleCommand({
      Name: 'tap',
      EventBusName: 'astro-trust-test',
      EventPattern: JSON.stringify({ source: ['astro-trust'] }),
    }),
  );
  await events.send(
    new PutTargetsCommand({ Rule: 'tap', EventBusName: 'astro-trust-test', Targets: [{ Id: 'tap', Arn: tapArn }] }),
  );
  const dynamodb = new DynamoDBClient(aws);
  await dynamodb.send(
    new CreateTableCommand({
      TableName: 'watch',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
  const ssm = new SSMClient(aws);
  await ssm.send(
    new PutParameterCommand({ Name: '/astro-trust/test/webhook-secret', Type: 'SecureString', Value: FIXTURE_SECRET }),
  );
  await ssm.send(
    new PutParameterCommand({ Name: '/astro-trust/test/slack-webhook-url', Type: 'SecureString', Value: slack.url }),
  );

  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    ASTRO_TRUST_PACKAGED_CONFIG: packaged(world.configFile),
    RECONCILE_QUEUE_URL: queueUrl,
    EVENT_BUS_NAME: 'astro-trust-test',
    WEBHOOK_SECRET_PARAM: '/astro-trust/test/webhook-secret',
    SLACK_WEBHOOK_URL_PARAM: '/astro-trust/test/slack-webhook-url',
    ASTRO_TRUST_SELF_ARNS: SELF,
    ASTRO_TRUST_OWN_ROLE_ARNS: `${SELF},${BACKFILL}`,
    // serverless.yml sets it to the stack's account: IAM events from other accounts the config does not name are ignored.
    ASTRO_TRUST_HOME_ACCOUNT: '123456789012',
    WATCH_TABLE: 'watch',
  });
  resetRuntime();
  for (const name of ['webhook', 'iamChange', 'reconcile', 'backfill', 'notify', 'watch']) {
    fns[name] = (await import(`../../functions/${name}`)).handler as Handler;
  }
});
afterAll(async () => {
  // middy's SSM cache refreshes on a timer; stop it so the test process can end.
  (await import('@middy/util')).clearCache();
  await slack?.close();
  await moto?.stop();
});
beforeEach(async () => {
  await drain(queueUrl);
  await drain(busTapUrl);
  slackStatus = 200;
});

describe('webhook', () => {
  // Every fixture carries the same webhook-id: forget its claim, so each test sees a first delivery.
  beforeEach(async () => {
    jest.spyOn(Date, 'now').mockReturnValue(FIXTURE_NOW_MS);
    const dynamodb = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: TEST_CREDENTIALS,
    });
    for (const id of ['evt_01JDQ7ZK3M8V2C4N6P8R0T2W4Y', 'evt_01JDQ80A1B2C3D4E5F6G7H8J9K'])
      await dynamodb.send(new DeleteItemCommand({ TableName: 'watch', Key: { pk: { S: `alert#webhook|${id}` } } }));
  });
  afterEach(() => jest.mocked(Date.now).mockRestore());

  it('deployment-created: 202 and one request per role that declares the Deployment, grouped by role', async () => {
    const res = (await fns.webhook!(load('webhook/deployment-created.json'), context)) as {
      statusCode: number;
      body: string;
    };
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toEqual({ accepted: 'evt_01JDQ7ZK3M8V2C4N6P8R0T2W4Y', roles: ['data-lake-reader'] });
    const [m] = await messages(queueUrl);
    expect(m!.Attributes!.MessageGroupId).toBe('data-lake-reader');
    expect(JSON.parse(m!.Body!)).toEqual({
      role: 'data-lake-reader',
      reason: 'webhook',
      deploymentId: 'clmh5h2rb001208lb4q0e6x8z',
      sourceEventId: 'evt_01JDQ7ZK3M8V2C4N6P8R0T2W4Y',
    });
  });

  it('deployment-deleted (base64 body): every role is re-checked', async () => {
    const res = (await fns.webhook!(load('webhook/deployment-deleted-base64.json'), context)) as {
      statusCode: number;
      body: string;
    };
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body).roles).toHaveLength(
      parseConfig(readFileSync(world.configFile, 'utf8'), world.configFile).roles.length,
    );
  });

  it('bad-signature: 401 and nothing queued', async () => {
    const res = (await fns.webhook!(load('webhook/bad-signature.json'), context)) as {
      statusCode: number;
      body: string;
    };
    expect(res).toMatchObject({ statusCode: 401 });
    expect(JSON.parse(res.body).error).toBe('signature does not match');
    expect(await messages(queueUrl)).toEqual([]);
  });

  it("answers 503 (not 5xx for the sender's input, not a silent 202) when the inventory cannot be listed", async () => {
    const previous = process.env.ASTRO_TRUST_PACKAGED_CONFIG;
    const broken = `${world.dir}/broken.yaml`;
    writeFileSync(broken, readFileSync(world.configFile, 'utf8').replace('./deployments.json', './missing.json'));
    process.env.ASTRO_TRUST_PACKAGED_CONFIG = packaged(broken);
    resetRuntime();
    try {
      const res = (await fns.webhook!(fixture('webhook/deployment-created.json'), context)) as {
        statusCode: number;
        body: string;
      };
      expect(res).toMatchObject({ statusCode: 503 });
      expect(JSON.parse(res.body).error).toMatch(/retry/);
      expect(await messages(queueUrl)).toEqual([]);
    } finally {
      process.env.ASTRO_TRUST_PACKAGED_CONFIG = previous;
      resetRuntime();
    }
  });

  it('a webhook secret in SSM that is not whsec_ + base64 (a hex one, as docs/deploy.md used to say) is refused: 503 naming no secret, and a log line saying what to make', async () => {
    const hex = 'a3'.repeat(32);
    const ssm = new SSMClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
    const put = (Value: string) =>
      ssm.send(
        new PutParameterCommand({
          Name: '/astro-trust/test/webhook-secret',
          Type: 'SecureString',
          Value,
          Overwrite: true,
        }),
      );
    await put(hex);
    (await import('@middy/util')).clearCache();
    written();
    try {
      const res = (await fns.webhook!(fixture('webhook/deployment-created.json'), context)) as {
        statusCode: number;
        body: string;
      };
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body)).toEqual({ error: 'webhook not configured' });
      const lines = written();
      const refused = lines.find((l) => /webhook secret refused/.test(String(l.message)));
      expect(refused).toMatchObject({ level: 'ERROR' });
      expect(String(refused!.message)).toMatch(
        /\/astro-trust\/test\/webhook-secret the value does not start with whsec_: expected whsec_ followed by base64 of at least 24 bytes .*echo "whsec_\$\(openssl rand -base64 32\)"/,
      );
      expect(JSON.stringify(lines)).not.toContain(hex);
      expect(await messages(queueUrl)).toEqual([]);
    } finally {
      await put(FIXTURE_SECRET);
      (await import('@middy/util')).clearCache();
    }
  });

  it('the same payload replayed 301 s later is rejected as stale', async () => {
    jest.spyOn(Date, 'now').mockReturnValue(FIXTURE_NOW_MS + 301_000);
    const res = (await fns.webhook!(fixture('webhook/deployment-created.json'), context)) as { statusCode: number };
    expect(res.statusCode).toBe(401);
  });
});

describe('iamChange', () => {
  it.each<[string, Record<string, unknown>]>([
    [
      'iamChange/update-assume-role-policy.json',
      {
        enqueued: expect.objectContaining({
          role: 'data-lake-reader',
          reason: 'iam-change',
          drift: expect.objectContaining({ sourceIp: '203.0.113.24', eventName: 'UpdateAssumeRolePolicy' }),
        }),
      },
    ],
    ['iamChange/create-role.json', { enqueued: expect.objectContaining({ role: 's3-exporter' }) }],
    ['iamChange/delete-role.json', { enqueued: expect.objectContaining({ role: 'archive-writer' }) }],
    ['iamChange/update-by-astro-trust.json', { ignored: 'changed by astro-trust itself' }],
    ['iamChange/update-failed-access-denied.json', { ignored: 'the call failed (AccessDenied)' }],
  ])('%s', async (path, expected) => {
    const verdict = await fns.iamChange!(load(path), context);
    expect(verdict).toEqual(expected);
    const queued = await messages(queueUrl);
    expect(queued).toHaveLength('enqueued' in expected ? 1 : 0);
  });

  it("hub-function-role-policy-changed: a change to one of the stack's own function roles is published as SelfTampering, nothing queued", async () => {
    expect(await fns.iamChange!(load('iamChange/hub-function-role-policy-changed.json'), context)).toMatchObject({
      selfTampering: { role: '123456789012/astro-trust-prod-backfill', roleArn: BACKFILL, kind: 'hub-function-role' },
    });
    expect(await messages(queueUrl)).toEqual([]);
    const published = (await messages(busTapUrl)).map((m) => JSON.parse(m.Body!));
    expect(published).toEqual([
      expect.objectContaining({
        source: 'astro-trust',
        'detail-type': 'SelfTampering',
        detail: expect.objectContaining({
          policy: 'backfill',
          actor: expect.objectContaining({ eventName: 'PutRolePolicy' }),
        }),
      }),
    ]);
  });

  describe('member account events (the example config with its member account)', () => {
    beforeAll(() => {
      const full = `${world.dir}/with-member-account-intake.yaml`;
      writeFileSync(
        full,
        readFileSync('examples/astro-trust.yaml', 'utf8').replace(
          'path: ./deployments.json',
          `path: ${world.inventoryFile}`,
        ),
      );
      process.env.ASTRO_TRUST_PACKAGED_CONFIG = packaged(full);
      resetRuntime();
    });
    afterAll(() => {
      process.env.ASTRO_TRUST_PACKAGED_CONFIG = packaged(world.configFile);
      resetRuntime();
    });

    it('member-role-policy-attached: a change to the member role itself is SelfTampering, not "not managed"', async () => {
      expect(await fns.iamChange!(load('iamChange/member-role-policy-attached.json'), context)).toMatchObject({
        selfTampering: {
          role: '444455556666/astro-trust-member',
          kind: 'member-role',
          policy: 'arn:aws:iam::aws:policy/AdministratorAccess',
        },
      });
      expect(await messages(queueUrl)).toEqual([]);
      expect((await messages(busTapUrl)).map((m) => JSON.parse(m.Body!)['detail-type'])).toEqual(['SelfTampering']);
    });

    it("member-session-without-source-identity: a session of the member role the hub did not open is someone else's: drift-checked", async () => {
      expect(
        await fns.iamChange!(load('iamChange/member-session-without-source-identity.json'), context),
      ).toMatchObject({ enqueued: { role: '444455556666/data-lake-reader', reason: 'iam-change' } });
      expect(await messages(queueUrl)).toHaveLength(1);
    });

    it("member-update-by-astro-trust: the hub's own session (session name and source identity astro-trust) is not alerted", async () => {
      expect(await fns.iamChange!(load('iamChange/member-update-by-astro-trust.json'), context)).toEqual({
        ignored: 'changed by astro-trust itself (its member role, in a session the hub opened)',
      });
      expect(await messages(queueUrl)).toEqual([]);
    });
  });
});

describe('reconcile', () => {
  it('sqs-drift-check: reverts a hand edit in enforce mode and publishes DriftDetected with the actor', async () => {
    const declared = await world.trust('data-lake-reader');
    const edited = structuredClone(declared);
    (edited.Statement.find(isOwned)!.Principal as { AWS: string[] }).AWS.push(
      'arn:aws:iam::111928029897:role/astro-intruder-0666',
    );
    await world.handEdit('data-lake-reader', edited);

    written();
    const out = await fns.reconcile!(load('reconcile/sqs-drift-check.json'), context);
    expect(out).toEqual({ batchItemFailures: [] });
    // Powertools: JSON lines with level, the request id and the correlation; metrics as CloudWatch EMF.
    const lines = written();
    expect(lines.find((l) => l.message === 'reconciled')).toMatchObject({
      level: 'INFO',
      service: 'astro-trust',
      function_request_id: 'req-1',
      role: 'data-lake-reader',
      reason: 'iam-change',
      eventId: expect.any(String),
      outcome: 'written',
    });
    const emf = lines.find((l) => l._aws) as {
      _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] };
    } & Record<string, number | number[]>;
    // A metric added several times in one invocation is an array of values; CloudWatch sums them.
    const total = (name: string) => [emf[name] ?? []].flat().reduce((a, b) => a + b, 0);
    expect(emf._aws.CloudWatchMetrics[0]!.Namespace).toBe('AstroTrust');
    expect(emf._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name)).toEqual(
      expect.arrayContaining(['Drift', 'IamCalls', 'AstroListings']),
    );
    expect(total('Drift')).toBe(1);
    // GetRole, UpdateAssumeRolePolicy, then GetRole again at least (re-read before the write, read-back after).
    expect(total('IamCalls')).toBeGreaterThanOrEqual(3);
    expect(ownedArns(await world.trust('data-lake-reader'))).not.toContain(
      'arn:aws:iam::111928029897:role/astro-intruder-0666',
    );
    const published = (await messages(busTapUrl)).map((m) => JSON.parse(m.Body!));
    const drift = published.find((e) => e['detail-type'] === 'DriftDetected');
    expect(drift).toMatchObject({
      source: 'astro-trust',
      detail: { role: 'data-lake-reader', action: 'reverted', actor: { sourceIp: '203.0.113.24' } },
    });
    expect(JSON.stringify(drift.detail.undeclaredInOwned)).toContain('astro-intruder-0666');
  });

  it('sqs-webhook-two-roles: reconciles the declared role, ignores one no longer declared', async () => {
    written();
    const out = await fns.reconcile!(load('reconcile/sqs-webhook-two-roles.json'), context);
    expect(out).toEqual({ batchItemFailures: [] });
    // The function's own log line says what it did with each record (the IAM client inside is not reachable from here).
    const lines = written().filter((l) => l.message === 'reconciled');
    expect(lines.find((l) => l.role === 'no-longer-declared')).toMatchObject({
      status: 'not declared',
      outcome: 'ignored',
    });
    expect(lines.find((l) => l.role === 'data-lake-reader')).toMatchObject({
      outcome: expect.stringMatching(/^(written|unchanged)$/),
    });
    expect(ownedArns(await world.trust('data-lake-reader'))).toContain(
      'arn:aws:iam::111928029897:role/astro-stellar-comet-3141',
    );
  });

  it('sqs-member-account: reads and writes a role in another account through its member role, and the event names that account', async () => {
    // The example's role in 444455556666, as its snapshot has it, created with credentials of that account (moto).
    const member = await moto.iamIn('444455556666');
    await createRolesFromSnapshot(member, 'examples/iam-snapshot-444455556666.json');
    const full = `${world.dir}/with-member-account.yaml`;
    writeFileSync(
      full,
      readFileSync('examples/astro-trust.yaml', 'utf8').replace(
        'path: ./deployments.json',
        `path: ${world.inventoryFile}`,
      ),
    );
    const previous = { config: process.env.ASTRO_TRUST_PACKAGED_CONFIG, home: process.env.ASTRO_TRUST_HOME_ACCOUNT };
    Object.assign(process.env, {
      ASTRO_TRUST_PACKAGED_CONFIG: packaged(full),
      ASTRO_TRUST_HOME_ACCOUNT: '123456789012',
    });
    resetRuntime();
    try {
      written();
      expect(await fns.reconcile!(load('reconcile/sqs-member-account.json'), context)).toEqual({
        batchItemFailures: [],
      });
      const doc = parseTrustPolicy(
        (await member.send(new GetRoleCommand({ RoleName: 'data-lake-reader' }))).Role!.AssumeRolePolicyDocument,
      );
      expect(ownedArns(doc)).toEqual([
        'arn:aws:iam::111928029897:role/astro-nebular-quasar-2211',
        'arn:aws:iam::111928029897:role/astro-nebular-quasar-2211-dr',
      ]);
      expect(doc.Statement.find((s) => s.Sid === 'AllowGlue')).toBeDefined(); // its own statement kept
      // The home account's same-named role is another role: untouched by this request.
      expect(ownedArns(await world.trust('data-lake-reader'))).toContain(
        'arn:aws:iam::111928029897:role/astro-galactian-element-5125',
      );
      const published = (await messages(busTapUrl)).map((m) => JSON.parse(m.Body!));
      expect(published.find((e) => e['detail-type'] === 'TrustPolicyUpdated')).toMatchObject({
        detail: {
          role: '444455556666/data-lake-reader',
          accountId: '444455556666',
          roleArn: 'arn:aws:iam::444455556666:role/data-lake-reader',
        },
      });
      expect(written().find((l) => l.message === 'reconciled')).toMatchObject({
        role: '444455556666/data-lake-reader',
        outcome: 'written',
      });
    } finally {
      Object.assign(process.env, { ASTRO_TRUST_PACKAGED_CONFIG: previous.config });
      if (previous.home === undefined) delete process.env.ASTRO_TRUST_HOME_ACCOUNT;
      resetRuntime();
    }
  });

  it('reports a retryable failure as a batch item failure so SQS retries it', async () => {
    const record = fixture<{ Records: Record<string, unknown>[] }>('reconcile/sqs-drift-check.json').Records[0]!;
    const previous = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9'; // nothing listens: IAM unreachable
    resetRuntime();
    try {
      const out = await fns.reconcile!({ Records: [record] }, context);
      expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    } finally {
      process.env.AWS_ENDPOINT_URL = previous;
      resetRuntime();
    }
  });

  // DESIGN 7.2: the alert says "will be retried" only while SQS will hand the message out again
  // (maxReceiveCount 5); the failure on the last receive says that no retry follows.
  it.each([
    ['1', { attempt: 1, attempts: 5, willRetry: true }, /\(attempt 1 of 5; will be retried\)/],
    ['5', { attempt: 5, attempts: 5, willRetry: false }, /failed after the last of 5 attempts; not retried again/],
  ])(
    'a retryable failure on receive %s of 5 is published saying whether SQS will retry it',
    async (receiveCount, detail, text) => {
      const base = fixture<{ Records: { attributes: Record<string, string> }[] }>('reconcile/sqs-drift-check.json')
        .Records[0]!;
      const record = { ...base, attributes: { ...base.attributes, ApproximateReceiveCount: receiveCount } };
      process.env.AWS_ENDPOINT_URL_IAM = 'http://127.0.0.1:9'; // IAM unreachable; the bus still answers
      resetRuntime();
      try {
        await fns.reconcile!({ Records: [record] }, context);
      } finally {
        delete process.env.AWS_ENDPOINT_URL_IAM;
        resetRuntime();
      }
      const failed = (await messages(busTapUrl))
        .map((m) => JSON.parse(m.Body!))
        .find((e) => e['detail-type'] === 'ReconcileFailed');
      expect(failed.detail).toMatchObject({ retryable: true, ...detail });
      expect(renderSlack({ type: 'ReconcileFailed', detail: failed.detail }).text).toMatch(text);
    },
  );
});

describe('secrets from SSM', () => {
  it('a missing parameter is named, with how to create it; under osls invoke local nothing keeps Node alive', async () => {
    const saved = process.env.WEBHOOK_SECRET_PARAM;
    process.env.WEBHOOK_SECRET_PARAM = '/astro-trust/test/no-such-parameter';
    resetRuntime();
    try {
      const mw = secrets(['webhookSecret'], 'ssm-missing-test');
      await expect(
        mw.before!({ event: {}, context: {}, internal: {}, response: undefined, error: undefined } as never),
      ).rejects.toThrow(
        /cannot read the SSM parameter \/astro-trust\/test\/no-such-parameter .*create it as SecureString/,
      );
    } finally {
      process.env.WEBHOOK_SECRET_PARAM = saved;
      resetRuntime();
    }
    expect(secretsCacheMs({ IS_LOCAL: 'true' })).toBe(-1);
    expect(secretsCacheMs({})).toBe(5 * 60_000);
  });
});

describe('backfill', () => {
  it('manual-dry-run: returns the plan of the named roles and writes nothing', async () => {
    const out = (await fns.backfill!(load('backfill/manual-dry-run.json'), context)) as {
      dryRun: boolean;
      roles: { role: string; status: string }[];
    };
    expect(out.dryRun).toBe(true);
    expect(out.roles.map((r) => r.role)).toEqual(['data-lake-reader', 'archive-writer']);
    expect(out.roles.find((r) => r.role === 'archive-writer')!.status).toBe('changes');
    expect(ownedArns(await world.trust('archive-writer'))).toContain(
      'arn:aws:iam::111928029897:role/astro-deleted-nova-9999',
    );
    expect((out as unknown as { enqueued: string[] }).enqueued).toEqual([]);
    expect(await messages(queueUrl)).toEqual([]);
  });

  it('schedule: queues one request per role on the FIFO queue (grouped by role) and writes nothing itself', async () => {
    const before = await world.trust('archive-writer');
    const out = (await fns.backfill!(load('backfill/schedule.json'), context)) as { enqueued: string[] };
    const roles = parseConfig(readFileSync(world.configFile, 'utf8'), world.configFile).roles.map((r) => r.name);
    expect(out.enqueued).toEqual(roles);
    expect(await world.trust('archive-writer')).toEqual(before);
    const queued: SQSRecordLike[] = [];
    for (let m = await messages(queueUrl); m.length > 0; m = await messages(queueUrl)) {
      for (const x of m) {
        queued.push({
          messageId: x.MessageId!,
          body: x.Body!,
          attributes: { MessageGroupId: x.Attributes!.MessageGroupId! },
        });
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: x.ReceiptHandle! }));
      }
    }
    expect(queued.map((q) => q.attributes.MessageGroupId).sort()).toEqual([...roles].sort());
    expect(queued.map((q) => JSON.parse(q.body).reason)).toEqual(roles.map(() => 'resync'));
    // The single writer converges them: the reconcile function, one message per role.
    for (const record of queued) await fns.reconcile!({ Records: [{ ...record, eventSource: 'aws:sqs' }] }, context);
    expect(ownedArns(await world.trust('archive-writer'))).not.toContain(
      'arn:aws:iam::111928029897:role/astro-deleted-nova-9999',
    );
    const types = (await messages(busTapUrl)).map((m) => JSON.parse(m.Body!)['detail-type']);
    expect(types).toContain('TrustPolicyUpdated');
  });

  it('manual-apply ({}): returns the plan and queues every role', async () => {
    const out = (await fns.backfill!(load('backfill/manual-apply.json'), context)) as {
      dryRun: boolean;
      roles: { status: string }[];
      enqueued: string[];
    };
    expect(out.dryRun).toBe(false);
    expect(out.enqueued.length).toBe(out.roles.length);
    expect((await messages(queueUrl)).length).toBeGreaterThan(0);
  });

  it('rejects input it does not understand, naming the field', async () => {
    await expect(fns.backfill!({ dryrun: true }, context)).rejects.toThrow(/backfill input: .*dryrun/);
  });
});

describe('notify', () => {
  it.each([
    [
      'notify/drift-detected.json',
      [
        'astro-intruder-0666',
        'jane.doe@example.com',
        '203.0.113.24',
        'statements restored (enforce mode); 1 finding in statements astro-trust does not own remains: a person must act',
      ],
    ],
    ['notify/trust-policy-updated.json', ['astro-stellar-comet-3141', '+1 -0']],
  ])('%s reaches Slack as Block Kit', async (path, texts) => {
    const before = slack.requests.length;
    expect(await fns.notify!(load(path), context)).toBe('sent');
    const body = slack.requests
      .slice(before)
      .map((r) => r.body)
      .join('\n');
    for (const t of texts) expect(body).toContain(t);
    expect(JSON.parse(slack.requests.at(-1)!.body).blocks.length).toBeGreaterThan(1);
  });

  it('self-tampering.json reaches Slack naming the role, the change and who made it', async () => {
    const before = slack.requests.length;
    expect(await fns.notify!(load('notify/self-tampering.json'), context)).toBe('sent');
    const body = slack.requests
      .slice(before)
      .map((r) => r.body)
      .join('\n');
    for (const t of [
      '444455556666/astro-trust-member',
      'AttachRolePolicy',
      'AdministratorAccess',
      'member-admin/mallory',
    ])
      expect(body).toContain(t);
  });

  it.each([
    [
      'forged-from-member-account.json (source astro-trust, put by a member account)',
      () => load('notify/forged-from-member-account.json'),
      /not the hub's \(123456789012\): a forged alert/,
    ],
    [
      'an IAM event forwarded by a member account',
      () => ({ ...fixture<Record<string, unknown>>('iamChange/member-role-policy-attached.json') }),
      /source aws\.iam is not astro-trust/,
    ],
    [
      'a hub event of a type astro-trust does not publish',
      () => ({ ...fixture<Record<string, unknown>>('notify/trust-policy-updated.json'), 'detail-type': 'PaymentDue' }),
      /detail-type PaymentDue is not an astro-trust event/,
    ],
  ])('drops %s: not posted, a log line and the EventsDropped metric', async (_label, event, reason) => {
    const before = slack.requests.length;
    written();
    expect(await fns.notify!(event(), context)).toBe('dropped');
    expect(slack.requests.length).toBe(before);
    const lines = written();
    expect(lines.find((l) => l.message === 'event dropped, not posted')).toMatchObject({
      level: 'WARN',
      reason: expect.stringMatching(reason),
    });
    const emf = lines.find((l) => '_aws' in l) as Record<string, unknown> | undefined;
    expect(emf).toMatchObject({ EventsDropped: 1 });
  });

  it('the same drift is not posted twice within the window', async () => {
    const before = slack.requests.length;
    expect(await fns.notify!(fixture('notify/drift-detected.json'), context)).toBe('duplicate');
    expect(slack.requests.length).toBe(before);
  });

  it('fails the invocation when Slack cannot take the alert, so EventBridge retries it into the dead-letter queue', async () => {
    slackStatus = 400;
    await expect(fns.notify!(fixture('notify/trust-policy-updated.json'), context)).rejects.toThrow(
      /Slack webhook answered 400/,
    );
  });
});

describe('watch', () => {
  it('schedule: the first run takes the snapshot; a later run queues the roles a deleted Deployment affects', async () => {
    const first = (await fns.watch!(load('watch/schedule.json'), context)) as { firstRun: boolean; changes: unknown[] };
    expect(first).toMatchObject({ firstRun: true, changes: [] });
    expect(await messages(queueUrl)).toEqual([]);
    const unchanged = (await fns.watch!(fixture('watch/schedule.json'), context)) as {
      changes: unknown[];
      requests: unknown[];
    };
    expect(unchanged).toMatchObject({ changes: [], requests: [] });
    const before = world.inventory().deployments;
    world.setInventory(before.filter((d) => d.id !== 'clmh5f1pd001008lb2n8c4v6x'));
    try {
      const later = (await fns.watch!(fixture('watch/schedule.json'), context)) as {
        changes: { type: string; deploymentId: string }[];
      };
      expect(later.changes).toEqual([
        { type: 'deployment.deleted', deploymentId: 'clmh5f1pd001008lb2n8c4v6x', changed: [] },
      ]);
      const queued = (await messages(queueUrl)).map((m) => JSON.parse(m.Body!).role).sort();
      expect(queued).toEqual(['data-lake-reader', 'reports-reader']);
    } finally {
      world.setInventory(before);
    }
  });
});

it('every fixture in events/ went through its function', () => {
  const all = readdirSync('events').flatMap((d) => readdirSync(join('events', d)).map((f) => `${d}/${f}`));
  expect(all.filter((f) => !covered.has(f))).toEqual([]);
});
