/**
 * The published package: `npm pack` yields a tarball that installs on its own (no repository) and whose
 * `npx astro-trust` works, so a pipeline can sign a webhook without cloning astro-trust.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

describe('npm pack', () => {
  it('installs into an empty project and `npx astro-trust` runs there', async () => {
    const out = mkdtempSync(join(tmpdir(), 'astro-trust-pack-'));
    await exec('npm', ['pack', '--silent', '--pack-destination', out], {
      cwd: resolve('.'),
      maxBuffer: 16 * 1024 * 1024,
    });
    const tarball = readdirSync(out).find((f) => f.endsWith('.tgz'))!;
    const app = mkdtempSync(join(tmpdir(), 'astro-trust-app-'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pipeline', version: '1.0.0', private: true }));
    await exec('npm', ['install', join(out, tarball), '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: app,
      maxBuffer: 16 * 1024 * 1024,
    });
    const npx = (...args: string[]) => exec('npx', ['--no-install', 'astro-trust', ...args], { cwd: app });

    expect((await npx('--version')).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await npx('--help')).stdout).toMatch(/Usage: astro-trust \[options\] \[command\]/);
    expect((await npx('send', '--help')).stdout).toMatch(/--deployment-id <id>/);
    copyFileSync('examples/astro-trust.yaml', join(app, 'astro-trust.yaml'));
    expect((await npx('validate', '--config', 'astro-trust.yaml')).stdout).toMatch(
      /astro-trust\.yaml: valid: 10 roles/,
    );
  }, 240_000);
});
