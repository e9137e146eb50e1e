/**
 * The Deployment inventory from a JSON file in the shape of one Astro API page (offline runs, tests, demos),
 * with an optional `clusters` array in the shape of the clusters listing's items (`id`, `cloudProvider`): with
 * it, Dedicated and Hybrid Deployments take their cluster's cloud, as from the API.
 */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { clusterClouds, normalizeDeployments, type NormalizedInventory } from '../../domain/deployment.js';
import { assembleListing } from '../../domain/listing.js';
import { InconsistentListingError, InventoryFileError } from '../../errors.js';
import type { InventorySource } from '../../app/ports.js';

export class FileInventory implements InventorySource {
  constructor(readonly path: string) {}

  get description() {
    const rel = relative(process.cwd(), this.path);
    return `inventory file ${rel && !rel.startsWith('..') ? rel : this.path}`;
  }

  async list(): Promise<NormalizedInventory> {
    let data: unknown;
    try {
      data = JSON.parse(await readFile(this.path, 'utf8'));
    } catch (err) {
      throw new InventoryFileError(`${this.path}: cannot read the inventory (${(err as Error).message})`, {
        cause: err,
      });
    }
    const page = (typeof data === 'object' && data !== null ? data : {}) as {
      deployments?: unknown;
      totalCount?: unknown;
      clusters?: unknown;
    };
    if (!Array.isArray(page.deployments)) {
      throw new InventoryFileError(
        `${this.path}: expected {"deployments": [...], "totalCount": N} as in one page of GET /v1/organizations/{id}/deployments`,
      );
    }
    // The same checks as an API listing; a hand-written file may leave totalCount out.
    const totalCount = page.totalCount === undefined ? page.deployments.length : page.totalCount;
    if (!Number.isSafeInteger(totalCount))
      throw new InventoryFileError(`${this.path}: totalCount must be a whole number`);
    if (page.clusters !== undefined && !Array.isArray(page.clusters))
      throw new InventoryFileError(
        `${this.path}: clusters must be a list of {"id", "cloudProvider"} as in GET /v1/organizations/{id}/clusters`,
      );
    try {
      return normalizeDeployments(
        assembleListing([{ offset: 0, totalCount: totalCount as number, items: page.deployments }]),
        page.clusters ? clusterClouds(page.clusters) : undefined,
      );
    } catch (err) {
      if (err instanceof InconsistentListingError)
        throw new InventoryFileError(`${this.path}: ${err.message}; fix the file`, { cause: err });
      throw err;
    }
  }
}
