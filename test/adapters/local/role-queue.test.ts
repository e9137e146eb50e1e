import { RoleQueue } from '../../../src/adapters/local/role-queue';
import type { ReconcileRequest } from '../../../src/domain/events';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('RoleQueue (one writer per role)', () => {
  it('never runs two requests of one role at once, runs different roles in parallel, and merges waiting requests', async () => {
    const running = new Map<string, number>();
    let maxPerRole = 0;
    let maxTotal = 0;
    const seen: ReconcileRequest[] = [];
    const q = new RoleQueue(async (r) => {
      running.set(r.role, (running.get(r.role) ?? 0) + 1);
      maxPerRole = Math.max(maxPerRole, running.get(r.role)!);
      maxTotal = Math.max(
        maxTotal,
        [...running.values()].reduce((a, b) => a + b, 0),
      );
      seen.push(r);
      await tick();
      running.set(r.role, running.get(r.role)! - 1);
    }, 3);
    await q.enqueue(
      Array.from({ length: 30 }, (_, i) => ({ role: `r${i % 3}`, reason: 'webhook', sourceEventId: `e${i}` })),
    );
    await q.enqueue([
      { role: 'r0', reason: 'iam-change', drift: { arn: 'a', eventName: 'UpdateAssumeRolePolicy', eventTime: 't' } },
    ]);
    await q.drained();
    expect(maxPerRole).toBe(1);
    expect(maxTotal).toBe(3);
    // 30 requests enqueued together merge into one run per role; the drift check that arrives while r0
    // runs waits and runs once more, after it.
    expect(seen).toHaveLength(4);
    expect(seen.slice(0, 3).map((r) => r.sourceEventId)).toEqual(['e27', 'e28', 'e29']);
    expect(seen.filter((r) => r.role === 'r0').at(-1)!.drift).toBeDefined();
  });

  it('keeps working after a failing request, and close() waits for what it already took', async () => {
    const errors: string[] = [];
    const done: string[] = [];
    const q = new RoleQueue(
      async (r) => {
        await tick();
        if (r.role === 'bad') throw new Error('boom');
        done.push(r.role);
      },
      2,
      (r, err) => errors.push(`${r.role}: ${(err as Error).message}`),
    );
    await q.enqueue([
      { role: 'bad', reason: 'resync' },
      { role: 'a', reason: 'resync' },
      { role: 'b', reason: 'resync' },
    ]);
    await q.close();
    expect(errors).toEqual(['bad: boom']);
    expect(done.sort()).toEqual(['a', 'b']);
    await expect(q.enqueue([{ role: 'c', reason: 'resync' }])).rejects.toThrow(/shutting down/);
  });
});
