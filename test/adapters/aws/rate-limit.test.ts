/** The IAM limiter (DESIGN 7.4) on a fake clock: the ceiling's spacing, and what slows it down. */
import { IamRateLimiter } from '../../../src/adapters/aws/rate-limit';

beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
afterEach(() => jest.useRealTimers());

/** Asks for `n` tokens at once and records when each was given (fake ms). */
function ask(limiter: IamRateLimiter, n: number): number[] {
  const at: number[] = [];
  for (let i = 0; i < n; i++) void limiter.getSendToken().then(() => at.push(Date.now()));
  return at;
}

const throttled = { errorType: 'THROTTLING', error: { name: 'Throttling', $metadata: { httpStatusCode: 400 } } };
const quota = {
  errorType: 'THROTTLING',
  error: { name: 'LimitExceededException', $metadata: { httpStatusCode: 409 } },
};

describe('IamRateLimiter', () => {
  it('lets requests leave one every 1/N s, in the order they asked', async () => {
    const limiter = new IamRateLimiter(5, Date.now);
    const at = ask(limiter, 6);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(at).toHaveLength(6);
    expect(at.slice(1).map((t, i) => t - at[i]!)).toEqual([200, 200, 200, 200, 200]);
    expect(limiter.stats.sent).toBe(6);
  });

  it('counts Throttling answers (and slows down: reliability/limits.test.ts), not LimitExceeded, a quota refusal', () => {
    const limiter = new IamRateLimiter(10, Date.now);
    limiter.updateClientSendingRate({});
    limiter.updateClientSendingRate(quota);
    expect(limiter.stats.throttled).toBe(0);
    limiter.updateClientSendingRate(throttled);
    expect(limiter.stats.throttled).toBe(1);
  });

  it('refuses a rate that is not above 0', () => {
    expect(() => new IamRateLimiter(0)).toThrow(/above 0/);
  });
});
