/** DESIGN 6.1: a listing is consistent or unused; an empty or shrunken one is refused. */
import { assembleListing, checkListingSize } from '../../src/domain/listing';
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
