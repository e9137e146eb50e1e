/** The watch's last inventory in a local JSON file, written whole and renamed into place. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Deployment } from '../../domain/deployment.js';
import type { InventorySnapshotStore } from '../../app/ports.js';

export class FileSnapshotStore implements InventorySnapshotStore {
  constructor(readonly path: string) {}

  async load(): Promise<Deployment[] | undefined> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')).deployments;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async save(deployments: Deployment[]): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeFile(`${this.path}.tmp`, JSON.stringify({ savedAt: new Date().toISOString(), deployments }));
    await rename(`${this.path}.tmp`, this.path);
  }
}
