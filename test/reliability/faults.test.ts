/**
 * Faults: IAM behind a proxy that throttles, fails, slows and drops at a chosen rate; the Astro API
 * failing in every documented way; Slack refusing. Converges, bounded retries, nothing half-written,
 * failures reported, no principal removed on a failed listing, every alert delivered or dead-lettered.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import { AstroApiInventory } from '../../src/adapters/astro/api';
import { countCommands, createIamClient, IamTrustStore } from '../../src/adapters/aws/iam';
import { FileInventory } from '../../src/adapters/astro/inventory-file';
import { FileDeadLetters, SlackNotifier } from '../../src/adapters/slack/notifier';
import { applyPlan, planRoles, reconcileRole } from '../../src/app/reconcile';
import { parseConfig } from '../../src/config/config';
import type { AstroTrustEvent } from '../../src/domain/events';
import { parseTrustPolicy, samePolicy } from '../../src/domain/policy';
import { faultProxy, type FaultProxy } from '../support/fault-proxy';
import { apiDeployment } from '../support/fixtures';
import { clustersPage, isClustersRequest } from '../support/astro-api';
import { fakeService, json, type FakeService } from '../support/http';
import { startMoto, TEST_CREDENTIALS, type Moto } from '../support/moto';

const ROLES = 30;
const D = 60;
const glue = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
};
const deployments = Array.from({ length: D }, (_, i) => apiDeployment(i, { workspaceId: `clws${i % ROLES}` }));

let moto: Moto;
let proxy: FaultProxy;
let direct: IAMClient;
let dir: string;
const configText = (source: string) =>
  `version: 1\norganizationId: org\ninventory: ${source}\nroles:\n${Array.from({ length: ROLES }, (_, i) => `  - { name: fault-${i}, trust: ${i % 5 === 0 ? 'oidc' : 'workload-identity'}, deployments: [{ workspaceId: clws${i} }] }`).join('\n')}\n`;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await faultProxy(moto.endpoint);
  direct = moto.iam();
  dir = mkdtempSync(join(tmpdir(), 'astro-trust-faults-'));
  writeFileSync(join(dir, 'deployments.json'), JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: D }));
  for (let i = 0; i < ROLES; i++)
    await direct.send(
      new CreateRoleCommand({ RoleName: `fault-${i}`, AssumeRolePolicyDocument: JSON.stringify(glue) }),
    );
});
afterAll(async () => {
  await proxy?.close();
  await moto?.stop();
});

const trust = async (role: string) =>
  parseTrustPolicy((await direct.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument);

describe('IAM faults at a 25% rate (Throttling, 500, slow, dropped connections)', () => {
  it('apply converges; each role ends either untouched or fully written; retries are bounded; failures are reported', async () => {
    const config = parseConfig(configText('{ source: file, path: ./deployments.json }'), join(dir, 'astro-trust.yaml'));
    const client = createIamClient({
      region: 'us-east-1',
      endpoint: proxy.url,
      credentials: TEST_CREDENTIALS,
      requestHandler: { requestTimeout: 2_000 },
    });
    const store = new IamTrustStore(client, { attempts: 6, baseDelayMs: 5, maxDelayMs: 50, verifyDelayMs: 5 });
    proxy.chaos = { rate: 0.25, kinds: ['throttle', '500', 'slow', 'drop'], slowMs: 150, seed: 20261125 };
    const runs: { written: number; failed: number; messages: string[] }[] = [];
    for (let run = 0; run < 3; run++) {
      const plan = await planRoles({ config, inventory: new FileInventory(join(dir, 'deployments.json')), store });
      const result = await applyPlan(plan, store);
      runs.push({
        written: result.outcomes.filter((o) => o.result === 'written').length,
        failed: result.outcomes.filter((o) => o.result === 'failed').length,
        messages: result.outcomes.flatMap((o) => ('message' in o ? [o.message] : [])),
      });
      // Whatever happened, no role holds a mix: its policy is the original or the planned one.
      for (const r of plan.roles) {
        const now = await trust(r.role);
        expect(samePolicy(now, r.current!) || samePolicy(now, r.proposed!)).toBe(true);
      }
      if (result.converged) break;
    }
    proxy.chaos = undefined;
    const injected = Object.values(proxy.injected).reduce((a, b) => a + b, 0);
    if (process.env.ASTRO_TRUST_REPORT)
      console.log(JSON.stringify({ calls: proxy.actions.length, injected: proxy.injected, runs }));
    expect(injected).toBeGreaterThan(20);
    const last = runs.at(-1)!;
    expect(last.failed).toBe(0);
    for (const m of runs.flatMap((r) => r.messages))
      expect(m).toMatch(/still failing after \d+ attempts|read back|Throttling|ServiceFailure/);
    // Converged: a clean plan finds nothing to do.
    const clean = new IamTrustStore(direct);
    const after = await planRoles({
      config,
      inventory: new FileInventory(join(dir, 'deployments.json')),
      store: clean,
    });
    expect(after.roles.filter((r) => r.status !== 'in-sync').map((r) => r.role)).toEqual([]);
    // Bounded: no call was tried more than 12 times (6 for errors other than Throttling), so the total stays
    // under 12x the calls a clean run makes.
    expect(proxy.actions.length).toBeLessThan(12 * (ROLES * 3 + 10) * runs.length);
  }, 120_000);
});

describe('Astro API failures never remove a principal', () => {
  let api: FakeService;
  let mode: 'ok' | '401' | '500' | 'hang' | 'missing-page' = 'ok';
  beforeAll(async () => {
    api = await fakeService((req, res) => {
      const q = new URL(req.url, 'http://x').searchParams;
      const offset = Number(q.get('offset'));
      if (mode === '401') return json(res, 401, {});
      if (mode === '500') return json(res, 500, {});
      if (mode === 'hang') return;
      if (isClustersRequest(req.url)) return json(res, 200, clustersPage(req.url));
      const page = deployments.slice(offset, offset + 25);
      json(res, 200, {
        deployments: mode === 'missing-page' && offset === 25 ? [] : page,
        limit: 25,
        offset,
        totalCount: D,
      });
    });
  });
  afterAll(async () => api.close());

  it.each(['401', '500', 'hang', 'missing-page'] as const)(
    '%s: the reconcile fails, is reported, and writes nothing',
    async (failure) => {
      const config = parseConfig(configText('{ source: api }'), join(dir, 'api.yaml'));
      const iam = moto.iam();
      const counts = countCommands(iam);
      const events: AstroTrustEvent[] = [];
      mode = failure;
      const before = await trust('fault-1');
      const inventory = new AstroApiInventory({
        baseUrl: api.url,
        organizationId: 'org',
        token: 't',
        pageSize: 25,
        timeoutMs: 100,
        attempts: 2,
        baseDelayMs: 1,
        maxDelayMs: 2,
      });
      await expect(
        reconcileRole(
          {
            config,
            inventory,
            store: new IamTrustStore(iam),
            events: { publish: async (e) => void events.push(...e) },
          },
          { role: 'fault-1', reason: 'resync' },
        ),
      ).rejects.toThrow();
      expect(counts.get('UpdateAssumeRolePolicyCommand') ?? 0).toBe(0);
      expect(await trust('fault-1')).toEqual(before);
      // A listing that contradicts itself is refused as inconsistent (one alert for the inventory); other failures fail the reconcile.
      expect(events).toEqual([
        failure === 'missing-page'
          ? expect.objectContaining({
              type: 'InventoryRefused',
              detail: expect.objectContaining({ kind: 'inconsistent', role: 'fault-1' }),
            })
          : expect.objectContaining({
              type: 'ReconcileFailed',
              detail: expect.objectContaining({ role: 'fault-1', retryable: failure !== '401' }),
            }),
      ]);
      mode = 'ok';
    },
  );
});

describe('Slack refusing at a rate', () => {
  it('every alert is delivered later or dead-lettered, and the count adds up', async () => {
    let n = 0;
    const slack = await fakeService((_req, res) => {
      const k = n++ % 4;
      if (k === 0) {
        res.writeHead(429, { 'retry-after': '0' });
        res.end('rate_limited');
      } else if (k === 1) {
        res.writeHead(500);
        res.end('boom');
      } else if (k === 2) {
        /* no answer: the client times out */
      } else {
        res.writeHead(200);
        res.end('ok');
      }
    });
    const file = join(dir, 'dead.jsonl');
    const notifier = new SlackNotifier({
      webhookUrl: slack.url,
      attempts: 3,
      baseDelayMs: 1,
      timeoutMs: 100,
      deadLetters: new FileDeadLetters(file),
    });
    const alerts = 40;
    const results = [];
    for (let i = 0; i < alerts; i++) {
      results.push(
        await notifier.notify({
          type: 'TrustPolicyUpdated',
          detail: {
            role: `r${i}`,
            mode: 'enforce',
            reason: 'webhook',
            added: [],
            removed: [],
            policyChars: 1,
            limit: 2048,
          },
        }),
      );
    }
    await slack.close();
    const sent = results.filter((r) => r === 'sent').length;
    const dead = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).length;
    if (process.env.ASTRO_TRUST_REPORT) console.log(JSON.stringify({ alerts, requests: n, sent, dead }));
    expect(sent + dead).toBe(alerts);
    expect(results.filter((r) => r === 'dead-lettered').length).toBe(dead);
    expect(sent).toBeGreaterThan(0);
    expect(dead).toBeGreaterThan(0);
  });
});
