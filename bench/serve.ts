/**
 * `serve` end-to-end latency against moto, sequential events:
 * signed webhook -> the new Deployment's identity visible in the role's trust policy (GetRole polled),
 * IAM-change event -> Slack message received by a local receiver.
 * Each path is measured twice in the same run, events interleaved: `serve` with its journal on disk
 * (fsync'd, a directory under the system temp dir) and `serve` with the journal in memory, so the table
 * shows what the journal costs (DESIGN 7.2).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, UpdateAssumeRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { IamTrustStore } from '../src/adapters/aws/iam';
import { FileInventory } from '../src/adapters/astro/inventory-file';
import { Journal } from '../src/adapters/local/journal';
import { SlackNotifier } from '../src/adapters/slack/notifier';
import { signStandard } from '../src/app/webhook';
import { startServer, type Server } from '../src/cli/serve';
import { parseConfig } from '../src/config/config';
import { fakeService } from '../test/support/http';
import { startMoto } from '../test/support/moto';
import { ms, percentile, table } from './lib';

const ORG = 'bench-org';
const BENCH_SECRET = `whsec_${Buffer.from('astro-trust-bench-webhook-secret').toString('base64')}`;

interface Variant {
  name: string;
  role: string;
  server: Server;
  journal: Journal | undefined;
  dep(i: number): { id: string; effectiveWorkloadIdentity: string };
  writeInventory(n: number): void;
  policyText(): Promise<string>;
  webhook: number[];
  drift: number[];
}

async function variant(
  iam: IAMClient,
  slackUrl: string,
  name: string,
  role: string,
  onDisk: boolean,
): Promise<Variant> {
  const dir = mkdtempSync(join(tmpdir(), `astro-trust-serve-bench-${role}-`));
  const dep = (i: number) => ({
    id: `cl${role.replace(/-/g, '')}${String(i).padStart(6, '0')}`,
    name: `${role}-${i}`,
    namespace: `${role}-${i}`,
    workspaceId: 'clwsbench',
    effectiveWorkloadIdentity: `arn:aws:iam::111928029897:role/astro-${role}-${i}`,
  });
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
    `version: 1\norganizationId: ${ORG}\ninventory: { source: file, path: ./deployments.json }\nroles:\n  - { name: ${role}, trust: workload-identity, maxPolicyChars: 100000, maxRemovals: 1000, deployments: [{ name: "${role}-*" }] }\n`,
    join(dir, 'astro-trust.yaml'),
  );
  await iam.send(
    new CreateRoleCommand({
      RoleName: role,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
    }),
  );
  const journal = onDisk ? await Journal.open(join(dir, '.astro-trust')) : undefined;
  const server = await startServer({
    eventsToken: 'bench-events-token',
    config,
    store: new IamTrustStore(iam, { verifyDelayMs: 5 }),
    inventory: new FileInventory(inventoryFile),
    notifier: new SlackNotifier({
      webhookUrl: slackUrl,
      dedupWindowMs: 0,
      ...(journal ? { dedup: journal.claims } : {}),
    }),
    secrets: [BENCH_SECRET],
    selfArns: [],
    homeAccount: '123456789012', // moto's account
    port: 0,
    resyncIntervalMs: 0,
    resyncAtStart: false,
    ...(journal ? { journal } : {}),
  });
  const policyText = async () =>
    decodeURIComponent((await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument!);
  return { name, role, server, journal, dep, writeInventory, policyText, webhook: [], drift: [] };
}

export async function benchServe(events: number) {
  const moto = await startMoto();
  const iam = moto.iam();
  let slackWaiter: (() => void) | undefined;
  const slack = await fakeService((_req, res) => {
    res.writeHead(200);
    res.end('ok');
    slackWaiter?.();
  });
  const variants = [
    await variant(iam, slack.url, 'journal on disk (fsync)', 'bench-journal', true),
    await variant(iam, slack.url, 'journal in memory', 'bench-memory', false),
  ];
  try {
    for (let i = 0; i < events; i++) {
      // Interleaved, and the order swapped every event: both see the same machine at the same time.
      for (const v of i % 2 ? [...variants].reverse() : variants) {
        v.writeInventory(i + 1);
        const body = JSON.stringify({
          id: `evt_bench_${v.role}_${i}`,
          type: 'deployment.created',
          deploymentId: v.dep(i).id,
          organizationId: ORG,
          occurredAt: new Date().toISOString(),
        });
        const started = performance.now();
        const res = await fetch(`${v.server.url}/webhooks/astro`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...signStandard(BENCH_SECRET, `evt_bench_${v.role}_${i}`, body, Math.floor(Date.now() / 1000)),
          },
          body,
        });
        if (res.status !== 202) throw new Error(`webhook ${i}: ${res.status} ${await res.text()}`);
        while (!(await v.policyText()).includes(v.dep(i).effectiveWorkloadIdentity))
          await new Promise((r) => setTimeout(r, 2));
        v.webhook.push(performance.now() - started);
        await v.server.settled();
      }
    }

    for (let i = 0; i < events; i++) {
      for (const v of i % 2 ? [...variants].reverse() : variants) {
        const doc = JSON.parse(await v.policyText());
        doc.Statement.find((s: { Sid?: string }) => s.Sid === 'AstroTrustWorkloadIdentity').Principal.AWS.push(
          `arn:aws:iam::111928029897:role/astro-intruder-${i}`,
        );
        await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: v.role, PolicyDocument: JSON.stringify(doc) }));
        const envelope = {
          source: 'aws.iam',
          'detail-type': 'AWS API Call via CloudTrail',
          detail: {
            eventName: 'UpdateAssumeRolePolicy',
            eventTime: new Date().toISOString(),
            eventID: `bench-${v.role}-${i}`,
            sourceIPAddress: '203.0.113.24',
            userAgent: 'bench',
            requestParameters: { roleName: v.role },
            userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::123456789012:user/bench' },
          },
        };
        const received = new Promise<void>((r) => (slackWaiter = r));
        const started = performance.now();
        await fetch(`${v.server.url}/events/eventbridge`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer bench-events-token' },
          body: JSON.stringify(envelope),
        });
        await received;
        v.drift.push(performance.now() - started);
        await v.server.settled();
      }
    }
    const row = (path: string, v: Variant, xs: number[]) => [
      path,
      v.name,
      xs.length,
      ms(percentile(xs, 50)),
      ms(percentile(xs, 95)),
      ms(Math.max(...xs)),
    ];
    const [disk, memory] = variants as [Variant, Variant];
    table(
      `serve end to end against moto (loopback), ${events} sequential events each, the two variants interleaved`,
      ['path', 'serve', 'events', 'p50 ms', 'p95 ms', 'max ms'],
      [
        row('signed webhook -> trust visible in IAM', disk, disk.webhook),
        row('signed webhook -> trust visible in IAM', memory, memory.webhook),
        row('IAM-change event -> Slack message received', disk, disk.drift),
        row('IAM-change event -> Slack message received', memory, memory.drift),
      ],
    );
    const cost = (p: number, a: number[], b: number[]) => ms(percentile(a, p) - percentile(b, p));
    table(
      "the journal's cost (on disk minus in memory, same run)",
      ['path', 'p50 ms', 'p95 ms'],
      [
        [
          'signed webhook -> trust visible in IAM',
          cost(50, disk.webhook, memory.webhook),
          cost(95, disk.webhook, memory.webhook),
        ],
        [
          'IAM-change event -> Slack message received',
          cost(50, disk.drift, memory.drift),
          cost(95, disk.drift, memory.drift),
        ],
      ],
    );
  } finally {
    for (const v of variants) {
      await v.server.close();
      await v.journal?.close();
    }
    await slack.close();
    await moto.stop();
  }
}
