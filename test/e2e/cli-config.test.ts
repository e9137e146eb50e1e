/**
 * The command line as a newcomer meets it (DESIGN 7.3): the config found without --config, `--role` a role
 * key in every command, `--help` of each command explaining itself.
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cli } from '../support/cli';

const ROOT = resolve('.');
const SNAPSHOTS = [
  '--iam-snapshot',
  join(ROOT, 'examples/iam-snapshot.json'),
  '--iam-snapshot',
  `444455556666=${join(ROOT, 'examples/iam-snapshot-444455556666.json')}`,
];

describe('config discovery: --config, else ASTRO_TRUST_CONFIG, else ./astro-trust.yaml', () => {
  const project = () => {
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-discovery-'));
    copyFileSync('examples/astro-trust.yaml', join(dir, 'astro-trust.yaml'));
    copyFileSync('examples/deployments.json', join(dir, 'deployments.json'));
    return dir;
  };

  it('without any, the error names all three places and init', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'astro-trust-none-'));
    for (const cmd of [['validate'], ['plan'], ['apply', '--yes'], ['explain', '--role', 'x'], ['serve']]) {
      const r = await cli(cmd, { env: {}, cwd: empty });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `astro-trust: no config file: --config was not given, ASTRO_TRUST_CONFIG is not set, and there is no ./astro-trust.yaml in ${empty}. ` +
          'Pass --config FILE, set ASTRO_TRUST_CONFIG, or create ./astro-trust.yaml (astro-trust init writes one from the trust IAM holds today)\n',
      );
    }
  });

  it('./astro-trust.yaml in the working directory is found, its inventory path resolved beside it', async () => {
    const dir = project();
    const validate = await cli(['validate'], { env: {}, cwd: dir });
    expect(validate.stdout).toMatch(/astro-trust\.yaml: valid: 10 roles/);
    const plan = await cli(['plan', ...SNAPSHOTS, '--json'], { env: {}, cwd: dir });
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.stdout).inventory.deployments).toBeGreaterThan(30);
    const explain = await cli(['explain', '--role', 'etl-runner', ...SNAPSHOTS], { env: {}, cwd: dir });
    expect(explain.stdout).toMatch(/^etl-runner \(oidc, observe\)/);
    const connections = await cli(['connections', '--deployment', 'clmh57jtm000008lb58fe2wmv', ...SNAPSHOTS], {
      env: {},
      cwd: dir,
    });
    expect(connections.code).toBe(0);
  });

  it('ASTRO_TRUST_CONFIG comes before ./astro-trust.yaml, --config before both; a missing file names where it came from', async () => {
    const dir = project();
    mkdirSync(join(dir, 'other'));
    writeFileSync(
      join(dir, 'other', 'one-role.yaml'),
      'version: 1\norganizationId: o\ninventory: { source: api }\nroles:\n  - { name: r, trust: oidc }\n',
    );
    const env = await cli(['validate'], { env: { ASTRO_TRUST_CONFIG: 'other/one-role.yaml' }, cwd: dir });
    expect(env.stdout).toMatch(/one-role\.yaml: valid: 1 role,/);
    const flag = await cli(['validate', '--config', 'astro-trust.yaml'], {
      env: { ASTRO_TRUST_CONFIG: 'other/one-role.yaml' },
      cwd: dir,
    });
    expect(flag.stdout).toMatch(/astro-trust\.yaml: valid: 10 roles/);
    const missingEnv = await cli(['validate'], { env: { ASTRO_TRUST_CONFIG: 'nope.yaml' }, cwd: dir });
    expect(missingEnv.stderr).toBe('astro-trust: ASTRO_TRUST_CONFIG=nope.yaml: no such file\n');
    const missingFlag = await cli(['validate', '-c', 'nope.yaml'], { env: {}, cwd: dir });
    expect(missingFlag.stderr).toBe('astro-trust: --config nope.yaml: no such file\n');
  });
});

describe('--role: a role key in every command', () => {
  const args = ['--config', 'examples/astro-trust.yaml', ...SNAPSHOTS];

  it('explain --role with a name declared in two accounts asks for a key and lists keys that work', async () => {
    const r = await cli(['explain', '--role', 'data-lake-reader', ...args], { env: {} });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'astro-trust: --role data-lake-reader: data-lake-reader is declared in 2 accounts; explain one role at a time: ' +
        '--role 123456789012/data-lake-reader or --role 444455556666/data-lake-reader\n',
    );
    for (const [key, arn] of [
      ['123456789012/data-lake-reader', 'arn:aws:iam::123456789012:role/data-lake-reader'],
      ['444455556666/data-lake-reader', 'arn:aws:iam::444455556666:role/data-lake-reader'],
    ]) {
      const one = await cli(['explain', '--role', key!, ...args], { env: {} });
      expect(one.code).toBe(0);
      expect(one.stdout.split('\n')[0]).toContain(arn);
    }
  });

  it('plan --role with that name plans both; with a key, the one', async () => {
    const both = await cli(['plan', '--role', 'data-lake-reader', '--json', ...args], { env: {} });
    expect(JSON.parse(both.stdout).roles.map((r: { role: string }) => r.role)).toEqual([
      'data-lake-reader',
      '444455556666/data-lake-reader',
    ]);
    const home = await cli(['plan', '--role', '123456789012/data-lake-reader', '--json', ...args], { env: {} });
    expect(JSON.parse(home.stdout).roles.map((r: { role: string }) => r.role)).toEqual(['data-lake-reader']);
  });
});

describe('--help', () => {
  it('--help of each command says what it does, its options and its exit codes', async () => {
    for (const [cmd, expected] of [
      ['plan', [/--out <file>/, /-out FILE/, /Exit: 0 success/, /apply plan\.json writes exactly those policies/]],
      ['apply', [/\[plan\]/, /--max-age <duration>/, /does not prompt/, /Exit 1 on any refusal/]],
      ['show', [/Print a saved plan/, /<plan>/, /--json/, /Exit: 0, 1 when the file is not a saved plan/]],
      ['validate', [/ASTRO_TRUST_CONFIG, else \.\/astro-trust\.yaml/]],
      [
        'init',
        [
          /Adopt an estate/,
          /--inventory <file>/,
          /--organization-id <id>/,
          /Writes nothing to AWS/,
          /Exit: 0 config written/,
        ],
      ],
    ] as const) {
      const r = await cli([cmd, '--help']);
      expect(r.code).toBe(0);
      for (const e of expected) expect(r.stdout).toMatch(e);
    }
  });
});
