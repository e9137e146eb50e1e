/**
 * deploy/member-account.yml (DESIGN 3.6): cfn-lint judges the template; the member role is trusted by the
 * hub's function roles only, with astro-trust's session name, and may do nothing but keep the declared
 * roles' trust and create EKS OIDC providers; IAM changes are forwarded to the hub's bus.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse, type Tags } from 'yaml';

// CloudFormation's short forms (!Ref, !Sub ...) as their long forms.
const cfnTags: Tags = ['Ref', 'Sub', 'GetAtt', 'If', 'Equals', 'Join', 'Split', 'Select'].flatMap((fn) => [
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
type Resource = { Type: string; Properties: Record<string, unknown> };
const template = parse(readFileSync('deploy/member-account.yml', 'utf8'), { customTags: cfnTags }) as {
  Parameters: Record<string, unknown>;
  Resources: Record<string, Resource>;
};
const role = template.Resources.MemberRole!.Properties as {
  RoleName: unknown;
  AssumeRolePolicyDocument: { Statement: Record<string, unknown>[] };
  Policies: {
    PolicyDocument: {
      Statement: (
        | { Action: string[]; Resource: unknown }
        | { 'Fn::If': [string, { Action: string[]; Resource: unknown }, unknown] }
      )[];
    };
  }[];
};

describe('deploy/member-account.yml', () => {
  it('passes cfn-lint', () => {
    expect(() => execFileSync('cfn-lint', ['--', 'deploy/member-account.yml'], { stdio: 'pipe' })).not.toThrow();
  });

  it('creates the member role trusted by the hub function roles only, with the session name astro-trust', () => {
    expect(role.RoleName).toEqual({ Ref: 'MemberRoleName' });
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Sid: 'AstroTrustHub',
        Effect: 'Allow',
        Principal: { AWS: { Ref: 'HubRoleArns' } },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'sts:RoleSessionName': 'astro-trust' } },
      },
    ]);
  });

  it("lets the hub keep the declared roles' trust and create EKS OIDC providers, nothing else", () => {
    const statements = role.Policies.flatMap((p) => p.PolicyDocument.Statement).map((s) =>
      'Fn::If' in s ? s['Fn::If'][1] : s,
    );
    expect(statements.flatMap((s) => s.Action).sort()).toEqual([
      'iam:CreateOpenIDConnectProvider',
      'iam:GetRole',
      'iam:ListOpenIDConnectProviders',
      'iam:UpdateAssumeRolePolicy',
    ]);
    const resource = (action: string) => statements.find((s) => s.Action.includes(action))!.Resource;
    expect(resource('iam:UpdateAssumeRolePolicy')).toEqual({ Ref: 'ManagedRoleArns' });
    expect(resource('iam:CreateOpenIDConnectProvider')).toEqual({
      'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:oidc-provider/oidc.eks.*.amazonaws.com/id/*',
    });
    expect(resource('iam:ListOpenIDConnectProviders')).toBe('*'); // no resource-level permission exists for listing
  });

  it("forwards the account's IAM trust changes to the hub's bus, through a role that may only put there", () => {
    const rule = template.Resources.ForwardIamChanges!.Properties as {
      EventPattern: unknown;
      Targets: Record<string, unknown>[];
    };
    expect(rule.EventPattern).toEqual({
      source: ['aws.iam'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['iam.amazonaws.com'],
        eventName: ['UpdateAssumeRolePolicy', 'CreateRole', 'DeleteRole'],
        errorCode: [{ exists: false }],
      },
    });
    expect(rule.Targets).toEqual([
      { Id: 'astro-trust-hub', Arn: { Ref: 'HubEventBusArn' }, RoleArn: { 'Fn::GetAtt': ['ForwardRole', 'Arn'] } },
    ]);
    const forward = template.Resources.ForwardRole!.Properties as {
      Policies: { PolicyDocument: { Statement: unknown[] } }[];
    };
    expect(forward.Policies.flatMap((p) => p.PolicyDocument.Statement)).toEqual([
      { Effect: 'Allow', Action: 'events:PutEvents', Resource: { Ref: 'HubEventBusArn' } },
    ]);
  });
});
