/** One serve per state directory: serve.lock names a live holder, or is taken over. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../../src/adapters/local/journal';
import { LOCK_FILE, lockStateDir, StateDirBusyError } from '../../../src/adapters/local/state-lock';

// writeFile through a mock that calls the real one, so that one test can make the lock's write fail.
jest.mock('node:fs/promises', () => {
  const actual = jest.requireActual('node:fs/promises');
  return { ...actual, writeFile: jest.fn(actual.writeFile) };
});

const dir = () => mkdtempSync(join(tmpdir(), 'astro-trust-lock-'));
const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
};

describe('lockStateDir', () => {
  it('refuses while a live process holds it, before the journal is read', async () => {
    const d = dir();
    const holder = spawn('sleep', ['30']);
    try {
      writeFileSync(join(d, LOCK_FILE), JSON.stringify({ pid: holder.pid, start: startOf(holder.pid!), host: 'h1' }));
      writeFileSync(join(d, 'journal.jsonl'), 'not read\n');
      const err = await Journal.open(d).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateDirBusyError);
      expect((err as Error).message).toBe(
        `${d} is in use by another astro-trust serve (pid ${holder.pid} on h1): stop it first, or give this one its own --state-dir (if no serve runs there, delete ${join(d, LOCK_FILE)})`,
      );
      expect(readFileSync(join(d, 'journal.jsonl'), 'utf8')).toBe('not read\n');
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it.each([
    ['a process that is gone', () => ({ pid: 2 ** 22 + 12_345 })],
    ['a reused pid (a live process started at another time)', () => ({ pid: process.ppid, start: '1' })],
    ['this very pid (PID 1 again in a new container)', () => ({ pid: process.pid })],
    ['a lock cut short by a kill', () => '{"pid":'],
  ])('takes over a lock left by %s, and releases only its own', async (_what, lock) => {
    const d = dir();
    const held = lock();
    writeFileSync(join(d, LOCK_FILE), typeof held === 'string' ? held : JSON.stringify(held));
    const release = await lockStateDir(d);
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    await release();
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
    // A lock another process took over meanwhile is left alone.
    const again = await lockStateDir(d);
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ pid: process.ppid }));
    await again();
    expect(existsSync(join(d, LOCK_FILE))).toBe(true);
  });

  it('a lock that is a device (/dev/zero) is read by its first bytes, never to its end: taken over', async () => {
    const d = dir();
    symlinkSync('/dev/zero', join(d, LOCK_FILE));
    const release = await lockStateDir(d);
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    await release();
  }, 10_000);

  it('on a full disk (the lock cannot be written) the journal still opens with what it owes, says so, and leaves no empty lock', async () => {
    const d = dir();
    const j = await Journal.open(d);
    j.addAlerts([
      {
        type: 'ReconcileFailed',
        detail: { role: 'r1', mode: 'enforce', reason: 'resync', error: 'x', retryable: true },
      },
    ]);
    await j.close();
    const real = jest.requireActual<typeof import('node:fs/promises')>('node:fs/promises').writeFile;
    jest.mocked(writeFile).mockImplementationOnce(async (path, _data, options) => {
      // Created, then no block for its content.
      await real(path, '', options);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    const warnings: string[] = [];
    const again = await Journal.open(d, { onWarning: (m) => warnings.push(m) });
    expect(again.pendingAlerts()).toHaveLength(1);
    expect(warnings).toEqual([expect.stringMatching(/serve.lock could not be written \(the disk is full\)/)]);
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
    await again.close();
  });

  it('a journal closed releases the directory; a journal that fails to open does too', async () => {
    const d = dir();
    const j = await Journal.open(d);
    expect(existsSync(join(d, LOCK_FILE))).toBe(true);
    await j.close();
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
    rmSync(join(d, 'journal.jsonl'));
    mkdirSync(join(d, 'journal.jsonl'));
    await expect(Journal.open(d)).rejects.toThrow(/EISDIR/);
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
  });
});
