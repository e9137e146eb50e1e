/** What a command sees of the process (streams, environment, terminal), and the adapters it builds from it. */
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { createIamClient, IamTrustStore } from '../adapters/aws/iam.js';
import { memberTrustStore } from '../adapters/aws/accounts.js';
import type { InventorySource, TrustStore } from '../app/ports.js';
import type { Progress } from '../app/reconcile.js';
import type { HomeAccount } from '../app/roles.js';
import { IamSnapshotStore } from '../adapters/aws/iam-snapshot.js';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/config.js';
import { CONFIG_ENV, configPath } from '../config/discovery.js';
import type { MemberAccess } from '../domain/self.js';
import { callerAccount, routedTrustStore, snapshotTrustStore } from '../wiring/accounts.js';
import { inventorySource } from '../wiring/inventory.js';
import { coloured, plain } from './render.js';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Colour and progress only for a person at a terminal. */
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  /** Where a relative path (the default ./astro-trust.yaml) is looked for; default process.cwd(). */
  cwd?: string;
  /** Asks a yes/no question on the terminal. */
  confirm: (question: string) => Promise<boolean>;
  /** Overrides for tests: the adapters to use instead of the real ones. */
  adapters?: { store?: TrustStore; inventory?: InventorySource; homeAccount?: HomeAccount };
  /** `--verbose`: every retry, not only a summary line. */
  verbose?: boolean;
  /** Resolves when a long-running command (serve) should stop: SIGINT or SIGTERM. */
  untilStopped?: () => Promise<void>;
  /** Told the server's address once it listens. */
  onListening?: (url: string) => void;
}

/** A command's body: parsed options in, exit code out. */
export type SetCode = (code: number) => void;

/**
 * Output to a reader that went away (`astro-trust --help | head -1`) is dropped, not a crash with a stack
 * trace: EPIPE marks the stream closed and the command runs to its end (an apply is never cut off by it).
 */
const closed = new Set<NodeJS.WriteStream>();
let guarded = false;
function guardPipes(): void {
  if (guarded) return;
  guarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      closed.add(stream);
    });
  }
}
function writeTo(stream: NodeJS.WriteStream, text: string): void {
  if (!closed.has(stream) && !stream.destroyed) stream.write(text);
}

export function processIo(): Io {
  guardPipes();
  return {
    stdout: (t) => writeTo(process.stdout, t),
    stderr: (t) => writeTo(process.stderr, t),
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

/** `-c, --config <file>`, optional everywhere (DESIGN 7.3). */
export function configOption(c: Command, what = 'the astro-trust.yaml config file'): Command {
  return c.option('-c, --config <file>', `${what} (default: $${CONFIG_ENV}, else ./astro-trust.yaml)`);
}

/** The config by the discovery rule: `--config`, else ASTRO_TRUST_CONFIG, else ./astro-trust.yaml. */
export function configFor(io: Io, flag: string | undefined): Config {
  return loadConfig(configFileFor(io, flag));
}

/** The config file's path by the discovery rule (as given, or relative to the working directory). */
export function configFileFor(io: Io, flag: string | undefined): string {
  const { file } = configPath(io.env, io.cwd ?? process.cwd(), flag);
  return io.cwd && !isAbsolute(file) ? join(io.cwd, file) : file;
}

/** The Deployment inventory the config names, with the token from ASTRO_API_TOKEN. */
export function inventoryFor(config: Config, io: Io): InventorySource {
  if (io.adapters?.inventory) return io.adapters.inventory;
  return inventorySource(config, {
    token: io.env.ASTRO_API_TOKEN,
    tokenFrom: 'ASTRO_API_TOKEN',
    baseUrl: io.env.ASTRO_API_URL,
    log: (l) => io.stderr(`${l}\n`),
  });
}

export function regionOf(io: Io): string {
  return io.env.AWS_REGION || io.env.AWS_DEFAULT_REGION || 'us-east-1';
}

/**
 * IAM with the SDK's credentials (and, for roles in other accounts, a member role assumed with them),
 * or offline snapshots: `--iam-snapshot FILE` and `--iam-snapshot ACCOUNT=FILE`. In a member account a
 * command that only reads assumes `<memberRoleName>-reader`; one that writes, the member role (DESIGN 7.1).
 * `serve` opens its member sessions with the hub's source identity, as the reconcile function does, and
 * passes the home account it learnt at start.
 */
export function storeFor(
  io: Io,
  config: Config,
  snapshots: string[] | undefined,
  o: { access: MemberAccess; sourceIdentity?: string; homeAccount?: string },
): TrustStore {
  if (io.adapters?.store) return io.adapters.store;
  if (snapshots?.length) return snapshotTrustStore(config, snapshots);
  const region = regionOf(io);
  const log = (l: string) => io.stderr(`${l}\n`);
  const home = o.homeAccount;
  return routedTrustStore(config, {
    // One limiter per account (DESIGN 7.4): the home client's, and each member client's.
    home: new IamTrustStore(
      createIamClient({ region }, { requestsPerSecond: config.iamRequestsPerSecond }),
      { verbose: io.verbose },
      log,
    ),
    member: (account) =>
      memberTrustStore(account, {
        memberRoleName: config.memberRoleName,
        access: o.access,
        ...(o.sourceIdentity ? { sourceIdentity: o.sourceIdentity } : {}),
        region,
        requestsPerSecond: config.iamRequestsPerSecond,
        timings: { verbose: io.verbose },
        log,
      }),
    homeAccount: home ? async () => home : callerAccount({ region }),
  });
}

/**
 * The account astro-trust runs in, asked only when a `--role <account>/<name>` needs it: ASTRO_TRUST_HOME_ACCOUNT,
 * else the home snapshot's account offline, else STS GetCallerIdentity.
 */
export function homeAccountFor(io: Io, snapshots: string[] | undefined): HomeAccount {
  if (io.adapters?.homeAccount) return io.adapters.homeAccount;
  const fromEnv = io.env.ASTRO_TRUST_HOME_ACCOUNT;
  if (fromEnv && /^\d{12}$/.test(fromEnv)) return async () => fromEnv;
  const homeSnapshot = snapshots?.find((s) => !/^\d{12}=/.test(s));
  if (homeSnapshot) return async () => new IamSnapshotStore(homeSnapshot).account();
  if (snapshots?.length) return async () => undefined;
  const sts = callerAccount({ region: regionOf(io) });
  return () => sts().catch(() => undefined);
}

/** Colour for a person at a terminal, unless NO_COLOR is set (no-color.org). */
export function paintFor(io: Io) {
  return io.stdoutIsTTY && !io.env.NO_COLOR ? coloured : plain;
}

export function progressFor(io: Io): Progress | undefined {
  if (!io.stderrIsTTY) return undefined;
  const label = { inventory: 'listing Deployments', read: 'reading trust policies', write: 'writing trust policies' };
  return (phase, done, total) => {
    io.stderr(`\r\x1b[2K${label[phase]} ${done}/${total}`);
    if (done === total) io.stderr('\r\x1b[2K');
  };
}

/** Comma-separated values, trimmed, empties dropped. */
export function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** commander: a repeatable option, each value whole (a file name may hold a comma). */
export function repeat(value: string, previous: string[] = []) {
  return [...previous, value];
}

/** commander: a repeatable option that also takes comma-separated values. */
export function collect(value: string, previous: string[] = []) {
  return [...previous, ...list(value)];
}
