// How each function is built (serverless-esbuild reads this file: custom.esbuild.config in serverless.yml).
// test/deploy/bundles.test.ts and `npm run bench -- --only functions` build with the same options.
'use strict';
const { join } = require('node:path');

const src = join(__dirname, '..', 'src');

// The config's name globs are compiled when packaging (deploy/from-config.js): the functions bundle
// src/lambda/globs.ts, which matches with them, instead of src/domain/glob.ts and its glob compiler.
const packagedGlobs = {
  name: 'astro-trust-packaged-globs',
  setup(build) {
    build.onResolve({ filter: /^\.\/glob\.js$/ }, (args) =>
      args.importer.startsWith(join(src, 'domain')) ? { path: join(src, 'lambda', 'globs.ts') } : undefined,
    );
  },
};

module.exports = () => ({
  // serverless-esbuild's work folder, one per osls process: a package never zips what another process (a
  // concurrent package, or an `invoke local`, which does not clean up) left in a shared .esbuild/.build.
  outputWorkFolder: join('.esbuild', String(process.pid)),
  bundle: true,
  minify: true,
  target: 'node22',
  platform: 'node',
  format: 'cjs',
  // ESM entry points of packages, so that what a function does not import is left out.
  mainFields: ['module', 'main'],
  // Stack traces name the source file and line: a map beside each bundle, read when an error's stack is
  // formatted (src/lambda/stack-traces.ts, injected first into every function), not at load as
  // NODE_OPTIONS=--enable-source-maps would. Names come from the map, so the bundle does not keep them.
  sourcemap: true,
  sourcesContent: false,
  keepNames: false,
  inject: ['./src/lambda/stack-traces.ts'],
  plugins: [packagedGlobs],
  // What the SDK imports only when it needs it, and a function never does: the credential providers after
  // the first of the default chain (the environment: on Lambda it always holds the function role's
  // credentials) and event streams (no operation here has one). Left out of the bundles and the zips;
  // under `osls invoke local` they come from node_modules (a profile, SSO), on Lambda from the runtime's SDK.
  // test/deploy/bundles.test.ts checks that each is only ever imported lazily.
  exclude: [
    '@aws-sdk/credential-provider-http',
    '@aws-sdk/credential-provider-ini',
    '@aws-sdk/credential-provider-login',
    '@aws-sdk/credential-provider-process',
    '@aws-sdk/credential-provider-sso',
    '@aws-sdk/credential-provider-web-identity',
    '@aws-sdk/nested-clients',
    '@aws-sdk/token-providers',
    '@smithy/core/event-streams',
    '@smithy/credential-provider-imds',
  ],
  packager: 'npm',
});
