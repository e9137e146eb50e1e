/**
 * A reader's machine for the docs' shell blocks: a project directory of their own (a package.json whose
 * `astro-trust` script runs this checkout's command line, the example config as ./astro-trust.yaml with its
 * inventory and IAM snapshots; `astro-trust` on the PATH), AWS played by moto with the example's roles in both its accounts, and the
 * environment a reader has set. Blocks run as written, with bash -euo pipefail.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { localUp } from '../../scripts/local-up';
import { spawnMoto, startMoto, TEST_CREDENTIALS, type Moto } from './moto';

export const REPO = resolve(__dirname, '../..');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Playground {
  dir: string;
  moto: Moto;
  env: Record<string, string>;
  /** Runs a script as written (bash -euo pipefail) in `cwd` (default: the reader's project directory). */
  run(script: string, opts?: { env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<Run>;
  close(): Promise<void>;
}

/** The environment a reader's shell has: PATH and HOME, AWS pointed at moto with test credentials. */
function readerEnv(moto: Moto): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
  };
}

/**
 * Runs a script as written: bash -euo pipefail, background jobs it starts (a server) ended with it.
 * Standard input is closed, not a socket: bash reads /etc/bash.bashrc when its input looks like a network.
 */
export function runScript(
  script: string,
  opts: { cwd: string; env: Record<string, string>; timeoutMs?: number },
): Promise<Run> {
  return new Promise((resolveRun) => {
    const wrapped = `trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${script}`;
    const child = spawn('bash', ['-euo', 'pipefail', '-c', wrapped], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('close', (code, signal) => resolveRun({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/**
 * A reader's machine. `ownMoto`: a moto_server of its own, for a second playground in a file (the worker's
 * shared moto is reset when a file takes it, and the first playground is on it).
 */
export async function playground(opts: { ownMoto?: boolean } = {}): Promise<Playground> {
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-reader-'));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'my-platform', private: true, scripts: { 'astro-trust': `tsx ${REPO}/src/cli/bin.ts` } }),
  );
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  copyFileSync(join(REPO, 'examples/astro-trust.yaml'), join(dir, 'astro-trust.yaml'));
  for (const f of readdirSync(join(REPO, 'examples')).filter((f) => /^(deployments|iam-snapshot.*)\.json$/.test(f))) {
    copyFileSync(join(REPO, 'examples', f), join(dir, f));
  }
  // `astro-trust` on the PATH, as `npm install -g astro-trust` (or npx) gives a reader.
  mkdirSync(join(dir, '.bin'));
  writeFileSync(
    join(dir, '.bin/astro-trust'),
    `#!/bin/sh\nexec "${REPO}/node_modules/.bin/tsx" "${REPO}/src/cli/bin.ts" "$@"\n`,
  );
  chmodSync(join(dir, '.bin/astro-trust'), 0o755);
  const moto = opts.ownMoto ? await spawnMoto() : await startMoto();
  const env = { ...readerEnv(moto), PATH: `${join(dir, '.bin')}:${readerEnv(moto).PATH}` };
  // The example's roles, in its home account and its second account, as a reader's AWS would have them.
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    await localUp(join(REPO, 'examples/iam-snapshot.json'));
  } finally {
    process.env = saved;
  }
  return {
    dir,
    moto,
    env,
    run: (script, opts = {}) => runScript(script, { cwd: dir, ...opts, env: { ...env, ...opts.env } }),
    close: async () => {
      await moto.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
