/** `astro-trust serve`: the whole system in one process (src/cli/serve.ts), wired from the environment. */
import type { Command } from 'commander';
import { dirname, join, resolve } from 'node:path';
import { Journal } from '../../adapters/local/journal.js';
import { StateDirBusyError } from '../../adapters/local/state-lock.js';
import { LOG_FORMATS, lineLogger, type LogFormat } from '../../adapters/log.js';
import { FileDeadLetters, LogNotifier, SlackNotifier } from '../../adapters/slack/notifier.js';
import { FileSnapshotStore } from '../../adapters/local/snapshot-file.js';
import { loadConfig } from '../../config/config.js';
import { MAKE_SECRET_COMMAND, parseWebhookSecrets } from '../../app/webhook.js';
import { HUB_SOURCE_IDENTITY } from '../../domain/self.js';
import { describeError, UsageError } from '../../errors.js';
import { callerAccount } from '../../wiring/accounts.js';
import { configFileFor, configOption, inventoryFor, list, regionOf, storeFor, type Io, type SetCode } from '../io.js';
import { startServer } from '../serve.js';

interface ServeOpts {
  config?: string;
  port: string;
  host: string;
  resyncInterval: string;
  watchInterval: string;
  stateDir?: string;
  snapshot?: string;
  deadLetters?: string;
  logFormat: string;
}

/**
 * The AWS account serve runs in (DESIGN 7.1): `ASTRO_TRUST_HOME_ACCOUNT`, else one `sts:GetCallerIdentity`
 * with its credentials. IAM events from that account are about the roles without `account`; events from an
 * account the config does not name are ignored, so serve does not start without knowing it.
 */
async function learnHomeAccount(io: Io): Promise<string> {
  const set = io.env.ASTRO_TRUST_HOME_ACCOUNT;
  if (set) {
    if (!/^\d{12}$/.test(set))
      throw new UsageError(`ASTRO_TRUST_HOME_ACCOUNT=${set}: expected the 12-digit AWS account serve runs in`);
    return set;
  }
  let account: string | undefined;
  try {
    account = await callerAccount({ region: regionOf(io) })();
  } catch (err) {
    throw new UsageError(
      `cannot learn the AWS account serve runs in (sts:GetCallerIdentity: ${describeError(err)}): give serve AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or set ASTRO_TRUST_HOME_ACCOUNT to that 12-digit account`,
      { cause: err },
    );
  }
  if (!account || !/^\d{12}$/.test(account))
    throw new UsageError(
      `sts:GetCallerIdentity answered no account: set ASTRO_TRUST_HOME_ACCOUNT to the 12-digit account serve runs in`,
    );
  return account;
}

async function runServe(opts: ServeOpts, io: Io): Promise<number> {
  const configFile = configFileFor(io, opts.config);
  const config = loadConfig(configFile);
  const checked = parseWebhookSecrets(io.env.ASTRO_TRUST_WEBHOOK_SECRET);
  if (!checked.ok)
    throw new UsageError(
      io.env.ASTRO_TRUST_WEBHOOK_SECRET?.trim()
        ? `ASTRO_TRUST_WEBHOOK_SECRET ${checked.problem}`
        : `ASTRO_TRUST_WEBHOOK_SECRET is not set: serve verifies every webhook with it; make one with: ${MAKE_SECRET_COMMAND}`,
    );
  const secrets = checked.secrets;
  const port = Number(opts.port);
  const minutes = Number(opts.resyncInterval);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port ${opts.port}: expected a port number`);
  if (!Number.isFinite(minutes) || minutes < 0)
    throw new UsageError(`--resync-interval ${opts.resyncInterval}: expected minutes (0 disables)`);
  const watchSeconds = Number(opts.watchInterval);
  if (!Number.isFinite(watchSeconds) || watchSeconds < 0)
    throw new UsageError(`--watch-interval ${opts.watchInterval}: expected seconds (0 disables)`);
  if (!(LOG_FORMATS as readonly string[]).includes(opts.logFormat))
    throw new UsageError(`--log-format ${opts.logFormat}: expected ${LOG_FORMATS.join(' or ')}`);
  const logger = lineLogger({
    format: opts.logFormat as LogFormat,
    write: (line) => io.stderr(`${line}\n`),
    debug: io.verbose,
  });
  // Adapters report retries and summaries as lines; they become entries of the same log.
  const log = (line: string) => logger.info(line);
  // The state directory (DESIGN 7.2): the journal, the watch snapshot and the dead letters, beside the config.
  const stateDir = resolve(opts.stateDir ?? join(dirname(resolve(configFile)), '.astro-trust'));
  let journal: Journal;
  try {
    journal = await Journal.open(stateDir, {
      // A full disk never stops an alert: it is posted, and the failure logged.
      onWriteError: (err, path) =>
        logger.error('state write failed; carrying on from memory (alerts are still posted)', {
          path,
          error: describeError(err),
        }),
      onWarning: (message, fields) => logger.warn(message, fields),
    });
  } catch (err) {
    // Another serve holds the directory: its own message (stop it, or choose another directory).
    if (err instanceof StateDirBusyError) throw new UsageError(`--state-dir ${err.message}`, { cause: err });
    throw new UsageError(
      `--state-dir ${stateDir}: cannot open the journal there (${describeError(err)}); choose a directory serve may write`,
      { cause: err },
    );
  }
  const slackUrl = io.env.SLACK_WEBHOOK_URL;
  const notifier = slackUrl
    ? new SlackNotifier({
        webhookUrl: slackUrl,
        deadLetters: new FileDeadLetters(opts.deadLetters ?? join(stateDir, 'dead-letters.jsonl')),
        log,
        configPath: configFile,
        dedup: journal.claims,
      })
    : new LogNotifier(logger, { dedup: journal.claims });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    const homeAccount = await learnHomeAccount(io);
    server = await startServer({
      journal,
      config,
      // serve is the reconciler: it writes through the member role, in sessions marked as the hub's.
      store: storeFor(io, config, undefined, { access: 'write', sourceIdentity: HUB_SOURCE_IDENTITY, homeAccount }),
      inventory: inventoryFor(config, io),
      notifier,
      secrets,
      selfArns: list(io.env.ASTRO_TRUST_SELF_ARNS),
      ownRoleArns: list(io.env.ASTRO_TRUST_OWN_ROLE_ARNS),
      homeAccount,
      eventsToken: io.env.ASTRO_TRUST_EVENTS_TOKEN || undefined,
      port,
      host: opts.host,
      resyncIntervalMs: minutes * 60_000,
      watchIntervalMs: watchSeconds * 1000,
      snapshots: new FileSnapshotStore(opts.snapshot ?? join(stateDir, 'inventory-snapshot.json')),
      logger,
    });
  } catch (err) {
    // Not started (no account, the port taken): the state directory is released for the next start.
    await journal.close().catch(() => {});
    throw err;
  }
  // Armed before the line that says serve listens: a SIGTERM sent on seeing it must drain, not kill.
  const stopped = (io.untilStopped ?? (() => new Promise<void>(() => {})))();
  logger.info(`astro-trust serve: listening on ${server.url}`, {
    endpoints: ['POST /webhooks/astro', 'POST /events/eventbridge', 'GET /healthz'],
    roles: config.roles.length,
    resyncMinutes: minutes,
    watchSeconds,
    alerts: slackUrl ? 'Slack' : 'log',
    stateDir,
  });
  if (!io.env.ASTRO_TRUST_EVENTS_TOKEN)
    logger.warn(
      'IAM-change intake is off: POST /events/eventbridge answers 401 until ASTRO_TRUST_EVENTS_TOKEN is set (the bearer token an EventBridge API destination sends)',
    );
  io.onListening?.(server.url);
  await stopped;
  logger.info('stopping: draining the reconcile queue');
  await server.close();
  await journal.close();
  logger.info('stopped');
  return 0;
}

export function register(p: Command, io: Io, setCode: SetCode) {
  configOption(
    p
      .command('serve')
      .description(
        'Run astro-trust in one process: webhook endpoint, IAM-change intake, periodic resync, Slack alerts.',
      ),
  )
    .option('-p, --port <port>', 'port to listen on', '8787')
    .option('-H, --host <host>', 'address to bind (loopback unless told otherwise)', '127.0.0.1')
    .option('--resync-interval <minutes>', 'full resync every N minutes (0: never)', '15')
    .option(
      '--watch-interval <seconds>',
      'list the Deployments every N seconds and reconcile the roles changes affect (0: never)',
      '60',
    )
    .option(
      '--state-dir <dir>',
      'where serve keeps what it accepted and owes (journal.jsonl), the snapshot and the dead letters (default: .astro-trust beside the config)',
    )
    .option(
      '--snapshot <file>',
      'where the watch keeps the last inventory it saw (default: <state-dir>/inventory-snapshot.json)',
    )
    .option(
      '--dead-letters <file>',
      'Slack alerts that could not be delivered, as JSON lines (default: <state-dir>/dead-letters.jsonl)',
    )
    .option(
      '--log-format <format>',
      'json (one JSON object per line: level, message, timestamp, role, webhookId, eventId...) or text',
      'text',
    )
    .addHelpText(
      'after',
      '\nEndpoints: POST /webhooks/astro (Standard Webhooks signature, see docs/onboarding.md), POST /events/eventbridge\n' +
        '  (CloudTrail IAM events; Authorization: Bearer ASTRO_TRUST_EVENTS_TOKEN), GET /healthz.\n' +
        'Environment: ASTRO_TRUST_WEBHOOK_SECRET (required), SLACK_WEBHOOK_URL (unset: alerts to the log),\n' +
        '  ASTRO_TRUST_EVENTS_TOKEN (POST /events/eventbridge requires Authorization: Bearer <it>; unset: that route is off),\n' +
        "  ASTRO_TRUST_SELF_ARNS (comma-separated ARNs whose IAM changes are astro-trust's own),\n" +
        '  ASTRO_TRUST_OWN_ROLE_ARNS (comma-separated ARNs of the roles serve runs as: any change to them is alerted as SelfTampering),\n' +
        '  ASTRO_TRUST_HOME_ACCOUNT (the account serve runs in; unset: learnt with one sts:GetCallerIdentity at start).\n' +
        'Logs go to standard error; --verbose adds debug entries. Stops on SIGINT/SIGTERM after draining the reconcile queue.',
    )
    .action(async (opts: ServeOpts) => setCode(await runServe(opts, io)));
}
