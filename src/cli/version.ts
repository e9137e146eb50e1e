/** The astro-trust version: what `--version` prints and a saved plan records (`toolVersion`). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let cached: string | undefined;

/** The version in package.json (two levels up from src/cli in a checkout, three from dist/src/cli when built). */
export function packageVersion(): string {
  if (cached) return cached;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, rel), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'astro-trust' && pkg.version) return (cached = pkg.version);
    } catch {
      // next candidate
    }
  }
  return 'unknown';
}
