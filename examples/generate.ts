/**
 * Regenerates the example inventory and IAM snapshot: `npx tsx examples/generate.ts`.
 * The trust policies are built with astro-trust's own statement builder, then edited the way people do,
 * so that `npm start` shows every plan outcome.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownedStatements } from '../src/domain/statements.js';
import type { Statement } from '../src/domain/policy.js';
import type { TrustEntry } from '../src/domain/desired.js';

const ACCOUNT = '123456789012';
const ASTRO = '111928029897';
const E1 = 'oidc.eks.us-east-1.amazonaws.com/id/5C1F3A6B9D2E4F7081A2B3C4D5E6F708';
const E2 = 'oidc.eks.us-west-2.amazonaws.com/id/9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C4D';
const W1 = 'clmh58o7d000108lb74ktc9o64';
const W2 = 'clmh5b2xq000508lbd3k2h7p1';
const W3 = 'clmh5c9vn000708lb1f4q8z2m';
const W4 = 'clmh5e0aa000908lb6yq2w3e4';

const astroRole = (ns: string) => `arn:aws:iam::${ASTRO}:role/astro-${ns}`;
let created = Date.UTC(2025, 0, 6);
const dep = (id: string, name: string, namespace: string, workspaceId: string, extra: Record<string, unknown> = {}) => ({
  id, name, namespace, workspaceId, clusterId: 'clmh5a1xw000408lb0f3s7r5e', type: 'DEDICATED', status: 'HEALTHY', cloudProvider: 'AWS',
  airflowVersion: '3.0.2', astroRuntimeVersion: '3.0-2', createdAt: new Date((created += 86_400_000 * 3)).toISOString(),
  effectiveWorkloadIdentity: astroRole(namespace), oidcIssuerUrl: `https://${E1}`, ...extra,
});
const HYBRID_LOGS = `arn:aws:iam::${ACCOUNT}:role/AirflowS3Logs-clmh5hyb0000908lbhybrid01`;

const deployments = [
  dep('clmh57jtm000008lb58fe2wmv', 'prod-ingest', 'galactian-element-5125', W1),
  dep('clmh5f1pd001008lb2n8c4v6x', 'prod-reports', 'nebular-quasar-2211', W2, {
    airflowVersion: '2.10.5', astroRuntimeVersion: '12.8.0', effectiveDRWorkloadIdentity: astroRole('nebular-quasar-2211-dr'), drOidcIssuerUrl: `https://${E2}`,
  }),
  dep('clmh5g7kc001108lb3p9d5w7y', 'dev-sandbox', 'cosmic-orbit-7788', W1),
  dep('clmh5h2rb001208lb4q0e6x8z', 'prod-billing', 'stellar-comet-3141', W3),
  dep('clmh5j8ta001308lb5r1f7y9a', 'etl-nightly', 'lunar-crater-4455', W2, { effectiveWorkloadIdentity: `arn:aws:iam::${ACCOUNT}:role/etl-runner` }),
  // Airflow 2 by its Runtime: the API reports airflowVersion NA, so the webserver service account is used.
  dep('clmh5k3wz001408lb6s2g8z0b', 'etl-hourly', 'solar-flare-6677', W2, { airflowVersion: 'NA', astroRuntimeVersion: '11.4.0', effectiveWorkloadIdentity: `arn:aws:iam::${ACCOUNT}:role/etl-runner` }),
  // A hostile or broken record: astro-trust leaves it out with a warning instead of trusting "bad*ns".
  dep('clmh5m9xy001508lb7t3h9a1c', 'prod-broken', 'bad*ns', W3),
  ...Array.from({ length: 30 }, (_, i) =>
    dep(`clmh6an${String(i).padStart(2, '0')}002008lb8u4j0b2d`, `analytics-${i + 1}`, `analytics-team-${String(1000 + i)}`, W4)),
  // Refused identity (DESIGN 6.2): not Astro-managed, and in an account the config does not list.
  dep('clmh5n4pq001608lb8v5k1c3e', 'prod-partner-sync', 'quiet-meadow-5150', W1, { effectiveWorkloadIdentity: 'arn:aws:iam::999999999999:role/partner-airflow' }),
  // Not on AWS: never trusted by an IAM role.
  dep('clmh5p6rs001708lb9w6m2d4f', 'prod-gcp-reports', 'amber-valley-6262', W1, {
    cloudProvider: 'GCP', effectiveWorkloadIdentity: undefined, oidcIssuerUrl: 'https://container.googleapis.com/v1/projects/astro-p/locations/us-central1/clusters/c1',
  }),
  // Refused issuer: a customer-managed identity on a cluster whose issuer is neither EKS nor listed in inventory.oidcIssuers.
  dep('clmh5q8tu001808lbax7n3e5g', 'etl-selfhosted', 'iron-harbor-7373', W2, {
    effectiveWorkloadIdentity: `arn:aws:iam::${ACCOUNT}:role/etl-runner`, oidcIssuerUrl: 'https://oidc.selfhosted.example.com/id/cluster-7',
  }),
  // A Hybrid cluster's shared identity: declaring one of these Deployments trusts all three.
  ...['ingest', 'export', 'audit'].map((n, i) =>
    dep(`clmh5r${i}vw001908lbby8p4f6h`, `hybrid-${n}`, `hybrid-${n}-80${i}0`, W3, { type: 'HYBRID', clusterId: 'clmh5hyb0000908lbhybrid01', effectiveWorkloadIdentity: HYBRID_LOGS })),
  // New analytics Deployments: two fit in shared-analytics' policy (oldest first), two wait for room.
  ...Array.from({ length: 4 }, (_, i) =>
    dep(`clmh7an${String(i).padStart(2, '0')}002108lb8u4j0b2d`, `analytics-${31 + i}`, `analytics-team-${String(1030 + i)}`, W4)),
];

const aws = (...arns: string[]): TrustEntry[] => arns.map((arn) => ({ kind: 'aws', arn, deploymentIds: [] }));
const oidc = (issuer: string, ...subs: string[]): TrustEntry[] => subs.map((sub) => ({ kind: 'oidc', issuer, sub, deploymentIds: [] }));
const owned = (entries: TrustEntry[]) => ownedStatements('aws', ACCOUNT, entries);
const role = (name: string, statements: Statement[], account = ACCOUNT) => ({
  Path: '/', RoleName: name, RoleId: `AROA${Buffer.from(`${account === ACCOUNT ? '' : account}${name}`).toString('hex').toUpperCase().slice(0, 17).padEnd(17, 'X')}`,
  Arn: `arn:aws:iam::${account}:role/${name}`, CreateDate: '2026-06-01T09:00:00+00:00',
  AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: statements },
  InstanceProfileList: [], RolePolicyList: [], AttachedManagedPolicies: [], Tags: [],
});
const glue: Statement = { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' };

const snapshot = {
  RoleDetailList: [
    // in sync
    role('reports-reader', owned(aws(astroRole('nebular-quasar-2211'), astroRole('nebular-quasar-2211-dr')))),
    // onboarding: prod-billing is new
    role('data-lake-reader', [glue, ...owned(aws(astroRole('galactian-element-5125'), astroRole('nebular-quasar-2211'), astroRole('nebular-quasar-2211-dr'), astroRole('cosmic-orbit-7788')))]),
    // offboarding: a deleted Deployment is still trusted
    role('archive-writer', owned(aws(astroRole('galactian-element-5125'), astroRole('deleted-nova-9999')))),
    // foreign statement trusting an Astro identity the config does not declare
    role('legacy-exporter', [
      ...owned(aws(astroRole('cosmic-orbit-7788'))),
      { Sid: 'LegacyManualGrant', Effect: 'Allow', Principal: { AWS: astroRole('nebular-quasar-2211') }, Action: 'sts:AssumeRole' },
    ]),
    // orphan: a role that was deleted shows as its unique id
    role('ml-feature-store', [
      ...owned(aws(astroRole('galactian-element-5125'))),
      { Sid: 'OldJenkins', Effect: 'Allow', Principal: { AWS: 'AROA5XK7QEXAMPLE2ZJ4B' }, Action: 'sts:AssumeRole' },
    ]),
    // customer-managed identity (OIDC), observe mode: a namespace wildcard pasted by hand; etl-hourly not yet trusted
    role('etl-runner', [
      ...owned(oidc(E1, 'system:serviceaccount:lunar-crater-4455:*')),
      {
        Sid: 'QuickFix', Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${E1}` },
        Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringLike: { [`${E1}:sub`]: 'system:serviceaccount:*:*' } },
      },
    ]),
    // component-scoped OIDC, not onboarded yet
    role('s3-exporter', [glue]),
    // a Hybrid cluster's logs role, trusted by hand for one Deployment
    role('hybrid-logs-reader', owned(aws(HYBRID_LOGS))),
    // near the size limit: four new Deployments, room for two
    role('shared-analytics', owned(aws(...Array.from({ length: 30 }, (_, i) => astroRole(`analytics-team-${1000 + i}`))))),
  ],
  GroupDetailList: [],
  UserDetailList: [],
  Policies: [],
};

// A second account (DESIGN 3.6): the data account's own data-lake-reader, read through its member role.
// It still trusts prod-ingest, which only the hub's role declares, and not yet prod-reports.
const DATA = '444455556666';
const memberSnapshot = {
  RoleDetailList: [role('data-lake-reader', [glue, ...ownedStatements('aws', DATA, aws(astroRole('galactian-element-5125')))], DATA)],
  GroupDetailList: [],
  UserDetailList: [],
  Policies: [],
};

const dir = __dirname;
writeFileSync(join(dir, 'deployments.json'), `${JSON.stringify({ deployments, limit: 1000, offset: 0, totalCount: deployments.length }, null, 2)}\n`);
writeFileSync(join(dir, 'iam-snapshot.json'), `${JSON.stringify(snapshot, null, 2)}\n`);
writeFileSync(join(dir, `iam-snapshot-${DATA}.json`), `${JSON.stringify(memberSnapshot, null, 2)}\n`);
console.log(`wrote ${deployments.length} Deployments and ${snapshot.RoleDetailList.length} roles`);
