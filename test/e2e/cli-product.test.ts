/** The command line for people and pipelines: version, validate, a JSON Schema for editors, short errors with a hint. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cli } from '../support/cli';
import { freePort } from '../support/moto';

describe('astro-trust --version and validate', () => {
  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('validate: 0 for a valid config, 1 naming the key, line and fix for an invalid one; no AWS, no Astro', async () => {
    const ok = await cli(['validate', '--config', 'examples/astro-trust.yaml'], { env: {} });
    expect(ok).toMatchObject({
      code: 0,
      stdout:
        'examples/astro-trust.yaml: valid: 10 roles, inventory from file, 1 acknowledged finding\n' +
        'member accounts: deploy deploy/member-account.yml in each (docs/accounts.md) with\n' +
        '  444455556666: MemberRoleName=astro-trust-member ManagedRoleArns=arn:aws:iam::444455556666:role/data-lake-reader ManagesOidcProviders=false\n',
    });
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-validate-'));
    writeFileSync(
      join(dir, 'bad.yaml'),
      'version: 1\norganizationId: o\ninventory: { source: api, identityAccounts: ["12345"] }\nroles:\n  - { name: r, trust: oidc }\n',
    );
    const bad = await cli(['validate', '--config', join(dir, 'bad.yaml')], { env: {} });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /bad\.yaml: invalid config\n {2}- inventory\.identityAccounts\[0\] \(line 3\): an AWS account id: 12 digits/,
    );
  });
});

describe('validate refuses a release-2 acknowledgement (DESIGN 7.1)', () => {
  it('names the entry and says where the finding id is printed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-validate-'));
    writeFileSync(
      join(dir, 'old.yaml'),
      'version: 1\norganizationId: o\ninventory: { source: api }\nfindings:\n  acknowledge:\n' +
        '    - { role: r, principal: "arn:aws:iam::111928029897:role/astro-x", reason: "OPS-1", expires: 2027-03-01 }\n' +
        'roles:\n  - { name: r, trust: oidc }\n',
    );
    const r = await cli(['validate', '--config', join(dir, 'old.yaml')], { env: {} });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/findings\.acknowledge\[0\] \(line 6\): acknowledges by role \+ principal \(release 2\)/);
    expect(r.stderr).toMatch(
      /finding: <id>.*`astro-trust plan`.*`plan --json` as roles\[\]\.findings\[\]\.id.*Slack alert/,
    );
  });
});

describe('the JSON Schema (schema/astro-trust.schema.json; strict Ajv in test/config/schema.test.ts)', () => {
  it('the example points editors at it', () => {
    expect(readFileSync('examples/astro-trust.yaml', 'utf8')).toMatch(
      /^# yaml-language-server: \$schema=\.\.\/schema\/astro-trust\.schema\.json$/m,
    );
  });
});

describe('errors a person can act on', () => {
  const run = (env: Record<string, string>) =>
    promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/cli/bin.ts', 'plan', '--config', 'examples/astro-trust.yaml'],
      {
        env: {
          PATH: process.env.PATH!,
          HOME: mkdtempSync(join(tmpdir(), 'astro-trust-home-')),
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_REGION: 'us-east-1',
          ...env,
        },
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

  it('no credentials: one line that says what to set, no SDK warning', async () => {
    const r = await run({});
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^astro-trust: no AWS credentials found: set AWS_PROFILE .* AWS_ENDPOINT_URL .* --iam-snapshot/,
      ),
    ]);
  });

  it('nothing at AWS_ENDPOINT_URL: one line naming the cause and the variable, not a line per retry', async () => {
    const r = await run({
      AWS_ENDPOINT_URL: `http://127.0.0.1:${await freePort()}`,
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
    });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /IAM still failing after 2 attempts \(ECONNREFUSED\); nothing answers at the IAM endpoint: check AWS_ENDPOINT_URL/,
    );
  });
});
