/** The alert outbox: publishing never waits for delivery; delivery is in order; what is left at shutdown goes to the last resort. */
import { AlertOutbox } from '../../../src/adapters/local/outbox';
import type { AstroTrustEvent } from '../../../src/domain/events';

const event = (role: string): AstroTrustEvent => ({
  type: 'ReconcileFailed',
  detail: { role, mode: 'enforce', reason: 'resync', error: 'x', retryable: true },
});

describe('AlertOutbox', () => {
  it('returns from publish at once, delivers in order, and reports failures to the last resort', async () => {
    const delivered: string[] = [];
    const last: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const outbox = new AlertOutbox(
      async (e) => {
        await gate;
        if (e.detail.role === 'bad') throw new Error('slack and dead letters down');
        delivered.push(e.detail.role!);
      },
      (e, error) => last.push(`${e.detail.role}: ${error}`),
    );
    await outbox.publish([event('a'), event('bad'), event('b')]);
    expect(delivered).toEqual([]);
    expect(outbox.size()).toBe(3);
    release();
    expect(await outbox.close(5_000)).toBe(0);
    expect(delivered).toEqual(['a', 'b']);
    expect(last).toEqual(['bad: slack and dead letters down']);
  });

  it('writes what is still queued at shutdown to the last resort after a bounded wait', async () => {
    const last: string[] = [];
    const outbox = new AlertOutbox(
      () => new Promise(() => {}),
      (e, error) => last.push(`${e.detail.role}: ${error}`),
    );
    await outbox.publish([event('a'), event('b'), event('c')]);
    const started = Date.now();
    expect(await outbox.close(50)).toBe(3);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(last).toEqual(['a', 'b', 'c'].map((r) => `${r}: not delivered before shutdown (waited 50 ms)`));
  });

  it('starts again after an empty publish and after it went idle', async () => {
    const delivered: string[] = [];
    const outbox = new AlertOutbox(
      async (e) => void delivered.push(e.detail.role!),
      () => {},
    );
    await outbox.publish([]);
    await outbox.publish([event('a')]);
    await outbox.close(1000);
    await outbox.publish([event('b')]);
    await outbox.close(1000);
    expect(delivered).toEqual(['a', 'b']);
  });
});
