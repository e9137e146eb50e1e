/**
 * `npm run local:up`: seeds the AWS endpoint in AWS_ENDPOINT_URL (moto) with what the example stack needs
 * for `osls invoke local --stage local`: the example's IAM roles, the SSM parameters of stage `local`, the
 * FIFO reconcile queue, astro-trust's bus and the watch table. Prints the environment to export.
 * Refuses to run without AWS_ENDPOINT_URL, so it never touches a real account.
 */
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, EventBridgeClient, ResourceAlreadyExistsException } from '@aws-sdk/client-eventbridge';
import { CreateRoleCommand, EntityAlreadyExistsException, IAMClient } from '@aws-sdk/client-iam';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// Lambda runs Node 22; the SDK's notice about Node 20 is noise in a local run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function ignoreExisting(p: Promise<unknown>, ...kinds: (new (...a: never[]) => Error)[]) {
  try {
    await p;
  } catch (err) {
    if (!kinds.some((k) => err instanceof k)) throw err;
  }
}

type Snapshot = { RoleDetailList: { RoleName: string; AssumeRolePolicyDocument: unknown }[] };

async function createRoles(iam: IAMClient, snapshotFile: string): Promise<number> {
  const snapshot = JSON.parse(readFileSync(snapshotFile, 'utf8')) as Snapshot;
  for (const r of snapshot.RoleDetailList) {
    await ignoreExisting(
      iam.send(
        new CreateRoleCommand({
          RoleName: r.RoleName,
          AssumeRolePolicyDocument: JSON.stringify(r.AssumeRolePolicyDocument),
        }),
      ),
      EntityAlreadyExistsException,
    );
  }
  return snapshot.RoleDetailList.length;
}

/**
 * The example's roles: the home account's from iam-snapshot.json, each other account's from
 * iam-snapshot-<account>.json, created with the credentials of its member role (moto keeps IAM per
 * account and lets assumed credentials act in the assumed role's account).
 */
export async function localUp(snapshotFile = 'examples/iam-snapshot.json') {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const region = process.env.AWS_REGION || 'us-east-1';
  if (!endpoint)
    throw new Error(
      'AWS_ENDPOINT_URL is not set: local:up only seeds a local emulator (moto_server), never a real account',
    );
  const cfg = { region, endpoint };
  let roles = await createRoles(new IAMClient(cfg), snapshotFile);
  const dir = dirname(snapshotFile);
  const members = readdirSync(dir).flatMap((f) => /^iam-snapshot-(\d{12})\.json$/.exec(f)?.slice(1) ?? []);
  for (const account of members) {
    const c = (
      await new STSClient(cfg).send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${account}:role/astro-trust-member`,
          RoleSessionName: 'astro-trust',
        }),
      )
    ).Credentials!;
    const iam = new IAMClient({
      ...cfg,
      credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! },
    });
    roles += await createRoles(iam, join(dir, `iam-snapshot-${account}.json`));
  }
  const ssm = new SSMClient(cfg);
  const params = {
    'webhook-secret': `whsec_${Buffer.from('local-only-webhook-secret-32byte').toString('base64')}`,
    'astro-api-token': 'local-only-unused',
    'slack-webhook-url': '',
  };
  for (const [name, value] of Object.entries(params)) {
    if (value)
      await ssm.send(
        new PutParameterCommand({
          Name: `/astro-trust/local/${name}`,
          Type: 'SecureString',
          Value: value,
          Overwrite: true,
        }),
      );
  }
  const queueUrl = (
    await new SQSClient(cfg).send(
      new CreateQueueCommand({ QueueName: 'astro-trust-local-reconcile.fifo', Attributes: { FifoQueue: 'true' } }),
    )
  ).QueueUrl!;
  await ignoreExisting(
    new EventBridgeClient(cfg).send(new CreateEventBusCommand({ Name: 'astro-trust-local' })),
    ResourceAlreadyExistsException,
  );
  await ignoreExisting(
    new DynamoDBClient(cfg).send(
      new CreateTableCommand({
        TableName: 'astro-trust-local-watch',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    ),
    ResourceInUseException,
  );
  // The account the functions run in (the stack sets it to its own): IAM events of accounts the config does not name are ignored.
  const home = (await new STSClient(cfg).send(new GetCallerIdentityCommand({}))).Account!;
  return {
    ASTRO_TRUST_CONFIG: 'examples/astro-trust.yaml',
    ASTRO_TRUST_HOME_ACCOUNT: home,
    ASTRO_TRUST_ALLOW_EXAMPLE_CONFIG: '1',
    RECONCILE_QUEUE_URL: queueUrl,
    EVENT_BUS_NAME: 'astro-trust-local',
    WATCH_TABLE: 'astro-trust-local-watch',
    ASTRO_TRUST_WEBHOOK_SECRET: params['webhook-secret'],
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    roles,
    accounts: 1 + members.length,
  };
}

if (require.main === module) {
  localUp().then(
    ({ roles, accounts, ...env }) => {
      console.error(
        `seeded ${process.env.AWS_ENDPOINT_URL}: ${roles} IAM roles in ${accounts} accounts, SSM /astro-trust/local/*, the reconcile queue, the bus, the watch table`,
      );
      for (const [k, v] of Object.entries(env)) console.log(`export ${k}=${JSON.stringify(v)}`);
    },
    (err) => {
      console.error(`local:up: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
