/** An inventory file without a `deployments` array is unreadable (DESIGN 7.2): refused, never an empty inventory. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileInventory } from '../../../src/adapters/astro/inventory-file';
import { InventoryFileError } from '../../../src/errors';

describe('FileInventory', () => {
  it.each(['{}', '{"deployments": null}', '{"deployments": {}}', 'null', '[]'])('refuses %s', async (text) => {
    const file = join(mkdtempSync(join(tmpdir(), 'astro-trust-inventory-')), 'deployments.json');
    writeFileSync(file, text);
    await expect(new FileInventory(file).list()).rejects.toThrow(InventoryFileError);
    await expect(new FileInventory(file).list()).rejects.toThrow(
      /expected \{"deployments": \[\.\.\.\], "totalCount": N\}/,
    );
  });
});
