/**
 * `serve` end-to-end latency against moto, sequential events:
 * signed webhook -> the new Deployment's identity visible in the role's trust policy (GetRole polled),
 * IAM-change event -> Slack message received by a local receiver.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { IamTrustStore } from '../src/adapters/aws/iam';
import { FileInventory } from '../src/adapters/astro/inventory-file';
import { SlackNotifier } from '../src/adapters/slack/notifier';
import { signStandard } from '../src/app/webhook';
import { startServer } from '../src/cli/serve';
import { parseConfig } from '../src/config/config';
import { fakeService } from '../test/support/http';
import { startMoto } from '../test/support/moto';
import { ms, percentile, table } from './lib';

const ORG = 'bench-org';
const BENCH_SECRET = `whsec_${Buffer.from('astro-trust-bench-webhook-secret').toString('base64')}`;
const dep = (i: number) => ({
  id: `clbenchsrv${String(i).padStart(6, '0')}`,
  name: `serve-bench-${i}`,
  namespace: `serve-bench-${i}`,
  workspaceId: 'clwsbench',
  effectiveWorkloadIdentity: `arn:aws:iam::111928029897:role/astro-serve-bench-${i}`,
});

export async function benchServe(events: number) {
  const moto = await startMoto();
  const iam = moto.iam();
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-serve-bench-'));
  const inventoryFile = join(dir, 'deployments.json');
  const writeInventory = (n: number) =>
    writeFileSync(
      inventoryFile,
      JSON.stringify({
        deployments: Array.from({ length: n }, (_, i) => dep(i)),
        limit: 1000,
        offset: 0,
        totalCount: n,
      }),
    );
  writeInventory(0);
  const config = parseConfig(
    `version: 1\norganizationId: ${ORG}\ninventory: { source: file, path: ./deployments.json }\nroles:\n  - { name: bench-wi, trust: workload-identity, maxPolicyChars: 100000, maxRemovals: 1000, deployments: [{ name: "serve-bench-*" }] }\n`,
    join(dir, 'astro-trust.yaml'),
  );
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'bench-wi',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
    }),
  );
  let slackWaiter: (() => void) | undefined;
  const slack = await fakeService((_req, res) => {
    res.writeHead(200);
    res.end('ok');
    slackWaiter?.();
  });
  const server = await startServer({
    eventsToken: 'bench-events-token',
    config,
    store: new IamTrustStore(iam, { verifyDelayMs: 5 }),
    inventory: new FileInventory(inventoryFile),
    notifier: new SlackNotifier({ webhookUrl: slack.url, dedupWindowMs: 0 }),
    secrets: [BENCH_SECRET],
    selfArns: [],
    homeAccount: '123456789012', // moto's account
    port: 0,
    resyncIntervalMs: 0,
    resyncAtStart: false,
  });
  const policyText = async () =>
    decodeURIComponent((await iam.send(new GetRoleCommand({ RoleName: 'bench-wi' }))).Role!.AssumeRolePolicyDocument!);
  try {
    const webhook: number[] = [];
    for (let i = 0; i < events; i++) {
      writeInventory(i + 1);
      const body = JSON.stringify({
        id: `evt_bench_${i}`,
        type: 'deployment.created',
        deploymentId: dep(i).id,
        organizationId: ORG,
        occurredAt: new Date().toISOString(),
      });
      const started = performance.now();
      const res = await fetch(`${server.url}/webhooks/astro`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...signStandard(BENCH_SECRET, `evt_bench_${i}`, body, Math.floor(Date.now() / 1000)),
        },
        body,
      });
      if (res.status !== 202) throw new Error(`webhook ${i}: ${res.status} ${await res.text()}`);
      while (!(await policyText()).includes(dep(i).effectiveWorkloadIdentity))
        await new Promise((r) => setTimeout(r, 2));
      webhook.push(performance.now() - started);
    }
    await server.queue.drained();

    const drift: number[] = [];
    for (let i = 0; i < events; i++) {
      const doc = JSON.parse(await policyText());
      doc.Statement.find((s: { Sid?: string }) => s.Sid === 'AstroTrustWorkloadIdentity').Principal.AWS.push(
        `arn:aws:iam::111928029897:role/astro-intruder-${i}`,
      );
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'bench-wi', PolicyDocument: JSON.stringify(doc) }));
      const envelope = {
        source: 'aws.iam',
        'detail-type': 'AWS API Call via CloudTrail',
        detail: {
          eventName: 'UpdateAssumeRolePolicy',
          eventTime: new Date().toISOString(),
          eventID: `bench-${i}`,
          sourceIPAddress: '203.0.113.24',
          userAgent: 'bench',
          requestParameters: { roleName: 'bench-wi' },
          userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::123456789012:user/bench' },
        },
      };
      const received = new Promise<void>((r) => (slackWaiter = r));
      const started = performance.now();
      await fetch(`${server.url}/events/eventbridge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bench-events-token' },
        body: JSON.stringify(envelope),
      });
      await received;
      drift.push(performance.now() - started);
      await server.queue.drained();
    }
    const row = (name: string, xs: number[]) => [
      name,
      xs.length,
      ms(percentile(xs, 50)),
      ms(percentile(xs, 95)),
      ms(Math.max(...xs)),
    ];
    table(
      `serve end to end against moto (loopback), ${events} sequential events each`,
      ['path', 'events', 'p50 ms', 'p95 ms', 'max ms'],
      [
        row('signed webhook -> trust visible in IAM', webhook),
        row('IAM-change event -> Slack message received', drift),
      ],
    );
  } finally {
    await server.close();
    await slack.close();
    await moto.stop();
  }
}
