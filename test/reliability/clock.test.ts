/**
 * serve's journal under a clock that jumps back (DESIGN 7.2): a machine that ran with its clock a year (or an
 * hour) ahead is set right and serve restarts on the same state directory. What the journal stamped with the
 * wrong time must not hold beyond its own window: an alert claim for its hour, a listing size for the shrink
 * window, a retry for its backoff.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/adapters/local/journal';
import { JournaledQueue } from '../../src/adapters/local/journaled-queue';
import { LogNotifier } from '../../src/adapters/slack/notifier';
import { listInventory } from '../../src/app/inventory';
import { parseConfig } from '../../src/config/config';
import { deployments, apiDeployment } from '../support/fixtures';
import type { AstroTrustEvent } from '../../src/domain/events';
import { InventoryRefusedError } from '../../src/errors';

const T = Date.parse('2026-11-25T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;

const stateDir = () => mkdtempSync(join(tmpdir(), 'astro-trust-clock-'));
/** A journal on `dir` whose clock reads `clock.now`. */
const openAt = (dir: string, clock: { now: number }) => Journal.open(dir, { now: () => clock.now });

describe('the clock set back after serve ran a year ahead', () => {
  it('an alert claimed then (for its hour) is alerted again now, not hidden for a year', async () => {
    const dir = stateDir();
    const clock = { now: T + YEAR };
    const failed: AstroTrustEvent = {
      type: 'ReconcileFailed',
      detail: { role: 'r1', mode: 'enforce', reason: 'resync', error: 'IAM unavailable', retryable: true },
    };
    const logged: string[] = [];
    const notifierOn = (j: Journal) => new LogNotifier((line) => logged.push(line), { dedup: j.claims });
    let journal = await openAt(dir, clock);
    expect(await notifierOn(journal).notify(failed)).toBe('logged');
    // Within its hour, the same failure is a repeat.
    expect(await notifierOn(journal).notify(failed)).toBe('duplicate');
    await journal.close();

    clock.now = T;
    journal = await openAt(dir, clock);
    expect(await notifierOn(journal).notify(failed)).toBe('logged');
    expect(await notifierOn(journal).notify(failed)).toBe('duplicate');
    await journal.close();
    expect(logged).toHaveLength(2);
  });

  it('the shrink guard compares with the listing taken then for one window after the clock was set right, not for a year', async () => {
    const dir = stateDir();
    const clock = { now: T + YEAR };
    const config = parseConfig(
      'version: 1\norganizationId: org\ninventory: { source: file, path: ./d.json, maxShrinkPercent: 50 }\nroles:\n  - { name: r1, trust: workload-identity, deployments: [{ workspaceId: clws0000000001 }] }\n',
      join(dir, 'astro-trust.yaml'),
    );
    const listing = (n: number) => ({
      description: 'test',
      list: async () => ({
        deployments: deployments(...Array.from({ length: n }, (_, i) => apiDeployment(i + 1))),
        warnings: [],
      }),
    });
    const list = (j: Journal, n: number) =>
      listInventory({ config, inventory: listing(n), history: j.history, now: () => clock.now });
    let journal = await openAt(dir, clock);
    expect((await list(journal, 20)).deployments).toHaveLength(20);
    await journal.close();

    clock.now = T;
    journal = await openAt(dir, clock);
    // Right after the clock was set right the 20 still counts: nobody can tell how long ago it really was.
    await expect(list(journal, 5)).rejects.toThrow(InventoryRefusedError);
    clock.now = T + DAY + 2 * 60_000;
    // A window later it is out of it, as any listing is a window after it was taken.
    expect((await list(journal, 5)).deployments).toHaveLength(5);
    await journal.close();
  });
});

describe('the clock set back an hour after serve scheduled a retry', () => {
  it('the retry runs after at most its backoff, not an hour later', async () => {
    const dir = stateDir();
    const clock = { now: T + HOUR };
    const retry = { attempts: 5, baseDelayMs: 20, maxDelayMs: 50 };
    let journal = await openAt(dir, clock);
    const first = new JournaledQueue(journal, async () => 'retry', { retry, now: () => clock.now });
    await first.enqueue([{ role: 'r1', reason: 'resync' }]);
    await first.drained();
    expect(journal.pendingWork()).toEqual([expect.objectContaining({ attempt: 2, notBefore: T + HOUR + 20 })]);
    await first.close();
    await journal.close();

    clock.now = T;
    journal = await openAt(dir, clock);
    const ran: number[] = [];
    const second = new JournaledQueue(
      journal,
      async (_r, ctx) => {
        ran.push(ctx.attempt);
        return 'done';
      },
      { retry, now: () => clock.now },
    );
    expect(await second.resume()).toBe(1);
    for (let i = 0; i < 100 && ran.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ran).toEqual([2]);
    await second.close();
    await journal.close();
  });
});
