/**
 * The moto_server process itself: started on a free loopback port, waited for, stopped. Nothing here imports
 * astro-trust's sources, so jest's global setup (which runs without the test transform's module mapping) can
 * use it. Where moto is missing it is installed with `pip install 'moto[server]'`; where that fails, the error
 * says how to install it by hand.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export const TEST_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function hasMoto(): boolean {
  return spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status === 0;
}

export function ensureMotoInstalled(): void {
  if (hasMoto()) return;
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', 'moto[server]'], { stdio: 'inherit' });
  if (pip.status !== 0 || !hasMoto()) {
    throw new Error(
      "moto_server is not installed and `python3 -m pip install 'moto[server]'` failed. " +
        "Install it by hand (pip install 'moto[server]', Python 3.9+) and make sure moto_server is on PATH.",
    );
  }
}

async function waitUntilUp(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${output()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not answer within 30 s: ${output()}`);
}

/** Starts moto_server on a free port; resolves once it answers. */
export async function spawnMotoProcess(): Promise<{ endpoint: string; pid?: number; stop(): Promise<void> }> {
  ensureMotoInstalled();
  const port = await freePort();
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (b: Buffer) => {
    log = (log + b.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilUp(endpoint, child, () => log);
  return {
    endpoint,
    ...(child.pid ? { pid: child.pid } : {}),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
