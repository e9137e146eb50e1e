/** Writes schema/astro-trust.schema.json from the config's zod schema: `npm run schema`. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchema } from '../src/config/config.js';

writeFileSync(join(__dirname, 'astro-trust.schema.json'), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log('wrote schema/astro-trust.schema.json');
