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
import { FileDeadLetters, LogNotifier, SlackNotifier } from '../adapters/slack.js';
import { startServer } from './serve.js';
import { coloured, hasPending, plain, planJson, renderApply, renderPlan } from './render.js';

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
  return new IamTrustStore(createIamClient({ region }), {}, (l) => io.stderr(`${l}\n`));
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
  role?: string[];
  json?: boolean;
  detailedExitcode?: boolean;
  iamSnapshot?: string;
  yes?: boolean;
}

async function runPlan(opts: PlanOpts, io: Io): Promise<number> {
  const config = loadConfig(opts.config);
  const plan = await planRoles(
    { config, inventory: inventoryFor(config, io), store: storeFor(io, opts.iamSnapshot), progress: progressFor(io) },
    opts.role,
  );
  if (opts.json) io.stdout(`${JSON.stringify(planJson(plan), null, 2)}\n`);
  else io.stdout(`${renderPlan(plan, paintFor(io))}\n`);
  if (plan.roles.some((r) => r.status === 'missing')) return 1;
  return opts.detailedExitcode && hasPending(plan) ? 2 : 0;
}

async function runApply(opts: PlanOpts, io: Io): Promise<number> {
  const config = loadConfig(opts.config);
  const store = storeFor(io, undefined);
  const progress = progressFor(io);
  const plan = await planRoles({ config, inventory: inventoryFor(config, io), store, progress }, opts.role);
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
  const log = (line: string) => io.stderr(`${new Date().toISOString()} ${line}\n`);
  const slackUrl = io.env.SLACK_WEBHOOK_URL;
  const notifier = slackUrl
    ? new SlackNotifier({ webhookUrl: slackUrl, deadLetters: new FileDeadLetters(opts.deadLetters), log })
    : new LogNotifier(log);
  const server = await startServer({
    config,
    store: storeFor(io, undefined),
    inventory: inventoryFor(config, io),
    notifier,
    secrets,
    selfArns: list(io.env.ASTRO_TRUST_SELF_ARNS),
    port,
    host: opts.host,
    resyncIntervalMs: minutes * 60_000,
    log,
  });
  log(`astro-trust serve: listening on ${server.url} (POST /webhooks/astro, POST /events/eventbridge, GET /healthz); ${config.roles.length} roles; resync every ${minutes} min; alerts to ${slackUrl ? 'Slack' : 'the log'}`);
  io.onListening?.(server.url);
  await (io.untilStopped ?? (() => new Promise<void>(() => {})))();
  log('stopping: draining the reconcile queue');
  await server.close();
  log('stopped');
  return 0;
}

function collect(value: string, previous: string[] = []) {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
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
    .showHelpAfterError('(run astro-trust --help for usage)');
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
      .option('--json', 'print one JSON document on stdout instead of text');

  common(p.command('plan'))
    .description('Read IAM and the Deployment inventory; print what apply would change and all drift. Writes nothing.')
    .option('--iam-snapshot <file>', 'offline: actual state from `aws iam get-account-authorization-details` output instead of IAM')
    .option('--detailed-exitcode', 'exit 0 when in sync, 2 when changes or drift are pending (as Terraform)')
    .addHelpText('after', '\nExit: 0 success, 1 error (or a declared role missing in IAM); with --detailed-exitcode 0 in sync, 2 pending.')
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
  p.command('serve')
    .description('Run astro-trust in one process: webhook endpoint, IAM-change intake, periodic resync, Slack alerts.')
    .requiredOption('-c, --config <file>', 'the astro-trust.yaml config file')
    .option('-p, --port <port>', 'port to listen on', '8787')
    .option('-H, --host <host>', 'address to bind (loopback unless told otherwise)', '127.0.0.1')
    .option('--resync-interval <minutes>', 'full resync every N minutes (0: never)', '15')
    .option('--dead-letters <file>', 'Slack alerts that could not be delivered, as JSON lines', '.astro-trust/dead-letters.jsonl')
    .addHelpText(
      'after',
      '\nEndpoints: POST /webhooks/astro (signed, DESIGN 3.3), POST /events/eventbridge (CloudTrail IAM events), GET /healthz.\n' +
        'Environment: ASTRO_TRUST_WEBHOOK_SECRET (required), SLACK_WEBHOOK_URL (unset: alerts to the log),\n' +
        '  ASTRO_TRUST_SELF_ARNS (comma-separated ARNs whose IAM changes are astro-trust\'s own).\n' +
        'Stops on SIGINT/SIGTERM after draining the reconcile queue.',
    )
    .action(async (opts: ServeOpts) => setCode(await runServe(opts, io)));
  return p;
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
