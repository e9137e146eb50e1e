/** The one HTTP helper: Retry-After read the same way for the Astro API, Slack and `send`. */
import { NoAnswerError, request, retryableStatus, retryAfterMs } from '../../src/adapters/http';
import { fakeService } from '../support/http';

describe('retryAfterMs', () => {
  const now = () => Date.parse('2026-11-26T12:00:00Z');
  it.each<[string | null, number | undefined]>([
    [null, undefined],
    ['0', 0],
    ['7', 7000],
    ['3600', 30_000],
    ['Thu, 26 Nov 2026 12:00:05 GMT', 5000],
    ['Thu, 26 Nov 2026 11:00:00 GMT', 0],
    ['soon', undefined],
    ['-3', undefined],
  ])('%s -> %s ms (cap 30 s)', (header, ms) => expect(retryAfterMs(header, 30_000, now)).toBe(ms));
  it('retries 429 and 5xx only', () =>
    expect([200, 400, 401, 404, 429, 500, 503].filter(retryableStatus)).toEqual([429, 500, 503]));
});

describe('request', () => {
  it('says "no answer within N ms" when the service hangs', async () => {
    const svc = await fakeService(() => {});
    try {
      await expect(request(svc.url, {}, 100)).rejects.toEqual(new NoAnswerError('no answer within 100 ms'));
    } finally {
      await svc.close();
    }
  });
});
