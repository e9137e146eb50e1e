#!/usr/bin/env node
// Runs the built CLI (npm run build); in a checkout, `npm run astro-trust -- <args>` runs the sources.
try {
  require('../dist/src/cli/bin.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/bin.js')) {
    console.error(
      'astro-trust: not built yet; run `npm run build` first (or `npm run astro-trust -- <args>` in a checkout)',
    );
    process.exit(1);
  }
  throw err;
}
