/**
 * Packaging loads the config with the loader `validate` uses (DESIGN 7.3, issue 19): a config `validate`
 * rejects is not packaged, and the message is the loader's own, without a stack trace.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, loadConfig } from '../../src/config/config';

const dir = mkdtempSync(join(tmpdir(), 'astro-trust-bad-config-'));

/** `npx osls package` with this config: its exit code and everything it printed. */
async function packageWith(config: string, extraEnv: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      'npx',
      ['osls', 'package', '--stage', 'prod', '--package', join(dir, 'out')],
      {
        env: { ...process.env, ASTRO_TRUST_CONFIG: config, SLS_TELEMETRY_DISABLED: '1', ...extraEnv },
        timeout: 120_000,
      },
    );
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

function loaderMessage(file: string): string {
  try {
    loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error(`${file} is valid`);
}

describe('osls package with a config validate rejects', () => {
  it('fails with the loader’s message (file, line, key, fix) and no stack trace', async () => {
    const bad = join(dir, 'astro-trust.yaml');
    writeFileSync(
      bad,
      [
        'version: 1',
        'organizationId: clorg',
        'inventory: { source: api }',
        'roles:',
        '  - name: data-lake-reader',
        '    trust: workload-identity',
        '    deploymets: [{ name: "prod-*" }]',
        '',
      ].join('\n'),
    );
    const message = loaderMessage(bad);
    expect(message).toMatch(/roles\[0\] \(line 5\): unknown key "deploymets"/);

    const { code, output } = await packageWith(bad);
    expect(code).not.toBe(0);
    expect(output).not.toMatch(/Service packaged/);
    expect(output).toContain(message);
    // No stack trace: no "    at fn (file:line:col)" frames, not even osls's own.
    expect(output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  }, 150_000);

  it('names the file it looked for when there is none, by the command line rule (src/config/discovery.ts)', async () => {
    const missing = join(dir, 'nothing-here.yaml');
    const { code, output } = await packageWith(missing);
    expect(code).not.toBe(0);
    expect(output).toContain(`astro-trust: ASTRO_TRUST_CONFIG=${missing}: no such file`);
    expect(output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  }, 150_000);
});
