/**
 * Writes the JSON Schemas from the zod schemas the code parses with (`npm run schema`):
 * schema/astro-trust.schema.json (the config) and schema/astro-trust-plan.schema.json (plan --json, plan -out).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { planJsonSchema } from '../src/app/saved-plan.js';
import { configJsonSchema } from '../src/config/config.js';

for (const [file, schema] of [
  ['astro-trust.schema.json', configJsonSchema()],
  ['astro-trust-plan.schema.json', planJsonSchema()],
] as const) {
  writeFileSync(join(__dirname, file), `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote schema/${file}`);
}
