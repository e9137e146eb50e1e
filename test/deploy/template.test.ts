/**
 * The packaged CloudFormation template (`osls package`, offline): each function's IAM statements are
 * exactly what it uses, IAM writes only on the declared roles, the webhook function cannot touch IAM.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config';

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string[];
  Resource: unknown;
}
type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

const CONFIG = 'examples/astro-trust.yaml';
let template: Template;
let dir: string;

beforeAll(() => {
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
  expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}
const actions = (fn: string) =>
  statements(fn)
    .flatMap((s) => s.Action)
    .sort();
const resourcesOf = (fn: string, action: string) =>
  statements(fn)
    .filter((s) => s.Action.includes(action))
    .flatMap((s) => [].concat(s.Resource as never));

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
    await withEnv({ ASTRO_TRUST_CONFIG: 'astro-trust.yaml', ASTRO_TRUST_ALLOW_EXAMPLE_CONFIG: undefined }, () =>
      expect(refuseExampleOutsideLocal(stage('prod'))).resolves.toBeUndefined(),
    );
  });
});

describe('packaged template', () => {
  it.each([
    [
      'Webhook',
      [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sqs:SendMessage',
        'ssm:GetParameters',
      ],
    ],
    ['IamChange', ['logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage']],
    [
      'Reconcile',
      [
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
      ],
    ],
    [
      'Notify',
      ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'logs:CreateLogStream', 'logs:PutLogEvents', 'ssm:GetParameters'],
    ],
    [
      'Watch',
      [
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

  it('assumes only the member role of each account the config names (DESIGN 3.6), and only in reconcile and backfill', async () => {
    const member = [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::444455556666:role/astro-trust-member' }];
    expect(resourcesOf('Reconcile', 'sts:AssumeRole')).toEqual(member);
    expect(resourcesOf('Backfill', 'sts:AssumeRole')).toEqual(member);
    for (const fn of ['Webhook', 'IamChange', 'Notify', 'Watch'])
      expect(actions(fn).filter((a) => a.startsWith('sts:'))).toEqual([]);
    const policy = {
      Version: '2012-10-17',
      Statement: statements('Reconcile')
        .filter((s) => s.Action.includes('sts:AssumeRole'))
        .map((s) => ({
          ...s,
          Resource: []
            .concat(s.Resource as never)
            .map((r: { 'Fn::Sub': string }) => r['Fn::Sub'].replace('${AWS::Partition}', 'aws')),
        })),
    };
    const can = async (roleArn: string) => {
      // Every target role trusts the hub account (its root: delegated to the hub's identity policies), so the
      // reconcile role's own policy alone decides what it may assume.
      const trustsHub = {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' },
        ],
      };
      const r = await runSimulation(
        {
          identityPolicies: [{ name: 'reconcile', policy: policy as never }],
          resourcePolicy: trustsHub,
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          request: {
            action: 'sts:AssumeRole',
            principal: 'arn:aws:iam::123456789012:role/astro-trust-reconcile',
            resource: { accountId: roleArn.split(':')[4]!, resource: roleArn },
            contextVariables: {},
          },
        },
        {},
      );
      return r.resultType !== 'error' && r.overallResult === 'Allowed';
    };
    expect(await can('arn:aws:iam::444455556666:role/astro-trust-member')).toBe(true);
    expect(await can('arn:aws:iam::444455556666:role/admin')).toBe(false);
    expect(await can('arn:aws:iam::777788889999:role/astro-trust-member')).toBe(false);
    expect(await can('arn:aws:iam::123456789012:role/astro-trust-member')).toBe(false);
  });

  it('accepts IAM events on its bus from the member accounts only, and sends them to iamChange', () => {
    expect(template.Resources.MemberEventsBusPolicy!.Properties).toMatchObject({
      EventBusName: { Ref: 'EventBus' },
      Statement: {
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Principal: { AWS: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::444455556666:root' }] },
      },
    });
    expect(template.Resources.MemberIamChangeRule!.Properties).toMatchObject({
      EventBusName: { Ref: 'EventBus' },
      EventPattern: template.Resources.IamChangeRule!.Properties.EventPattern,
    });
    expect((template.Resources.MemberIamChangeRule!.Properties.Targets as Record<string, unknown>[])[0]).toMatchObject({
      Arn: { 'Fn::GetAtt': ['IamChangeLambdaFunction', 'Arn'] },
    });
    // The functions know the hub's account: IAM events from it are about the roles without `account`.
    for (const fn of ['IamChange', 'Reconcile', 'Backfill']) {
      expect(
        (template.Resources[`${fn}LambdaFunction`]!.Properties.Environment as { Variables: Record<string, unknown> })
          .Variables.ASTRO_TRUST_HOME_ACCOUNT,
      ).toEqual({ Ref: 'AWS::AccountId' });
    }
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

  it('bundles source maps and turns them on, so errors name the function and the line', () => {
    for (const fn of ['Webhook', 'IamChange', 'Reconcile', 'Backfill', 'Notify', 'Watch']) {
      expect(
        (template.Resources[`${fn}LambdaFunction`]!.Properties.Environment as { Variables: Record<string, string> })
          .Variables.NODE_OPTIONS,
      ).toBe('--enable-source-maps');
    }
    const listing = execFileSync('python3', ['-m', 'zipfile', '-l', join(dir, 'iamChange.zip')], { encoding: 'utf8' });
    expect(listing).toMatch(/\.js\.map/);
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
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['ReconcileDeadLetterQueue', 'Arn'] } },
    });
    const mapping = Object.values(template.Resources).find(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping',
    )!.Properties;
    expect(mapping).toMatchObject({ BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });

  it('routes IAM CloudTrail events (no errorCode) to iamChange and its own events to notify, with dead-letter queues', () => {
    expect(template.Resources.IamChangeRule!.Properties.EventPattern).toEqual({
      source: ['aws.iam'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['iam.amazonaws.com'],
        eventName: ['UpdateAssumeRolePolicy', 'CreateRole', 'DeleteRole'],
        errorCode: [{ exists: false }],
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
    expect(execFileSync('python3', ['-m', 'zipfile', '-l', join(dir, 'webhook.zip')]).toString()).toContain(
      'examples/astro-trust.yaml',
    );
  });
});
