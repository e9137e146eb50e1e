/** The `astro-trust` command line (DESIGN 3.2): parse arguments, wire adapters, call a use case, print. */
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError, Option } from 'commander';
import { AstroApiInventory } from '../adapters/astro-api.js';
import { createIamClient, IamTrustStore } from '../adapters/iam.js';
import { IamSnapshotStore } from '../adapters/iam-snapshot.js';
import { FileInventory } from '../adapters/inventory-file.js';
import type { InventorySource, TrustStore } from '../adapters/ports.js';
import { applyPlan, planRoles, type Progress } from '../app/reconcile.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { AstroTrustError, describeError, UsageError } from '../errors.js';
import { FileDedup } from '../adapters/dedup.js';
import { FileDeadLetters, LogNotifier, SlackNotifier } from '../adapters/slack.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startServer } from './serve.js';
import { FileSnapshotStore } from '../adapters/snapshot-file.js';
import { sendEvent } from '../app/send.js';
import { WEBHOOK_TYPES, type WebhookEvent } from '../app/webhook.js';
import { coloured, detailedExitCode, plain, planJson, rolePlanJson, renderApply, renderConnectionsEnv, renderDeploymentExplanation, renderPlan, renderRoleExplanation } from './render.js';
import { CONNECTION_PRECEDENCE, connectionsFor, explainDeployment, explainRole } from '../app/explain.js';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Colour and progress only for a person at a terminal. */
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  /** Asks a yes/no question on the terminal. */
  confirm: (question: string) => Promise<boolean>;
  /** Overrides for tests: the adapters to use instead of the real ones. */
  adapters?: { store?: TrustStore; inventory?: InventorySource };
  /** `--verbose`: every retry, not only a summary line. */
  verbose?: boolean;
  /** Resolves when a long-running command (serve) should stop: SIGINT or SIGTERM. */
  untilStopped?: () => Promise<void>;
  /** Told the server's address once it listens. */
  onListening?: (url: string) => void;
}

export function processIo(): Io {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    stdinIsTTY: Boolean(process.stdin.isTTY),
    env: process.env,
    untilStopped: () =>
      new Promise((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      }),
    confirm: async (question) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return (await rl.question(question)).trim().toLowerCase() === 'yes';
      } finally {
        rl.close();
      }
    },
  };
}

/** Environment read once, at start. */
function inventoryFor(config: Config, io: Io): InventorySource {
  if (io.adapters?.inventory) return io.adapters.inventory;
  if (config.inventory.source === 'file') return new FileInventory(config.inventory.path);
  const token = io.env.ASTRO_API_TOKEN;
  if (!token) {
    throw new UsageError(`${config.file}: inventory.source is api but ASTRO_API_TOKEN is not set; export an Astro Organization API token, or use inventory.source: file`);
  }
  return new AstroApiInventory({
    baseUrl: io.env.ASTRO_API_URL || 'https://api.astronomer.io',
    organizationId: config.organizationId,
    token,
    log: (l) => io.stderr(`${l}\n`),
  });
}

function storeFor(io: Io, snapshot: string | undefined): TrustStore {
  if (io.adapters?.store) return io.adapters.store;
  if (snapshot) return new IamSnapshotStore(snapshot);
  const region = io.env.AWS_REGION || io.env.AWS_DEFAULT_REGION || 'us-east-1';
  return new IamTrustStore(createIamClient({ region }), { verbose: io.verbose }, (l) => io.stderr(`${l}\n`));
}

/** Colour for a person at a terminal, unless NO_COLOR is set (no-color.org). */
function paintFor(io: Io) {
  return io.stdoutIsTTY && !io.env.NO_COLOR ? coloured : plain;
}

function progressFor(io: Io): Progress | undefined {
  if (!io.stderrIsTTY) return undefined;
  const label = { inventory: 'listing Deployments', read: 'reading trust policies', write: 'writing trust policies' };
  return (phase, done, total) => {
    io.stderr(`\r\x1b[2K${label[phase]} ${done}/${total}`);
    if (done === total) io.stderr('\r\x1b[2K');
  };
}

interface PlanOpts {
  config: string;
  allowEmptyInventory?: boolean;
  role?: string[];
  json?: boolean;
  detailedExitcode?: boolean;
  iamSnapshot?: string;
  yes?: boolean;
}

async function runPlan(opts: PlanOpts, io: Io): Promise<number> {
  const config = loadConfig(opts.config);
  const plan = await planRoles(
    { config, inventory: inventoryFor(config, io), store: storeFor(io, opts.iamSnapshot), progress: progressFor(io), allowEmptyInventory: opts.allowEmptyInventory },
    opts.role,
  );
  if (opts.json) io.stdout(`${JSON.stringify(planJson(plan), null, 2)}\n`);
  else io.stdout(`${renderPlan(plan, paintFor(io))}\n`);
  if (plan.roles.some((r) => r.status === 'missing')) return 1;
  return opts.detailedExitcode ? detailedExitCode(plan) : 0;
}

async function runApply(opts: PlanOpts, io: Io): Promise<number> {
  const config = loadConfig(opts.config);
  const store = storeFor(io, undefined);
  const progress = progressFor(io);
  const plan = await planRoles({ config, inventory: inventoryFor(config, io), store, progress, allowEmptyInventory: opts.allowEmptyInventory }, opts.role);
  const paint = paintFor(io);
  const writes = plan.roles.filter((r) => r.status === 'changes' && r.mode === 'enforce').length;
  if (!opts.json) io.stdout(`${renderPlan(plan, paint)}\n\n`);
  if (writes > 0 && !opts.yes) {
    if (!io.stdinIsTTY) {
      io.stderr(`astro-trust apply: ${writes} role${writes === 1 ? '' : 's'} would be written; refusing without --yes when standard input is not a terminal.\n`);
      return 1;
    }
    if (!(await io.confirm(`Write the trust policies of ${writes} role${writes === 1 ? '' : 's'}? Only 'yes' is accepted: `))) {
      io.stderr('Apply cancelled; nothing was written.\n');
      return 1;
    }
  }
  const result = await applyPlan(plan, store, { progress });
  if (opts.json) io.stdout(`${JSON.stringify({ ...planJson(plan), apply: result }, null, 2)}\n`);
  else io.stdout(`${renderApply(result, paint)}\n`);
  return result.converged ? 0 : 1;
}

interface ServeOpts {
  config: string;
  port: string;
  host: string;
  resyncInterval: string;
  watchInterval: string;
  snapshot: string;
  deadLetters: string;
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((v) => v.trim()).filter(Boolean);
}

async function runServe(opts: ServeOpts, io: Io): Promise<number> {
  const config = loadConfig(opts.config);
  const secrets = list(io.env.ASTRO_TRUST_WEBHOOK_SECRET);
  if (secrets.length === 0) throw new UsageError('ASTRO_TRUST_WEBHOOK_SECRET is not set: serve verifies every webhook with it (comma-separate two while rotating)');
  const port = Number(opts.port);
  const minutes = Number(opts.resyncInterval);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${opts.port}: expected a port number`);
  if (!Number.isFinite(minutes) || minutes < 0) throw new UsageError(`--resync-interval ${opts.resyncInterval}: expected minutes (0 disables)`);
  const watchSeconds = Number(opts.watchInterval);
  if (!Number.isFinite(watchSeconds) || watchSeconds < 0) throw new UsageError(`--watch-interval ${opts.watchInterval}: expected seconds (0 disables)`);
  const log = (line: string) => io.stderr(`${new Date().toISOString()} ${line}\n`);
  const slackUrl = io.env.SLACK_WEBHOOK_URL;
  const notifier = slackUrl
    ? new SlackNotifier({ webhookUrl: slackUrl, deadLetters: new FileDeadLetters(opts.deadLetters), log, configPath: opts.config, dedup: new FileDedup(join(dirname(opts.snapshot), 'alerts-posted.json')) })
    : new LogNotifier(log);
  const server = await startServer({
    config,
    store: storeFor(io, undefined),
    inventory: inventoryFor(config, io),
    notifier,
    secrets,
    selfArns: list(io.env.ASTRO_TRUST_SELF_ARNS),
    eventsToken: io.env.ASTRO_TRUST_EVENTS_TOKEN || undefined,
    port,
    host: opts.host,
    resyncIntervalMs: minutes * 60_000,
    watchIntervalMs: watchSeconds * 1000,
    snapshots: new FileSnapshotStore(opts.snapshot),
    log,
  });
  log(`astro-trust serve: listening on ${server.url} (POST /webhooks/astro, POST /events/eventbridge, GET /healthz); ${config.roles.length} roles; resync every ${minutes} min; inventory watch every ${watchSeconds} s; alerts to ${slackUrl ? 'Slack' : 'the log'}`);
  if (!io.env.ASTRO_TRUST_EVENTS_TOKEN) log('IAM-change intake is off: POST /events/eventbridge answers 401 until ASTRO_TRUST_EVENTS_TOKEN is set (the bearer token an EventBridge API destination sends)');
  io.onListening?.(server.url);
  await (io.untilStopped ?? (() => new Promise<void>(() => {})))();
  log('stopping: draining the reconcile queue');
  await server.close();
  log('stopped');
  return 0;
}

interface SendOpts {
  url: string;
  type: string;
  deploymentId: string;
  organizationId?: string;
  id?: string;
  attempts: string;
}

async function runSend(opts: SendOpts, io: Io): Promise<number> {
  const secret = list(io.env.ASTRO_TRUST_WEBHOOK_SECRET)[0];
  if (!secret) throw new UsageError('ASTRO_TRUST_WEBHOOK_SECRET is not set: send signs the event with it');
  const organizationId = opts.organizationId ?? io.env.ASTRO_ORGANIZATION_ID;
  if (!organizationId) throw new UsageError('--organization-id (or ASTRO_ORGANIZATION_ID) is required: the receiver accepts events of its own organization only');
  if (!(WEBHOOK_TYPES as readonly string[]).includes(opts.type)) throw new UsageError(`--type ${opts.type}: expected one of ${WEBHOOK_TYPES.join(', ')}`);
  try {
    new URL(opts.url);
  } catch {
    throw new UsageError(`--url ${opts.url}: not a URL (e.g. https://example.com/webhooks/astro)`);
  }
  const attempts = Number(opts.attempts);
  if (!Number.isInteger(attempts) || attempts < 1) throw new UsageError(`--attempts ${opts.attempts}: expected a whole number >= 1`);
  try {
    const r = await sendEvent({
      url: opts.url,
      secret,
      event: { type: opts.type as WebhookEvent['type'], deploymentId: opts.deploymentId, organizationId, ...(opts.id ? { id: opts.id } : {}) },
      attempts,
      log: (l) => io.stderr(`${l}\n`),
    });
    io.stdout(`accepted: ${r.event.type} ${r.event.deploymentId} (${r.event.id}) -> HTTP ${r.status} ${r.body}\n`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    io.stderr(`astro-trust send: not accepted: ${describeError(err)}\n`);
    return 1;
  }
}

interface ExplainOpts {
  config: string;
  deployment?: string;
  role?: string;
  json?: boolean;
  iamSnapshot?: string;
  format?: string;
  region?: string;
}

async function runExplain(opts: ExplainOpts, io: Io): Promise<number> {
  if (!opts.deployment === !opts.role) throw new UsageError('explain needs exactly one of --deployment ID or --role NAME');
  const config = loadConfig(opts.config);
  const deps = { config, inventory: inventoryFor(config, io), store: storeFor(io, opts.iamSnapshot) };
  const paint = paintFor(io);
  if (opts.role) {
    const plan = await explainRole(deps, opts.role);
    if (opts.json) io.stdout(`${JSON.stringify(rolePlanJson(plan), null, 2)}\n`);
    else io.stdout(`${renderRoleExplanation(plan, paint)}\n`);
    return plan.status === 'missing' ? 1 : 0;
  }
  const answer = await explainDeployment(deps, opts.deployment!);
  if (opts.json) io.stdout(`${JSON.stringify(answer, null, 2)}\n`);
  else io.stdout(`${renderDeploymentExplanation(answer, paint)}\n`);
  return 0;
}

async function runConnections(opts: ExplainOpts, io: Io): Promise<number> {
  if (opts.format !== 'json' && opts.format !== 'env') throw new UsageError(`--format ${opts.format}: expected json or env`);
  const config = loadConfig(opts.config);
  const region = opts.region || io.env.AWS_REGION || io.env.AWS_DEFAULT_REGION || 'us-east-1';
  const answer = await connectionsFor({ config, inventory: inventoryFor(config, io), store: storeFor(io, opts.iamSnapshot) }, opts.deployment!, region);
  if (opts.format === 'json') {
    io.stdout(`${JSON.stringify({ deployment: { id: answer.deployment.id, name: answer.deployment.name }, connections: answer.connections.map((c) => ({ conn_id: c.connId, role: c.role, ...c.connection, note: c.note })), noConnectionNeeded: answer.noConnectionNeeded, precedence: answer.precedence }, null, 2)}\n`);
  } else {
    io.stdout(`${renderConnectionsEnv(answer)}\n`);
  }
  return 0;
}

function collect(value: string, previous: string[] = []) {
  return [...previous, ...list(value)];
}

function program(io: Io, setCode: (code: number) => void): Command {
  const p = new Command('astro-trust')
    .description(
      'Declared, automatic IAM role trust for Astronomer Astro Deployments.\n' +
        'A config file (astro-trust.yaml) declares which Deployments each IAM role trusts; astro-trust keeps the\n' +
        'statements it owns (Sid "AstroTrust...") equal to that and reports any other trust in Astro identities.',
    )
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .exitOverride()
    .option('-v, --verbose', 'log every retry of an AWS or Astro API call, not only a summary line')
    .hook('preAction', (cmd) => {
      io.verbose = Boolean(cmd.opts().verbose);
    })
    .showHelpAfterError('(run astro-trust --help for usage)');
  p.version(packageVersion(), '-V, --version', 'print the version of astro-trust');
  p.addHelpText(
    'after',
    '\nEnvironment:\n' +
      '  AWS_REGION, AWS credentials, AWS_ENDPOINT_URL   the AWS SDK\'s own (AWS_ENDPOINT_URL points at moto for local runs)\n' +
      '  ASTRO_API_TOKEN, ASTRO_API_URL                  the Astro API, with inventory.source: api\n' +
      '\nExamples:\n' +
      '  astro-trust plan --config examples/astro-trust.yaml --iam-snapshot examples/iam-snapshot.json\n' +
      '  astro-trust plan --config astro-trust.yaml --detailed-exitcode\n' +
      '  astro-trust apply --config astro-trust.yaml --role data-lake-reader --yes\n',
  );
  const common = (c: Command) =>
    c
      .requiredOption('-c, --config <file>', 'the astro-trust.yaml config file')
      .option('-r, --role <name>', 'only this declared role (repeat, or separate with commas)', collect)
      .option('--json', 'print one JSON document on stdout instead of text')
      .option('--allow-empty-inventory', 'act on an empty Deployment listing (refused by default: it would remove every trusted Deployment)');

  common(p.command('plan'))
    .description('Read IAM and the Deployment inventory; print what apply would change and all drift. Writes nothing.')
    .option('--iam-snapshot <file>', 'offline: actual state from `aws iam get-account-authorization-details` output instead of IAM')
    .option('--detailed-exitcode', 'exit 0 when nothing is to do, 2 when apply would write, 3 when a person must act (as Terraform, plus 3)')
    .addHelpText(
      'after',
      '\nExit: 0 success, 1 error (a refused listing, or a declared role missing in IAM). With --detailed-exitcode:\n' +
        '  0 nothing to do; 2 apply would write (an enforce role changes or an OIDC provider is missing);\n' +
        '  3 apply has nothing to do but a person must act (an observe role differs, a guard stopped a role,\n' +
        '    Deployments do not fit, an unacknowledged finding: acknowledge it under findings.acknowledge).',
    )
    .action(async (opts: PlanOpts) => setCode(await runPlan(opts, io)));

  common(p.command('apply'))
    .description('Converge every declared role (the backfill): plan, confirm, then write the roles in enforce mode.')
    .option('-y, --yes', 'do not ask for confirmation (required when standard input is not a terminal)')
    .addOption(new Option('--iam-snapshot <file>').hideHelp())
    .addHelpText('after', '\nExit: 0 converged, 1 error or a guard stopped a role. Observe-mode roles are planned and reported, never written.')
    .action(async (opts: PlanOpts) => {
      if (opts.iamSnapshot) throw new UsageError('apply writes to IAM and cannot use --iam-snapshot; run plan --iam-snapshot to preview offline');
      setCode(await runApply(opts, io));
    });
  p.command('validate')
    .description('Check a config file: syntax, keys, values. Reads nothing from AWS or Astro.')
    .requiredOption('-c, --config <file>', 'the astro-trust.yaml config file')
    .addHelpText('after', '\nExit: 0 valid, 1 invalid (each problem names the key path, the line and what was expected).\nEditors: schema/astro-trust.schema.json is the same rules as a JSON Schema.')
    .action(async (opts: { config: string }) => {
      const config = loadConfig(opts.config);
      const acks = config.findings.acknowledge.length;
      io.stdout(`${opts.config}: valid: ${config.roles.length} role${config.roles.length === 1 ? '' : 's'}, inventory from ${config.inventory.source}${acks ? `, ${acks} acknowledged finding${acks === 1 ? '' : 's'}` : ''}\n`);
      setCode(0);
    });

  p.command('send')
    .description('Sign one Deployment event (secret from ASTRO_TRUST_WEBHOOK_SECRET) and send it to an astro-trust webhook, with retries.')
    .requiredOption('--url <url>', 'the webhook, e.g. https://<api>/webhooks/astro')
    .requiredOption('--type <type>', `one of ${WEBHOOK_TYPES.join(', ')}`)
    .requiredOption('--deployment-id <id>', 'the Astro Deployment id')
    .option('--organization-id <id>', 'the Astro organization (default: ASTRO_ORGANIZATION_ID)')
    .option('--id <id>', 'the event id (default: a new one); a retried send keeps its id')
    .option('--attempts <n>', 'attempts on timeouts, 429 and 5xx', '5')
    .addHelpText('after', '\nExit: 0 accepted (2xx), 1 not (a 4xx is not retried).\nExample: astro-trust send --url https://abc.execute-api.us-east-1.amazonaws.com/webhooks/astro --type deployment.created --deployment-id clmh57jtm000008lb58fe2wmv')
    .action(async (opts: SendOpts) => setCode(await runSend(opts, io)));

  p.command('connections')
    .description('The Airflow connections (Amazon Web Services) a Deployment needs: one per role it is declared on.')
    .requiredOption('-c, --config <file>', 'the astro-trust.yaml config file')
    .requiredOption('-d, --deployment <id>', 'the Astro Deployment id')
    .option('--format <format>', 'json (connection JSON) or env (AIRFLOW_CONN_* lines)', 'json')
    .option('--region <region>', 'region_name for the connections (default: AWS_REGION, else us-east-1)')
    .option('--iam-snapshot <file>', 'offline: role ARNs and live state from `aws iam get-account-authorization-details` output')
    .addHelpText('after', `\nExit: 0, 1 unknown Deployment.\n${CONNECTION_PRECEDENCE}`)
    .action(async (opts: ExplainOpts) => setCode(await runConnections(opts, io)));

  p.command('explain')
    .description('Why a Deployment is or is not trusted by each role (selector, identity, namespace, live state in IAM); or what a role trusts and why.')
    .requiredOption('-c, --config <file>', 'the astro-trust.yaml config file')
    .option('-d, --deployment <id>', 'explain one Deployment across all roles')
    .option('-r, --role <name>', 'explain one role')
    .option('--json', 'print one JSON document')
    .option('--iam-snapshot <file>', 'offline: live state from `aws iam get-account-authorization-details` output')
    .addHelpText('after', '\nExit: 0, 1 error (unknown Deployment or role, role missing in IAM).')
    .action(async (opts: ExplainOpts) => setCode(await runExplain(opts, io)));

  p.command('serve')
    .description('Run astro-trust in one process: webhook endpoint, IAM-change intake, periodic resync, Slack alerts.')
    .requiredOption('-c, --config <file>', 'the astro-trust.yaml config file')
    .option('-p, --port <port>', 'port to listen on', '8787')
    .option('-H, --host <host>', 'address to bind (loopback unless told otherwise)', '127.0.0.1')
    .option('--resync-interval <minutes>', 'full resync every N minutes (0: never)', '15')
    .option('--watch-interval <seconds>', 'list the Deployments every N seconds and reconcile the roles changes affect (0: never)', '60')
    .option('--snapshot <file>', 'where the watch keeps the last inventory it saw', '.astro-trust/inventory-snapshot.json')
    .option('--dead-letters <file>', 'Slack alerts that could not be delivered, as JSON lines', '.astro-trust/dead-letters.jsonl')
    .addHelpText(
      'after',
      '\nEndpoints: POST /webhooks/astro (Standard Webhooks signature, see docs/onboarding.md), POST /events/eventbridge\n' +
        '  (CloudTrail IAM events; Authorization: Bearer ASTRO_TRUST_EVENTS_TOKEN), GET /healthz.\n' +
        'Environment: ASTRO_TRUST_WEBHOOK_SECRET (required), SLACK_WEBHOOK_URL (unset: alerts to the log),\n' +
        '  ASTRO_TRUST_EVENTS_TOKEN (POST /events/eventbridge requires Authorization: Bearer <it>; unset: that route is off),\n' +
        '  ASTRO_TRUST_SELF_ARNS (comma-separated ARNs whose IAM changes are astro-trust\'s own).\n' +
        'Stops on SIGINT/SIGTERM after draining the reconcile queue.',
    )
    .action(async (opts: ServeOpts) => setCode(await runServe(opts, io)));
  return p;
}

/** The version in package.json (two levels up from src/cli in a checkout, three from dist/src/cli when built). */
function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, rel), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'astro-trust' && pkg.version) return pkg.version;
    } catch {
      // next candidate
    }
  }
  return 'unknown';
}

/** Runs the command line and returns the exit code; never throws. */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  let code = 0;
  try {
    await program(io, (c) => (code = c)).parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    if (err instanceof ConfigError) io.stderr(`astro-trust: ${err.message}\n`);
    else if (err instanceof AstroTrustError) io.stderr(`astro-trust: ${describeError(err)}\n`);
    else io.stderr(`astro-trust: unexpected error: ${describeError(err)}\n`);
    return 1;
  }
}
