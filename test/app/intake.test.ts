/** IAM-change intake: which CloudTrail events become drift checks. */
import { onDeploymentEvent, onIamChange } from '../../src/app/intake';
import { apiDeployment, deployments } from '../support/fixtures';
import { parseConfig } from '../../src/config/config';
import type { ReconcileRequest } from '../../src/domain/events';

const config = parseConfig(
  'version: 1\norganizationId: o\ninventory: { source: api }\nroles:\n  - { name: data-lake-reader, trust: oidc }\n',
  '/x/c.yaml',
);
const event = (roleName: string) => ({
  source: 'aws.iam',
  'detail-type': 'AWS API Call via CloudTrail',
  detail: {
    eventName: 'UpdateAssumeRolePolicy',
    eventID: 'e1',
    eventTime: '2026-11-26T00:00:00Z',
    requestParameters: { roleName },
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::123456789012:user/alice' },
  },
});

describe('onIamChange', () => {
  it.each(['data-lake-reader', 'Data-Lake-Reader', 'DATA-LAKE-READER'])(
    'matches %s case-insensitively, as IAM names roles, and queues the declared name',
    async (name) => {
      const queued: ReconcileRequest[] = [];
      const verdict = await onIamChange(
        { config, queue: { enqueue: async (r) => void queued.push(...r) }, selfArns: [] },
        event(name),
      );
      expect(verdict).toMatchObject({ enqueued: { role: 'data-lake-reader', reason: 'iam-change' } });
      expect(queued.map((q) => q.role)).toEqual(['data-lake-reader']);
    },
  );

  it('ignores a role that is not managed, and a roleName that is not a string', async () => {
    const deps = { config, queue: { enqueue: async () => {} }, selfArns: [] };
    expect(await onIamChange(deps, event('data-lake-reader-2'))).toEqual({
      ignored: 'role data-lake-reader-2 is not managed',
    });
    expect(await onIamChange(deps, event({ toString: () => 'data-lake-reader' } as never))).toEqual({
      ignored: 'role (none) is not managed',
    });
  });
});

describe('onDeploymentEvent: which roles an event queues', () => {
  const many = parseConfig(
    'version: 1\norganizationId: o\ninventory: { source: api }\nroles:\n' +
      Array.from(
        { length: 200 },
        (_, i) => `  - { name: role-${i}, trust: workload-identity, deployments: [{ workspaceId: ws-${i % 50} }] }`,
      ).join('\n') +
      '\n',
    '/x/c.yaml',
  );
  const d = deployments(apiDeployment(1, { workspaceId: 'ws-7' }))[0]!;
  const moved = { ...d, workspaceId: 'ws-9' };
  const run = async (
    type: 'deployment.created' | 'deployment.updated' | 'deployment.deleted',
    now: (typeof d)[],
    before?: (typeof d)[],
  ) => {
    const queued: ReconcileRequest[] = [];
    await onDeploymentEvent(
      {
        config: many,
        inventory: { description: 't', list: async () => ({ deployments: now, warnings: [] }) },
        queue: { enqueue: async (r) => void queued.push(...r) },
        ...(before ? { snapshots: { load: async () => before, save: async () => {} } } : {}),
      },
      { id: 'e', type, deploymentId: d.id, organizationId: 'o', occurredAt: '2026-11-26T00:00:00Z' },
    );
    return queued.map((q) => q.role).sort();
  };
  const declaring = (ws: number) => Array.from({ length: 4 }, (_, k) => `role-${ws + 50 * k}`).sort();

  it('created: the roles that declare it (4 of 200)', async () =>
    expect(await run('deployment.created', [d])).toEqual(declaring(7)));
  it('updated out of a workspace: the roles before and after (8 of 200)', async () =>
    expect(await run('deployment.updated', [moved], [d])).toEqual([...declaring(7), ...declaring(9)].sort()));
  it('deleted: the roles that declared it (4 of 200)', async () =>
    expect(await run('deployment.deleted', [], [d])).toEqual(declaring(7)));
  it('updated or deleted with no last listing: every role (200)', async () => {
    expect(await run('deployment.updated', [moved])).toHaveLength(200);
    expect(await run('deployment.deleted', [], [])).toHaveLength(200);
  });
});
