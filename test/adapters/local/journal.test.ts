/** serve's journal: what it records survives a reopen, a torn last line is skipped, it compacts, a full disk is survived. */
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, JOURNAL_FILE } from '../../../src/adapters/local/journal';
import { JournaledQueue } from '../../../src/adapters/local/journaled-queue';
import type { AstroTrustEvent, ReconcileRequest } from '../../../src/domain/events';
import { TerminalError } from '../../../src/errors';

const drift = (eventId: string): ReconcileRequest => ({
  role: 'r1',
  reason: 'iam-change',
  sourceEventId: eventId,
  drift: {
    arn: 'arn:aws:iam::123456789012:user/mallory',
    eventName: 'UpdateAssumeRolePolicy',
    eventTime: 't',
    eventId,
  },
});
const failed = (role: string): AstroTrustEvent => ({
  type: 'ReconcileFailed',
  detail: { role, mode: 'enforce', reason: 'resync', error: 'x', retryable: true },
});
const dir = () => mkdtempSync(join(tmpdir(), 'astro-trust-journal-'));

describe('Journal', () => {
  it('keeps work, alerts, claims and listing sizes across a reopen, and forgets what was finished', async () => {
    const d = dir();
    const j = await Journal.open(d);
    const { ids, durable } = j.addWork([drift('evt-1'), { role: 'r2', reason: 'webhook', sourceEventId: 'evt-2' }]);
    expect(await durable).toBe(true);
    await j.finishWork([ids[1]!]);
    const { entries } = j.addAlerts([failed('a'), failed('b')]);
    await j.delivered(entries[0]!.id);
    expect(await j.claims.claim('webhook|m1', 60_000)).toBe(true);
    expect(await j.claims.claim('webhook|m1', 60_000)).toBe(false);
    await j.history.record(Date.now(), 20, 86_400_000);
    await j.close();

    const again = await Journal.open(d);
    expect(again.pendingWork()).toEqual([expect.objectContaining({ id: ids[0], request: drift('evt-1'), attempt: 1 })]);
    expect(again.pendingAlerts()).toEqual([{ id: entries[1]!.id, event: failed('b') }]);
    expect(await again.claims.claim('webhook|m1', 60_000)).toBe(false);
    expect((await again.history.sizes()).map((s) => s.count)).toEqual([20]);
    await again.close();
  });

  it('an alert delivered again after a restart holds its own claim; another alert with the same key does not', async () => {
    const d = dir();
    const j = await Journal.open(d);
    const { entries } = j.addAlerts([failed('a')]);
    // The first delivery claimed its key and was killed before Slack answered.
    expect(await j.deliveringAs(entries[0]!.id, () => j.claims.claim('drift|evt-9', 60_000))).toBe(true);
    await j.close();
    const again = await Journal.open(d);
    expect(await again.deliveringAs(entries[0]!.id, () => again.claims.claim('drift|evt-9', 60_000))).toBe(true);
    expect(await again.deliveringAs('another-alert', () => again.claims.claim('drift|evt-9', 60_000))).toBe(false);
    expect(await again.claims.claim('drift|evt-9', 60_000)).toBe(false);
    await again.close();
  });

  it('skips a torn last line (a write cut short by a kill) and carries on after it', async () => {
    const d = dir();
    const j = await Journal.open(d);
    const { ids } = j.addWork([drift('evt-1')]);
    await j.close();
    appendFileSync(join(d, JOURNAL_FILE), '{"op":"done","ids":["' + ids[0]!.slice(0, 10));
    const warnings: string[] = [];
    const again = await Journal.open(d, { onWarning: (m) => warnings.push(m) });
    expect(again.pendingWork().map((e) => e.id)).toEqual(ids);
    expect(warnings).toEqual([expect.stringMatching(/skipped lines that are not whole records/)]);
    await again.finishWork(ids);
    await again.close();
    const third = await Journal.open(d);
    expect(third.pendingWork()).toEqual([]);
    await third.close();
  });

  it('skips records of the wrong shape (valid JSON: a hand edit, another version), anywhere in the file, and keeps the rest', async () => {
    const d = dir();
    const j = await Journal.open(d);
    const { ids } = j.addWork([drift('evt-1')]);
    const { entries } = j.addAlerts([failed('a')]);
    await j.history.record(Date.now(), 20, 86_400_000);
    await j.close();
    const bad = [
      'null',
      '7',
      '{"op":"work","entry":{"id":"w","attempt":1,"notBefore":0}}',
      '{"op":"work","entry":{"id":"w2","request":{"role":5,"reason":"resync"},"attempt":1,"notBefore":0}}',
      '{"op":"done","ids":"abc"}',
      '{"op":"intent","ids":["x"]}',
      '{"op":"alert","id":"a2","event":{"type":"ReconcileFailed","detail":null}}',
      '{"op":"alert","id":"a3","event":{"type":"ReconcileFailed","detail":[]}}',
      '{"op":"sizes","sizes":{"at":1,"count":2}}',
      '{"op":"claim","key":"k"}',
    ];
    const lines = readFileSync(join(d, JOURNAL_FILE), 'utf8').trim().split('\n');
    writeFileSync(join(d, JOURNAL_FILE), [lines[0], ...bad, ...lines.slice(1)].join('\n') + '\n');
    const warnings: [string, Record<string, unknown>][] = [];
    const again = await Journal.open(d, { onWarning: (m, f) => warnings.push([m, f]) });
    expect(again.pendingWork().map((e) => e.id)).toEqual(ids);
    expect(again.pendingAlerts()).toEqual([{ id: entries[0]!.id, event: failed('a') }]);
    expect((await again.history.sizes()).map((s) => s.count)).toEqual([20]);
    expect(await again.claims.claim('k', 60_000)).toBe(true);
    expect(warnings).toEqual([
      [expect.stringMatching(/skipped records of the wrong shape/), expect.objectContaining({ skipped: bad.length })],
    ]);
    await again.close();
  });

  it('writes nothing once closed (an alert delivered after serve stopped waiting): the directory may be the next serve one', async () => {
    const d = dir();
    const j = await Journal.open(d);
    const { entries } = j.addAlerts([failed('late')]);
    j.addWork([drift('evt-1')]);
    await j.close();
    const file = readFileSync(join(d, JOURNAL_FILE), 'utf8');
    expect(await j.delivered(entries[0]!.id)).toBe(false);
    expect(await j.claims.claim('k', 60_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(join(d, JOURNAL_FILE), 'utf8')).toBe(file);
    expect(existsSync(join(d, 'serve.lock'))).toBe(false);
  });

  it('compacts: the file holds only what is still owed', async () => {
    const d = dir();
    const j = await Journal.open(d, { compactAfterBytes: 4096 });
    for (let i = 0; i < 200; i++) {
      const { ids } = j.addWork([drift(`evt-${i}`)]);
      await j.finishWork(ids);
    }
    j.addWork([drift('evt-last')]);
    await j.close();
    expect(statSync(join(d, JOURNAL_FILE)).size).toBeLessThan(4096 + 1024);
    const lines = readFileSync(join(d, JOURNAL_FILE), 'utf8').trim().split('\n');
    const again = await Journal.open(d);
    expect(again.pendingWork().map((e) => e.request.sourceEventId)).toEqual(['evt-last']);
    expect(lines.length).toBeLessThan(200);
    await again.close();
  });

  it('on a full disk (the file is /dev/full): nothing hangs, every write reports its failure, the state is kept in memory', async () => {
    const d = dir();
    symlinkSync('/dev/full', join(d, JOURNAL_FILE));
    // The rewrite that follows a failed write, too: a full disk fails every file.
    symlinkSync('/dev/full', join(d, `${JOURNAL_FILE}.tmp`));
    const errors: string[] = [];
    const j = await Journal.open(d, {
      onWriteError: (e) => errors.push((e as NodeJS.ErrnoException).code ?? e.message),
    });
    const { durable } = j.addWork([drift('evt-1')]);
    expect(await durable).toBe(false);
    expect(await j.claims.claim('k', 60_000)).toBe(true);
    expect(await j.claims.claim('k', 60_000)).toBe(false);
    expect(j.pendingWork()).toHaveLength(1);
    expect(errors).toEqual(['ENOSPC', 'ENOSPC']);
    await j.close();
  });
});

describe('Journal after a failed state write', () => {
  /** What a restart would read now (a copy of the directory, as a kill would leave it). */
  const restartFrom = async (d: string) => {
    const copy = mkdtempSync(join(tmpdir(), 'astro-trust-journal-copy-'));
    cpSync(d, copy, { recursive: true });
    return Journal.open(copy);
  };
  const fileHandle = async () => {
    const h = await open(join(dir(), 'probe'), 'w');
    await h.close();
    return Object.getPrototypeOf(h) as FileHandle;
  };
  const fault = (code: string) => Object.assign(new Error(`${code}: injected`), { code });
  afterEach(() => jest.restoreAllMocks());

  it('a record whose write failed (the disk was full) is on disk once a later write succeeds: a kill then keeps it', async () => {
    const d = dir();
    const j = await Journal.open(d, { onWriteError: () => {} });
    jest.spyOn(await fileHandle(), 'appendFile').mockRejectedValueOnce(fault('ENOSPC'));
    const { entries, durable } = j.addAlerts([failed('while-full')]);
    expect(await durable).toBe(false);
    // The disk has room again: the next record reaches it, and so must the alert.
    const { durable: next } = j.addWork([drift('evt-after')]);
    expect(await next).toBe(true);
    const restarted = await restartFrom(d);
    expect(restarted.pendingAlerts()).toEqual([{ id: entries[0]!.id, event: failed('while-full') }]);
    expect(restarted.pendingWork().map((e) => e.request.sourceEventId)).toEqual(['evt-after']);
    await restarted.close();
    await j.close();
  });

  it('a rewrite (compaction) whose directory fsync fails: a record accepted right after it reaches the file a restart reads', async () => {
    const d = dir();
    const errors: string[] = [];
    const j = await Journal.open(d, { compactAfterBytes: 2048, onWriteError: (e) => errors.push(e.message) });
    const proto = await fileHandle();
    const writeFile = proto.writeFile;
    jest.spyOn(proto, 'sync').mockImplementationOnce(async () => {
      // From now on rewrites take their time (a slow disk): a kill may come before one ends.
      jest.spyOn(proto, 'writeFile').mockImplementation(async function (this: FileHandle, ...args) {
        await new Promise((r) => setTimeout(r, 200));
        return writeFile.apply(this, args);
      });
      throw fault('EIO');
    });
    // Work is accepted until a rewrite runs and fails at its directory fsync (after its rename).
    for (let i = 0; errors.length === 0 && i < 100; i++) {
      expect(await j.addWork([drift(`evt-${i}`)]).durable).toBe(true);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(errors).toEqual(['EIO: injected']);
    // Accepted (on disk, says the journal) right after the failed rewrite; a kill now.
    const { durable } = j.addWork([drift('evt-after-rewrite')]);
    expect(await durable).toBe(true);
    const restarted = await restartFrom(d);
    expect(restarted.pendingWork().map((e) => e.request.sourceEventId)).toContain('evt-after-rewrite');
    await restarted.close();
    await j.close();
  });
});

describe('JournaledQueue', () => {
  it('a merged request stands for every entry it merged: all finished together', async () => {
    const j = Journal.memory();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: ReconcileRequest[] = [];
    const q = new JournaledQueue(j, async (r) => {
      seen.push(r);
      await gate;
      return 'done';
    });
    await q.enqueue([{ role: 'r1', reason: 'resync' }]);
    await q.enqueue([drift('evt-1'), drift('evt-2'), { role: 'r1', reason: 'resync' }]);
    expect(j.pendingWork()).toHaveLength(4);
    release();
    await q.drained();
    // The first ran alone; the three waiting behind it ran as one, a drift check with the later event id.
    expect(seen.map((r) => [r.reason, r.sourceEventId])).toEqual([
      ['resync', undefined],
      ['iam-change', 'evt-2'],
    ]);
    expect(j.pendingWork()).toEqual([]);
  });

  it('retries a retryable failure with backoff up to the attempts, then gives up; a terminal one is not retried', async () => {
    const j = Journal.memory();
    const attempts: number[] = [];
    const q = new JournaledQueue(
      j,
      async (r, ctx) => {
        attempts.push(ctx.attempt);
        if (r.role === 'terminal') throw new TerminalError('no');
        return 'retry';
      },
      { retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 } },
    );
    await q.enqueue([{ role: 'flaky', reason: 'resync' }]);
    for (let i = 0; i < 100 && (attempts.length < 3 || q.retriesWaiting() > 0 || q.size() > 0); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(attempts).toEqual([1, 2, 3]);
    expect(j.pendingWork()).toEqual([]);
    attempts.length = 0;
    await q.enqueue([{ role: 'terminal', reason: 'resync' }]);
    await q.drained();
    expect(attempts).toEqual([1]);
    expect(q.retriesWaiting()).toBe(0);
    expect(j.pendingWork()).toEqual([]);
    await q.close();
  });
});
