/**
 * The `astro-trust` command line (DESIGN 3.2): the program, its global options and the error mapping.
 * Each command lives in src/cli/commands/ (parse options, wire adapters through src/cli/io.ts, call a use
 * case, print); what the CLI and the Lambda functions both build lives in src/wiring/.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.js';
import { AstroTrustError, describeError } from '../errors.js';
import * as explain from './commands/explain.js';
import * as init from './commands/init.js';
import * as plan from './commands/plan.js';
import * as send from './commands/send.js';
import * as serve from './commands/serve.js';
import * as show from './commands/show.js';
import * as validate from './commands/validate.js';
import { processIo, type Io } from './io.js';
import { packageVersion } from './version.js';

export { processIo, type Io } from './io.js';

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
      "  AWS_REGION, AWS credentials, AWS_ENDPOINT_URL   the AWS SDK's own (AWS_ENDPOINT_URL points at moto for local runs)\n" +
      '  ASTRO_API_TOKEN, ASTRO_API_URL                  the Astro API, with inventory.source: api\n' +
      '\nExamples:\n' +
      '  astro-trust plan --config examples/astro-trust.yaml --iam-snapshot examples/iam-snapshot.json\n' +
      '  astro-trust plan --config astro-trust.yaml --detailed-exitcode\n' +
      '  astro-trust apply --config astro-trust.yaml --role data-lake-reader --yes\n',
  );
  for (const command of [plan, show, init, validate, send, explain, serve]) command.register(p, io, setCode);
  return p;
}

/** Flags astro-trust shares with Terraform, which spells them with one dash (`-out FILE`, `-out=FILE`, `-json`). */
const TERRAFORM_FLAGS = new Set(['out', 'json', 'detailed-exitcode']);

/** Terraform's spellings as commander's: `-out` becomes `--out`; nothing after `--` is touched. */
export function terraformSpellings(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((arg, i) => {
    if (end !== -1 && i >= end) return arg;
    const m = /^-([a-z][a-z-]+)(=.*)?$/.exec(arg);
    return m && TERRAFORM_FLAGS.has(m[1]!) ? `-${arg}` : arg;
  });
}

/** Runs the command line and returns the exit code; never throws. */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  let code = 0;
  try {
    await program(io, (c) => (code = c)).parseAsync(terraformSpellings(argv), { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    const dns = unresolvedHost(err, io.env);
    if (dns) io.stderr(`astro-trust: ${dns}\n`);
    else if (err instanceof ConfigError) io.stderr(`astro-trust: ${err.message}\n`);
    else if (err instanceof AstroTrustError) io.stderr(`astro-trust: ${describeError(err)}\n`);
    else io.stderr(`astro-trust: unexpected error: ${describeError(err)}\n`);
    return 1;
  }
}

/**
 * A host name that does not resolve (ENOTFOUND, EAI_AGAIN), said as such and named with the setting that
 * chose it: AWS_ENDPOINT_URL, ASTRO_API_URL, or AWS_REGION when the host carries the region (a mistyped
 * region shows up as the regional STS endpoint). Undefined for any other error.
 */
export function unresolvedHost(err: unknown, env: NodeJS.ProcessEnv): string | undefined {
  let found: { code: string; host: string } | undefined;
  let e: unknown = err;
  for (let depth = 0; e && depth < 6 && !found; depth++, e = (e as { cause?: unknown }).cause) {
    const x = e as { code?: string; hostname?: string; message?: string };
    const m = /getaddrinfo (ENOTFOUND|EAI_AGAIN) (\S+)/.exec(x.message ?? '');
    const code = x.code === 'ENOTFOUND' || x.code === 'EAI_AGAIN' ? x.code : m?.[1];
    const host = x.hostname ?? m?.[2];
    if (code && host) found = { code, host };
  }
  if (!found) return undefined;
  const { code, host } = found;
  const hostOf = (url: string | undefined) => {
    try {
      return url ? new URL(url).hostname : undefined;
    } catch {
      return undefined;
    }
  };
  const unresolved = `${host} does not resolve (${code})`;
  for (const name of ['AWS_ENDPOINT_URL_IAM', 'AWS_ENDPOINT_URL_STS', 'AWS_ENDPOINT_URL', 'ASTRO_API_URL'])
    if (hostOf(env[name]) === host)
      return `${name}=${env[name]}: ${unresolved}; check the host name in it${name === 'ASTRO_API_URL' ? '' : ' (for moto: http://127.0.0.1:<port>)'}`;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (region && host.includes(region))
    return `AWS_REGION=${region}: ${unresolved}; is ${region} an AWS region? (aws ec2 describe-regions lists them)`;
  return `${unresolved}: check the network and DNS${region ? `, and AWS_REGION (${region})` : ''}`;
}
