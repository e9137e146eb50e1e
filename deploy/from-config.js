// What serverless.yml derives from the astro-trust config when packaging: each function's least-privilege
// IAM statements (${file(./deploy/from-config.js):reconcile} ...; IAM writes only on the declared roles'
// ARNs) and the files to bundle with the functions (the config, and its inventory file if it has one).
'use strict';
const { readFileSync } = require('node:fs');
const { dirname, join, relative } = require('node:path');
const { parse } = require('yaml');

const configFile = () => process.env.ASTRO_TRUST_CONFIG || 'astro-trust.yaml';

function readConfig() {
  try {
    return parse(readFileSync(configFile(), 'utf8'));
  } catch (err) {
    throw new Error(
      `deploy/from-config.js: cannot read the astro-trust config ${configFile()} (set ASTRO_TRUST_CONFIG): ${err.message}`,
      { cause: err },
    );
  }
}

// The roles of a config already read (one read per statement set, not one per helper).
function rolesIn(config) {
  const roles = Array.isArray(config && config.roles) ? config.roles : [];
  if (roles.length === 0 || roles.some((r) => !r || typeof r.name !== 'string' || !/^[\w+=,.@-]{1,64}$/.test(r.name))) {
    throw new Error(
      `deploy/from-config.js: ${configFile()} declares no roles or a role without a valid name; run astro-trust plan --config ${configFile()} for details`,
    );
  }
  return roles;
}

function declaredRoles() {
  return rolesIn(readConfig());
}

// The example config trusts example Deployments: packaging it for a real stage is a mistake unless asked.
async function refuseExampleOutsideLocal(ctx) {
  const stage = ctx && ctx.resolveVariable ? await ctx.resolveVariable('sls:stage') : undefined;
  const isExample = relative(process.cwd(), configFile()).replace(/\\/g, '/') === 'examples/astro-trust.yaml';
  if (isExample && stage !== 'local' && process.env.ASTRO_TRUST_ALLOW_EXAMPLE_CONFIG !== '1') {
    throw new Error(
      `deploy/from-config.js: refusing to package the example config (examples/astro-trust.yaml) for stage ${stage}: ` +
        'set ASTRO_TRUST_CONFIG to your astro-trust.yaml (default ./astro-trust.yaml), or ASTRO_TRUST_ALLOW_EXAMPLE_CONFIG=1 to package the example anyway',
    );
  }
}

const sub = (s) => ({ 'Fn::Sub': s });
const logs = (fn) => ({
  Effect: 'Allow',
  Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  Resource: sub(
    `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/\${AWS::StackName}-${fn}:*`,
  ),
});
// Parameter names start with a slash, so the ARN is "...:parameter" + name.
const param = (prefix, name) =>
  sub(`arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${prefix}/${name}`);
const ssmRead = (prefix, ...names) => ({
  Effect: 'Allow',
  Action: ['ssm:GetParameters'],
  Resource: names.map((n) => param(prefix, n)),
});
const prefixOf = async ({ resolveVariable }) => {
  const prefix = await resolveVariable('self:custom.ssmPrefix');
  if (!/^\/[\w./-]+$/.test(prefix))
    throw new Error(`deploy/from-config.js: custom.ssmPrefix ${prefix} must look like /astro-trust/prod`);
  return prefix;
};
const enqueue = { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: { 'Fn::GetAtt': ['ReconcileQueue', 'Arn'] } };
const publish = { Effect: 'Allow', Action: ['events:PutEvents'], Resource: { 'Fn::GetAtt': ['EventBus', 'Arn'] } };
// The watch's last listing: reconciles read it to refuse a listing that shrank past inventory.maxShrinkPercent.
const lastListing = {
  Effect: 'Allow',
  Action: ['dynamodb:GetItem'],
  Resource: { 'Fn::GetAtt': ['WatchTable', 'Arn'] },
};

// A role may live under a path (role/team-a/<name>); IAM role names are unique in an account whatever the
// path, so role/*/<name> can only match that one role (the * never ends inside <name>: a / comes first).
// Only the roles of this (the hub's) account: a role with `account` is reached through that account's member role.
const roleArns = (roles) =>
  roles
    .filter((r) => !r.account)
    .flatMap((r) => [
      sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${r.name}`),
      sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/*/${r.name}`),
    ]);

/** The accounts the config's roles name (DESIGN 3.6), and the role astro-trust assumes in each. */
function members() {
  const config = readConfig();
  const accounts = [
    ...new Set(rolesIn(config).flatMap((r) => (r.account === undefined ? [] : [String(r.account)]))),
  ].sort();
  const bad = accounts.find((a) => !/^\d{12}$/.test(a));
  if (bad)
    throw new Error(
      `deploy/from-config.js: ${configFile()}: account ${bad} is not 12 digits (quote it in YAML); run astro-trust validate --config ${configFile()}`,
    );
  const roleName = (config && config.memberRoleName) || 'astro-trust-member';
  return { accounts, roleName };
}

// sts:AssumeRole on exactly the member roles of the accounts the config names, and nothing else.
function assumeMembers() {
  const { accounts, roleName } = members();
  if (accounts.length === 0) return [];
  return [
    {
      Sid: 'AssumeMemberRoles',
      Effect: 'Allow',
      Action: ['sts:AssumeRole'],
      Resource: accounts.map((a) => sub(`arn:\${AWS::Partition}:iam::${a}:role/${roleName}`)),
    },
  ];
}

function trustReader() {
  const roles = declaredRoles();
  const home = roleArns(roles);
  const statements = home.length
    ? [{ Sid: 'ManagedRoleRead', Effect: 'Allow', Action: ['iam:GetRole'], Resource: home }]
    : [];
  if (roles.some((r) => r.trust === 'oidc' && !r.account)) {
    statements.push({
      Sid: 'OidcProviderList',
      Effect: 'Allow',
      Action: ['iam:ListOpenIDConnectProviders'],
      Resource: '*',
    });
  }
  return statements;
}

function trustWriter() {
  const roles = declaredRoles();
  const home = roleArns(roles);
  const statements = home.length
    ? [
        {
          Sid: 'ManagedRoleTrust',
          Effect: 'Allow',
          Action: ['iam:GetRole', 'iam:UpdateAssumeRolePolicy'],
          Resource: home,
        },
      ]
    : [];
  if (roles.some((r) => r.trust === 'oidc' && !r.account)) {
    // Listing has no resource-level permission; creation is limited to EKS cluster issuers.
    statements.push({
      Sid: 'OidcProviderList',
      Effect: 'Allow',
      Action: ['iam:ListOpenIDConnectProviders'],
      Resource: '*',
    });
    statements.push({
      Sid: 'OidcProviderCreate',
      Effect: 'Allow',
      Action: ['iam:CreateOpenIDConnectProvider'],
      Resource: sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:oidc-provider/oidc.eks.*.amazonaws.com/id/*'),
    });
  }
  return statements;
}

module.exports = {
  // webhook-ids seen (Standard Webhooks): a resend within the tolerance does no new work.
  webhook: async (ctx) => [
    logs('webhook'),
    ssmRead(await prefixOf(ctx), 'webhook-secret', 'astro-api-token'),
    enqueue,
    // webhook-ids seen (PutItem); the watch's last listing (GetItem), to queue only the roles an update or delete affects.
    {
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
      Resource: { 'Fn::GetAtt': ['WatchTable', 'Arn'] },
    },
  ],
  iamChange: async () => [logs('iamChange'), enqueue],
  reconcile: async (ctx) => [
    logs('reconcile'),
    ssmRead(await prefixOf(ctx), 'astro-api-token'),
    ...trustWriter(),
    ...assumeMembers(),
    publish,
    lastListing,
    // The flap guard's memory: an item per role in the same table.
    { Effect: 'Allow', Action: ['dynamodb:PutItem'], Resource: { 'Fn::GetAtt': ['WatchTable', 'Arn'] } },
    {
      Effect: 'Allow',
      Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
      Resource: { 'Fn::GetAtt': ['ReconcileQueue', 'Arn'] },
    },
  ],
  // The backfill plans (reads) and queues; only the reconcile function writes IAM.
  backfill: async (ctx) => [
    logs('backfill'),
    ssmRead(await prefixOf(ctx), 'astro-api-token'),
    ...trustReader(),
    ...assumeMembers(),
    enqueue,
    publish,
    lastListing,
  ],
  watch: async (ctx) => [
    logs('watch'),
    ssmRead(await prefixOf(ctx), 'astro-api-token'),
    enqueue,
    publish,
    {
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
      Resource: { 'Fn::GetAtt': ['WatchTable', 'Arn'] },
    },
  ],
  // What was posted, remembered across cold starts (conditional PutItem; DeleteItem when a post fails).
  notify: async (ctx) => [
    logs('notify'),
    ssmRead(await prefixOf(ctx), 'slack-webhook-url'),
    {
      Effect: 'Allow',
      Action: ['dynamodb:DeleteItem', 'dynamodb:PutItem'],
      Resource: { 'Fn::GetAtt': ['WatchTable', 'Arn'] },
    },
  ],
  // The hub's bus accepts PutEvents from the member accounts (their IAM CloudTrail events, forwarded by
  // deploy/member-account.yml); with no member account, from this account only.
  memberBusPrincipals: async () => {
    const { accounts } = members();
    return accounts.length
      ? accounts.map((a) => sub(`arn:\${AWS::Partition}:iam::${a}:root`))
      : [sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:root')];
  },
  declaredRoles,
  members,
  refuseExampleOutsideLocal,
  packageFiles: async (ctx) => {
    await refuseExampleOutsideLocal(ctx);
    const config = readConfig();
    const files = ['!**', configFile()];
    const inv = config && config.inventory;
    if (inv && inv.source === 'file' && typeof inv.path === 'string')
      files.push(relative('.', join(dirname(configFile()), inv.path)));
    return files;
  },
};
