/** IAM-change intake: which CloudTrail events become drift checks. */
import { onIamChange } from '../../src/app/intake';
import { parseConfig } from '../../src/config/config';
import type { ReconcileRequest } from '../../src/domain/events';

const config = parseConfig('version: 1\norganizationId: o\ninventory: { source: api }\nroles:\n  - { name: data-lake-reader, trust: oidc }\n', '/x/c.yaml');
const event = (roleName: string) => ({
  source: 'aws.iam',
  'detail-type': 'AWS API Call via CloudTrail',
  detail: { eventName: 'UpdateAssumeRolePolicy', eventID: 'e1', eventTime: '2026-11-26T00:00:00Z', requestParameters: { roleName }, userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::123456789012:user/alice' } },
});

describe('onIamChange', () => {
  it.each(['data-lake-reader', 'Data-Lake-Reader', 'DATA-LAKE-READER'])('matches %s case-insensitively, as IAM names roles, and queues the declared name', async (name) => {
    const queued: ReconcileRequest[] = [];
    const verdict = await onIamChange({ config, queue: { enqueue: async (r) => void queued.push(...r) }, selfArns: [] }, event(name));
    expect(verdict).toMatchObject({ enqueued: { role: 'data-lake-reader', reason: 'iam-change' } });
    expect(queued.map((q) => q.role)).toEqual(['data-lake-reader']);
  });

  it('ignores a role that is not managed, and a roleName that is not a string', async () => {
    const deps = { config, queue: { enqueue: async () => {} }, selfArns: [] };
    expect(await onIamChange(deps, event('data-lake-reader-2'))).toEqual({ ignored: 'role data-lake-reader-2 is not managed' });
    expect(await onIamChange(deps, event({ toString: () => 'data-lake-reader' } as never))).toEqual({ ignored: 'role (none) is not managed' });
  });
});
