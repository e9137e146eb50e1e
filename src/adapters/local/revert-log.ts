/** The flap guard's memory of reverts per role, in process (`serve`); on Lambda the watch table keeps it. */
import type { RevertLog } from '../../app/ports.js';

/** Reverts older than an hour no longer count (maxRevertsPerHour). */
export const REVERT_MEMORY_MS = 60 * 60_000;

export class MemoryRevertLog implements RevertLog {
  private readonly times = new Map<string, number[]>();
  async count(role: string, sinceMs: number): Promise<number> {
    return (this.times.get(role) ?? []).filter((t) => t >= sinceMs).length;
  }
  async record(role: string, atMs: number): Promise<void> {
    this.times.set(role, [...(this.times.get(role) ?? []).filter((t) => t >= atMs - REVERT_MEMORY_MS), atMs]);
  }
}
