/**
 * Wiring shared by the command line and the Lambda functions: where the Deployments come from. Each
 * runtime reads its own environment (the CLI's variables, the functions' SSM secrets) and passes plain
 * values here, so both build the same adapters the same way.
 */
import { AstroApiInventory } from '../adapters/astro/api.js';
import { FileInventory } from '../adapters/astro/inventory-file.js';
import type { InventorySource } from '../app/ports.js';
import type { Config } from '../config/config.js';
import { UsageError } from '../errors.js';

export const DEFAULT_ASTRO_API_URL = 'https://api.astronomer.io';

export interface InventoryWiring {
  /** The Astro Organization API token; required with `inventory.source: api`. */
  token?: string;
  /** Where a missing token comes from, for the error: "ASTRO_API_TOKEN", "the SSM parameter ...". */
  tokenFrom: string;
  baseUrl?: string;
  log: (line: string) => void;
}

/** The Astro API with the organization's token, or the inventory file the config names. */
export function inventorySource(config: Config, w: InventoryWiring): InventorySource {
  if (config.inventory.source === 'file') return new FileInventory(config.inventory.path);
  if (!w.token) {
    throw new UsageError(
      `${config.file}: inventory.source is api but ${w.tokenFrom} is not set; set it to an Astro Organization API token, or use inventory.source: file`,
    );
  }
  return new AstroApiInventory({
    baseUrl: w.baseUrl || DEFAULT_ASTRO_API_URL,
    organizationId: config.organizationId,
    token: w.token,
    log: w.log,
  });
}
