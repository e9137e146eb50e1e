// What serverless.yml derives from the astro-trust config when packaging: each function's least-privilege
// IAM statements (${file(./deploy/from-config.js):reconcile} ...; IAM writes only on the declared roles'
// ARNs, member accounts written only by the reconcile function, OIDC providers only for EKS issuers), the
// event patterns that name astro-trust's own roles, the config itself as the functions read it (JSON, written
// to deploy/packaged/) and the files to bundle with them (that JSON, and the inventory file if the config has one).
//
// The config is read by the loader `astro-trust validate` uses (src/config/config.ts, bundled on the way by
// esbuild), found by the same rule as the command line (ASTRO_TRUST_CONFIG, else ./astro-trust.yaml): a
// config validate rejects is not packaged, and the message is the loader's.
'use strict';
const { mkdirSync, renameSync, writeFileSync } = require('node:fs');
const { dirname, isAbsolute, join, relative } = require('node:path');

const serviceDir = join(__dirname, '..');
/** Where the packaged config is written, relative to the service directory (the function's working directory). */
const PACKAGED_CONFIG = 'deploy/packaged/astro-trust.json';

/** Writes `text` whole, then renames it into place: a concurrent package of the service never reads half a file. */
function writeWhole(file, text) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

let loaderModule;
/** src/config's loader, config discovery and packaging, as one CommonJS file (its packages from node_modules). */
function loader() {
  if (!loaderModule) {
    const { buildSync } = require('esbuild');
    const out = join(serviceDir, 'deploy/packaged/loader.cjs');
    const built = buildSync({
      stdin: {
        contents: [
          ...['config.ts', 'discovery.ts', 'pack.ts'].map((f) => `export * from './src/config/${f}';`),
          "export { ConfigNotFoundError } from './src/errors.ts';",
        ].join('\n'),
        resolveDir: serviceDir,
        loader: 'ts',
      },
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      logLevel: 'silent',
    });
    writeWhole(out, built.outputFiles[0].text);
    loaderModule = require(out);
  }
  return loaderModule;
}
/** The config file by the command line's rule (src/config/discovery.ts): ASTRO_TRUST_CONFIG, else ./astro-trust.yaml. */
function configFile() {
  const { configPath, ConfigNotFoundError } = loader();
  try {
    return configPath(process.env, process.cwd()).file;
  } catch (err) {
    if (err instanceof ConfigNotFoundError) refuse(err.message);
    throw err;
  }
}

// osls prints a resolver's rejection with its stack trace, once for every variable that needs the config.
// Under osls a refusal is printed once, as `astro-trust validate` prints it, and osls stops (exit 1);
// anywhere else (tests) it is thrown.
const underOsls = Boolean(require.main && /[\\/]osls[\\/]bin[\\/]/.test(require.main.filename));
function refuse(message) {
  if (underOsls) {
    process.stderr.write(`astro-trust: ${message}\n`);
    process.exit(1);
  }
  throw new Error(`deploy/from-config.js: ${message}`);
}

let loaded;
/** The config as the loader returned it (memoized per file: every statement reads the same one). */
function readConfig() {
  const file = configFile();
  if (!loaded || loaded.file !== file) {
    const { loadConfig, ConfigError } = loader();
    try {
      loaded = { file, config: loadConfig(file) };
    } catch (err) {
      if (err instanceof ConfigError) refuse(err.message);
      throw err;
    }
  }
  return loaded.config;
}

// The roles of a config the loader accepted (it checked their names and accounts).
function rolesIn(config) {
  return config.roles;
}

function declaredRoles() {
  return rolesIn(readConfig());
}

/**
 * Writes the loaded config as the functions read it (src/config/packaged.ts) to PACKAGED_CONFIG, and returns
 * it. Paths in it are relative to the service directory, the function's working directory once deployed.
 */
function writePackagedConfig() {
  const packaged = loader().packConfig(readConfig(), serviceDir);
  const inv = packaged.config.inventory;
  if (inv.source === 'file' && isAbsolute(inv.path))
    refuse(
      `${configFile()}: inventory.path ${inv.path} is outside ${serviceDir}, which the functions are packaged from: move the file under it`,
    );
  writeWhole(join(serviceDir, PACKAGED_CONFIG), `${JSON.stringify(packaged)}\n`);
  return packaged;
}

// The example config trusts example Deployments: packaging it for a real stage is a mistake unless asked.
async function refuseExampleOutsideLocal(ctx) {
  const stage = ctx && ctx.resolveVariable ? await ctx.resolveVariable('sls:stage') : undefined;
  const isExample = relative(process.cwd(), configFile()).replace(/\\/g, '/') === 'examples/astro-trust.yaml';
  if (isExample && stage !== 'local' && process.env.ASTRO_TRUST_ALLOW_EXAMPLE_CONFIG !== '1') {
    refuse(
      `refusing to package the example config (examples/astro-trust.yaml) for stage ${stage}: ` +
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

// A listing too large for one item is kept in pages (src/adapters/aws/watch-table.ts); its writer deletes the
// pages of the listing its save replaced, and nothing else: the pages under its own key prefix.
const deletePagesOf = (prefix) => ({
  Effect: 'Allow',
  Action: ['dynamodb:DeleteItem'],
  Resource: { 'Fn::GetAtt': ['WatchTable', 'Arn'] },
  // Null guard: ForAllValues holds for a request without the key at all.
  Condition: {
    'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${prefix}#page#*`] },
    Null: { 'dynamodb:LeadingKeys': 'false' },
  },
});

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

// The session astro-trust opens in a member account (DESIGN 7.1): the member roles' trust requires both, and
// the hub recognises its own member-account changes by them (src/domain/self.ts).
const SESSION_NAME = 'astro-trust';
const SOURCE_IDENTITY = 'astro-trust';
const readerRoleName = (roleName) => `${roleName}-reader`;

// sts:AssumeRole on exactly one member role of each account the config names, and nothing else: the writer
// (memberRoleName) for the reconcile function, the read-only <memberRoleName>-reader for the backfill; only
// as astro-trust's session (its name and source identity, which setting needs sts:SetSourceIdentity).
function assumeMembers(access) {
  const { accounts, roleName } = members();
  if (accounts.length === 0) return [];
  const name = access === 'write' ? roleName : readerRoleName(roleName);
  const roles = accounts.map((a) => sub(`arn:\${AWS::Partition}:iam::${a}:role/${name}`));
  const sid = access === 'write' ? 'AssumeMemberRoles' : 'AssumeMemberReaderRoles';
  return [
    {
      Sid: sid,
      Effect: 'Allow',
      Action: ['sts:AssumeRole'],
      Resource: roles,
      Condition: { StringEquals: { 'sts:RoleSessionName': SESSION_NAME, 'sts:SourceIdentity': SOURCE_IDENTITY } },
    },
    // SetSourceIdentity is authorised on its own (its only condition key is sts:SourceIdentity).
    {
      Sid: `${sid}SourceIdentity`,
      Effect: 'Allow',
      Action: ['sts:SetSourceIdentity'],
      Resource: roles,
      Condition: { StringEquals: { 'sts:SourceIdentity': SOURCE_IDENTITY } },
    },
  ];
}

// EKS cluster issuers only (DESIGN 6.2, 7.1): one ARN per region of the stack's partition, never a `*`
// standing for the region (oidc.eks.*.amazonaws.com would also match oidc.eks.evil.example/x.amazonaws.com),
// plus the issuers the config lists in inventory.oidcIssuers, exactly.
const EKS_REGIONS = require('./eks-regions.json');
function partitionOfRegion(region) {
  return /^cn-/.test(region) ? 'aws-cn' : /^us-gov-/.test(region) ? 'aws-us-gov' : 'aws';
}
function oidcProviderArns(config, region) {
  const { dnsSuffix, regions } = EKS_REGIONS[partitionOfRegion(region)];
  const provider = (hostPath) => sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:oidc-provider/${hostPath}`);
  // The loaded config (src/config/config.ts) keeps inventory.oidcIssuers as identityRules.oidcIssuers.
  const listed = (
    config && config.identityRules && Array.isArray(config.identityRules.oidcIssuers)
      ? config.identityRules.oidcIssuers
      : []
  )
    .map((i) =>
      String(i)
        .replace(/^https:\/\//, '')
        .replace(/\/+$/, ''),
    )
    .filter((i) => /^[a-z0-9-]+(\.[a-z0-9-]+)+(\/[A-Za-z0-9._~-]+)*$/.test(i));
  return [...regions.map((r) => provider(`oidc.eks.${r}.${dnsSuffix}/id/*`)), ...[...new Set(listed)].map(provider)];
}
const regionOf = async (ctx) =>
  (ctx && ctx.resolveVariable ? await ctx.resolveVariable('self:provider.region') : undefined) || 'us-east-1';

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
    // Listing has no resource-level permission; creation (EKS cluster issuers only) is in a managed policy of
    // its own (reconcileOidcProviders), so the region list does not eat this inline policy's room.
    statements.push({
      Sid: 'OidcProviderList',
      Effect: 'Allow',
      Action: ['iam:ListOpenIDConnectProviders'],
      Resource: '*',
    });
  }
  return statements;
}

// The webhook function faces the internet: in the watch table it may touch only its own items (DESIGN 7.1),
// by their partition key (dynamodb:LeadingKeys; the Null test refuses a request that names no key).
const ownItems = (sid, actions, prefixes) => ({
  Sid: sid,
  Effect: 'Allow',
  Action: actions,
  Resource: { 'Fn::GetAtt': ['WatchTable', 'Arn'] },
  Condition: {
    'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes },
    Null: { 'dynamodb:LeadingKeys': 'false' },
  },
});

module.exports = {
  webhook: async (ctx) => [
    logs('webhook'),
    ssmRead(await prefixOf(ctx), 'webhook-secret', 'astro-api-token'),
    enqueue,
    // The watch's last listing (items `inventory...`), to queue only the roles an update or delete affects.
    ownItems('WatchTableReadSnapshot', ['dynamodb:GetItem'], ['inventory*']),
    // webhook-ids seen (`alert#webhook|<id>`: a resend within the tolerance does no new work), and the fresh
    // listing it shares with the reconciles it queues (items `listing...`).
    ownItems('WatchTableWriteOwnItems', ['dynamodb:PutItem'], ['alert#webhook|*', 'listing*']),
    deletePagesOf('listing'),
  ],
  // Queues drift checks; publishes a SelfTampering alert when astro-trust's own roles change.
  iamChange: async () => [logs('iamChange'), enqueue, publish],
  reconcile: async (ctx) => [
    logs('reconcile'),
    ssmRead(await prefixOf(ctx), 'astro-api-token'),
    ...trustWriter(),
    ...assumeMembers('write'),
    publish,
    lastListing,
    // The flap guard's memory: an item per role in the same table.
    { Effect: 'Allow', Action: ['dynamodb:PutItem'], Resource: { 'Fn::GetAtt': ['WatchTable', 'Arn'] } },
    deletePagesOf('listing'),
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
    ...assumeMembers('read'),
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
    deletePagesOf('inventory'),
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
  // The reconcile function creates the IAM OIDC providers of the home account's oidc roles: EKS cluster issuers
  // only (and inventory.oidcIssuers), in the ReconcileOidcProviderPolicy managed policy, which exists only then.
  reconcileOidcProviders: async (ctx) => [
    {
      Sid: 'OidcProviderCreate',
      Effect: 'Allow',
      Action: ['iam:CreateOpenIDConnectProvider'],
      Resource: oidcProviderArns(readConfig(), await regionOf(ctx)),
    },
  ],
  managesOidcProviders: async () => String(declaredRoles().some((r) => r.trust === 'oidc' && !r.account)),
  // The member stack's roles (writer and reader): a change to them in a member account is self-tampering, so
  // the hub's rule on its bus delivers those IAM events to iamChange too (equals-ignore-case, as IAM names roles).
  memberRoleNames: async () => {
    const { roleName } = members();
    return [roleName, readerRoleName(roleName)].map((n) => ({ 'equals-ignore-case': n }));
  },
  declaredRoles,
  members,
  refuseExampleOutsideLocal,
  // The functions' environment (ASTRO_TRUST_PACKAGED_CONFIG): the packaged config, written on the way.
  packagedConfig: async () => {
    writePackagedConfig();
    return PACKAGED_CONFIG;
  },
  packageFiles: async (ctx) => {
    await refuseExampleOutsideLocal(ctx);
    const { inventory } = writePackagedConfig().config;
    return ['!**', PACKAGED_CONFIG, ...(inventory.source === 'file' ? [inventory.path] : [])];
  },
};
