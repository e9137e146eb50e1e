/** Concurrent listings share one request to the source; a listing that starts after one ends is fresh. */
import type { NormalizedInventory } from '../../domain/deployment.js';
import type { InventorySource } from '../../app/ports.js';

export class SingleFlightInventory implements InventorySource {
  private inflight?: Promise<NormalizedInventory>;
  constructor(private readonly source: InventorySource) {}
  get description() {
    return this.source.description;
  }
  list(): Promise<NormalizedInventory> {
    this.inflight ??= this.source.list().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }
}
