/**
 * The config's JSON Schema (schema/astro-trust.schema.json) for editors (DESIGN 7.3): it compiles under strict
 * Ajv (draft 2020-12, formats from ajv-formats) without a warning, has an `$id` and a description on every key,
 * accepts what `validate` accepts and rejects what `validate` rejects wherever JSON Schema can say it.
 */
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { configJsonSchema, parseConfig } from '../../src/config/config';

const committed = JSON.parse(readFileSync('schema/astro-trust.schema.json', 'utf8')) as Record<string, unknown>;

/** Strict Ajv whose warnings and logs are kept, not printed: a compile that warns fails the test. */
function strictAjv() {
  const logged: string[] = [];
  const keep = (...args: unknown[]) => logged.push(args.map(String).join(' '));
  const ajv = new Ajv2020({ strict: true, allErrors: true, logger: { log: keep, warn: keep, error: keep } });
  addFormats(ajv);
  return { ajv, logged };
}

const { ajv, logged } = strictAjv();
const validate = ajv.compile(committed);

const base = `version: 1
organizationId: clmh59gt0000308lbgswe5fvh
inventory:
  source: file
  path: ./deployments.json
defaults:
  mode: enforce
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
findings:
  trustedAccounts: ["222233334444"]
  trustedOrganizations: ["o-a1b2c3d4e5"]
  acknowledge:
    - finding: 41403717ac0ea685
      reason: "migrating, OPS-123"
      expires: 2027-03-01
`;

/** Both judges on one text: the loader (`validate`) and the JSON Schema. */
function judge(text: string): { loader: boolean; schema: boolean; errors: string } {
  let loader = true;
  try {
    parseConfig(text, 'f.yaml');
  } catch {
    loader = false;
  }
  const schema = validate(parse(text)) as boolean;
  return { loader, schema, errors: ajv.errorsText(validate.errors) };
}

describe('the config JSON Schema under strict Ajv', () => {
  it('is the one generated from the loader schema (npm run schema)', () => {
    expect(committed).toEqual(configJsonSchema());
  });

  it('compiles under strict draft 2020-12 with no warning or log line (no "unknown format")', () => {
    expect(logged).toEqual([]);
    expect(committed.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(committed.$id).toMatch(/^[a-z][a-z0-9+.-]*:\S+$/);
  });

  it('describes every key it defines', () => {
    const undocumented: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (o.properties && typeof o.properties === 'object') {
        for (const [key, sub] of Object.entries(o.properties as Record<string, Record<string, unknown>>)) {
          // `true` (any value) only repeats a key described beside it (if/then), as strict Ajv needs.
          if (sub === (true as unknown)) continue;
          if (typeof sub.description !== 'string' || sub.description.length < 10) undocumented.push(`${path}.${key}`);
        }
      }
      // if/then/not only refer to keys defined beside them (conditions, not definitions).
      for (const [k, v] of Object.entries(o))
        if (!['properties', 'if', 'then', 'else', 'not'].includes(k)) walk(v, path);
      if (o.properties) for (const [k, v] of Object.entries(o.properties)) walk(v, `${path}.${k}`);
    };
    walk(committed, '$');
    expect(undocumented).toEqual([]);
    expect(typeof committed.description).toBe('string');
  });

  it('accepts the bundled example, the README config and a config with every kind of key', () => {
    for (const text of [
      readFileSync('examples/astro-trust.yaml', 'utf8'),
      /## Config\n\n```yaml\n([\s\S]*?)```/.exec(readFileSync('README.md', 'utf8'))![1]!,
      base,
    ]) {
      const r = judge(text);
      expect({ ...r, errors: r.schema ? '' : r.errors }).toEqual({ loader: true, schema: true, errors: '' });
    }
  });

  it.each<[string, (t: string) => string]>([
    ['expires: banana', (t) => t.replace('expires: 2027-03-01', 'expires: banana')],
    ['expires: 2027-02-30', (t) => t.replace('expires: 2027-03-01', 'expires: 2027-02-30')],
    ['an empty selector {}', (t) => t.replace('      - id: clmh57jtm000008lb58fe2wmv', '      - {}')],
    ['a misspelt top-level key', (t) => `${t}defualts: {}\n`],
    ['a misspelt role key', (t) => t.replace('    trust: oidc', '    trsut: oidc\n    trust: oidc')],
    [
      'a misspelt selector key',
      (t) => t.replace('- id: clmh57jtm000008lb58fe2wmv', '- ids: clmh57jtm000008lb58fe2wmv'),
    ],
    ['a workload-identity role without deployments', (t) => t.replace(/ {4}deployments:\n( {6}- .*\n)+/, '')],
    [
      'serviceAccounts on a workload-identity role',
      (t) => t.replace('    trust: workload-identity\n', '    trust: workload-identity\n    serviceAccounts: all\n'),
    ],
    ['a file source without path', (t) => t.replace('  path: ./deployments.json\n', '')],
    [
      'a wildcard OIDC issuer',
      (t) =>
        t.replace('  path: ./deployments.json\n', '  path: ./deployments.json\n  oidcIssuers: ["*.example.com"]\n'),
    ],
    ['an unquoted account', (t) => t.replace('name: etl-runner', 'name: etl-runner\n    account: 444455556666')],
    ['an account of 5 digits', (t) => t.replace('name: etl-runner', 'name: etl-runner\n    account: "44445"')],
    ['a bad trust kind', (t) => t.replace('trust: oidc', 'trust: federated')],
    ['an unknown component', (t) => t.replace('serviceAccounts: all', 'serviceAccounts: [scheduler, flower]')],
    ['a bad role name', (t) => t.replace('name: etl-runner', 'name: "etl runner"')],
    ['version 2', (t) => t.replace('version: 1', 'version: 2')],
    ['no roles', (t) => t.replace(/roles:[\s\S]*?findings:/, 'roles: []\nfindings:')],
    ['a short reason', (t) => t.replace('reason: "migrating, OPS-123"', 'reason: "x"')],
    ['maxPolicyChars below 200', (t) => t.replace('  mode: enforce\n', '  mode: enforce\n  maxPolicyChars: 100\n')],
    [
      'a shrink share over 100',
      (t) => t.replace('  path: ./deployments.json\n', '  path: ./deployments.json\n  maxShrinkPercent: 150\n'),
    ],
  ])('rejects %s, as validate does', (_label, mutate) => {
    const text = mutate(base);
    expect(text).not.toBe(base);
    expect(judge(text)).toMatchObject({ loader: false, schema: false });
  });

  it.each<[string, (t: string) => string]>([
    // Beyond JSON Schema: picomatch's idea of a glob, and uniqueness of (account, name) across role objects.
    ['a bad glob', (t) => t.replace('"prod-*"', '"prod-[*"')],
    ['a duplicate role', (t) => t.replace('name: etl-runner', 'name: data-lake-reader')],
  ])('leaves %s to validate (JSON Schema cannot say it)', (_label, mutate) => {
    expect(judge(mutate(base))).toMatchObject({ loader: false, schema: true });
  });

  it('takes an issuer the way the loader does: https:// and a trailing slash are fine', () => {
    const text = base.replace(
      '  path: ./deployments.json\n',
      '  path: ./deployments.json\n  oidcIssuers: ["https://oidc.example.com/id/X/", "oidc.example.com/id/Y"]\n',
    );
    expect(judge(text)).toMatchObject({ loader: true, schema: true });
  });
});
