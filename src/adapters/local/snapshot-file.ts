/** The watch's last inventory in a local JSON file, written whole and renamed into place. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Deployment } from '../../domain/deployment.js';
import type { InventorySnapshotStore } from '../../app/ports.js';
import { InventoryRefusedError } from '../../errors.js';

export class FileSnapshotStore implements InventorySnapshotStore {
  constructor(readonly path: string) {}

  /**
   * Undefined only when there is no file (the watch's first run). A file without a `deployments` array
   * (`{}`, `{"deployments": null}`, not JSON) is unreadable (DESIGN 7.2): refused, never read as "no previous
   * listing", which would turn the shrink guard off.
   */
  async load(): Promise<Deployment[] | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
    const deployments = (data as { deployments?: unknown } | null | undefined)?.deployments;
    if (!Array.isArray(deployments))
      throw new InventoryRefusedError(
        'unreadable',
        `the watch snapshot ${this.path} has no "deployments" array, so a listing cannot be compared with it; nothing is changed. ` +
          'If the file was damaged, delete it: the watch takes a new snapshot on its next run',
      );
    return deployments as Deployment[];
  }

  async save(deployments: Deployment[]): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeFile(`${this.path}.tmp`, JSON.stringify({ savedAt: new Date().toISOString(), deployments }));
    await rename(`${this.path}.tmp`, this.path);
  }
}
