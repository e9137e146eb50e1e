/**
 * When a Deployment listing may be used (DESIGN 6.1). A Deployment missing from a listing loses its trust,
 * so a listing that contradicts itself, comes back empty, or shrinks suddenly is refused, never acted on.
 */
import { InconsistentListingError, InventoryRefusedError } from '../errors.js';

/**
 * One page of an Astro API listing (`GET /v1/organizations/{id}/deployments` or `.../clusters`; the
 * inventory file is a single page): the page's items, its offset and the `totalCount` it reports.
 */
export interface ListingPage {
  offset: number;
  totalCount: number;
  items: unknown[];
}

function idOf(item: unknown): unknown {
  return typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined;
}

/**
 * Joins the pages of one listing, or throws `InconsistentListingError` naming the check that failed:
 * every page reports the same `totalCount`, no id appears twice, and the count equals `totalCount`. A
 * Deployment (or cluster: `noun`) deleted or created between pages shifts the offsets; these checks catch that.
 */
export function assembleListing(pages: ListingPage[], noun = 'Deployment'): unknown[] {
  const first = pages[0];
  if (!first) return [];
  const changed = pages.find((p) => p.totalCount !== first.totalCount);
  if (changed) {
    throw new InconsistentListingError(
      'totalCount-changed',
      `totalCount changed while paging (${first.totalCount} at offset ${first.offset}, ${changed.totalCount} at offset ${changed.offset}): the inventory changed during the listing`,
    );
  }
  const all = pages.flatMap((p) => p.items);
  const seen = new Set<unknown>();
  for (const item of all) {
    const id = idOf(item);
    if (typeof id !== 'string') continue;
    if (seen.has(id)) {
      throw new InconsistentListingError(
        'duplicate-id',
        `${noun} id ${JSON.stringify(id).slice(0, 140)} appears twice in the listing (a page served twice, or offsets shifted while paging)`,
      );
    }
    seen.add(id);
  }
  if (all.length !== first.totalCount) {
    throw new InconsistentListingError(
      'count-mismatch',
      `the listing has ${all.length} ${noun}s but reports totalCount ${first.totalCount}`,
    );
  }
  return all;
}

export interface SizeCheck {
  count: number;
  /** Deployments in the last listing that was used (the watch's snapshot); undefined when none is known. */
  previousCount?: number;
  /** The largest listing within `inventory.shrinkWindow` (DESIGN 7.2); undefined when none is known. */
  largestRecent?: number;
  /** `inventory.shrinkWindow` in milliseconds, for the message. */
  shrinkWindowMs?: number;
  /** A listing with this share (percent) fewer Deployments than the previous one is refused. */
  maxShrinkPercent: number;
  /** CLI `--allow-empty-inventory`: an organization that really has no Deployment left. */
  allowEmpty?: boolean;
}

/**
 * Refuses a listing that would remove trust on a likely lie (6.1): an empty one (a token scoped to the wrong
 * workspace looks like this) unless allowed, or one that shrank by more than `maxShrinkPercent`.
 */
export function checkListingSize({
  count,
  previousCount,
  largestRecent,
  shrinkWindowMs,
  maxShrinkPercent,
  allowEmpty,
}: SizeCheck): void {
  if (count === 0 && !allowEmpty) {
    throw new InventoryRefusedError(
      'empty',
      'the Deployment listing is empty; nothing is changed, since acting on it would remove every trusted Deployment. ' +
        'Check the Astro API token (an Organization token, not one scoped to a workspace) and inventory source; ' +
        'if the organization really has no Deployment left, run plan/apply with --allow-empty-inventory',
    );
  }
  // A collapse in small steps is refused like a sudden one: the comparison is with the largest listing seen
  // within the window, not only with the last one.
  const recent = (largestRecent ?? 0) > (previousCount ?? 0);
  const reference = recent ? largestRecent! : previousCount;
  if (reference === undefined || reference === 0 || count >= reference) return;
  const shrink = ((reference - count) / reference) * 100;
  if (shrink > maxShrinkPercent) {
    const window = durationText(shrinkWindowMs ?? 0);
    throw new InventoryRefusedError(
      'shrunk',
      `the Deployment listing has ${count} Deployments, ${Math.round(shrink)}% fewer than the ${reference} of ` +
        (recent ? `the largest listing in the last ${window} (inventory.shrinkWindow)` : 'the last listing') +
        ` (inventory.maxShrinkPercent is ${maxShrinkPercent}); nothing is changed. If so many Deployments were really deleted, ` +
        `raise inventory.maxShrinkPercent until listings of the new size have been taken for ${window || 'a while'}, ` +
        'then lower it again',
    );
  }
}

/** A duration as a config says it: `24h`, `90m`, `45s`; whole weeks and more in days (`7d`). */
export function durationText(ms: number): string {
  if (ms <= 0) return '';
  if (ms >= 7 * 86_400_000 && ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}

/**
 * One listing's Deployment count and when it was taken (the shrink guard's memory, DESIGN 7.2). The time is
 * rounded up to the minute, so repeated listings of one size within a minute change nothing to store.
 */
export interface ListingSize {
  at: number;
  count: number;
}

/**
 * Adds a listing to the sizes kept for the window, keeping only what can still be the largest in it: a point
 * older than the window, or not larger than the new count, never can. What is kept is oldest first, each
 * count larger than the next: a few points however many listings were taken.
 */
export function recordListingSize(points: ListingSize[], atMs: number, count: number, windowMs: number): ListingSize[] {
  const at = Math.ceil(atMs / 60_000) * 60_000;
  return [...points.filter((p) => p.at > atMs - windowMs && p.count > count), { at, count }];
}

/**
 * The sizes with any stamped later than `nowMs` (rounded up to the minute, as recorded) stamped now instead:
 * they were taken while the clock was ahead. The same array when none is.
 */
export function clampListingSizes(points: ListingSize[], nowMs: number): ListingSize[] {
  const at = Math.ceil(nowMs / 60_000) * 60_000;
  return points.some((p) => p.at > at) ? points.map((p) => (p.at > at ? { ...p, at } : p)) : points;
}

/** The largest count of a listing taken at or after `sinceMs`; undefined when none was. */
export function largestListingSince(points: ListingSize[], sinceMs: number): number | undefined {
  const counts = points.filter((p) => p.at >= sinceMs).map((p) => p.count);
  return counts.length ? Math.max(...counts) : undefined;
}
