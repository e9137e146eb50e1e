/** `astro-trust serve` as its own process (what SIGKILL can stop at any point), started against moto. */
import { spawn, type ChildProcess } from 'node:child_process';
import { TEST_CREDENTIALS } from './moto';

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Everything it wrote to standard error so far. */
  stderr(): string;
  /** SIGKILL: no shutdown code runs. */
  kill(): Promise<void>;
  /** SIGTERM, and wait for it to exit. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Kills every process `startServe` started that is still running (afterAll). */
export function killAllServe() {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** Starts `serve` with `args` (after `serve`) and `env` on top of AWS settings for `endpoint`; resolves once it listens. */
export async function startServe(
  args: string[],
  env: Record<string, string>,
  endpoint: string,
  port: number,
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/bin.ts', 'serve', ...args, '--port', String(port)],
    {
      env: {
        ...process.env,
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (err.includes('listening on')) {
        child.stderr!.off('data', onData);
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  const exited = () =>
    new Promise<void>((r) =>
      child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()),
    );
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    stderr: () => err,
    kill: async () => {
      child.kill('SIGKILL');
      await exited();
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited();
    },
  };
}

/** Polls `check` every 50 ms until it returns true or `ms` pass; returns its last answer. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
