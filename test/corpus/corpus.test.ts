/**
 * The real-policy corpus (test/corpus/README.md): public trust policies, each with the findings it must raise and,
 * by omission, every finding it must not. Each becomes a role in moto next to a declared Astro Deployment; `plan`
 * and `apply` run through the command line as a person runs them; then every foreign statement must be exactly as
 * read, the findings exactly as expected (0 false positives) before and after apply, with the same ids, and the
 * role in the expected state.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import { IamTrustStore } from '../../src/adapters/aws/iam';
import { isOwned, parseTrustPolicy, type PolicyDocument, type Statement } from '../../src/domain/policy';
import { cli } from '../support/cli';
import { startMoto, type Moto } from '../support/moto';

interface Expected {
  kind: string;
  principal: string;
  sid?: string;
  acknowledged?: boolean;
}
interface Case {
  source: string;
  note: string;
  policy: PolicyDocument;
  findings: Expected[];
  status: 'in-sync' | 'denied';
  defect?: string;
}
interface JsonFinding extends Expected {
  id: string;
  condition: unknown;
}
interface JsonRole {
  role: string;
  status: string;
  findings: JsonFinding[];
}

const DIR = join(__dirname, 'policies');
const cases: [string, Case][] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Case]);
const roleName = (name: string) => `corpus-${name}`.slice(0, 64);

const ASTRO = '111928029897';
const ISSUER = 'oidc.eks.us-east-1.amazonaws.com/id/C0B1A29384756F6E5D4C3B2A19080706';
const deployment = (id: string, name: string, namespace: string) => ({
  id,
  name,
  namespace,
  workspaceId: 'clwscorpus01',
  clusterId: 'clclcorpus01',
  type: 'STANDARD',
  status: 'HEALTHY',
  cloudProvider: 'AWS',
  airflowVersion: '3.0.1',
  effectiveWorkloadIdentity: `arn:aws:iam::${ASTRO}:role/astro-${namespace}`,
  oidcIssuerUrl: `https://${ISSUER}`,
});
// The declared Deployment, and one on the same cluster the corpus roles do not declare.
const inventory = [
  deployment('clcorpus0001', 'corpus-dep', 'nova-corpus-1234'),
  deployment('clcorpus0002', 'other-dep', 'quiet-comet-5678'),
];

function config(acks: string[]): string {
  return [
    'version: 1',
    'organizationId: corpus',
    'inventory: { source: file, path: ./deployments.json }',
    'findings:',
    '  trustedAccounts: ["222233334444"]',
    '  trustedOrganizations: ["o-exampleorg1"]',
    ...(acks.length
      ? [
          '  acknowledge:',
          ...acks.map((id) => `    - { finding: ${id}, reason: "corpus, acknowledged by id", expires: ${in30Days()} }`),
        ]
      : []),
    'roles:',
    ...cases.map(
      ([name]) =>
        `  - { name: ${roleName(name)}, trust: workload-identity, maxPolicyChars: 10000, deployments: [{ id: clcorpus0001 }] }`,
    ),
    '',
  ].join('\n');
}
const in30Days = () => new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);

const key = (f: Expected, withSid: boolean) =>
  `${f.kind} ${f.principal}${withSid && f.sid !== undefined ? ` [${f.sid}]` : ''}${f.acknowledged ? ' (acknowledged)' : ''}`;
/** The findings of a role as the case states them: kind, principal, acknowledged, and the Sid where the case names one. */
function shown(expected: Expected[], actual: JsonFinding[]) {
  const withSid = expected.some((e) => e.sid !== undefined);
  return {
    expected: expected.map((e) => key(e, withSid)).sort(),
    actual: actual.map((f) => key(f, withSid)).sort(),
  };
}

let moto: Moto;
let iam: IAMClient;
let dir: string;
const before = new Map<string, PolicyDocument>();
const after = new Map<string, PolicyDocument>();
let planned: Map<string, JsonRole>;
let replanned: Map<string, JsonRole>;
let applyCode: number;
let applyProblems: string[];

async function read(role: string): Promise<PolicyDocument> {
  return parseTrustPolicy((await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument);
}
async function plan(): Promise<Map<string, JsonRole>> {
  const r = await cli(['plan', '--config', join(dir, 'astro-trust.yaml'), '--json'], {
    adapters: { store: new IamTrustStore(iam, { baseDelayMs: 1, verifyDelayMs: 1 }) },
  });
  if (r.code !== 0) throw new Error(`plan exited ${r.code}: ${r.stderr}`);
  return new Map((JSON.parse(r.stdout).roles as JsonRole[]).map((x) => [x.role, x]));
}

beforeAll(async () => {
  moto = await startMoto();
  iam = moto.iam();
  dir = mkdtempSync(join(tmpdir(), 'astro-trust-corpus-'));
  writeFileSync(
    join(dir, 'deployments.json'),
    JSON.stringify({ deployments: inventory, limit: 1000, offset: 0, totalCount: inventory.length }),
  );
  for (const [name, c] of cases) {
    await iam.send(
      new CreateRoleCommand({ RoleName: roleName(name), AssumeRolePolicyDocument: JSON.stringify(c.policy) }),
    );
    before.set(name, await read(roleName(name)));
  }
  // A person acknowledges a finding by the id the plan prints: plan, then acknowledge what the cases say is known.
  writeFileSync(join(dir, 'astro-trust.yaml'), config([]));
  const first = await plan();
  const acks = cases.flatMap(([name, c]) =>
    c.findings
      .filter((e) => e.acknowledged)
      .map((e) => {
        const f = first
          .get(roleName(name))!
          .findings.find(
            (x) => x.kind === e.kind && x.principal === e.principal && (e.sid === undefined || x.sid === e.sid),
          );
        if (!f) throw new Error(`${name}: no ${e.kind} ${e.principal} to acknowledge`);
        return f.id;
      }),
  );
  writeFileSync(join(dir, 'astro-trust.yaml'), config(acks));
  planned = await plan();
  const applied = await cli(['apply', '--config', join(dir, 'astro-trust.yaml'), '--yes'], {
    adapters: { store: new IamTrustStore(iam, { baseDelayMs: 1, verifyDelayMs: 1 }) },
  });
  applyCode = applied.code;
  applyProblems = applied.stdout.split('\n').filter((l) => /^(failed|blocked)/.test(l));
  for (const [name] of cases) after.set(name, await read(roleName(name)));
  replanned = await plan();
}, 300_000);
afterAll(async () => {
  await moto?.stop();
});

describe('the real-policy corpus', () => {
  it('has at least 40 public trust policies, each with its source, a note and its expected findings', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    for (const [name, c] of cases) {
      expect({ name, source: typeof c.source, note: typeof c.note, findings: Array.isArray(c.findings) }).toEqual({
        name,
        source: 'string',
        note: 'string',
        findings: true,
      });
      expect(['in-sync', 'denied']).toContain(c.status);
    }
  });

  it('apply converges every role (exit 0)', () => {
    expect({ code: applyCode, problems: applyProblems }).toEqual({ code: 0, problems: [] });
  });

  describe.each(cases)('%s', (name, c) => {
    const role = roleName(name);

    it('raises exactly the expected findings (0 false positives), before and after apply, with stable ids', () => {
      const p = planned.get(role)!;
      const q = replanned.get(role)!;
      const a = shown(c.findings, p.findings);
      expect(a.actual).toEqual(a.expected);
      const b = shown(c.findings, q.findings);
      expect(b.actual).toEqual(b.expected);
      expect(q.findings.map((f) => f.id).sort()).toEqual(p.findings.map((f) => f.id).sort());
      for (const f of p.findings) expect(f.id).toMatch(/^[0-9a-f]{16}$/);
    });

    it('keeps every foreign statement exactly as read, and adds the declared Deployment', () => {
      const foreign = (d: PolicyDocument) => d.Statement.filter((s: Statement) => !isOwned(s));
      expect(foreign(after.get(name)!)).toEqual(foreign(before.get(name)!));
      expect(after.get(name)!.Statement.filter(isOwned)).toEqual([
        {
          Sid: 'AstroTrustWorkloadIdentity',
          Effect: 'Allow',
          Principal: { AWS: [`arn:aws:iam::${ASTRO}:role/astro-nova-corpus-1234`] },
          Action: 'sts:AssumeRole',
        },
      ]);
    });

    it(`is ${c.status} after apply`, () => {
      expect(replanned.get(role)!.status).toBe(c.status);
    });
  });
});
