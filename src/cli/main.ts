/**
 * The `astro-trust` command line (DESIGN 3.2): the program, its global options and the error mapping.
 * Each command lives in src/cli/commands/ (parse options, wire adapters through src/cli/io.ts, call a use
 * case, print); what the CLI and the Lambda functions both build lives in src/wiring/.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.js';
import { AstroTrustError, describeError } from '../errors.js';
import * as explain from './commands/explain.js';
import * as plan from './commands/plan.js';
import * as send from './commands/send.js';
import * as serve from './commands/serve.js';
import * as validate from './commands/validate.js';
import { processIo, type Io } from './io.js';

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
  for (const command of [plan, validate, send, explain, serve]) command.register(p, io, setCode);
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
