/** The Deployment inventory from a JSON file in the shape of one Astro API page (offline runs, tests, demos). */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { normalizeDeployments, type NormalizedInventory } from '../domain/deployment.js';
import { InventoryFileError } from '../errors.js';
import type { InventorySource } from './ports.js';

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
      throw new InventoryFileError(`${this.path}: cannot read the inventory (${(err as Error).message})`, { cause: err });
    }
    const deployments = (data as { deployments?: unknown }).deployments;
    if (!Array.isArray(deployments)) {
      throw new InventoryFileError(`${this.path}: expected {"deployments": [...]} as in one page of GET /v1/organizations/{id}/deployments`);
    }
    return normalizeDeployments(deployments);
  }
}
