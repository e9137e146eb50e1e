/** Lean bundles: each function bundles only the AWS clients it calls (esbuild's metafile says which). */
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { awsClientsIn } from '../../bench/functions';

const clientsOf = async (fn: string) => {
  const out = await build({
    entryPoints: [resolve('functions', `${fn}.ts`)],
    bundle: true,
    write: false,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    mainFields: ['module', 'main'],
    logLevel: 'error',
    metafile: true,
  });
  return awsClientsIn(out.metafile);
};

describe('function bundles', () => {
  it.each([
    ['webhook', ['dynamodb', 'sqs', 'ssm']],
    // iamChange publishes a SelfTampering alert on the bus when astro-trust's own roles change.
    ['iamChange', ['eventbridge', 'sqs']],
    ['reconcile', ['dynamodb', 'eventbridge', 'iam', 'ssm', 'sts']],
    ['backfill', ['dynamodb', 'eventbridge', 'iam', 'sqs', 'ssm', 'sts']],
    ['watch', ['dynamodb', 'eventbridge', 'sqs', 'ssm']],
    ['notify', ['dynamodb', 'ssm']],
  ])(
    '%s bundles exactly the clients it calls: %j',
    async (fn, clients) => {
      expect(await clientsOf(fn)).toEqual(clients);
    },
    60_000,
  );
});
