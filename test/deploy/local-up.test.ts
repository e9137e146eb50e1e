/** `npm run local:up` seeds moto with what `osls invoke local --stage local` needs, and can run twice. */
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { localUp } from '../../scripts/local-up';
import { docBlock } from '../support/docs';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';
import { REPO, runScript } from '../support/playground';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
// `osls invoke local` leaves its work folder (.esbuild/<pid>, deploy/esbuild.config.js); the ones this file made go.
const workFolders = () => (existsSync(join(REPO, '.esbuild')) ? readdirSync(join(REPO, '.esbuild')) : []);
const before = new Set(workFolders());
afterAll(async () => {
  for (const f of workFolders())
    if (!before.has(f)) rmSync(join(REPO, '.esbuild', f), { recursive: true, force: true });
  await moto?.stop();
});

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

it("runs docs/deploy.md's local loop as written: moto, local:up, and an invoke local of each function", async () => {
  // The block starts its own moto_server on port 5000 and ends it when it returns.
  const run = await runScript(docBlock('docs/deploy.md', 'local-loop'), {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      SLS_TELEMETRY_DISABLED: '1',
      npm_config_update_notifier: 'false',
    },
    timeoutMs: 240_000,
  });
  expect(run.code).toBe(0);
  // osls prints each function's result as indented JSON after its log lines (one JSON object per line): a
  // result starts at a line "{" or "[" and ends at the next line "}" or "]".
  const results: unknown[] = [];
  const lines = run.stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '{' && lines[i] !== '[') continue;
    const end = lines.findIndex((l, j) => j > i && (l === '}' || l === ']'));
    results.push(JSON.parse(lines.slice(i, end + 1).join('\n')));
    i = end;
  }
  const [backfill, iamChange, reconcile, watch] = results as [
    { dryRun: boolean; roles: { role: string; account: string; status: string }[]; enqueued: string[] },
    { enqueued?: { role: string; reason: string } },
    { batchItemFailures: unknown[] },
    { firstRun: boolean },
  ];
  expect(backfill.dryRun).toBe(true);
  expect(backfill.enqueued).toEqual([]);
  expect(backfill.roles.map((r) => [r.role, r.account, r.status])).toEqual(
    expect.arrayContaining([
      ['data-lake-reader', '123456789012', 'changes'],
      ['444455556666/data-lake-reader', '444455556666', 'changes'],
    ]),
  );
  expect(iamChange.enqueued).toMatchObject({ role: 'data-lake-reader', reason: 'iam-change' });
  expect(reconcile).toEqual({ batchItemFailures: [] });
  expect(run.stdout).toMatch(/"role":"data-lake-reader".*"outcome":"written"/);
  expect(watch.firstRun).toBe(true);
}, 300_000);
