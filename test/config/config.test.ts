import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/config';

const valid = `version: 1
organizationId: clmh59gt0000308lbgswe5fvh
inventory:
  source: file
  path: ./deployments.json
defaults:
  mode: enforce
  maxPolicyChars: 2048
  maxRemovals: 5
roles:
  - name: data-lake-reader
    trust: workload-identity
    deployments:
      - workspaceId: clmh58o7d000108lb74ktc9o64
      - name: "prod-*"
      - id: clmh57jtm000008lb58fe2wmv
  - name: etl-runner
    trust: oidc
    serviceAccounts: all
    mode: observe
`;

function problems(text: string): string {
  try {
    parseConfig(text, 'cfg/astro-trust.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('loads the DESIGN example with defaults applied and the inventory path resolved next to the file', () => {
    const c = parseConfig(valid, '/etc/astro-trust/astro-trust.yaml');
    expect(c.inventory).toEqual({
      source: 'file',
      path: '/etc/astro-trust/deployments.json',
      maxShrinkPercent: 50,
      shrinkWindowMs: 24 * 3_600_000,
    });
    expect(c.identityRules).toEqual({ oidcIssuers: [] });
    const listed = parseConfig(
      valid.replace(
        '  path: ./deployments.json\n',
        '  path: ./deployments.json\n  identityAccounts: ["111928029897"]\n  oidcIssuers: ["https://oidc.example.com/id/X/"]\n  maxShrinkPercent: 20\n  shrinkWindow: 90m\n',
      ),
      '/etc/a.yaml',
    );
    expect(listed.identityRules).toEqual({
      identityAccounts: ['111928029897'],
      oidcIssuers: ['oidc.example.com/id/X'],
    });
    expect(listed.inventory.maxShrinkPercent).toBe(20);
    expect(listed.inventory.shrinkWindowMs).toBe(90 * 60_000);
    expect(c.roles[0]).toMatchObject({
      name: 'data-lake-reader',
      mode: 'enforce',
      maxPolicyChars: 2048,
      maxRemovals: 5,
      serviceAccounts: 'all',
    });
    expect(c.roles[1]).toMatchObject({ name: 'etl-runner', trust: 'oidc', mode: 'observe' });
    expect(c.roles[1]!.deployments).toBeUndefined();
  });

  it('paces IAM at defaults.iamRequestsPerSecond, 10 when unset (DESIGN 7.4)', () => {
    expect(parseConfig(valid, 'f.yaml').iamRequestsPerSecond).toBe(10);
    const paced = parseConfig(
      valid.replace('  maxRemovals: 5\n', '  maxRemovals: 5\n  iamRequestsPerSecond: 2.5\n'),
      'f.yaml',
    );
    expect(paced.iamRequestsPerSecond).toBe(2.5);
  });

  it('loads the bundled example', () => {
    expect(loadConfig('examples/astro-trust.yaml').roles.length).toBeGreaterThan(5);
  });

  it('names a role in another account <account>/<name>: the same name may be declared once per account (DESIGN 3.6)', () => {
    const c = parseConfig(
      `${valid}  - name: data-lake-reader\n    account: "444455556666"\n    trust: workload-identity\n    deployments: [{ name: "prod-*" }]\nmemberRoleName: platform-astro-trust\n`,
      'f.yaml',
    );
    expect(c.roles.map((r) => [r.name, r.roleName, r.account])).toEqual([
      ['data-lake-reader', 'data-lake-reader', undefined],
      ['etl-runner', 'etl-runner', undefined],
      ['444455556666/data-lake-reader', 'data-lake-reader', '444455556666'],
    ]);
    expect(c.memberRoleName).toBe('platform-astro-trust');
    expect(parseConfig(valid, 'f.yaml').memberRoleName).toBe('astro-trust-member');
  });

  it('maps webserver to apiserver (picked per Airflow version later)', () => {
    const c = parseConfig(
      valid.replace('serviceAccounts: all', 'serviceAccounts: [webserver, scheduler, apiserver]'),
      'f.yaml',
    );
    expect(c.roles[1]!.serviceAccounts).toEqual(['apiserver', 'scheduler']);
  });

  it.each<[string, (t: string) => string, RegExp[]]>([
    [
      'an unknown top-level key',
      (t) => `${t}extra: 1\n`,
      [/cfg\/astro-trust.yaml: invalid config/, /\(top level\).*unknown key "extra"/],
    ],
    [
      'an unknown role key, with its line',
      (t) => t.replace('    trust: oidc', '    trsut: oidc\n    trust: oidc'),
      [/roles\[1\] \(line 17\): unknown key "trsut"/],
    ],
    [
      'a bad trust kind',
      (t) => t.replace('trust: oidc', 'trust: federated'),
      [/roles\[1\]\.trust \(line 18\): expected one of "workload-identity", "oidc"/],
    ],
    [
      'a bad glob',
      (t) => t.replace('"prod-*"', '"prod-[*"'),
      [/roles\[0\]\.deployments\[1\]\.name \(line 15\): is not a valid glob/],
    ],
    [
      'a duplicate role',
      (t) => t.replace('name: etl-runner', 'name: data-lake-reader'),
      [/roles\[1\]\.name \(line 17\): duplicates roles\[0\] \(data-lake-reader\): declare each role once per account/],
    ],
    [
      'a duplicate role in one account',
      (t) =>
        t
          .replace('name: etl-runner', 'name: data-lake-reader\n    account: "444455556666"')
          .replace('  - name: data-lake-reader\n', '  - name: data-lake-reader\n    account: "444455556666"\n'),
      [/duplicates roles\[0\] \(444455556666\/data-lake-reader\)/],
    ],
    [
      'an unquoted account',
      (t) => t.replace('name: etl-runner', 'name: etl-runner\n    account: 444455556666'),
      [/roles\[1\]\.account \(line \d+\): expected string, got number: quote it in YAML \("444455556666"/],
    ],
    ['a bad member role name', (t) => `${t}memberRoleName: "astro trust"\n`, [/memberRoleName.*an IAM role name/]],
    [
      'a member role name with no room for -reader',
      (t) => `${t}memberRoleName: ${'m'.repeat(58)}\n`,
      [/memberRoleName.*at most 57 characters \(the member stack adds <name>-reader\)/],
    ],
    [
      'a file source without path',
      (t) => t.replace('  path: ./deployments.json\n', ''),
      [/inventory\.path.*is required with source: file/],
    ],
    [
      'a bad mode',
      (t) => t.replace('mode: observe', 'mode: dry-run'),
      [/roles\[1\]\.mode.*expected one of "enforce", "observe"/],
    ],
    [
      'no IAM requests at all',
      (t) => t.replace('  maxRemovals: 5\n', '  maxRemovals: 5\n  iamRequestsPerSecond: 0\n'),
      [/defaults\.iamRequestsPerSecond \(line 10\): requests a second, above 0 \(default 10\)/],
    ],
    [
      'a string where a number goes',
      (t) => t.replace('maxPolicyChars: 2048', 'maxPolicyChars: lots'),
      [/defaults\.maxPolicyChars \(line 8\): expected number, got string/],
    ],
    ['version 2', (t) => t.replace('version: 1', 'version: 2'), [/version \(line 1\)/]],
    [
      'a workload-identity role without deployments',
      (t) => t.replace(/ {4}deployments:\n( {6}- .*\n)+/, ''),
      [/roles\[0\]\.deployments.*is required for trust: workload-identity/],
    ],
    [
      'serviceAccounts on a workload-identity role',
      (t) => t.replace('    trust: workload-identity\n', '    trust: workload-identity\n    serviceAccounts: all\n'),
      [/roles\[0\]\.serviceAccounts.*applies only to trust: oidc/],
    ],
    [
      'an unknown component',
      (t) => t.replace('serviceAccounts: all', 'serviceAccounts: [scheduler, flower]'),
      [/roles\[1\]\.serviceAccounts.*scheduler, worker, triggerer/],
    ],
    [
      'an empty selector',
      (t) => t.replace('      - id: clmh57jtm000008lb58fe2wmv', '      - {}'),
      [/roles\[0\]\.deployments\[2\].*at least one of id, workspaceId, name/],
    ],
    [
      'a bad role name',
      (t) => t.replace('name: etl-runner', 'name: "etl runner"'),
      [/roles\[1\]\.name.*an IAM role name/],
    ],
    ['YAML syntax', (t) => `${t}  - : [\n`, [/YAML:/]],
    [
      'a duplicate YAML key',
      (t) => t.replace('version: 1', 'version: 1\nversion: 1'),
      [/YAML: Map keys must be unique/],
    ],
    ['no roles', (t) => t.replace(/roles:[\s\S]*/, 'roles: []\n'), [/roles \(line \d+\): /]],
    [
      'an identity account that is not 12 digits',
      (t) =>
        t.replace('  path: ./deployments.json\n', '  path: ./deployments.json\n  identityAccounts: [1119280298]\n'),
      [/inventory\.identityAccounts\[0\].*expected string, got number/],
    ],
    [
      'an identity account as a short string',
      (t) => t.replace('  path: ./deployments.json\n', '  path: ./deployments.json\n  identityAccounts: ["11192"]\n'),
      [/inventory\.identityAccounts\[0\].*an AWS account id: 12 digits/],
    ],
    [
      'a wildcard OIDC issuer',
      (t) =>
        t.replace('  path: ./deployments.json\n', '  path: ./deployments.json\n  oidcIssuers: ["*.example.com"]\n'),
      [/inventory\.oidcIssuers\[0\].*no wildcard/],
    ],
    [
      'a shrink share over 100',
      (t) => t.replace('  path: ./deployments.json\n', '  path: ./deployments.json\n  maxShrinkPercent: 150\n'),
      [/inventory\.maxShrinkPercent/],
    ],
    [
      'a shrink window that is not a duration',
      (t) => t.replace('  path: ./deployments.json\n', '  path: ./deployments.json\n  shrinkWindow: 1 day\n'),
      [/inventory\.shrinkWindow \(line \d+\): a duration such as 24h, 90m or 2d/],
    ],
  ])('rejects %s, naming the file, the key path and what was expected', (_l, mutate, expected) => {
    const message = problems(mutate(valid));
    for (const e of expected) expect(message).toMatch(e);
  });

  it('a YAML indentation error names the line and column and shows the offending line itself', () => {
    const message = problems(valid.replace('roles:\n', ' roles:\n'));
    expect(message).toMatch(
      /- line 10, column 1: YAML: All mapping items must start at the same column\n {6} roles:\n {6}\^/,
    );
  });

  describe('findings (DESIGN 7.1)', () => {
    const NOW = Date.parse('2026-11-29T15:00:00Z');
    const withFindings = (block: string) => `${valid}findings:\n${block}`;
    const parse = (text: string) => parseConfig(text, 'cfg/astro-trust.yaml', { now: NOW });
    const refused = (text: string) => {
      try {
        parse(text);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };

    it('acknowledges by finding id, with trusted organizations', () => {
      const c = parse(
        withFindings(
          '  trustedOrganizations: ["o-a1b2c3d4e5"]\n  acknowledge:\n    - { finding: 41403717ac0ea685, reason: "OPS-123", expires: 2027-11-29 }\n',
        ),
      );
      expect(c.findings).toEqual({
        trustedAccounts: [],
        trustedOrganizations: ['o-a1b2c3d4e5'],
        acknowledge: [{ finding: '41403717ac0ea685', reason: 'OPS-123', expires: '2027-11-29' }],
      });
    });

    it('refuses the release-2 form (role + principal) once per entry, saying where the id is printed', () => {
      const message = refused(
        withFindings(
          '  acknowledge:\n    - role: legacy-exporter\n      principal: "arn:aws:iam::111928029897:role/astro-x"\n      reason: "OPS-123"\n      expires: 2027-03-01\n',
        ),
      );
      expect(message).toMatch(
        /findings\.acknowledge\[0\] \(line \d+\): acknowledges by role \+ principal \(release 2\), which would also silence a new, wider grant/,
      );
      expect(message).toMatch(/finding: <id>/);
      expect(message).toMatch(/astro-trust plan.*plan --json.*roles\[\]\.findings\[\]\.id.*Slack alert/);
      expect(message.split('\n')).toHaveLength(2);
    });

    it('refuses an expiry more than a year ahead of the day it is loaded, naming the latest date', () => {
      const ack = (expires: string) =>
        withFindings(`  acknowledge:\n    - { finding: 41403717ac0ea685, reason: "OPS-123", expires: ${expires} }\n`);
      expect(parse(ack('2027-11-29')).findings.acknowledge).toHaveLength(1);
      expect(refused(ack('2027-11-30'))).toMatch(
        /findings\.acknowledge\[0\]\.expires \(line \d+\): 2027-11-30 is more than a year ahead \(latest: 2027-11-29\)/,
      );
      // A date in the past is valid: the finding is simply back.
      expect(parse(ack('2026-01-01')).findings.acknowledge).toHaveLength(1);
    });

    it.each<[string, string, RegExp]>([
      [
        'an id that is not hex',
        '  acknowledge:\n    - { finding: "not an id", reason: "OPS-1", expires: 2027-01-01 }\n',
        /findings\.acknowledge\[0\]\.finding.*a finding id/,
      ],
      [
        'an organization id that is not one',
        '  trustedOrganizations: ["org-1"]\n',
        /findings\.trustedOrganizations\[0\].*AWS Organizations id/,
      ],
    ])('rejects %s', (_l, block, expected) => {
      expect(refused(withFindings(block))).toMatch(expected);
    });
  });

  it('names a file that cannot be read', () => {
    expect(() => loadConfig('no/such/astro-trust.yaml')).toThrow(
      /no\/such\/astro-trust.yaml: invalid config\n {2}- cannot read the file: ENOENT/,
    );
  });

  it('gives a clear ConfigError, never a crash, for random mutations of a valid config (property)', () => {
    const base = parseDocumentToJs();
    const leaf = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant([]),
      fc.constant({}),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.nat(), leaf), { minLength: 1, maxLength: 4 }), (mutations) => {
        const doc = structuredClone(base) as Record<string, unknown>;
        for (const [a, b, value] of mutations) mutate(doc, a, b, value);
        try {
          parseConfig(stringify(doc), 'm.yaml');
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          expect((err as Error).message).toMatch(/^m\.yaml: invalid config\n {2}- \S/);
          expect((err as Error).message).not.toMatch(/\n\s+at /);
        }
      }),
      { numRuns: 500 },
    );
  });
});

function parseDocumentToJs(): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('yaml').parse(valid);
}

/** Replaces or deletes one value somewhere in the tree, picked by two numbers. */
function mutate(node: unknown, pick: number, depth: number, value: unknown): void {
  let cur = node as Record<string, unknown>;
  for (let i = 0; i < (depth % 4) + 1; i++) {
    const keys = Object.keys(cur);
    if (keys.length === 0) break;
    const key = keys[(pick + i) % keys.length]!;
    const next = cur[key];
    if (i === depth % 4 || typeof next !== 'object' || next === null) {
      if (pick % 5 === 0) delete cur[key];
      else cur[key] = value;
      return;
    }
    cur = next as Record<string, unknown>;
  }
}
