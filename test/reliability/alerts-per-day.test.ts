/**
 * How much astro-trust posts to Slack in a day of resyncs (every 15 minutes) of the bundled example, on a
 * fake clock, against a local Slack receiver: standing findings once per fingerprint per 24 h, acknowledged
 * findings not at all (DESIGN 3.5). The release-1 rule (one hour, in memory) is counted on the same events.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MemoryDedup } from '../../src/adapters/local/dedup';
import { IamSnapshotStore } from '../../src/adapters/aws/iam-snapshot';
import { FileInventory } from '../../src/adapters/astro/inventory-file';
import type { TrustStore } from '../../src/app/ports';
import { SlackNotifier } from '../../src/adapters/slack/notifier';
import { planRoles, reconcileAll } from '../../src/app/reconcile';
import { parseConfig } from '../../src/config/config';
import { driftFingerprint, type AstroTrustEvent } from '../../src/domain/events';
import type { RoleState } from '../../src/domain/plan';
import { fakeService, type FakeService } from '../support/http';
import { memoryTrustStore } from '../support/memory-store';
import { parseDocument } from 'yaml';
import { homeAccountExample } from '../support/world';

const DAY_MS = 24 * 60 * 60_000;
const EVERY_MS = 15 * 60_000;
const START = Date.parse('2026-11-26T00:00:00Z');

/** The example's IAM snapshot as a writable account in memory (every OIDC provider exists). */
async function memoryAccount(): Promise<TrustStore> {
  const snapshot = new IamSnapshotStore('examples/iam-snapshot.json');
  const names = (
    JSON.parse(readFileSync('examples/iam-snapshot.json', 'utf8')).RoleDetailList as { RoleName: string }[]
  ).map((r) => r.RoleName);
  const roles = new Map<string, RoleState>(
    [...(await snapshot.readRoles(names))].flatMap(([n, s]) => (s ? [[n, s] as [string, RoleState]] : [])),
  );
  return memoryTrustStore(
    roles,
    new Set([
      'oidc.eks.us-east-1.amazonaws.com/id/5C1F3A6B9D2E4F7081A2B3C4D5E6F708',
      'oidc.eks.us-west-2.amazonaws.com/id/9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C4D',
    ]),
  );
}

/** The ids of every finding a plan of the config shows. */
async function findingIds(text: string): Promise<string[]> {
  const config = parseConfig(text, resolve('examples/astro-trust.yaml'), { now: START });
  const plan = await planRoles({
    config,
    inventory: new FileInventory(config.inventory.source === 'file' ? config.inventory.path : ''),
    store: await memoryAccount(),
    now: () => START,
  });
  return plan.roles.flatMap((r) => r.findings.map((f) => f.id));
}

let slack: FakeService;
beforeAll(async () => {
  slack = await fakeService((_req, res) => {
    res.writeHead(200);
    res.end('ok');
  });
});
afterAll(async () => slack.close());

async function day(acknowledgeAll: boolean) {
  // The example without its own acknowledgement: every finding stands, or all are acknowledged.
  const doc = parseDocument(homeAccountExample());
  doc.deleteIn(['findings']);
  let text = doc.toString();
  if (acknowledgeAll) {
    // Acknowledged by id (DESIGN 7.1), as a person copies them from the plan.
    const ids = await findingIds(text);
    expect(ids).toHaveLength(4);
    text += `findings:\n  acknowledge:\n${ids.map((id) => `    - { finding: ${id}, reason: "known, OPS-1", expires: 2027-03-01 }`).join('\n')}\n`;
  }
  const config = parseConfig(text, resolve('examples/astro-trust.yaml'), { now: START });
  let now = START;
  const before = slack.requests.length;
  const notifier = new SlackNotifier({ webhookUrl: slack.url, now: () => now, dedup: new MemoryDedup(() => now) });
  const published: { at: number; event: AstroTrustEvent }[] = [];
  const deps = {
    config,
    inventory: new FileInventory(config.inventory.source === 'file' ? config.inventory.path : ''),
    store: await memoryAccount(),
    now: () => now,
    events: {
      publish: async (events: AstroTrustEvent[]) => {
        for (const e of events) {
          published.push({ at: now, event: e });
          await notifier.notify(e);
        }
      },
    },
  };
  for (; now < START + DAY_MS; now += EVERY_MS) await reconcileAll(deps, { reason: 'resync' });
  const posted = slack.requests.slice(before).map((r) => JSON.parse(r.body).text as string);
  // The release-1 rule on the same events: every alert once per hour per fingerprint, in memory.
  const lastPosted = new Map<string, number>();
  let release1 = 0;
  for (const { at, event } of published) {
    if (event.type === 'TrustPolicyUpdated') {
      release1++;
      continue;
    }
    const key = event.type === 'DriftDetected' ? driftFingerprint(event.detail) : JSON.stringify(event.detail);
    if ((lastPosted.get(key) ?? -Infinity) + 60 * 60_000 <= at) {
      lastPosted.set(key, at);
      release1++;
    }
  }
  return { posted, release1, resyncs: DAY_MS / EVERY_MS };
}

describe('alerts per day from the example config (96 resyncs on a fake clock)', () => {
  it('posts each standing finding once a day, acknowledged ones never', async () => {
    const plain = await day(false);
    const acked = await day(true);
    const drift = (p: string[]) => p.filter((t) => t.startsWith('Trust drift')).length;
    if (process.env.ASTRO_TRUST_REPORT) {
      console.log(
        JSON.stringify({
          resyncs: plain.resyncs,
          withoutAcknowledgements: plain.posted.length,
          findingAlerts: drift(plain.posted),
          withAcknowledgements: acked.posted.length,
          release1Rule: plain.release1,
        }),
      );
    }
    // 4 roles with standing findings: one alert each for the day (not 24 each, as the hourly rule posts).
    expect(drift(plain.posted)).toBe(4);
    expect(plain.release1).toBeGreaterThan(4 * 20);
    // Acknowledged: no finding alert at all; only what astro-trust did (the first resync's writes) and the full role.
    expect(drift(acked.posted)).toBe(0);
    expect(acked.posted.every((t) => /^Trust policy (of|too large)/.test(t))).toBe(true);
    expect(acked.posted.length).toBe(plain.posted.length - 4);
    // The full role (shared-analytics) is a standing condition too: once a day.
    expect(plain.posted.filter((t) => t.startsWith('Trust policy too large')).length).toBe(1);
  });
});
