/**
 * Saved plans against moto (DESIGN 7.3): `plan -out FILE` saves what `plan --json` prints (valid against
 * schema/astro-trust-plan.schema.json under strict Ajv), `show FILE` prints it as plan did, and `apply FILE`
 * writes exactly the saved `after` documents, refusing a role edited since, another config, another
 * astro-trust version and a plan older than --max-age, each naming what changed.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateRoleCommand,
  DeleteOpenIDConnectProviderCommand,
  GetRoleCommand,
  ListOpenIDConnectProvidersCommand,
  UpdateAssumeRolePolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { countCommands, IamTrustStore } from '../../src/adapters/aws/iam';
import { planJsonSchema } from '../../src/app/saved-plan';
import { parseTrustPolicy, samePolicy, type PolicyDocument, type Statement } from '../../src/domain/policy';
import { cli } from '../support/cli';
import { ACCOUNT, apiDeployment, astroRole, ISSUER } from '../support/fixtures';
import { startMoto, type Moto } from '../support/moto';

const glue: Statement = {
  Sid: 'AllowGlue',
  Effect: 'Allow',
  Principal: { Service: 'glue.amazonaws.com' },
  Action: 'sts:AssumeRole',
};
const owned = (...arns: string[]): Statement => ({
  Sid: 'AstroTrustWorkloadIdentity',
  Effect: 'Allow',
  Principal: { AWS: arns },
  Action: 'sts:AssumeRole',
});
const policy = (...s: Statement[]): PolicyDocument => ({ Version: '2012-10-17', Statement: s });

const config = `version: 1
organizationId: org1
inventory: { source: file, path: ./deployments.json }
roles:
  - { name: reader, trust: workload-identity, deployments: [{ workspaceId: clws0000000001 }] }
  - { name: writer, trust: workload-identity, deployments: [{ name: "deployment-1" }] }
  - { name: runner, trust: oidc, deployments: [{ name: "deployment-3" }] }
  - { name: watcher, trust: workload-identity, mode: observe, deployments: [{ name: "deployment-2" }] }
  - { name: steady, trust: workload-identity, deployments: [{ name: "deployment-1" }] }
`;
const initial: Record<string, PolicyDocument> = {
  reader: policy(glue, owned(astroRole('stellar-orbit-1001'), astroRole('gone-9'))),
  writer: policy(glue),
  runner: policy(glue),
  watcher: policy(glue),
  steady: policy(owned(astroRole('stellar-orbit-1001'))),
};

let moto: Moto;
let iam: IAMClient;
let counts: Map<string, number>;
let dir: string;
const cfg = () => join(dir, 'astro-trust.yaml');
const planFile = () => join(dir, 'plan.json');
const adapters = () => ({ adapters: { store: new IamTrustStore(iam, { baseDelayMs: 1, verifyDelayMs: 1 }) } });
const writes = () => counts.get('UpdateAssumeRolePolicyCommand') ?? 0;

function inventory(n: number) {
  const deployments = Array.from({ length: n }, (_, i) => apiDeployment(i + 1));
  writeFileSync(
    join(dir, 'deployments.json'),
    JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: deployments.length }),
  );
}

async function trust(role: string): Promise<PolicyDocument> {
  const out = await iam.send(new GetRoleCommand({ RoleName: role }));
  return parseTrustPolicy(out.Role!.AssumeRolePolicyDocument);
}

async function reset(): Promise<void> {
  for (const [name, doc] of Object.entries(initial))
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(doc) }));
  const providers = await iam.send(new ListOpenIDConnectProvidersCommand({}));
  for (const p of providers.OpenIDConnectProviderList ?? [])
    await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: p.Arn! }));
  writeFileSync(cfg(), config);
  inventory(3);
  counts.clear();
}

function strictPlanValidator() {
  const logged: string[] = [];
  const keep = (...a: unknown[]) => logged.push(a.map(String).join(' '));
  const ajv = new Ajv2020({ strict: true, allErrors: true, logger: { log: keep, warn: keep, error: keep } });
  addFormats(ajv);
  const committed = JSON.parse(readFileSync('schema/astro-trust-plan.schema.json', 'utf8'));
  return { validate: ajv.compile(committed), ajv, logged, committed };
}

beforeAll(async () => {
  moto = await startMoto();
  iam = moto.iam();
  counts = countCommands(iam);
  dir = mkdtempSync(join(tmpdir(), 'astro-trust-saved-'));
  for (const [name, doc] of Object.entries(initial))
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(doc) }));
});
afterAll(async () => {
  await moto?.stop();
});
beforeEach(reset);

describe('plan -out, show, apply FILE', () => {
  it('plan -out FILE saves the --json document: tool version, time, config digest, and per role the live digest and whole before/after policies', async () => {
    const r = await cli(['plan', '--config', cfg(), '-out', planFile()], adapters());
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`Saved the plan to ${planFile()}. To write exactly these trust policies, run:`);
    const saved = JSON.parse(readFileSync(planFile(), 'utf8'));
    expect(saved).toMatchObject({
      formatVersion: 1,
      toolVersion: JSON.parse(readFileSync('package.json', 'utf8')).version,
      config: { file: cfg(), digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
    });
    expect(Date.now() - Date.parse(saved.createdAt)).toBeLessThan(60_000);
    const roles = Object.fromEntries(saved.roles.map((x: { role: string }) => [x.role, x]));
    expect(roles.reader).toMatchObject({
      write: true,
      liveDigest: expect.stringMatching(/^sha256:/),
      before: initial.reader,
      after: {
        Version: '2012-10-17',
        Statement: [
          glue,
          owned(astroRole('stellar-orbit-1001'), astroRole('stellar-orbit-1002'), astroRole('stellar-orbit-1003')),
        ],
      },
    });
    // Nothing to write: after is before. Observe: reported, not written.
    expect(roles.steady).toMatchObject({
      status: 'in-sync',
      write: false,
      before: initial.steady,
      after: initial.steady,
    });
    expect(roles.watcher).toMatchObject({ status: 'changes', mode: 'observe', write: false, after: initial.watcher });
    expect(roles.runner).toMatchObject({ write: true, missingOidcProviders: [ISSUER] });

    // --json prints the same document (but for its time); the other spellings save it too.
    const json = await cli(['plan', '--config', cfg(), '-json', '-out=' + join(dir, 'b.json')], adapters());
    const printed = JSON.parse(json.stdout);
    expect({ ...printed, createdAt: 0 }).toEqual({ ...saved, createdAt: 0 });
    expect(JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8'))).toEqual(printed);
    await cli(['plan', '--config', cfg(), '--out', join(dir, 'c.json')], adapters());
    expect({ ...JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8')), createdAt: 0 }).toEqual({
      ...saved,
      createdAt: 0,
    });
    expect(writes()).toBe(0);
  });

  it('the plan output is valid against schema/astro-trust-plan.schema.json under strict Ajv, as is apply --json', async () => {
    const { validate, ajv, logged, committed } = strictPlanValidator();
    expect(committed).toEqual(planJsonSchema());
    expect(logged).toEqual([]);
    const plan = await cli(['plan', '--config', cfg(), '--json'], adapters());
    expect(validate(JSON.parse(plan.stdout)) || ajv.errorsText(validate.errors)).toBe(true);
    const offline = await cli([
      'plan',
      '--config',
      'examples/astro-trust.yaml',
      '--iam-snapshot',
      'examples/iam-snapshot.json',
      '--iam-snapshot',
      '444455556666=examples/iam-snapshot-444455556666.json',
      '--json',
    ]);
    expect(validate(JSON.parse(offline.stdout)) || ajv.errorsText(validate.errors)).toBe(true);
    const applied = await cli(['apply', '--config', cfg(), '--json', '--yes'], adapters());
    expect(validate(JSON.parse(applied.stdout)) || ajv.errorsText(validate.errors)).toBe(true);
    // It says what it can: a role without before/after or with an unknown status is not a plan.
    const doc = JSON.parse(plan.stdout);
    expect(validate({ ...doc, roles: [{ ...doc.roles[0], status: 'fine' }] })).toBe(false);
    expect(validate({ ...doc, toolVersion: undefined })).toBe(false);
  });

  it('show FILE prints the saved plan as plan printed it; show FILE -json prints the document', async () => {
    const planned = await cli(['plan', '--config', cfg(), '-out', planFile()], adapters());
    const shown = await cli(['show', planFile()], { env: {} });
    expect(shown.code).toBe(0);
    const body = planned.stdout.slice(0, planned.stdout.indexOf('\n\nSaved the plan'));
    expect(shown.stdout).toContain(`${body}\n`);
    expect(shown.stdout).toMatch(/^saved plan .*plan\.json: made \S+ \(\d+s ago\) by astro-trust \S+ with /);
    expect(shown.stdout).toContain(`apply ${planFile()} writes 3 roles: reader, writer, runner.`);
    const json = await cli(['show', planFile(), '-json'], { env: {} });
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(readFileSync(planFile(), 'utf8')));
    const notPlan = await cli(['show', cfg()]);
    expect(notPlan.code).toBe(1);
    expect(notPlan.stderr).toMatch(/astro-trust\.yaml: not a saved plan \(not JSON/);
  });

  it('apply FILE writes exactly the saved after documents, without asking, although the inventory changed since', async () => {
    await cli(['plan', '--config', cfg(), '-out', planFile()], adapters());
    const saved = JSON.parse(readFileSync(planFile(), 'utf8'));
    // A Deployment created after the review: a live apply would trust it, the saved plan does not.
    inventory(4);
    counts.clear();
    const r = await cli(['apply', planFile(), '--config', cfg()], { ...adapters(), stdinIsTTY: false });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Apply: 3 written, 1 unchanged, 1 observe-only, 0 blocked, 0 failed\./);
    expect(r.stdout).toMatch(/created IAM OIDC provider https:\/\/oidc\.eks/);
    expect(writes()).toBe(3);
    for (const role of saved.roles) expect(samePolicy(await trust(role.role), role.after)).toBe(true);
    expect(JSON.stringify(await trust('reader'))).not.toContain('stellar-orbit-1004');
    // Applying it again: IAM holds the after documents already; nothing is written.
    counts.clear();
    const again = await cli(['apply', planFile(), '--config', cfg()], adapters());
    expect(again.code).toBe(0);
    expect(writes()).toBe(0);
  });

  it('refuses a role edited since the plan, naming the statement, and writes the others', async () => {
    await cli(['plan', '--config', cfg(), '-out', planFile()], adapters());
    const breakGlass: Statement = {
      Sid: 'BreakGlass',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/break-glass` },
      Action: 'sts:AssumeRole',
    };
    const edited = policy(glue, breakGlass);
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'writer', PolicyDocument: JSON.stringify(edited) }));
    // IAM reordering statements and turning lists into strings is no change.
    await iam.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: 'reader',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { ...owned(astroRole('gone-9'), astroRole('stellar-orbit-1001')), Action: ['sts:AssumeRole'] },
            glue,
          ],
        }),
      }),
    );
    counts.clear();
    const r = await cli(['apply', planFile(), '--config', cfg()], adapters());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /refused writer: role writer changed since the plan: statement "BreakGlass" added \(live policy sha256:[0-9a-f]{12}\.\.\., planned against sha256:[0-9a-f]{12}\.\.\.\); nothing written to it, plan again/,
    );
    expect(r.stdout).toMatch(
      /Apply: 2 written, 1 unchanged, 1 observe-only, 0 blocked, 0 failed, 1 refused \(changed since the plan\)\. Not converged\./,
    );
    expect(samePolicy(await trust('writer'), edited)).toBe(true);
    expect(writes()).toBe(2);
  });

  it('refuses the whole file for another config, naming the config file; nothing written', async () => {
    await cli(['plan', '--config', cfg(), '-out', planFile()], adapters());
    writeFileSync(
      cfg(),
      config.replace('name: "deployment-1" }] }\n  - { name: runner', 'name: "deployment-*" }] }\n  - { name: runner'),
    );
    const r = await cli(['apply', planFile(), '--config', cfg()], adapters());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /plan\.json was made with another config: .*astro-trust\.yaml was sha256:[0-9a-f]{12}\.\.\., .*astro-trust\.yaml is sha256:[0-9a-f]{12}\.\.\. now: plan again .*nothing was written/,
    );
    expect(writes()).toBe(0);
  });

  it('refuses a plan older than --max-age (default 1h) naming its age, and one from another astro-trust version', async () => {
    await cli(['plan', '--config', cfg(), '-out', planFile()], adapters());
    const saved = JSON.parse(readFileSync(planFile(), 'utf8'));
    writeFileSync(
      planFile(),
      JSON.stringify({ ...saved, createdAt: new Date(Date.now() - 2 * 3600_000 - 5000).toISOString() }),
    );
    const old = await cli(['apply', planFile(), '--config', cfg()], adapters());
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/plan\.json is 2h 5s old \(made \S+\), older than --max-age 1h: plan again/);
    expect(writes()).toBe(0);
    const longer = await cli(['apply', planFile(), '--config', cfg(), '--max-age', '3h'], adapters());
    expect(longer.code).toBe(0);
    expect(writes()).toBe(3);

    await reset();
    await cli(['plan', '--config', cfg(), '-out', planFile()], adapters());
    writeFileSync(
      planFile(),
      JSON.stringify({ ...JSON.parse(readFileSync(planFile(), 'utf8')), toolVersion: '0.0.1' }),
    );
    const other = await cli(['apply', planFile(), '--config', cfg()], adapters());
    expect(other.stderr).toMatch(/plan\.json was made by astro-trust 0\.0\.1, and this is astro-trust \S+: plan again/);
    expect(writes()).toBe(0);
  });

  it('apply FILE takes no --role (the plan is what was reviewed), and --max-age only with a plan', async () => {
    await cli(['plan', '--config', cfg(), '-out', planFile()], adapters());
    const role = await cli(['apply', planFile(), '--config', cfg(), '--role', 'reader'], adapters());
    expect(role.code).toBe(1);
    expect(role.stderr).toMatch(/--role cannot change a saved plan; plan again with them/);
    const age = await cli(['apply', '--config', cfg(), '--max-age', '2h', '--yes'], adapters());
    expect(age.stderr).toMatch(/--max-age applies to a saved plan/);
    const bad = await cli(['apply', planFile(), '--config', cfg(), '--max-age', 'soon'], adapters());
    expect(bad.stderr).toMatch(/--max-age soon: expected a duration such as 1h/);
    expect(writes()).toBe(0);
  });
});
