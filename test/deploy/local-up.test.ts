/** `npm run local:up` seeds moto with what `osls invoke local --stage local` needs, and can run twice. */
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { localUp } from '../../scripts/local-up';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => moto?.stop());

it('creates the roles, parameters, queue, bus and table, and prints the environment to export', async () => {
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  });
  try {
    delete process.env.AWS_ENDPOINT_URL;
    await expect(localUp()).rejects.toThrow(/AWS_ENDPOINT_URL is not set: local:up only seeds a local emulator/);
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    const env = await localUp();
    await localUp();
    expect(env).toMatchObject({
      EVENT_BUS_NAME: 'astro-trust-local',
      WATCH_TABLE: 'astro-trust-local-watch',
      roles: 10,
      accounts: 2,
    });
    // The example's role in its second account, created there (DESIGN 3.6).
    expect(
      (await (await moto.iamIn('444455556666')).send(new GetRoleCommand({ RoleName: 'data-lake-reader' }))).Role!.Arn,
    ).toBe('arn:aws:iam::444455556666:role/data-lake-reader');
    expect(env.RECONCILE_QUEUE_URL).toMatch(/astro-trust-local-reconcile\.fifo$/);
    const aws = { region: 'us-east-1', endpoint: moto.endpoint, credentials: TEST_CREDENTIALS };
    expect((await moto.iam().send(new GetRoleCommand({ RoleName: 'data-lake-reader' }))).Role!.RoleName).toBe(
      'data-lake-reader',
    );
    expect(
      (
        await new SSMClient(aws).send(
          new GetParameterCommand({ Name: '/astro-trust/local/webhook-secret', WithDecryption: true }),
        )
      ).Parameter!.Value,
    ).toBe(env.ASTRO_TRUST_WEBHOOK_SECRET);
    expect(
      (await new DynamoDBClient(aws).send(new DescribeTableCommand({ TableName: 'astro-trust-local-watch' }))).Table!
        .KeySchema,
    ).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(
      (await new EventBridgeClient(aws).send(new DescribeEventBusCommand({ Name: 'astro-trust-local' }))).Name,
    ).toBe('astro-trust-local');
  } finally {
    process.env = saved;
  }
});

it('osls invoke local --stage local runs the backfill against it, in both accounts of the example, and exits', async () => {
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_REGION: 'us-east-1',
  });
  try {
    const seeded: Record<string, unknown> = await localUp();
    const env = Object.fromEntries(Object.entries(seeded).filter(([, v]) => typeof v === 'string')) as Record<
      string,
      string
    >;
    // The command docs/deploy.md gives; it must return (no timer keeping Node alive) with the plan.
    const { stdout } = await promisify(execFile)(
      'npx',
      ['osls', 'invoke', 'local', '--stage', 'local', '-f', 'backfill', '-p', 'events/backfill/manual-dry-run.json'],
      {
        env: { ...process.env, ...env, SLS_TELEMETRY_DISABLED: '1' },
        timeout: 60_000,
      },
    );
    // The function's log lines (one JSON object each) come first; osls prints the result indented, from a line "{".
    const lines = stdout.split('\n');
    const plan = JSON.parse(lines.slice(lines.indexOf('{')).join('\n')) as {
      dryRun: boolean;
      roles: { role: string; account: string; status: string }[];
    };
    expect(plan.dryRun).toBe(true);
    expect(plan.roles.map((r) => [r.role, r.account, r.status])).toEqual([
      // "data-lake-reader" in the input names that role in every account.
      ['data-lake-reader', '123456789012', 'changes'],
      ['archive-writer', '123456789012', 'changes'],
      ['444455556666/data-lake-reader', '444455556666', 'changes'],
    ]);
  } finally {
    process.env = saved;
  }
}, 90_000);
