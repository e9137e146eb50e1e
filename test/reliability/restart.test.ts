/**
 * Nothing accepted is lost (DESIGN 6.4): `astro-trust serve` answers 202 to 50 webhooks while IAM is too
 * slow to act on them, is killed with SIGKILL, and is started again with no periodic resync and no watch.
 * With no new webhook, the resync it queues at start converges the role within 30 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import { signStandard } from '../../src/app/webhook';
import { isOwned, parseTrustPolicy } from '../../src/domain/policy';
import { faultProxy, type FaultProxy } from '../support/fault-proxy';
import { apiDeployment } from '../support/fixtures';
import { freePort, startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';
import { testSecret } from '../support/world';

const SECRET = testSecret('restart');

const N = 50;
const deployments = Array.from({ length: N }, (_, i) => apiDeployment(i));
let moto: Moto;
let proxy: FaultProxy;
let iam: IAMClient;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  moto = await startMoto();
  proxy = await faultProxy(moto.endpoint);
  iam = moto.iam();
  dir = mkdtempSync(join(tmpdir(), 'astro-trust-restart-'));
  writeFileSync(join(dir, 'deployments.json'), JSON.stringify({ deployments, totalCount: N }));
  writeFileSync(
    join(dir, 'astro-trust.yaml'),
    'version: 1\norganizationId: org\ninventory: { source: file, path: ./deployments.json }\nroles:\n  - { name: restart-role, trust: workload-identity, maxPolicyChars: 20000, deployments: [{ workspaceId: clws0000000001 }] }\n',
  );
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'restart-role',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await proxy?.close();
  await moto?.stop();
});

/** `astro-trust serve` as its own process; resolves once it listens. */
async function serve(endpoint: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/bin.ts',
      'serve',
      '--config',
      join(dir, 'astro-trust.yaml'),
      '--port',
      String(port),
      '--resync-interval',
      '0',
      '--watch-interval',
      '0',
      '--dead-letters',
      join(dir, 'dead.jsonl'),
    ],
    {
      env: {
        ...process.env,
        ASTRO_TRUST_WEBHOOK_SECRET: SECRET,
        // moto's account: serve would otherwise ask STS at start, through the proxy that plays a slow IAM.
        ASTRO_TRUST_HOME_ACCOUNT: '123456789012',
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        SLACK_WEBHOOK_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  return child;
}

const trustedCount = async () => {
  const doc = parseTrustPolicy(
    (await iam.send(new GetRoleCommand({ RoleName: 'restart-role' }))).Role!.AssumeRolePolicyDocument,
  );
  return ([] as string[]).concat(
    (doc.Statement.find(isOwned)?.Principal as { AWS?: string | string[] } | undefined)?.AWS ?? [],
  ).length;
};

describe('serve killed with SIGKILL after accepting webhooks', () => {
  it('converges after a restart within 30 s, with no new webhook', async () => {
    // IAM answers nothing for 20 s: the reconciles behind the 202s cannot finish before the kill.
    proxy.chaos = { rate: 1, kinds: ['slow'], slowMs: 20_000, seed: 7 };
    const port = await freePort();
    const first = await serve(proxy.url, port);
    const now = Math.floor(Date.now() / 1000);
    const statuses = await Promise.all(
      deployments.map((d, i) => {
        const body = JSON.stringify({
          id: `evt_kill_${i}`,
          type: 'deployment.created',
          deploymentId: d.id,
          organizationId: 'org',
          occurredAt: new Date().toISOString(),
        });
        return fetch(`http://127.0.0.1:${port}/webhooks/astro`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...signStandard(SECRET, `evt_kill_${i}`, body, now),
          },
          body,
        }).then((r) => r.status);
      }),
    );
    expect(statuses).toEqual(Array(N).fill(202));
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    proxy.chaos = undefined;
    expect(await trustedCount()).toBe(0);

    const started = Date.now();
    const second = await serve(moto.endpoint, await freePort());
    let count = 0;
    while (Date.now() - started < 30_000 && (count = await trustedCount()) < N)
      await new Promise((r) => setTimeout(r, 100));
    const took = Date.now() - started;
    second.kill('SIGTERM');
    expect(count).toBe(N);
    expect(took).toBeLessThan(30_000);
    if (process.env.ASTRO_TRUST_REPORT) console.log(JSON.stringify({ webhooks: N, msToConvergeAfterRestart: took }));
  }, 90_000);
});
