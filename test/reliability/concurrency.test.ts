/** Concurrency: no lost update when many events hit one role at once; one writer per role on Lambda too. */
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, UpdateAssumeRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { countCommands, IamTrustStore } from '../../src/adapters/aws/iam';
import { FileInventory } from '../../src/adapters/astro/inventory-file';
import type { Delivery, Notifier } from '../../src/adapters/slack/notifier';
import { sqsEntry } from '../../src/adapters/aws/sqs-queue';
import { signStandard } from '../../src/app/webhook';
import { testSecret } from '../support/world';

const SECRET = testSecret('concurrency');
import { startServer, type Server } from '../../src/cli/serve';
import { parseConfig } from '../../src/config/config';
import type { AstroTrustEvent } from '../../src/domain/events';
import { isOwned, parseTrustPolicy, policyChars } from '../../src/domain/policy';
import { startMoto, type Moto } from '../support/moto';

const N = 100;
const dep = (i: number) => ({
  id: `clconc${String(i).padStart(6, '0')}`,
  name: `conc-${i}`,
  namespace: `conc-ns-${i}`,
  workspaceId: 'clwsconc',
  effectiveWorkloadIdentity: `arn:aws:iam::111928029897:role/astro-conc-ns-${i}`,
});
const glue = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
};

let moto: Moto;
let iam: IAMClient;
let counts: Map<string, number>;
let server: Server;
let inventoryFile: string;
const events: AstroTrustEvent[] = [];
// Written whole, then renamed: a reader never sees half a file (as with the Astro API, a listing is all or nothing).
const writeInventory = (n: number) => {
  writeFileSync(
    `${inventoryFile}.tmp`,
    JSON.stringify({ deployments: Array.from({ length: n }, (_, i) => dep(i)), limit: 1000, offset: 0, totalCount: n }),
  );
  renameSync(`${inventoryFile}.tmp`, inventoryFile);
};

const arns = async (role: string) => {
  const doc = parseTrustPolicy((await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument);
  return {
    doc,
    arns: ([] as string[]).concat(
      (doc.Statement.find(isOwned)?.Principal as { AWS?: string[] } | undefined)?.AWS ?? [],
    ),
  };
};

beforeAll(async () => {
  moto = await startMoto();
  iam = moto.iam();
  counts = countCommands(iam);
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-conc-'));
  inventoryFile = join(dir, 'deployments.json');
  writeInventory(0);
  const config = parseConfig(
    'version: 1\norganizationId: org\ninventory: { source: file, path: ./deployments.json }\nroles:\n' +
      '  - { name: conc, trust: workload-identity, maxPolicyChars: 100000, maxRemovals: 200, deployments: [{ name: "conc-*" }] }\n' +
      '  - { name: conc-small, trust: workload-identity, deployments: [{ name: "conc-*" }] }\n',
    join(dir, 'astro-trust.yaml'),
  );
  for (const role of ['conc', 'conc-small'])
    await iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: JSON.stringify(glue) }));
  counts.clear();
  const notifier: Notifier = { notify: async (e): Promise<Delivery> => (events.push(e), 'logged') };
  server = await startServer({
    eventsToken: 'test-events-token',
    config,
    store: new IamTrustStore(iam, { verifyDelayMs: 1 }),
    inventory: new FileInventory(join(dir, 'deployments.json')),
    notifier,
    secrets: [SECRET],
    selfArns: [],
    homeAccount: '123456789012', // moto's account
    port: 0,
    resyncIntervalMs: 0,
    resyncAtStart: false,
  });
});
afterAll(async () => {
  await server?.close();
  await moto?.stop();
});

describe('concurrency', () => {
  it(`${N} webhooks for ${N} Deployments sent at once to one role: all ${N} trusted, no lost update`, async () => {
    const now = Math.floor(Date.now() / 1000);
    // Each Deployment appears in the inventory just before its webhook, while earlier reconciles are
    // still reading and writing: a reconcile that read an older inventory must be followed by another.
    const inflight: Promise<number>[] = [];
    for (let i = 0; i < N; i++) {
      writeInventory(i + 1);
      const body = JSON.stringify({
        id: `evt_c${i}`,
        type: 'deployment.created',
        deploymentId: dep(i).id,
        organizationId: 'org',
        occurredAt: new Date().toISOString(),
      });
      inflight.push(
        fetch(`${server.url}/webhooks/astro`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...signStandard(SECRET, JSON.parse(body).id, body, now) },
          body,
        }).then((r) => r.status),
      );
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 3));
    }
    const statuses = await Promise.all(inflight);
    expect(new Set(statuses)).toEqual(new Set([202]));
    await server.queue.drained();
    const { doc, arns: trusted } = await arns('conc');
    expect(new Set(trusted)).toEqual(new Set(Array.from({ length: N }, (_, i) => dep(i).effectiveWorkloadIdentity)));
    expect(doc.Statement[0]).toEqual(glue.Statement[0]);
    if (process.env.ASTRO_TRUST_REPORT)
      console.log(
        JSON.stringify({
          webhooks: N,
          writes: counts.get('UpdateAssumeRolePolicyCommand'),
          reads: counts.get('GetRoleCommand'),
        }),
      );
    // Requests waiting for the same role merge: fewer writes than webhooks.
    expect(counts.get('UpdateAssumeRolePolicyCommand')!).toBeLessThan(N);
  });

  it('the role under the default size quota is written with what fits, oldest first, and notFitting names exactly the rest', async () => {
    const { doc, arns: trusted } = await arns('conc-small');
    // Written with what fits, never past the quota.
    expect(policyChars(doc)).toBeLessThanOrEqual(2048);
    const tooLarge = events.filter((e) => e.type === 'TrustPolicyTooLarge' && e.detail.role === 'conc-small').at(-1)!;
    const detail = tooLarge.detail as { deploymentsNotFitting: { id: string; name: string }[]; message: string };
    const notFitting = detail.deploymentsNotFitting.map((d) => d.id);
    const ids = Array.from({ length: N }, (_, i) => dep(i).id).sort();
    const byArn = new Map(Array.from({ length: N }, (_, i) => [dep(i).effectiveWorkloadIdentity, dep(i).id]));
    const trustedIds = trusted.map((a) => byArn.get(a)!);
    expect(trusted.length).toBeGreaterThan(0);
    expect(notFitting.length).toBeGreaterThan(0);
    // Exact: the Deployments named as not fitting are precisely the ones IAM does not trust.
    expect(new Set([...trustedIds, ...notFitting])).toEqual(new Set(ids));
    expect(trustedIds.filter((id) => notFitting.includes(id))).toEqual([]);
    // No createdAt in this inventory: oldest first falls back to id order, so the trusted ones are a prefix.
    expect(trustedIds.sort()).toEqual(ids.slice(0, trustedIds.length));
    expect(detail.deploymentsNotFitting[0]!.name).toBe(dep(ids.indexOf(notFitting[0]!)).name);
  });

  it('webhook, IAM-change and resync requests interleaved for one role converge to the declared trust', async () => {
    const { doc } = await arns('conc');
    const now = Math.floor(Date.now() / 1000);
    const rounds = 10;
    await Promise.all(
      Array.from({ length: rounds }, async (_, i) => {
        const edited = structuredClone(doc);
        (edited.Statement.find(isOwned)!.Principal as { AWS: string[] }).AWS.push(
          `arn:aws:iam::111928029897:role/astro-intruder-${i}`,
        );
        await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'conc', PolicyDocument: JSON.stringify(edited) }));
        const envelope = {
          source: 'aws.iam',
          'detail-type': 'AWS API Call via CloudTrail',
          detail: {
            eventName: 'UpdateAssumeRolePolicy',
            eventTime: new Date().toISOString(),
            eventID: `ct-${i}`,
            requestParameters: { roleName: 'conc' },
            userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::123456789012:user/someone' },
          },
        };
        const body = JSON.stringify({
          id: `evt_i${i}`,
          type: 'deployment.updated',
          deploymentId: dep(i).id,
          organizationId: 'org',
          occurredAt: new Date().toISOString(),
        });
        await Promise.all([
          fetch(`${server.url}/events/eventbridge`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer test-events-token' },
            body: JSON.stringify(envelope),
          }),
          fetch(`${server.url}/webhooks/astro`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...signStandard(SECRET, JSON.parse(body).id, body, now) },
            body,
          }),
          server.queue.enqueue([{ role: 'conc', reason: 'resync' }]),
        ]);
      }),
    );
    await server.queue.drained();
    // The last hand edit may have landed after the last reconcile read: one more resync settles it, as the schedule would.
    await server.queue.enqueue([{ role: 'conc', reason: 'resync' }]);
    await server.queue.drained();
    const after = await arns('conc');
    expect(after.arns.filter((a) => a.includes('intruder'))).toEqual([]);
    expect(after.arns).toHaveLength(N);
  });
});

describe('one writer per role on Lambda', () => {
  it('groups SQS FIFO messages by role and deduplicates by source event', () => {
    const a = sqsEntry({ role: 'r1', reason: 'webhook', sourceEventId: 'evt_1' }, 0);
    const b = sqsEntry({ role: 'r1', reason: 'webhook', sourceEventId: 'evt_1' }, 1);
    const c = sqsEntry({ role: 'r2', reason: 'webhook', sourceEventId: 'evt_1' }, 2);
    const d = sqsEntry({ role: 'r1', reason: 'resync' }, 3);
    const e = sqsEntry({ role: 'r1', reason: 'resync' }, 4);
    expect([a.MessageGroupId, c.MessageGroupId]).toEqual(['r1', 'r2']);
    expect(a.MessageDeduplicationId).toBe(b.MessageDeduplicationId);
    expect(a.MessageDeduplicationId).not.toBe(c.MessageDeduplicationId);
    // Requests without a source event are never dropped as duplicates.
    expect(d.MessageDeduplicationId).not.toBe(e.MessageDeduplicationId);
  });
});
