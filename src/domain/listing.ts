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
  /** A listing with this share (percent) fewer Deployments than the previous one is refused. */
  maxShrinkPercent: number;
  /** CLI `--allow-empty-inventory`: an organization that really has no Deployment left. */
  allowEmpty?: boolean;
}

/**
 * Refuses a listing that would remove trust on a likely lie (6.1): an empty one (a token scoped to the wrong
 * workspace looks like this) unless allowed, or one that shrank by more than `maxShrinkPercent`.
 */
export function checkListingSize({ count, previousCount, maxShrinkPercent, allowEmpty }: SizeCheck): void {
  if (count === 0 && !allowEmpty) {
    throw new InventoryRefusedError(
      'empty',
      'the Deployment listing is empty; nothing is changed, since acting on it would remove every trusted Deployment. ' +
        'Check the Astro API token (an Organization token, not one scoped to a workspace) and inventory source; ' +
        'if the organization really has no Deployment left, run plan/apply with --allow-empty-inventory',
    );
  }
  if (previousCount === undefined || previousCount === 0 || count >= previousCount) return;
  const shrink = ((previousCount - count) / previousCount) * 100;
  if (shrink > maxShrinkPercent) {
    throw new InventoryRefusedError(
      'shrunk',
      `the Deployment listing has ${count} Deployments, ${Math.round(shrink)}% fewer than the ${previousCount} of the last listing ` +
        `(inventory.maxShrinkPercent is ${maxShrinkPercent}); nothing is changed. If so many Deployments were really deleted, ` +
        'raise inventory.maxShrinkPercent until the watch has taken the new listing, or delete the watch snapshot',
    );
  }
}
