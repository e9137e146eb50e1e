/**
 * An IAM policy evaluator as the tests' judge (@cloud-copilot/iam-simulate): may `principal` assume the role
 * whose trust policy is `policy`, for a caller whose own policy allows `sts:AssumeRole` on anything?
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { PolicyDocument } from '../../src/domain/policy';

/**
 * True when the evaluator says Allowed. `strict`: a request the evaluator cannot judge is an error (the test's
 * own input is wrong); otherwise it counts as not allowed.
 */
export async function canAssumeRole(
  policy: PolicyDocument,
  roleArn: string,
  principal: string,
  opts: { strict?: boolean } = {},
): Promise<boolean> {
  const r = await runSimulation(
    {
      identityPolicies: [
        {
          name: 'caller',
          policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] },
        },
      ],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: policy,
      request: {
        action: 'sts:AssumeRole',
        principal,
        resource: { accountId: roleArn.split(':')[4]!, resource: roleArn },
        contextVariables: {},
      },
    },
    {},
  );
  if (r.resultType === 'error') {
    if (opts.strict) throw new Error(`iam-simulate refused the request: ${JSON.stringify(r.errors)}`);
    return false;
  }
  return r.overallResult === 'Allowed';
}
