/**
 * The packaged CloudFormation template (`osls package`, offline): each function's IAM statements are
 * exactly what it uses, IAM writes only on the declared roles, the webhook function cannot touch IAM.
 * What a policy allows is judged by an IAM policy evaluator (@cloud-copilot/iam-simulate); what an
 * EventBridge rule delivers, by moto's EventBridge pattern engine.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/config/config';
import { globRegExp } from '../../src/domain/glob';
import { patternMatches } from '../support/event-pattern';
import { fixture } from '../support/world';
import { RECONCILE_MAX_RECEIVES } from '../../src/lambda/redrive';

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string[];
  Resource: unknown;
  Condition?: unknown;
}
type Template = {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  Outputs: Record<string, { Value: unknown }>;
};

const CONFIG = 'examples/astro-trust.yaml';
let template: Template;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'astro-trust-package-'));
  execFileSync('npx', ['osls', 'package', '--stage', 'test', '--package', dir], {
    env: {
      ...process.env,
      ASTRO_TRUST_CONFIG: CONFIG,
      ASTRO_TRUST_ALLOW_EXAMPLE_CONFIG: '1',
      SLS_TELEMETRY_DISABLED: '1',
    },
    stdio: 'pipe',
  });
  template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
}, 180_000);

function statements(fn: string): Statement[] {
  const roleRef = (template.Resources[`${fn}LambdaFunction`]!.Properties.Role as { 'Fn::GetAtt': [string, string] })[
    'Fn::GetAtt'
  ][0];
  const role = template.Resources[roleRef]!;
  expect(role.Type).toBe('AWS::IAM::Role');
  const policies = role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[];
  // No AWS-managed policy: only the stack's own managed policies, attached by their `Roles`.
  expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  const managed = Object.values(template.Resources).filter(
    (r) =>
      r.Type === 'AWS::IAM::ManagedPolicy' &&
      (r.Properties.Roles as unknown[]).some((x) => JSON.stringify(x) === JSON.stringify({ Ref: roleRef })),
  ) as unknown as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
  return [...policies, ...managed.map((m) => m.Properties)].flatMap((p) => p.PolicyDocument.Statement);
}
const actions = (fn: string) =>
  statements(fn)
    .flatMap((s) => s.Action)
    .sort();
const resourcesOf = (fn: string, action: string) =>
  statements(fn)
    .filter((s) => s.Action.includes(action))
    .flatMap((s) => [].concat(s.Resource as never));

const HUB = '123456789012';
const MEMBER = '444455556666';
/** A resource of the stack as it would be deployed (stack astro-trust-test in HUB, us-east-1). */
const physical = (logical: string): { name: string; arn: string } => {
  const name = logical === 'EventBus' ? 'astro-trust-test' : `astro-trust-test-${logical}-1A2B3C4D5E6F`;
  const type = template.Resources[logical]?.Type;
  const arn =
    type === 'AWS::IAM::Role'
      ? `arn:aws:iam::${HUB}:role/${name}`
      : type === 'AWS::DynamoDB::Table'
        ? `arn:aws:dynamodb:us-east-1:${HUB}:table/${name}`
        : type === 'AWS::Events::EventBus'
          ? `arn:aws:events:us-east-1:${HUB}:event-bus/${name}`
          : type === 'AWS::SQS::Queue'
            ? `arn:aws:sqs:us-east-1:${HUB}:${name}`
            : `arn:aws:cloudformation:us-east-1:${HUB}:${logical}`;
  return { name, arn };
};
/** A template value with CloudFormation's intrinsics resolved for that stack: what IAM and EventBridge see. */
function resolved(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(resolved);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if ('Fn::Sub' in o)
    return String(o['Fn::Sub'])
      .replace(/\$\{AWS::Partition\}/g, 'aws')
      .replace(/\$\{AWS::AccountId\}/g, HUB)
      .replace(/\$\{AWS::Region\}/g, 'us-east-1')
      .replace(/\$\{AWS::StackName\}/g, 'astro-trust-test');
  if ('Fn::GetAtt' in o) return physical((o['Fn::GetAtt'] as [string])[0]).arn;
  if ('Ref' in o) return o.Ref === 'AWS::AccountId' ? HUB : physical(String(o.Ref)).name;
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return (resolved(parts) as string[]).join(sep);
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolved(x)]));
}
/** Fn::Sub resolved for the hub's account in the China partition (aws-cn). */
const resolvedSub = (v: unknown): unknown =>
  JSON.parse(
    JSON.stringify(v).replace(/\{"Fn::Sub":"([^"]*)"\}/g, (_m, t: string) =>
      JSON.stringify(t.replace(/\$\{AWS::Partition\}/g, 'aws-cn').replace(/\$\{AWS::AccountId\}/g, HUB)),
    ),
  );
const policyOf = (fn: string) => ({ Version: '2012-10-17', Statement: resolved(statements(fn)) });
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

/** Does IAM allow it? `fn`'s identity policy (or the caller's `identity`), and the resource's policy when it has one. */
async function allowed(
  who: { fn: string } | { principal: string; identity: unknown },
  action: string,
  resource: string,
  context: Record<string, string | string[]> = {},
  resourcePolicy?: unknown,
): Promise<boolean> {
  const r = await runSimulation(
    {
      identityPolicies: [{ name: 'identity', policy: ('fn' in who ? policyOf(who.fn) : who.identity) as never }],
      ...(resourcePolicy ? { resourcePolicy: resourcePolicy as never } : {}),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action,
        principal: 'fn' in who ? physical(`${who.fn}Role`).arn : who.principal,
        resource: { accountId: resource.split(':')[4] || HUB, resource },
        contextVariables: context,
      },
    },
    {},
  );
  if (r.resultType === 'error') throw new Error(`iam-simulate: ${JSON.stringify(r.errors)}`);
  return r.overallResult === 'Allowed';
}

/** Which events each rule's pattern (intrinsics resolved) delivers: [label, pattern, event, expected] in, the misjudged out. */
function misjudged(cases: [string, unknown, unknown, boolean][]): string[] {
  const got = patternMatches(cases.map(([, pattern, event]) => [resolved(pattern), event]));
  return cases.flatMap(([label, , , expected], i) => (got[i] === expected ? [] : [`${label}: expected ${expected}`]));
}
/** A CloudTrail IAM event of `account` on `roleName`. */
const iamCall = (account: string, eventName: string, roleName: string, extra: Record<string, unknown> = {}) => {
  const e = fixture<{ account: string; detail: Record<string, unknown> }>('iamChange/update-assume-role-policy.json');
  return {
    ...e,
    account,
    detail: { ...e.detail, eventName, recipientAccountId: account, requestParameters: { roleName }, ...extra },
  };
};

describe('packaging the example config', () => {
  // deploy/from-config.js is plain CommonJS that osls loads; its path is a variable so TypeScript does not type it.
  const fromConfig = '../../deploy/from-config.js';
  const refuseExampleOutsideLocal = async (ctx: unknown) =>
    (
      (await import(fromConfig)) as { refuseExampleOutsideLocal: (c: unknown) => Promise<void> }
    ).refuseExampleOutsideLocal(ctx);
  const stage = (name: string) => ({ resolveVariable: async () => name });
  const withEnv = async (env: Record<string, string | undefined>, fn: () => Promise<void>) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    try {
      await fn();
    } finally {
      process.env = saved;
    }
  };

  it('is refused outside --stage local unless asked, naming the variable to set', async () => {
    await withEnv({ ASTRO_TRUST_CONFIG: CONFIG, ASTRO_TRUST_ALLOW_EXAMPLE_CONFIG: undefined }, async () => {
      await expect(refuseExampleOutsideLocal(stage('prod'))).rejects.toThrow(
        /refusing to package the example config .* for stage prod: set ASTRO_TRUST_CONFIG/,
      );
      await expect(refuseExampleOutsideLocal(stage('local'))).resolves.toBeUndefined();
    });
    await withEnv({ ASTRO_TRUST_CONFIG: CONFIG, ASTRO_TRUST_ALLOW_EXAMPLE_CONFIG: '1' }, () =>
      expect(refuseExampleOutsideLocal(stage('prod'))).resolves.toBeUndefined(),
    );
    // Any other config packages for any stage (a copy of the example under another name stands in for yours).
    const yours = join(mkdtempSync(join(tmpdir(), 'astro-trust-yours-')), 'astro-trust.yaml');
    writeFileSync(
      yours,
      readFileSync(CONFIG, 'utf8').replace('./deployments.json', resolve('examples/deployments.json')),
    );
    await withEnv({ ASTRO_TRUST_CONFIG: yours, ASTRO_TRUST_ALLOW_EXAMPLE_CONFIG: undefined }, () =>
      expect(refuseExampleOutsideLocal(stage('prod'))).resolves.toBeUndefined(),
    );
  });
});

describe('OIDC provider rights derived from the config (deploy/from-config.js)', () => {
  type Derived = {
    reconcile: (ctx: unknown) => Promise<Statement[]>;
    reconcileOidcProviders: (ctx: unknown) => Promise<Statement[]>;
    managesOidcProviders: () => Promise<string>;
  };
  const fromConfig = '../../deploy/from-config.js';
  const ctx = (region: string) => ({
    resolveVariable: async (v: string) => (v === 'self:provider.region' ? region : '/astro-trust/test'),
  });
  const derive = async (yaml: string, use: (d: Derived) => Promise<void>) => {
    const file = join(mkdtempSync(join(tmpdir(), 'astro-trust-derive-')), 'astro-trust.yaml');
    writeFileSync(file, yaml);
    const saved = process.env.ASTRO_TRUST_CONFIG;
    process.env.ASTRO_TRUST_CONFIG = file;
    try {
      await use((await import(fromConfig)) as Derived);
    } finally {
      process.env.ASTRO_TRUST_CONFIG = saved;
    }
  };
  const head = 'version: 1\norganizationId: o\n';

  it("an oidc role in the hub: EKS issuers of the region's partition, and the listed issuers exactly", () =>
    derive(
      `${head}inventory: { source: api, oidcIssuers: ["https://oidc.example.com/id/ABC/"] }\nroles:\n  - { name: r, trust: oidc }\n`,
      async (d) => {
        expect(await d.managesOidcProviders()).toBe('true');
        const policy = {
          Version: '2012-10-17',
          Statement: resolvedSub(await d.reconcileOidcProviders(ctx('cn-north-1'))),
        };
        const can = async (hostPath: string) => {
          const r = await runSimulation(
            {
              identityPolicies: [{ name: 'oidc', policy: policy as never }],
              serviceControlPolicies: [],
              resourceControlPolicies: [],
              request: {
                action: 'iam:CreateOpenIDConnectProvider',
                principal: `arn:aws-cn:iam::${HUB}:role/reconcile`,
                resource: { accountId: HUB, resource: `arn:aws-cn:iam::${HUB}:oidc-provider/${hostPath}` },
                contextVariables: {},
              },
            },
            {},
          );
          return r.resultType !== 'error' && r.overallResult === 'Allowed';
        };
        expect(await can('oidc.eks.cn-north-1.amazonaws.com.cn/id/5C1F3A6B9D2E4F7081A2B3C4D5E6F708')).toBe(true);
        expect(await can('oidc.eks.us-east-1.amazonaws.com/id/5C1F3A6B9D2E4F7081A2B3C4D5E6F708')).toBe(false);
        expect(await can('oidc.example.com/id/ABC')).toBe(true);
        expect(await can('oidc.example.com/id/ABCD')).toBe(false);
        expect(await can('oidc.example.com/id/ABC/x')).toBe(false);
      },
    ));

  it('no oidc role in the hub (only in a member account): no OIDC permission there', () =>
    derive(
      `${head}inventory: { source: api }\nroles:\n  - { name: r, trust: workload-identity, deployments: [{ name: "*" }] }\n  - { name: m, account: "444455556666", trust: oidc }\n`,
      async (d) => {
        expect(await d.managesOidcProviders()).toBe('false');
        const actions = (await d.reconcile(ctx('us-east-1'))).flatMap((s) => s.Action);
        expect(actions.filter((a) => a.includes('OpenIDConnect'))).toEqual([]);
      },
    ));
});

describe('packaged template', () => {
  it.each([
    [
      'Webhook',
      [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sqs:SendMessage',
        'ssm:GetParameters',
      ],
    ],
    ['IamChange', ['events:PutEvents', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage']],
    [
      'Reconcile',
      [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'events:PutEvents',
        'iam:CreateOpenIDConnectProvider',
        'iam:GetRole',
        'iam:ListOpenIDConnectProviders',
        'iam:UpdateAssumeRolePolicy',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ReceiveMessage',
        'ssm:GetParameters',
        'sts:AssumeRole',
        'sts:SetSourceIdentity',
      ],
    ],
    [
      'Backfill',
      [
        'dynamodb:GetItem',
        'events:PutEvents',
        'iam:GetRole',
        'iam:ListOpenIDConnectProviders',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sqs:SendMessage',
        'ssm:GetParameters',
        'sts:AssumeRole',
        'sts:SetSourceIdentity',
      ],
    ],
    [
      'Notify',
      ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'logs:CreateLogStream', 'logs:PutLogEvents', 'ssm:GetParameters'],
    ],
    [
      'Watch',
      [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'events:PutEvents',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sqs:SendMessage',
        'ssm:GetParameters',
      ],
    ],
  ])('%s has only the actions it uses', (fn, expected) => {
    expect(actions(fn)).toEqual(expected.sort());
    for (const s of statements(fn)) expect(s.Effect).toBe('Allow');
  });

  it('writes IAM trust only in the reconcile function (one writer per role), on the declared roles of its own account with or without a path', async () => {
    // A role with `account` is reached through that account's member role, never by the hub's own IAM permissions.
    const names = loadConfig(CONFIG)
      .roles.filter((r) => !r.account)
      .map((r) => r.roleName);
    expect(names.length).toBeLessThan(loadConfig(CONFIG).roles.length);
    const declared = names.flatMap((n) => [
      { 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${n}` },
      { 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/*/${n}` },
    ]);
    expect(resourcesOf('Reconcile', 'iam:UpdateAssumeRolePolicy')).toEqual(declared);
    expect(resourcesOf('Reconcile', 'iam:GetRole')).toEqual(declared);
    expect(resourcesOf('Backfill', 'iam:GetRole')).toEqual(declared);
    for (const fn of ['Webhook', 'IamChange', 'Backfill', 'Notify', 'Watch'])
      expect(resourcesOf(fn, 'iam:UpdateAssumeRolePolicy')).toEqual([]);

    // What the packaged policy allows, judged by an IAM policy evaluator.
    const resolve = (r: unknown) =>
      JSON.stringify(r)
        .replace(/\$\{AWS::Partition\}/g, 'aws')
        .replace(/\$\{AWS::AccountId\}/g, '123456789012');
    // The IAM statements, with CloudFormation's Fn::Sub resolved for one account (other intrinsics are not about IAM).
    const iamStatements = statements('Reconcile').filter((s) => s.Action.every((a) => a.startsWith('iam:')));
    const policy = {
      Version: '2012-10-17',
      Statement: iamStatements.map((s) => ({
        ...s,
        Resource: []
          .concat(s.Resource as never)
          .map((r) => (typeof r === 'string' ? r : JSON.parse(resolve(r))['Fn::Sub'])),
      })),
    };
    const can = async (role: string) => {
      const r = await runSimulation(
        {
          identityPolicies: [{ name: 'reconcile', policy: policy as never }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          request: {
            action: 'iam:UpdateAssumeRolePolicy',
            principal: 'arn:aws:iam::123456789012:role/astro-trust-reconcile',
            resource: { accountId: '123456789012', resource: `arn:aws:iam::123456789012:role/${role}` },
            contextVariables: {},
          },
        },
        {},
      );
      return r.resultType !== 'error' && r.overallResult === 'Allowed';
    };
    const name = names[0]!;
    expect(await can(name)).toBe(true);
    expect(await can(`team-a/${name}`)).toBe(true);
    expect(await can(`team-a/b/${name}`)).toBe(true);
    expect(await can(`evil-${name}`)).toBe(false);
    expect(await can(`${name}-2`)).toBe(false);
    expect(await can('some-other-role')).toBe(false);
  });

  it("only the reconcile function may assume the member role that writes; the backfill assumes the read-only reader; both only as astro-trust's session (DESIGN 7.1)", async () => {
    const writer = `arn:aws:iam::${MEMBER}:role/astro-trust-member`;
    const reader = `arn:aws:iam::${MEMBER}:role/astro-trust-member-reader`;
    const session = { 'sts:RoleSessionName': 'astro-trust', 'sts:SourceIdentity': 'astro-trust' };
    // Every target role trusts the hub account (its root: delegated to the hub's identity policies), so each
    // function's own policy alone decides what it may assume.
    const trustsHub = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${HUB}:root` },
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        },
      ],
    };
    const can = (fn: string, role: string, context: Record<string, string> = session, action = 'sts:AssumeRole') =>
      allowed({ fn }, action, role, context, trustsHub);
    expect(await can('Backfill', writer)).toBe(false);
    expect(await can('Backfill', reader)).toBe(true);
    expect(await can('Reconcile', writer)).toBe(true);
    expect(await can('Reconcile', writer, { 'sts:SourceIdentity': 'astro-trust' }, 'sts:SetSourceIdentity')).toBe(true);
    expect(await can('Backfill', reader, { 'sts:SourceIdentity': 'astro-trust' }, 'sts:SetSourceIdentity')).toBe(true);
    expect(await can('Reconcile', reader)).toBe(false);
    // Only as astro-trust's session: its name and its source identity.
    expect(await can('Reconcile', writer, { 'sts:RoleSessionName': 'astro-trust' })).toBe(false);
    expect(
      await can('Reconcile', writer, { 'sts:RoleSessionName': 'other', 'sts:SourceIdentity': 'astro-trust' }),
    ).toBe(false);
    expect(await can('Reconcile', writer, { 'sts:SourceIdentity': 'alice' }, 'sts:SetSourceIdentity')).toBe(false);
    // Only the member roles of the accounts the config names.
    expect(await can('Reconcile', `arn:aws:iam::${MEMBER}:role/admin`)).toBe(false);
    expect(await can('Reconcile', 'arn:aws:iam::777788889999:role/astro-trust-member')).toBe(false);
    expect(await can('Reconcile', `arn:aws:iam::${HUB}:role/astro-trust-member`)).toBe(false);
    for (const fn of ['Webhook', 'IamChange', 'Notify', 'Watch'])
      expect(actions(fn).filter((a) => a.startsWith('sts:'))).toEqual([]);
    // The member stacks' parameters: the writer trusts the reconcile role, the reader the roles that only read.
    expect(template.Outputs.HubReconcileRoleArn!.Value).toEqual({ 'Fn::GetAtt': ['ReconcileRole', 'Arn'] });
    expect(template.Outputs.HubReaderRoleArns!.Value).toEqual({ 'Fn::GetAtt': ['BackfillRole', 'Arn'] });
    expect(template.Outputs.HubRoleArns).toBeUndefined();
  });

  it('creates OIDC providers only for EKS cluster issuers, one ARN per region: a look-alike URL is refused (DESIGN 7.1)', async () => {
    const create = (hostPath: string) =>
      allowed({ fn: 'Reconcile' }, 'iam:CreateOpenIDConnectProvider', `arn:aws:iam::${HUB}:oidc-provider/${hostPath}`);
    const id = '5C1F3A6B9D2E4F7081A2B3C4D5E6F708';
    expect(await create(`oidc.eks.evil.example/x.amazonaws.com/id/${id}`)).toBe(false);
    expect(await create(`oidc.eks.us-east-1.evil.example/.amazonaws.com/id/${id}`)).toBe(false);
    expect(await create(`oidc.eks.attacker-region-1.amazonaws.com.evil.example/id/${id}`)).toBe(false);
    expect(await create('token.actions.githubusercontent.com')).toBe(false);
    const regions = (JSON.parse(readFileSync('deploy/eks-regions.json', 'utf8')) as { aws: { regions: string[] } }).aws
      .regions;
    expect(regions).toEqual(expect.arrayContaining(['us-east-1', 'eu-west-1', 'ap-southeast-2']));
    for (const region of regions) expect(await create(`oidc.eks.${region}.amazonaws.com/id/${id}`)).toBe(true);
    for (const s of statements('Reconcile').filter((x) => x.Action.includes('iam:CreateOpenIDConnectProvider')))
      for (const r of resolved([].concat(s.Resource as never)) as string[])
        expect(r).toMatch(
          /^arn:aws:iam::123456789012:oidc-provider\/oidc\.eks\.[a-z]{2}(-[a-z]+)+-\d+\.amazonaws\.com\/id\/\*$/,
        );
  });

  it('confines the internet-facing webhook function to its own items of the watch table (dynamodb:LeadingKeys)', async () => {
    const table = physical('WatchTable').arn;
    const may = (action: string, key: string) =>
      allowed({ fn: 'Webhook' }, action, table, { 'dynamodb:LeadingKeys': [key] });
    // Other functions' items: the flap guard's memory, posted alerts, the watch's snapshot.
    expect(await may('dynamodb:PutItem', 'reverts#data-lake-reader')).toBe(false);
    expect(await may('dynamodb:PutItem', 'alert#iam-change|data-lake-reader|evt-1')).toBe(false);
    expect(await may('dynamodb:PutItem', 'inventory')).toBe(false);
    expect(await may('dynamodb:PutItem', 'alert#webhook')).toBe(false);
    // Its own: webhook-id claims and the listing it shares (one item or several, `listing...`).
    expect(await may('dynamodb:PutItem', 'alert#webhook|msg_2ZkR8f1xQpV0')).toBe(true);
    expect(await may('dynamodb:PutItem', 'listing')).toBe(true);
    expect(await may('dynamodb:PutItem', 'listing#0003')).toBe(true);
    // It reads the watch's snapshot (`inventory...`) and nothing else.
    expect(await may('dynamodb:GetItem', 'inventory')).toBe(true);
    expect(await may('dynamodb:GetItem', 'inventory#0001')).toBe(true);
    expect(await may('dynamodb:GetItem', 'reverts#data-lake-reader')).toBe(false);
    expect(await may('dynamodb:GetItem', 'alert#webhook|msg_2ZkR8f1xQpV0')).toBe(false);
    // A request that names no key (a Scan) is not one of its items.
    expect(await allowed({ fn: 'Webhook' }, 'dynamodb:PutItem', table)).toBe(false);
  });

  it("accepts on its bus, from the member accounts only, IAM's CloudTrail events only: never an event claiming to be astro-trust's (DESIGN 7.1)", async () => {
    const policy = template.Resources.MemberEventsBusPolicy!.Properties;
    expect(policy).toMatchObject({
      EventBusName: { Ref: 'EventBus' },
      Statement: {
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Principal: { AWS: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::444455556666:root' }] },
      },
    });
    const bus = physical('EventBus').arn;
    const busPolicy = { Version: '2012-10-17', Statement: [resolved(policy.Statement)] };
    const put = (account: string, source: string[], detailType: string[]) =>
      allowed(
        { principal: `arn:aws:iam::${account}:role/astro-trust-member-ForwardRole-X`, identity: ALLOW_ALL },
        'events:PutEvents',
        bus,
        { 'events:source': source, 'events:detail-type': detailType },
        busPolicy,
      );
    expect(await put(MEMBER, ['astro-trust'], ['DriftDetected'])).toBe(false);
    expect(await put(MEMBER, ['aws.iam', 'astro-trust'], ['AWS API Call via CloudTrail', 'DriftDetected'])).toBe(false);
    expect(await put(MEMBER, ['aws.iam'], ['DriftDetected'])).toBe(false);
    expect(await put(MEMBER, ['aws.iam'], ['AWS API Call via CloudTrail'])).toBe(true);
    expect(await put('777788889999', ['aws.iam'], ['AWS API Call via CloudTrail'])).toBe(false);
    // The functions know the hub's account: IAM events from it are about the roles without `account`.
    for (const fn of ['IamChange', 'Reconcile', 'Backfill', 'Notify']) {
      expect(
        (template.Resources[`${fn}LambdaFunction`]!.Properties.Environment as { Variables: Record<string, unknown> })
          .Variables.ASTRO_TRUST_HOME_ACCOUNT,
      ).toEqual({ Ref: 'AWS::AccountId' });
    }
  });

  it("sends notify only the hub's own astro-trust events, and iamChange every trust change and any change to astro-trust's own roles (EventBridge judges the patterns)", async () => {
    const pattern = (rule: string) => template.Resources[rule]!.Properties.EventPattern;
    const [notify, hub, member] = ['NotifyRule', 'IamChangeRule', 'MemberIamChangeRule'].map(pattern);
    const functionRoles = ['Webhook', 'IamChange', 'Reconcile', 'Backfill', 'Watch', 'Notify'];
    const permissionCalls = [
      'AttachRolePolicy',
      'DetachRolePolicy',
      'DeleteRolePolicy',
      'UpdateRole',
      'PutRolePermissionsBoundary',
    ];
    expect(
      misjudged([
        ["notify: the hub's own event", notify, fixture('notify/drift-detected.json'), true],
        [
          "notify: a member account's event claiming source astro-trust",
          notify,
          fixture('notify/forged-from-member-account.json'),
          false,
        ],
        // The default bus (the hub's own account): any role's trust change; any change to a function's role.
        ['hub: a trust change', hub, iamCall(HUB, 'UpdateAssumeRolePolicy', 'data-lake-reader'), true],
        ...functionRoles.map((fn): [string, unknown, unknown, boolean] => [
          `hub: an inline policy of the ${fn} function's role`,
          hub,
          iamCall(HUB, 'PutRolePolicy', physical(`${fn}Role`).name),
          true,
        ]),
        ...permissionCalls.map((e): [string, unknown, unknown, boolean] => [
          `hub: ${e} on the reconcile role, in another case`,
          hub,
          iamCall(HUB, e, physical('ReconcileRole').name.toUpperCase()),
          true,
        ]),
        ['hub: a permissions change to another role', hub, iamCall(HUB, 'PutRolePolicy', 'data-lake-reader'), false],
        [
          'hub: a failed call',
          hub,
          iamCall(HUB, 'UpdateAssumeRolePolicy', 'data-lake-reader', { errorCode: 'AccessDenied' }),
          false,
        ],
        // The astro-trust bus (member accounts' events): trust changes; any change to the member stack's roles.
        ['member: a trust change', member, iamCall(MEMBER, 'UpdateAssumeRolePolicy', 'data-lake-reader'), true],
        [
          'member: a policy attached to the member role',
          member,
          fixture('iamChange/member-role-policy-attached.json'),
          true,
        ],
        [
          'member: an inline policy of the reader role',
          member,
          iamCall(MEMBER, 'PutRolePolicy', 'astro-trust-member-reader'),
          true,
        ],
        [
          'member: the member role deleted, in another case',
          member,
          iamCall(MEMBER, 'DeleteRole', 'Astro-Trust-Member'),
          true,
        ],
        [
          'member: a permissions change to another role',
          member,
          iamCall(MEMBER, 'PutRolePolicy', 'data-lake-reader'),
          false,
        ],
      ]),
    ).toEqual([]);
    for (const rule of ['IamChangeRule', 'MemberIamChangeRule'])
      expect((template.Resources[rule]!.Properties.Targets as Record<string, unknown>[])[0]).toMatchObject({
        Arn: { 'Fn::GetAtt': ['IamChangeLambdaFunction', 'Arn'] },
      });
    // iamChange knows the roles it runs as and publishes SelfTampering on the bus.
    const env = (
      template.Resources.IamChangeLambdaFunction!.Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(resolved(env.ASTRO_TRUST_OWN_ROLE_ARNS)).toBe(
      ['Webhook', 'IamChange', 'Reconcile', 'Backfill', 'Watch', 'Notify']
        .map((f) => physical(`${f}Role`).arn)
        .join(','),
    );
    expect(env.EVENT_BUS_NAME).toEqual({ Ref: 'EventBus' });
  });

  it("keeps each function role's inline policies within IAM's 10,240 characters, and the OIDC providers' managed policy within 6,144", () => {
    for (const fn of ['Webhook', 'IamChange', 'Reconcile', 'Backfill', 'Notify', 'Watch']) {
      const role = template.Resources[`${fn}Role`]!.Properties.Policies as { PolicyDocument: unknown }[];
      expect(JSON.stringify(resolved(role.map((p) => p.PolicyDocument))).length).toBeLessThan(10_240);
    }
    const oidc = template.Resources.ReconcileOidcProviderPolicy!;
    expect(oidc).toMatchObject({
      Condition: 'ManagesOidcProviders',
      Properties: { Roles: [{ Ref: 'ReconcileRole' }] },
    });
    expect(JSON.stringify(resolved(oidc.Properties.PolicyDocument)).length).toBeLessThan(6_144);
  });

  it("alarms on each dead-letter queue and on every function's errors, to the optional SNS topic", () => {
    const alarms = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => r.Properties as { MetricName: string; Dimensions: { Value: unknown }[]; AlarmActions: unknown });
    const watched = alarms.map((a) => JSON.stringify(a.Dimensions[0]!.Value));
    for (const q of ['ReconcileDeadLetterQueue', 'NotifyDeadLetterQueue'])
      expect(watched).toContain(JSON.stringify({ 'Fn::GetAtt': [q, 'QueueName'] }));
    for (const fn of ['Webhook', 'IamChange', 'Reconcile', 'Backfill', 'Notify', 'Watch'])
      expect(watched).toContain(JSON.stringify({ Ref: `${fn}LambdaFunction` }));
    for (const a of alarms)
      expect(a.AlarmActions).toEqual({
        'Fn::If': ['HasAlarmTopic', [{ Ref: 'AlarmTopicArn' }], { Ref: 'AWS::NoValue' }],
      });
  });

  it('bundles source maps, read when an error is formatted, not at load (no --enable-source-maps)', () => {
    for (const fn of ['Webhook', 'IamChange', 'Reconcile', 'Backfill', 'Notify', 'Watch']) {
      expect(
        (template.Resources[`${fn}LambdaFunction`]!.Properties.Environment as { Variables: Record<string, string> })
          .Variables.NODE_OPTIONS ?? '',
      ).not.toContain('--enable-source-maps');
    }
    const listing = execFileSync('python3', ['-m', 'zipfile', '-l', join(dir, 'iamChange.zip')], { encoding: 'utf8' });
    expect(listing).toMatch(/\.js\.map/);
  });

  it('lets a listing writer delete only the pages of its own listing (a large listing is kept in pages)', async () => {
    const table = 'arn:aws:dynamodb:us-east-1:123456789012:table/astro-trust-test-WatchTable';
    const can = async (fn: string, key: string) => {
      const policy = {
        Version: '2012-10-17',
        Statement: statements(fn)
          .filter((s) => s.Action.includes('dynamodb:DeleteItem'))
          .map((s) => ({ ...s, Resource: table })),
      };
      const r = await runSimulation(
        {
          identityPolicies: [{ name: fn, policy: policy as never }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          request: {
            action: 'dynamodb:DeleteItem',
            principal: `arn:aws:iam::123456789012:role/astro-trust-${fn}`,
            resource: { accountId: '123456789012', resource: table },
            contextVariables: { 'dynamodb:LeadingKeys': [key] },
          },
        },
        {},
      );
      return r.resultType !== 'error' && r.overallResult === 'Allowed';
    };
    for (const fn of ['Webhook', 'Reconcile']) {
      expect(await can(fn, 'listing#page#m1-ab#3')).toBe(true);
      expect(await can(fn, 'listing')).toBe(false);
      expect(await can(fn, 'inventory#page#m1-ab#3')).toBe(false);
      expect(await can(fn, 'alert#webhook:1')).toBe(false);
    }
    expect(await can('Watch', 'inventory#page#m1-ab#0')).toBe(true);
    expect(await can('Watch', 'inventory')).toBe(false);
    expect(await can('Watch', 'listing#page#m1-ab#0')).toBe(false);
    expect(actions('Backfill')).not.toContain('dynamodb:DeleteItem');
  });

  it('has no iam:* action and no write on Resource "*"', () => {
    for (const fn of ['Webhook', 'IamChange', 'Reconcile', 'Backfill', 'Notify', 'Watch']) {
      for (const s of statements(fn)) {
        expect(s.Action.some((a) => a === '*' || a.endsWith(':*'))).toBe(false);
        if ([].concat(s.Resource as never).includes('*' as never))
          expect(s.Action).toEqual(['iam:ListOpenIDConnectProviders']);
      }
    }
  });

  it('the webhook, IAM-change and watch functions cannot touch IAM', () => {
    expect(actions('Watch').filter((a) => a.startsWith('iam:'))).toEqual([]);
    expect(actions('Webhook').filter((a) => a.startsWith('iam:'))).toEqual([]);
    expect(actions('IamChange').filter((a) => a.startsWith('iam:'))).toEqual([]);
  });

  it('reads secrets only from its own SSM SecureString parameters', () => {
    expect(resourcesOf('Webhook', 'ssm:GetParameters')).toEqual([
      {
        'Fn::Sub':
          'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/astro-trust/test/webhook-secret',
      },
      {
        'Fn::Sub':
          'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/astro-trust/test/astro-api-token',
      },
    ]);
    const env = JSON.stringify(template.Resources.NotifyLambdaFunction!.Properties.Environment);
    expect(env).toContain('/astro-trust/test/slack-webhook-url');
    expect(env).not.toMatch(/hooks\.slack\.com|xox[bp]-/);
  });

  it('feeds reconcile from a FIFO queue, one message at a time, with partial batch failures and a dead-letter queue', () => {
    const queue = template.Resources.ReconcileQueue!.Properties;
    expect(queue).toMatchObject({
      FifoQueue: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': ['ReconcileDeadLetterQueue', 'Arn'] },
        // What the reconcile function tells the alert: the last receive is not "will be retried".
        maxReceiveCount: RECONCILE_MAX_RECEIVES,
      },
    });
    const mapping = Object.values(template.Resources).find(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping',
    )!.Properties;
    expect(mapping).toMatchObject({ BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    // At most two reconciles at once, each paced per account: the stack's IAM rate stays bounded (docs/deploy.md).
    expect(mapping).toMatchObject({ ScalingConfig: { MaximumConcurrency: 2 } });
  });

  it('routes IAM CloudTrail events (no errorCode) to iamChange and its own events to notify, with dead-letter queues', () => {
    expect(template.Resources.IamChangeRule!.Properties.EventPattern).toMatchObject({
      source: ['aws.iam'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['iam.amazonaws.com'],
        errorCode: [{ exists: false }],
        $or: expect.arrayContaining([{ eventName: ['UpdateAssumeRolePolicy', 'CreateRole', 'DeleteRole'] }]),
      },
    });
    const target = (template.Resources.NotifyRule!.Properties.Targets as Record<string, unknown>[])[0]!;
    expect(target).toMatchObject({
      Arn: { 'Fn::GetAtt': ['NotifyLambdaFunction', 'Arn'] },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['NotifyDeadLetterQueue', 'Arn'] } },
    });
  });

  it('targets nodejs22.x and bundles each function with the config', () => {
    for (const fn of ['Webhook', 'IamChange', 'Reconcile', 'Backfill', 'Notify', 'Watch'])
      expect(template.Resources[`${fn}LambdaFunction`]!.Properties.Runtime).toBe('nodejs22.x');
    const zips = readdirSync(dir)
      .filter((f) => f.endsWith('.zip'))
      .sort();
    expect(zips).toEqual(['backfill.zip', 'iamChange.zip', 'notify.zip', 'reconcile.zip', 'watch.zip', 'webhook.zip']);
    for (const z of zips) expect(statSync(join(dir, z)).size).toBeLessThan(2_000_000);
    const listing = execFileSync('python3', ['-m', 'zipfile', '-l', join(dir, 'webhook.zip')]).toString();
    expect(listing).toContain('deploy/packaged/astro-trust.json');
    expect(listing).toContain('examples/deployments.json'); // the example's inventory file
    expect(listing).not.toContain('astro-trust.yaml'); // no function reads YAML
  });

  it('bundles the config as the loader returned it (JSON), and points the functions at it', () => {
    const packaged = JSON.parse(
      execFileSync('unzip', ['-p', join(dir, 'iamChange.zip'), 'deploy/packaged/astro-trust.json'], {
        encoding: 'utf8',
      }),
    );
    const loaded = loadConfig(CONFIG);
    expect(packaged).toEqual({
      packagedConfigVersion: 1,
      config: {
        ...JSON.parse(JSON.stringify(loaded)),
        inventory: { ...loaded.inventory, path: 'examples/deployments.json' },
      },
      // The example's name globs, compiled as the domain compiles them.
      globs: Object.fromEntries(['prod-*', 'dev-*', 'prod-reports'].map((g) => [g, globRegExp(g)])),
    });
    for (const fn of ['Webhook', 'IamChange', 'Reconcile', 'Backfill', 'Notify', 'Watch'])
      expect(
        (template.Resources[`${fn}LambdaFunction`]!.Properties.Environment as { Variables: Record<string, string> })
          .Variables.ASTRO_TRUST_PACKAGED_CONFIG,
      ).toBe('deploy/packaged/astro-trust.json');
  });
});
