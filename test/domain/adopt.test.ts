/** Adopting an estate (astro-trust init): what is declared, what is noted, and a config that loads whatever IAM and the inventory hold. */
import { adopt } from '../../src/domain/adopt';
import { renderInitConfig } from '../../src/cli/commands/init';
import { parseConfig } from '../../src/config/config';
import { apiDeployment, astroRole, deployments, ISSUER, roleState } from '../support/fixtures';

const inventory = deployments(
  apiDeployment(1),
  apiDeployment(2, { name: 'evil\nroles: []\n# ' }),
  apiDeployment(3, { airflowVersion: '2.10.5' }),
);
const ns = (n: number) => `stellar-orbit-${1000 + n}`;
const web = (subs: string[]) => ({
  Effect: 'Allow',
  Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${ISSUER}` },
  Action: 'sts:AssumeRoleWithWebIdentity',
  Condition: { StringLike: { [`${ISSUER}:sub`]: subs } },
});

describe('adopt', () => {
  it('declares the Deployments a role trusts by identity, and by namespace on their issuer with the service accounts found', () => {
    const a = adopt(
      [
        {
          name: 'b-oidc',
          state: roleState('b-oidc', [
            web([
              `system:serviceaccount:${ns(1)}:${ns(1)}-worker-serviceaccount`,
              `system:serviceaccount:${ns(3)}:${ns(3)}-webserver-serviceaccount`,
            ]),
          ]),
        },
        {
          name: 'a-wi',
          state: roleState('a-wi', [
            { Sid: 'Hand\nMade', Effect: 'Allow', Principal: { AWS: astroRole(ns(2)) }, Action: 'sts:AssumeRole' },
          ]),
        },
        {
          name: 'c-none',
          state: roleState('c-none', [
            { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ]),
        },
      ],
      inventory,
    );
    expect(a.roles.map((r) => [r.name, r.trust, r.deploymentIds, r.serviceAccounts])).toEqual([
      ['a-wi', 'workload-identity', ['cldep000002x'], 'all'],
      ['b-oidc', 'oidc', ['cldep000001x', 'cldep000003x'], ['worker', 'apiserver']],
    ]);
    // One list for the role: Deployment 1 gets the API server's account and 3 the worker's, which they lack today.
    expect(a.roles[1]!.notes).toEqual([
      expect.stringMatching(/^declaring these Deployments trusts 2 principals the role does not trust today/),
    ]);
    expect(a.notAdopted).toEqual([]);
  });

  it('writes a config that loads, whatever a Deployment name or a Sid holds (no comment can end early)', () => {
    const a = adopt(
      [
        {
          name: 'a-wi',
          state: roleState('a-wi', [
            { Sid: 'x\ninjected: 1', Effect: 'Allow', Principal: { AWS: astroRole(ns(2)) }, Action: 'sts:AssumeRole' },
          ]),
        },
      ],
      inventory,
    );
    const text = renderInitConfig(
      {
        adoption: a,
        account: '123456789012',
        rolesRead: 1,
        deployments: 3,
        inventorySource: 'inventory file\nx: 1',
        firstPlan: [{ declared: [{ id: 'cldep000002x', name: 'evil\nroles: []\n# ', matchedBy: 'id' }] } as never],
      },
      { organizationId: 'org"\n', inventory: { source: 'file', path: './deployments.json' }, when: '2026-01-01' },
    );
    const config = parseConfig(text, '/x/astro-trust.yaml');
    expect(config.roles.map((r) => [r.name, r.mode, r.deployments])).toEqual([
      ['a-wi', 'observe', [{ id: 'cldep000002x' }]],
    ]);
    expect(config.organizationId).toBe('org"\n');
  });
});
