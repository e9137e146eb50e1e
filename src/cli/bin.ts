#!/usr/bin/env node
import { run } from './main.js';

// astro-trust supports Node.js 20 (package.json engines); the SDK's notice about its own future Node
// requirement is not the user's to act on at every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
