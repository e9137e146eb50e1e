/**
 * The command line's output and errors (issue 19): no stack trace when the reader of its output goes away,
 * a host that does not resolve named as such, with the setting that chose it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { unresolvedHost } from '../../src/cli/main';

const ROOT = resolve('.');
/** Runs the real binary (tsx), with `stdin` closed and a clean environment plus `env`. */
function bin(
  args: string[],
  env: Record<string, string>,
  o: { closeStdout?: boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH!,
        HOME: mkdtempSync(join(tmpdir(), 'astro-trust-home-')),
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    // The reader goes away before astro-trust writes a byte (`| head -1` that has read its line).
    if (o.closeStdout) child.stdout.destroy();
    else child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('output and errors a person can act on', () => {
  it('no stack trace when the reader of stdout goes away (astro-trust --help | head -1)', async () => {
    for (const args of [['--help'], ['plan', '--help'], ['--version']]) {
      const r = await bin(args, {}, { closeStdout: true });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  });

  it('an endpoint that does not resolve is named with the variable that set it, in one line', async () => {
    const r = await bin(['plan', '--config', 'examples/astro-trust.yaml'], {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      AWS_ENDPOINT_URL: 'http://astro-trust-test.invalid:4566',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^astro-trust: AWS_ENDPOINT_URL=http:\/\/astro-trust-test\.invalid:4566: astro-trust-test\.invalid does not resolve \((ENOTFOUND|EAI_AGAIN)\); check the host name in it/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/unexpected error/);
  });

  it('a mistyped region is named as such: the regional STS endpoint of a member account does not resolve', async () => {
    const r = await bin(['plan', '--config', 'examples/astro-trust.yaml', '--role', '444455556666/data-lake-reader'], {
      AWS_REGION: 'us-eest-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /the STS endpoint sts\.us-eest-1\.amazonaws\.com does not resolve: check AWS_REGION \(is it a region\?\)/,
    );
  });

  it.each<[string, Record<string, string>, string | undefined]>([
    [
      'iam.us-eest-1.amazonaws.com',
      { AWS_REGION: 'us-eest-1' },
      'AWS_REGION=us-eest-1: iam.us-eest-1.amazonaws.com does not resolve (ENOTFOUND); is us-eest-1 an AWS region? (aws ec2 describe-regions lists them)',
    ],
    [
      'api.astronomer.example',
      { ASTRO_API_URL: 'https://api.astronomer.example' },
      'ASTRO_API_URL=https://api.astronomer.example: api.astronomer.example does not resolve (ENOTFOUND); check the host name in it',
    ],
    [
      'iam.amazonaws.com',
      { AWS_REGION: 'eu-west-1' },
      'iam.amazonaws.com does not resolve (ENOTFOUND): check the network and DNS, and AWS_REGION (eu-west-1)',
    ],
  ])('names %s with what chose it', (host, env, expected) => {
    const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
    expect(unresolvedHost(new Error('wrapped', { cause: err }), env)).toBe(expected);
    expect(unresolvedHost(new Error('something else'), env)).toBeUndefined();
  });
});
