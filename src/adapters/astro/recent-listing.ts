/**
 * One Astro listing serves a burst of reconciles (issue 11, cost at scale): the listing a webhook or a
 * reconcile takes is kept for `maxAgeMs`; reconciles within that age use it instead of listing the whole
 * inventory again. A webhook always lists fresh (its Deployment may be seconds old), then shares it.
 */
import type { NormalizedInventory } from '../../domain/deployment.js';
import type { InventorySource } from '../../app/ports.js';

export interface ListingStore {
  load(): Promise<{ savedAt: number; inventory: NormalizedInventory } | undefined>;
  save(inventory: NormalizedInventory, savedAt: number): Promise<void>;
}

/** Reads a shared listing younger than `maxAgeMs`, else lists and shares what it listed. */
export class RecentListingInventory implements InventorySource {
  constructor(
    private readonly source: InventorySource,
    private readonly store: ListingStore,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get description() {
    return `${this.source.description} (shared for ${Math.round(this.maxAgeMs / 1000)} s)`;
  }

  async list(): Promise<NormalizedInventory> {
    const shared = await this.store.load();
    if (shared && this.now() - shared.savedAt <= this.maxAgeMs) return shared.inventory;
    return this.fresh();
  }

  /** Lists from the source and shares the result (the webhook's path). */
  async fresh(): Promise<NormalizedInventory> {
    const inventory = await this.source.list();
    await this.store.save(inventory, this.now());
    return inventory;
  }
}

export class MemoryListingStore implements ListingStore {
  private item: { savedAt: number; inventory: NormalizedInventory } | undefined;
  async load() {
    return this.item;
  }
  async save(inventory: NormalizedInventory, savedAt: number) {
    this.item = { savedAt, inventory };
  }
}
