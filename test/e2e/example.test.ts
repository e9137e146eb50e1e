/** The bundled offline example (`npm start`): every plan outcome, no AWS. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IamSnapshotStore } from '../../src/adapters/aws/iam-snapshot';
import { cli } from '../support/cli';

const MEMBER_SNAPSHOT = ['--iam-snapshot', '444455556666=examples/iam-snapshot-444455556666.json'];

/**
 * The example config, its acknowledgement renewed to expire in 30 days: what `npm start` shows while the example's
 * own date (at most a year ahead when it was written) has not passed, whatever day the tests run.
 */
function renewedExample(): string {
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-example-'));
  const file = join(dir, 'astro-trust.yaml');
  const in30 = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  writeFileSync(
    file,
    readFileSync('examples/astro-trust.yaml', 'utf8')
      .replace(/expires: \d{4}-\d\d-\d\d/, `expires: ${in30}`)
      .replace('path: ./deployments.json', `path: ${join(process.cwd(), 'examples/deployments.json')}`),
  );
  return file;
}
const args = ['plan', '--config', renewedExample(), '--iam-snapshot', 'examples/iam-snapshot.json', ...MEMBER_SNAPSHOT];

describe('the offline example', () => {
  it('shows every plan outcome', async () => {
    const r = await cli([...args, '--json']);
    expect(r.code).toBe(0);
    const roles = Object.fromEntries(JSON.parse(r.stdout).roles.map((x: { role: string }) => [x.role, x]));
    expect(roles['reports-reader'].status).toBe('in-sync');
    expect(roles['data-lake-reader']).toMatchObject({
      status: 'changes',
      add: [expect.objectContaining({ principal: 'arn:aws:iam::111928029897:role/astro-stellar-comet-3141' })],
    });
    expect(roles['archive-writer']).toMatchObject({
      status: 'changes',
      remove: [expect.objectContaining({ principal: 'arn:aws:iam::111928029897:role/astro-deleted-nova-9999' })],
    });
    // Acknowledged in the example by its id (DESIGN 7.1).
    expect(roles['legacy-exporter'].findings).toEqual([
      expect.objectContaining({
        id: '41403717ac0ea685',
        kind: 'undeclared-astro-identity',
        sid: 'LegacyManualGrant',
        statement: 1,
        condition: null,
        acknowledged: true,
        acknowledgement: expect.objectContaining({ reason: expect.stringMatching(/OPS-123/) }),
      }),
    ]);
    expect(roles['ml-feature-store'].findings).toEqual([expect.objectContaining({ kind: 'orphaned-principal' })]);
    expect(roles['etl-runner']).toMatchObject({
      mode: 'observe',
      status: 'changes',
      findings: [expect.objectContaining({ kind: 'namespace-wildcard' })],
    });
    expect(roles['s3-exporter'].add.map((a: { principal: string }) => a.principal)).toContain(
      'system:serviceaccount:solar-flare-6677:solar-flare-6677-webserver-serviceaccount',
    );
    const near = roles['shared-analytics'];
    expect(near.policy.proposedChars).toBeLessThanOrEqual(near.policy.limit);
    expect(near.add.map((a: { deploymentIds: string[] }) => a.deploymentIds[0])).toEqual([
      'clmh7an00002108lb8u4j0b2d',
      'clmh7an01002108lb8u4j0b2d',
    ]);
    expect(near.notFitting).toEqual([
      { id: 'clmh7an02002108lb8u4j0b2d', name: 'analytics-33' },
      { id: 'clmh7an03002108lb8u4j0b2d', name: 'analytics-34' },
    ]);
    // DESIGN 6.2: a foreign account's role, a GCP Deployment and a non-EKS issuer are refused, each named with its reason.
    expect(roles['data-lake-reader'].skipped).toEqual([
      expect.objectContaining({
        name: 'prod-partner-sync',
        reason: expect.stringMatching(/999999999999:role\/partner-airflow is neither Astro-managed/),
      }),
      expect.objectContaining({ name: 'prod-gcp-reports', reason: expect.stringMatching(/runs on GCP/) }),
    ]);
    expect(roles['etl-runner'].skipped).toEqual([
      expect.objectContaining({
        name: 'etl-selfhosted',
        reason: expect.stringMatching(/oidc.selfhosted.example.com\/id\/cluster-7 is not an EKS cluster issuer/),
      }),
    ]);
    expect(roles['hybrid-logs-reader'].findings).toEqual([
      expect.objectContaining({
        kind: 'shared-identity',
        acknowledged: false,
        deployments: [
          expect.objectContaining({ name: 'hybrid-export' }),
          expect.objectContaining({ name: 'hybrid-audit' }),
        ],
      }),
    ]);
    // DESIGN 3.6: the same role name in a second account, read from that account's snapshot, named by account.
    expect(roles['444455556666/data-lake-reader']).toMatchObject({
      account: '444455556666',
      roleName: 'data-lake-reader',
      arn: 'arn:aws:iam::444455556666:role/data-lake-reader',
      status: 'changes',
      add: [
        expect.objectContaining({ principal: 'arn:aws:iam::111928029897:role/astro-nebular-quasar-2211' }),
        expect.objectContaining({ principal: 'arn:aws:iam::111928029897:role/astro-nebular-quasar-2211-dr' }),
      ],
      remove: [expect.objectContaining({ principal: 'arn:aws:iam::111928029897:role/astro-galactian-element-5125' })],
    });
    expect(roles['data-lake-reader']).toMatchObject({ account: '123456789012', roleName: 'data-lake-reader' });
    expect(JSON.parse(r.stdout).formatVersion).toBe(1);
    expect(JSON.parse(r.stdout).inventory.warnings).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/bad\*ns/) }),
    ]);
  });

  it('prints a readable plan with a summary line, and 2 with --detailed-exitcode', async () => {
    const r = await cli([...args, '--detailed-exitcode']);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(
      /^Plan: 5 to change \(\+11 -2 principals\), 4 in sync, 1 observe-only with changes, 3 findings to look at, 1 acknowledged\.$/m,
    );
    expect(r.stdout).not.toContain(String.fromCharCode(27));
  });

  it('colours on a terminal (not with NO_COLOR) and shows progress on a terminal stderr', async () => {
    const tty = await cli(args, { stdoutIsTTY: true, stderrIsTTY: true });
    expect(tty.stdout).toContain(String.fromCharCode(27));
    expect(tty.stderr).toMatch(/listing Deployments 1\/1/);
    const noColor = await cli(args, { stdoutIsTTY: true, env: { NO_COLOR: '1' } });
    expect(noColor.stdout).not.toContain(String.fromCharCode(27));
  });

  it('an empty listing: plan and apply exit 1 naming --allow-empty-inventory; with it, the removals are planned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-empty-'));
    writeFileSync(
      join(dir, 'astro-trust.yaml'),
      readFileSync('examples/astro-trust.yaml', 'utf8').replace(
        'path: ./deployments.json',
        `path: ${join(dir, 'deployments.json')}`,
      ),
    );
    writeFileSync(
      join(dir, 'deployments.json'),
      JSON.stringify({ deployments: [], limit: 1000, offset: 0, totalCount: 0 }),
    );
    const cfg = ['--config', join(dir, 'astro-trust.yaml')];
    const r = await cli(['plan', ...cfg, '--iam-snapshot', 'examples/iam-snapshot.json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/the Deployment listing is empty; nothing is changed.*--allow-empty-inventory/);
    const apply = await cli(['apply', ...cfg, '--yes'], {
      adapters: {
        store: {
          readRoles: async () => {
            throw new Error('IAM must not be read');
          },
        } as never,
      },
    });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toMatch(/--allow-empty-inventory/);
    const allowed = await cli([
      'plan',
      ...cfg,
      '--iam-snapshot',
      'examples/iam-snapshot.json',
      ...MEMBER_SNAPSHOT,
      '--allow-empty-inventory',
      '--json',
    ]);
    expect(allowed.code).toBe(0);
    const roles = JSON.parse(allowed.stdout).roles as { role: string; remove: unknown[] }[];
    expect(roles.find((x) => x.role === 'reports-reader')!.remove).toHaveLength(2);
  });

  it('a role in an account without a snapshot is not read, says which option to add, and fails only itself', async () => {
    const r = await cli([
      'plan',
      '--config',
      'examples/astro-trust.yaml',
      '--iam-snapshot',
      'examples/iam-snapshot.json',
      '--json',
    ]);
    expect(r.code).toBe(1);
    const roles = JSON.parse(r.stdout).roles as { role: string; status: string; error: { message: string } | null }[];
    expect(roles.filter((x) => x.status === 'unreachable')).toEqual([
      expect.objectContaining({
        role: '444455556666/data-lake-reader',
        error: {
          message: expect.stringMatching(
            /no IAM snapshot for account 444455556666: add --iam-snapshot 444455556666=FILE/,
          ),
          retryable: false,
        },
      }),
    ]);
    expect(roles.filter((x) => x.status === 'changes')).toHaveLength(5); // the other accounts' roles are planned as usual
    const text = await cli([
      'plan',
      '--config',
      'examples/astro-trust.yaml',
      '--iam-snapshot',
      'examples/iam-snapshot.json',
    ]);
    expect(text.stdout).toMatch(
      /! 444455556666\/data-lake-reader \(workload-identity, enforce\): not read: no IAM snapshot for account 444455556666/,
    );
    expect(text.stdout).toMatch(/1 not read \(account unreachable\)/);
    const wrong = await cli([
      'plan',
      '--config',
      'examples/astro-trust.yaml',
      '--iam-snapshot',
      'examples/iam-snapshot.json',
      '--iam-snapshot',
      '444455556666=examples/iam-snapshot.json',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/examples\/iam-snapshot.json holds roles of account 123456789012, not 444455556666/);
  });

  it('--role takes <account>/<name> for one role, or a name for that name in every account; explain names the account', async () => {
    const both = JSON.parse((await cli([...args, '--role', 'data-lake-reader', '--json'])).stdout).roles.map(
      (x: { role: string }) => x.role,
    );
    expect(both).toEqual(['data-lake-reader', '444455556666/data-lake-reader']);
    const one = JSON.parse(
      (await cli([...args, '--role', '444455556666/data-lake-reader', '--json'])).stdout,
    ).roles.map((x: { role: string }) => x.role);
    expect(one).toEqual(['444455556666/data-lake-reader']);
    const explained = await cli([
      'explain',
      '--config',
      'examples/astro-trust.yaml',
      '--iam-snapshot',
      'examples/iam-snapshot.json',
      ...MEMBER_SNAPSHOT,
      '--role',
      '444455556666/data-lake-reader',
      '--json',
    ]);
    expect(explained.code).toBe(0);
    expect(JSON.parse(explained.stdout)).toMatchObject({
      role: '444455556666/data-lake-reader',
      account: '444455556666',
      arn: 'arn:aws:iam::444455556666:role/data-lake-reader',
    });
  });

  it('apply refuses an IAM snapshot', async () => {
    const r = await cli([
      'apply',
      '--config',
      'examples/astro-trust.yaml',
      '--iam-snapshot',
      'examples/iam-snapshot.json',
      '--yes',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/apply writes to IAM and cannot use --iam-snapshot/);
  });

  it('--help explains the commands and the exit codes', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/plan \[options\]/);
    expect(top.stdout).toMatch(/AWS_ENDPOINT_URL/);
    const plan = await cli(['plan', '--help']);
    expect(plan.stdout).toMatch(/--detailed-exitcode/);
    expect(plan.stdout).toMatch(/Exit: 0 success, 1 error/);
  });

  it('a bad config exits 1 naming the file and key, before reading anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-cfg-'));
    writeFileSync(
      join(dir, 'c.yaml'),
      'version: 1\norganizationId: o\ninventory: { source: api }\nroles:\n  - { name: r, trust: oidc, mood: observe }\n',
    );
    const r = await cli(['plan', '--config', join(dir, 'c.yaml'), '--iam-snapshot', 'nope.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/c\.yaml: invalid config\n {2}- roles\[0\] \(line 5\): unknown key "mood"/);
  });

  it('inventory source api without a token is a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-cfg-'));
    writeFileSync(
      join(dir, 'c.yaml'),
      'version: 1\norganizationId: o\ninventory: { source: api }\nroles:\n  - { name: r, trust: oidc }\n',
    );
    const r = await cli(['plan', '--config', join(dir, 'c.yaml'), '--iam-snapshot', 'examples/iam-snapshot.json'], {
      env: {},
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ASTRO_API_TOKEN is not set/);
  });
});

describe('IamSnapshotStore', () => {
  it('reads URL-encoded documents as the raw API returns them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-snap-'));
    const doc = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    };
    writeFileSync(
      join(dir, 's.json'),
      JSON.stringify({
        RoleDetailList: [
          {
            RoleName: 'r',
            Arn: 'arn:aws:iam::123456789012:role/r',
            AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(doc)),
          },
        ],
      }),
    );
    const roles = await new IamSnapshotStore(join(dir, 's.json')).readRoles(['r', 'x']);
    expect(roles.get('r')!.document).toEqual(doc);
    expect(roles.get('x')).toBeUndefined();
  });

  it('says how to make a snapshot when the file is wrong', () => {
    expect(() => new IamSnapshotStore('no-such.json')).toThrow(/aws iam get-account-authorization-details/);
  });
});
