/** `astro-trust explain` and `connections`: why a Deployment is trusted, and the Airflow connections it needs. */
import type { Command } from 'commander';
import { CONNECTION_PRECEDENCE, connectionsFor, explainDeployment, explainRole } from '../../app/explain.js';
import { UsageError } from '../../errors.js';
import {
  configFor,
  configOption,
  homeAccountFor,
  inventoryFor,
  paintFor,
  regionOf,
  repeat,
  storeFor,
  type Io,
  type SetCode,
} from '../io.js';
import { renderConnectionsEnv, renderDeploymentExplanation, renderRoleExplanation, rolePlanJson } from '../render.js';

interface ExplainOpts {
  config?: string;
  deployment?: string;
  role?: string;
  json?: boolean;
  iamSnapshot?: string[];
  format?: string;
  region?: string;
}

async function runExplain(opts: ExplainOpts, io: Io): Promise<number> {
  if (!opts.deployment === !opts.role)
    throw new UsageError('explain needs exactly one of --deployment ID or --role NAME');
  const config = configFor(io, opts.config);
  const deps = {
    config,
    inventory: inventoryFor(config, io),
    store: storeFor(io, config, opts.iamSnapshot, { access: 'read' }),
  };
  const paint = paintFor(io);
  if (opts.role) {
    const plan = await explainRole(deps, opts.role, homeAccountFor(io, opts.iamSnapshot));
    if (opts.json) io.stdout(`${JSON.stringify(rolePlanJson(plan), null, 2)}\n`);
    else io.stdout(`${renderRoleExplanation(plan, paint)}\n`);
    return plan.status === 'missing' || plan.status === 'unreachable' ? 1 : 0;
  }
  const answer = await explainDeployment(deps, opts.deployment!);
  if (opts.json) io.stdout(`${JSON.stringify(answer, null, 2)}\n`);
  else io.stdout(`${renderDeploymentExplanation(answer, paint)}\n`);
  return 0;
}

async function runConnections(opts: ExplainOpts, io: Io): Promise<number> {
  if (opts.format !== 'json' && opts.format !== 'env')
    throw new UsageError(`--format ${opts.format}: expected json or env`);
  const config = configFor(io, opts.config);
  const region = opts.region || regionOf(io);
  const answer = await connectionsFor(
    { config, inventory: inventoryFor(config, io), store: storeFor(io, config, opts.iamSnapshot, { access: 'read' }) },
    opts.deployment!,
    region,
  );
  if (opts.format === 'json') {
    io.stdout(
      `${JSON.stringify({ deployment: { id: answer.deployment.id, name: answer.deployment.name }, connections: answer.connections.map((c) => ({ conn_id: c.connId, role: c.role, ...c.connection, note: c.note })), noConnectionNeeded: answer.noConnectionNeeded, precedence: answer.precedence }, null, 2)}\n`,
    );
  } else {
    io.stdout(`${renderConnectionsEnv(answer)}\n`);
  }
  return 0;
}

export function register(p: Command, io: Io, setCode: SetCode) {
  configOption(
    p
      .command('connections')
      .description('The Airflow connections (Amazon Web Services) a Deployment needs: one per role it is declared on.'),
  )
    .requiredOption('-d, --deployment <id>', 'the Astro Deployment id')
    .option('--format <format>', 'json (connection JSON) or env (AIRFLOW_CONN_* lines)', 'json')
    .option('--region <region>', 'region_name for the connections (default: AWS_REGION, else us-east-1)')
    .option(
      '--iam-snapshot <[account=]file>',
      'offline: role ARNs and live state from `aws iam get-account-authorization-details` output (repeat as ACCOUNT=FILE per other account)',
      repeat,
    )
    .addHelpText('after', `\nExit: 0, 1 unknown Deployment.\n${CONNECTION_PRECEDENCE}`)
    .action(async (opts: ExplainOpts) => setCode(await runConnections(opts, io)));

  configOption(
    p
      .command('explain')
      .description(
        'Why a Deployment is or is not trusted by each role (selector, identity, namespace, live state in IAM); or what a role trusts and why.',
      ),
  )
    .option('-d, --deployment <id>', 'explain one Deployment across all roles')
    .option('-r, --role <key>', 'explain one role: <account>/<name>, or its name when only one account declares it')
    .option('--json', 'print one JSON document')
    .option(
      '--iam-snapshot <[account=]file>',
      'offline: live state from `aws iam get-account-authorization-details` output (repeat as ACCOUNT=FILE per other account)',
      repeat,
    )
    .addHelpText('after', '\nExit: 0, 1 error (unknown Deployment or role, role missing in IAM).')
    .action(async (opts: ExplainOpts) => setCode(await runExplain(opts, io)));
}
