/** `npm run local:up` seeds moto with what `osls invoke local --stage local` needs, and can run twice. */
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { localUp } from '../../scripts/local-up';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => moto?.stop());

it('creates the roles, parameters, queue, bus and table, and prints the environment to export', async () => {
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey });
  try {
    delete process.env.AWS_ENDPOINT_URL;
    await expect(localUp()).rejects.toThrow(/AWS_ENDPOINT_URL is not set: local:up only seeds a local emulator/);
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    const env = await localUp();
    await localUp();
    expect(env).toMatchObject({ EVENT_BUS_NAME: 'astro-trust-local', WATCH_TABLE: 'astro-trust-local-watch', roles: 9 });
    expect(env.RECONCILE_QUEUE_URL).toMatch(/astro-trust-local-reconcile\.fifo$/);
    const aws = { region: 'us-east-1', endpoint: moto.endpoint, credentials: TEST_CREDENTIALS };
    expect((await moto.iam().send(new GetRoleCommand({ RoleName: 'data-lake-reader' }))).Role!.RoleName).toBe('data-lake-reader');
    expect((await new SSMClient(aws).send(new GetParameterCommand({ Name: '/astro-trust/local/webhook-secret', WithDecryption: true }))).Parameter!.Value).toBe(env.ASTRO_TRUST_WEBHOOK_SECRET);
    expect((await new DynamoDBClient(aws).send(new DescribeTableCommand({ TableName: 'astro-trust-local-watch' }))).Table!.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect((await new EventBridgeClient(aws).send(new DescribeEventBusCommand({ Name: 'astro-trust-local' }))).Name).toBe('astro-trust-local');
  } finally {
    process.env = saved;
  }
});
