/**
 * One `serve` per state directory (DESIGN 7.2): `<state-dir>/serve.lock` names the process that holds it. A
 * second serve on the same directory must not read, compact or deliver from a journal another one is
 * appending to (its compaction renames the file away under the first one, whose later writes then go to a
 * file nobody will read). A lock left by a process that is gone (killed) is taken over: the holder is alive
 * only if its pid runs and, where /proc tells, was started at the same time (so a reused pid, PID 1 in a new
 * container, or a zombie does not count).
 *
 * Why not a library: proper-lockfile judges a lock stale by its age, so every start after a kill would wait
 * that long, and a holder whose event loop stalls longer is taken for dead; an OS lock (flock) needs a
 * native addon. Limits: processes in different PID namespaces (two containers sharing one volume) or on
 * different hosts cannot see each other; give each serve its own state directory there.
 */
import { readFileSync } from 'node:fs';
import { open, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AstroTrustError } from '../../errors.js';

export const LOCK_FILE = 'serve.lock';

interface Holder {
  pid: number;
  /** /proc/<pid>/stat starttime (clock ticks after boot), where there is a /proc. */
  start?: string;
  host?: string;
}

/** Another process holds the state directory. */
export class StateDirBusyError extends AstroTrustError {
  override name = 'StateDirBusyError';
  constructor(
    readonly dir: string,
    readonly holder: Holder,
  ) {
    super(
      `${dir} is in use by another astro-trust serve${holder.pid > 0 ? ` (pid ${holder.pid}${holder.host ? ` on ${holder.host}` : ''})` : ''}: stop it first, or give this one its own --state-dir (if no serve runs there, delete ${join(dir, LOCK_FILE)})`,
    );
  }
}

/** A process's state and start time from /proc (Linux); undefined where there is none. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, start: fields[19]! };
  } catch {
    return undefined;
  }
}

function alive(h: Holder): boolean {
  if (!Number.isSafeInteger(h.pid) || h.pid <= 0 || h.pid === process.pid) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    // EPERM: it runs, as another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = procStat(h.pid);
  if (!now) return true;
  return now.state !== 'Z' && (h.start === undefined || h.start === now.start);
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder> | null;
    return typeof h?.pid === 'number' ? (h as Holder) : undefined;
  } catch {
    return undefined;
  }
}

/** A lock file's first bytes: never read to its end (a lock that is a device, /dev/zero, has none). */
async function readLock(path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } catch {
    return '';
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Takes `<dir>/serve.lock` (the directory exists); resolves to its release. Throws StateDirBusyError. On a
 * full disk (the lock cannot be written) serve still starts, so that what is owed is delivered (DESIGN 7.2):
 * `onUnlocked` is told, and nothing is locked.
 */
export async function lockStateDir(
  dir: string,
  o: { onUnlocked?: (err: NodeJS.ErrnoException, path: string) => void } = {},
): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  const start = procStat(process.pid)?.start;
  const mine = `${JSON.stringify({ pid: process.pid, ...(start ? { start } : {}), host: hostname() })}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(path, mine, { flag: 'wx' });
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        // Created but not written: an empty lock nobody could name; removed (removing takes no space).
        await unlink(path).catch(() => {});
        o.onUnlocked?.(err as NodeJS.ErrnoException, path);
        return async () => {};
      }
      if (code !== 'EEXIST') throw err;
    }
    const holder = parseHolder(await readLock(path));
    // An unreadable lock is one whose holder was killed while writing it (or a hand edit): nobody holds it.
    if (holder && alive(holder)) throw new StateDirBusyError(dir, holder);
    if (attempt >= 2) throw new StateDirBusyError(dir, holder ?? { pid: 0 });
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  return async () => {
    // Only our own: never a lock another process took over.
    if ((await readLock(path)) === mine) await unlink(path).catch(() => {});
  };
}
