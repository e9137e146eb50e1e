/** DESIGN 6.1: a listing is consistent or unused; an empty or shrunken one is refused. */
import {
  assembleListing,
  checkListingSize,
  durationText,
  largestListingSince,
  recordListingSize,
  type ListingSize,
} from '../../src/domain/listing';
import { InconsistentListingError, InventoryRefusedError } from '../../src/errors';

const item = (id: string) => ({ id });

describe('assembleListing', () => {
  it('joins consistent pages', () => {
    expect(
      assembleListing([
        { offset: 0, totalCount: 3, items: [item('a'), item('b')] },
        { offset: 2, totalCount: 3, items: [item('c')] },
      ]),
    ).toHaveLength(3);
    expect(assembleListing([{ offset: 0, totalCount: 0, items: [] }])).toEqual([]);
  });

  it.each<[string, Parameters<typeof assembleListing>[0], string, RegExp]>([
    [
      'totalCount changed',
      [
        { offset: 0, totalCount: 3, items: [item('a'), item('b')] },
        { offset: 2, totalCount: 2, items: [item('c')] },
      ],
      'totalCount-changed',
      /totalCount changed while paging \(3 at offset 0, 2 at offset 2\)/,
    ],
    [
      'a page served twice',
      [
        { offset: 0, totalCount: 4, items: [item('a'), item('b')] },
        { offset: 2, totalCount: 4, items: [item('a'), item('b')] },
      ],
      'duplicate-id',
      /"a" appears twice/,
    ],
    [
      'totalCount too low',
      [{ offset: 0, totalCount: 1, items: [item('a'), item('b')] }],
      'count-mismatch',
      /has 2 Deployments but reports totalCount 1/,
    ],
    [
      'totalCount too high',
      [{ offset: 0, totalCount: 3, items: [item('a'), item('b')] }],
      'count-mismatch',
      /has 2 Deployments but reports totalCount 3/,
    ],
  ])('refuses: %s', (_l, pages, check, message) => {
    let err: unknown;
    try {
      assembleListing(pages);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InconsistentListingError);
    expect((err as InconsistentListingError).check).toBe(check);
    expect((err as Error).message).toMatch(message);
  });
});

describe('checkListingSize', () => {
  it.each<[string, Parameters<typeof checkListingSize>[0], string | undefined]>([
    ['empty', { count: 0, maxShrinkPercent: 50 }, 'empty'],
    ['empty, allowed', { count: 0, maxShrinkPercent: 50, allowEmpty: true }, undefined],
    [
      'empty after a full one, even when allowed',
      { count: 0, previousCount: 10, maxShrinkPercent: 50, allowEmpty: true },
      'shrunk',
    ],
    ['shrunk by 60% with a 50% limit', { count: 4, previousCount: 10, maxShrinkPercent: 50 }, 'shrunk'],
    ['shrunk by exactly 50%', { count: 5, previousCount: 10, maxShrinkPercent: 50 }, undefined],
    ['grown', { count: 20, previousCount: 10, maxShrinkPercent: 0 }, undefined],
    ['no previous listing', { count: 1, maxShrinkPercent: 0 }, undefined],
    ['shrunk with the check off (100)', { count: 1, previousCount: 10, maxShrinkPercent: 100 }, undefined],
    [
      'a small step from the last listing, 75% below the largest in the window',
      { count: 5, previousCount: 10, largestRecent: 20, shrinkWindowMs: 86_400_000, maxShrinkPercent: 50 },
      'shrunk',
    ],
    [
      'a step within the limit of the largest in the window',
      { count: 10, previousCount: 15, largestRecent: 20, shrinkWindowMs: 86_400_000, maxShrinkPercent: 50 },
      undefined,
    ],
    ['the largest in the window, no snapshot', { count: 4, largestRecent: 10, maxShrinkPercent: 50 }, 'shrunk'],
  ])('%s', (_l, input, refused) => {
    let err: unknown;
    try {
      checkListingSize(input);
    } catch (e) {
      err = e;
    }
    if (!refused) return expect(err).toBeUndefined();
    expect(err).toBeInstanceOf(InventoryRefusedError);
    expect((err as InventoryRefusedError).kind).toBe(refused);
    expect((err as Error).message).toMatch(refused === 'empty' ? /--allow-empty-inventory/ : /maxShrinkPercent/);
  });
});

describe('listing sizes kept for the shrink guard', () => {
  const H = 3_600_000;
  it('keeps only what can still be the largest within the window: a few points for many listings', () => {
    let points: ListingSize[] = [];
    const t0 = 1_800_000_000_000;
    // A listing every minute for a day, the count wandering down from 100 to 50 and back up to 80.
    for (let m = 0; m < 24 * 60; m++) {
      const count = m < 720 ? 100 - Math.floor(m / 15) : 52 + Math.floor((m - 720) / 26);
      points = recordListingSize(points, t0 + m * 60_000, count, 24 * H);
    }
    expect(points.length).toBeLessThan(60);
    expect(largestListingSince(points, t0 + 24 * H - 24 * H)).toBe(100);
    // Once the 100 is older than the window, the next largest counts.
    points = recordListingSize(points, t0 + 25 * H, 70, 24 * H);
    expect(largestListingSince(points, t0 + 25 * H - 24 * H)).toBe(96);
  });

  it('a larger or equal listing replaces the older ones; the time is rounded up to the minute', () => {
    const t = 1_800_000_000_000 + 1234;
    expect(recordListingSize([{ at: 0, count: 5 }], t, 5, 24 * H)).toEqual([{ at: 1_800_000_060_000, count: 5 }]);
    const p = recordListingSize([], t, 20, 24 * H);
    expect(recordListingSize(p, t + 10, 20, 24 * H)).toEqual(p);
    expect(recordListingSize(p, t + 10, 15, 24 * H)).toEqual([...p, { at: 1_800_000_060_000, count: 15 }]);
  });

  it('says how long the window is, as the config does', () => {
    expect([24 * H, 90 * 60_000, 45_000, 14 * 24 * H, 0].map(durationText)).toEqual(['24h', '90m', '45s', '14d', '']);
  });
});
