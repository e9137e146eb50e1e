/**
 * deploy/member-account.yml (DESIGN 3.6, 7.1): cfn-lint judges the template; an IAM policy evaluator
 * (@cloud-copilot/iam-simulate) judges what its roles allow, with the template's parameters resolved as the
 * hub's outputs fill them; moto's EventBridge pattern engine judges what its rule forwards. Only the hub's
 * reconcile role (in astro-trust's session) and the people who run apply may write; the hub's other functions
 * and plan read through the reader; OIDC providers only for EKS issuers.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse, type Tags } from 'yaml';
import { patternMatches } from '../support/event-pattern';
import { fixture } from '../support/world';

// CloudFormation's short forms (!Ref, !Sub ...) as their long forms.
const cfnTags: Tags = ['Ref', 'Sub', 'GetAtt', 'If', 'Equals', 'Join', 'Split', 'Select', 'Not'].flatMap((fn) => [
  {
    tag: `!${fn}`,
    resolve: (v: string) => (fn === 'Ref' ? { Ref: v } : { [`Fn::${fn}`]: fn === 'GetAtt' ? v.split('.') : v }),
  },
  {
    tag: `!${fn}`,
    collection: 'seq' as const,
    resolve: (v: { toJSON: () => unknown }) => ({ [`Fn::${fn}`]: v.toJSON() }),
  },
]);
type Resource = { Type: string; Condition?: string; Properties: Record<string, unknown> };
const template = parse(readFileSync('deploy/member-account.yml', 'utf8'), { customTags: cfnTags }) as {
  Parameters: Record<string, { Type: string; Default?: string }>;
  Conditions: Record<string, unknown>;
  Resources: Record<string, Resource>;
};

const HUB = '123456789012';
const MEMBER = '444455556666';
const RECONCILE = `arn:aws:iam::${HUB}:role/astro-trust-prod-ReconcileRole-1A2B3C`;
const BACKFILL = `arn:aws:iam::${HUB}:role/astro-trust-prod-BackfillRole-4D5E6F`;
const OPERATOR = `arn:aws:iam::${HUB}:role/platform-operators`;
const AUDITOR = `arn:aws:iam::${HUB}:role/security-auditors`;
const MANAGED = `arn:aws:iam::${MEMBER}:role/data-lake-reader`;
const NOVALUE = Symbol('AWS::NoValue');

/**
 * The template as CloudFormation deploys it in MEMBER (partition `partition`) with these parameters: the hub's
 * outputs (HubReconcileRoleArn, HubReaderRoleArns; release 2's HubRoleArns too, as release 2's docs told
 * people to pass it) and the optional principals.
 */
function deployed(params: Record<string, string | string[]>, partition = 'aws') {
  const values: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(template.Parameters))
    values[k] = params[k] ?? (p.Type === 'CommaDelimitedList' ? (p.Default ?? '').split(',') : p.Default);
  Object.assign(values, params, { 'AWS::Partition': partition, 'AWS::AccountId': MEMBER });
  const conditions: Record<string, boolean> = {};
  const value = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(value).filter((x) => x !== NOVALUE);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if ('Ref' in o) {
      if (o.Ref === 'AWS::NoValue') return NOVALUE;
      if (String(o.Ref) in values) return values[String(o.Ref)];
      return `arn:${partition}:iam::${MEMBER}:role/${String(o.Ref)}`; // a resource: what the policies need of it
    }
    if ('Fn::Sub' in o)
      return String(o['Fn::Sub']).replace(/\$\{([\w:]+)\}/g, (_m, name: string) => String(values[name]));
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown];
      return ([] as unknown[]).concat(value(parts)).join(sep);
    }
    if ('Fn::Equals' in o) {
      const [a, b] = (o['Fn::Equals'] as unknown[]).map(value);
      return a === b;
    }
    if ('Fn::Not' in o) return !(value((o['Fn::Not'] as unknown[])[0]) as boolean);
    if ('Fn::If' in o) {
      const [cond, yes, no] = o['Fn::If'] as [string, unknown, unknown];
      return value(conditions[cond] ? yes : no);
    }
    if ('Fn::GetAtt' in o) return `arn:${partition}:iam::${MEMBER}:role/${(o['Fn::GetAtt'] as string[])[0]}`;
    return Object.fromEntries(
      Object.entries(o)
        .map(([k, x]) => [k, value(x)] as const)
        .filter(([, x]) => x !== NOVALUE),
    );
  };
  for (const [name, c] of Object.entries(template.Conditions)) conditions[name] = value(c) as boolean;
  const resources = Object.fromEntries(
    Object.entries(template.Resources)
      .filter(([, r]) => r.Condition === undefined || conditions[r.Condition])
      .map(([k, r]) => [k, value(r) as Resource]),
  );
  /** A role's trust policy, and its permissions: inline policies and the stack's managed policies attached to it. */
  const role = (logical: string) => {
    const r = resources[logical]!.Properties as {
      AssumeRolePolicyDocument: unknown;
      Policies: { PolicyDocument: { Statement: unknown[] } }[];
    };
    const arn = `arn:${partition}:iam::${MEMBER}:role/${logical}`;
    const managed = Object.values(resources)
      .filter((x) => x.Type === 'AWS::IAM::ManagedPolicy' && (x.Properties.Roles as string[]).includes(arn))
      .map((x) => x.Properties.PolicyDocument as { Statement: unknown[] });
    return {
      trust: r.AssumeRolePolicyDocument,
      permissions: {
        Version: '2012-10-17',
        Statement: [...r.Policies.map((p) => p.PolicyDocument), ...managed].flatMap((d) => d.Statement),
      },
    };
  };
  return { resources, conditions, role };
}

const HUB_OUTPUTS = {
  HubReconcileRoleArn: RECONCILE,
  HubReaderRoleArns: [BACKFILL],
  // Release 2's single parameter (the reconcile and backfill roles): a template still trusting it fails below.
  HubRoleArns: [RECONCILE, BACKFILL],
  HubEventBusArn: `arn:aws:events:us-east-1:${HUB}:event-bus/astro-trust-prod`,
  ManagedRoleArns: [MANAGED],
};
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

async function allowed(
  principal: string,
  action: string,
  resource: string,
  policies: { identity: unknown; resource?: unknown },
  context: Record<string, string> = {},
): Promise<boolean> {
  const r = await runSimulation(
    {
      identityPolicies: [{ name: 'identity', policy: policies.identity as never }],
      ...(policies.resource ? { resourcePolicy: policies.resource as never } : {}),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action,
        principal,
        resource: { accountId: resource.split(':')[4] || MEMBER, resource },
        contextVariables: context,
      },
    },
    {},
  );
  if (r.resultType === 'error') throw new Error(`iam-simulate: ${JSON.stringify(r.errors)}`);
  return r.overallResult === 'Allowed';
}
const HUB_SESSION = { 'sts:RoleSessionName': 'astro-trust', 'sts:SourceIdentity': 'astro-trust' };

describe('deploy/member-account.yml', () => {
  it('passes cfn-lint', () => {
    expect(() => execFileSync('cfn-lint', ['--', 'deploy/member-account.yml'], { stdio: 'pipe' })).not.toThrow();
  });

  it("only the hub's reconcile role may assume the member role (the writer), and only as astro-trust's session; never the backfill (DESIGN 7.1)", async () => {
    const { role } = deployed({ ...HUB_OUTPUTS, ApplyPrincipalArns: [OPERATOR], PlanPrincipalArns: [AUDITOR] });
    const writer = `arn:aws:iam::${MEMBER}:role/astro-trust-member`;
    const assume = (principal: string, context: Record<string, string> = HUB_SESSION, action = 'sts:AssumeRole') =>
      allowed(principal, action, writer, { identity: ALLOW_ALL, resource: role('MemberRole').trust }, context);
    expect(await assume(BACKFILL)).toBe(false);
    expect(await assume(RECONCILE)).toBe(true);
    expect(await assume(RECONCILE, { 'sts:SourceIdentity': 'astro-trust' }, 'sts:SetSourceIdentity')).toBe(true);
    // Not without astro-trust's session name and source identity.
    expect(await assume(RECONCILE, { 'sts:RoleSessionName': 'astro-trust' })).toBe(false);
    expect(await assume(RECONCILE, { 'sts:RoleSessionName': 'mallory', 'sts:SourceIdentity': 'astro-trust' })).toBe(
      false,
    );
    // The people who run apply, never as astro-trust's session: the hub checks what they change.
    expect(await assume(OPERATOR, { 'sts:RoleSessionName': 'alice' })).toBe(true);
    expect(await assume(OPERATOR, { 'sts:SourceIdentity': 'alice@example.com' }, 'sts:SetSourceIdentity')).toBe(true);
    expect(await assume(OPERATOR, HUB_SESSION)).toBe(false);
    expect(await assume(OPERATOR, { 'sts:SourceIdentity': 'astro-trust' }, 'sts:SetSourceIdentity')).toBe(false);
    // Those who only run plan: the reader only.
    expect(await assume(AUDITOR, { 'sts:RoleSessionName': 'bob' })).toBe(false);
    expect(await assume(`arn:aws:iam::${HUB}:root`, HUB_SESSION)).toBe(false);
    // Without ApplyPrincipalArns, only the reconcile role.
    const alone = deployed(HUB_OUTPUTS).role('MemberRole').trust as { Statement: { Sid: string }[] };
    expect(alone.Statement.map((s) => s.Sid)).toEqual(['AstroTrustHub', 'AstroTrustHubSourceIdentity']);
  });

  it('the reader role is assumed by the hub roles that only read and by plan and apply people, and may not write', async () => {
    const { role } = deployed({ ...HUB_OUTPUTS, ApplyPrincipalArns: [OPERATOR], PlanPrincipalArns: [AUDITOR] });
    const reader = `arn:aws:iam::${MEMBER}:role/astro-trust-member-reader`;
    const { trust, permissions } = role('ReaderRole');
    const assume = (principal: string, context: Record<string, string> = HUB_SESSION) =>
      allowed(principal, 'sts:AssumeRole', reader, { identity: ALLOW_ALL, resource: trust }, context);
    expect(await assume(BACKFILL)).toBe(true);
    expect(await assume(BACKFILL, { 'sts:RoleSessionName': 'astro-trust' })).toBe(false);
    expect(await assume(OPERATOR, { 'sts:RoleSessionName': 'alice' })).toBe(true);
    expect(await assume(AUDITOR, { 'sts:RoleSessionName': 'bob' })).toBe(true);
    expect(await assume(RECONCILE)).toBe(false);
    const may = (action: string, resource: string) => allowed(reader, action, resource, { identity: permissions });
    expect(await may('iam:GetRole', MANAGED)).toBe(true);
    expect(await may('iam:ListOpenIDConnectProviders', '*')).toBe(true);
    expect(await may('iam:UpdateAssumeRolePolicy', MANAGED)).toBe(false);
    expect(
      await may(
        'iam:CreateOpenIDConnectProvider',
        `arn:aws:iam::${MEMBER}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X`,
      ),
    ).toBe(false);
    expect(await may('iam:GetRole', `arn:aws:iam::${MEMBER}:role/admin`)).toBe(false);
    const actions = (permissions.Statement as { Action: string | string[] }[]).flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toEqual(['iam:GetRole', 'iam:ListOpenIDConnectProviders']);
  });

  it("the member role keeps the declared roles' trust and creates OIDC providers for EKS issuers only: no `*` for a region, a look-alike URL is refused", async () => {
    const writer = `arn:aws:iam::${MEMBER}:role/astro-trust-member`;
    const id = '5C1F3A6B9D2E4F7081A2B3C4D5E6F708';
    const regions = JSON.parse(readFileSync('deploy/eks-regions.json', 'utf8')) as Record<
      string,
      { dnsSuffix: string; regions: string[] }
    >;
    for (const partition of ['aws', 'aws-cn', 'aws-us-gov']) {
      const managed = `arn:${partition}:iam::${MEMBER}:role/data-lake-reader`;
      const { permissions } = deployed({ ...HUB_OUTPUTS, ManagedRoleArns: [managed] }, partition).role('MemberRole');
      const may = (action: string, resource: string) => allowed(writer, action, resource, { identity: permissions });
      const provider = (hostPath: string) => `arn:${partition}:iam::${MEMBER}:oidc-provider/${hostPath}`;
      expect(
        await may('iam:CreateOpenIDConnectProvider', provider(`oidc.eks.evil.example/x.amazonaws.com/id/${id}`)),
      ).toBe(false);
      expect(await may('iam:CreateOpenIDConnectProvider', provider('token.actions.githubusercontent.com'))).toBe(false);
      const { dnsSuffix, regions: list } = regions[partition]!;
      for (const region of list)
        expect(await may('iam:CreateOpenIDConnectProvider', provider(`oidc.eks.${region}.${dnsSuffix}/id/${id}`))).toBe(
          true,
        );
      const creates = (permissions.Statement as { Action: string[]; Resource: string[] }[]).filter((s) =>
        [s.Action].flat().includes('iam:CreateOpenIDConnectProvider'),
      );
      expect(creates.flatMap((s) => [s.Resource].flat())).toHaveLength(list.length);
      expect(await may('iam:UpdateAssumeRolePolicy', managed)).toBe(true);
      expect(await may('iam:UpdateAssumeRolePolicy', `arn:${partition}:iam::${MEMBER}:role/admin`)).toBe(false);
    }
    // Without oidc roles here, no OIDC permission at all.
    const { permissions } = deployed({ ...HUB_OUTPUTS, ManagesOidcProviders: 'false' }).role('MemberRole');
    expect((permissions.Statement as { Action: string[] }[]).flatMap((s) => [s.Action].flat()).sort()).toEqual([
      'iam:GetRole',
      'iam:UpdateAssumeRolePolicy',
    ]);
  });

  it("forwards the account's IAM trust changes and any change to astro-trust's two roles to the hub's bus, through a role that may only put there", () => {
    const { resources } = deployed(HUB_OUTPUTS);
    const rule = resources.ForwardIamChanges!.Properties as {
      EventPattern: unknown;
      Targets: Record<string, unknown>[];
    };
    const call = (eventName: string, roleName: string) => {
      const e = fixture<{ detail: Record<string, unknown> }>('iamChange/member-role-policy-attached.json');
      return { ...e, detail: { ...e.detail, eventName, requestParameters: { roleName } } };
    };
    const cases: [unknown, boolean][] = [
      [call('UpdateAssumeRolePolicy', 'data-lake-reader'), true],
      [call('CreateRole', 'anything'), true],
      [fixture('iamChange/member-role-policy-attached.json'), true],
      [call('PutRolePolicy', 'astro-trust-member-reader'), true],
      [call('UpdateRole', 'ASTRO-TRUST-MEMBER'), true],
      [call('DetachRolePolicy', 'astro-trust-member'), true],
      [call('PutRolePolicy', 'data-lake-reader'), false],
      [{ ...call('UpdateAssumeRolePolicy', 'data-lake-reader'), source: 'astro-trust' }, false],
    ];
    expect(patternMatches(cases.map(([event]) => [rule.EventPattern, event]))).toEqual(cases.map(([, m]) => m));
    expect(rule.Targets).toEqual([
      { Id: 'astro-trust-hub', Arn: HUB_OUTPUTS.HubEventBusArn, RoleArn: `arn:aws:iam::${MEMBER}:role/ForwardRole` },
    ]);
    const forward = resources.ForwardRole!.Properties as { Policies: { PolicyDocument: { Statement: unknown[] } }[] };
    expect(forward.Policies.flatMap((p) => p.PolicyDocument.Statement)).toEqual([
      { Effect: 'Allow', Action: 'events:PutEvents', Resource: HUB_OUTPUTS.HubEventBusArn },
    ]);
  });

  it('names the roles as the hub assumes them: <MemberRoleName> and <MemberRoleName>-reader, room left for the suffix', () => {
    const { resources } = deployed({ ...HUB_OUTPUTS, MemberRoleName: 'platform-astro-trust' });
    expect(resources.MemberRole!.Properties.RoleName).toBe('platform-astro-trust');
    expect(resources.ReaderRole!.Properties.RoleName).toBe('platform-astro-trust-reader');
    expect(template.Parameters.MemberRoleName).toMatchObject({ AllowedPattern: '^[\\w+=,.@-]{1,57}$' });
  });
});
