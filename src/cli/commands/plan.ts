/** `astro-trust plan` and `apply`: the backfill, planned first, then written after a confirmation. */
import { Option, type Command } from 'commander';
import { applyPlan, planRoles, roleKeysFor } from '../../app/reconcile.js';
import { loadConfig } from '../../config/config.js';
import { UsageError } from '../../errors.js';
import { collect, inventoryFor, repeat, paintFor, progressFor, storeFor, type Io, type SetCode } from '../io.js';
import { detailedExitCode, planJson, renderApply, renderPlan } from '../render.js';

interface PlanOpts {
  config: string;
  allowEmptyInventory?: boolean;
  role?: string[];
  json?: boolean;
  detailedExitcode?: boolean;
  iamSnapshot?: string[];
  yes?: boolean;
}

async function runPlan(opts: PlanOpts, io: Io): Promise<number> {
  const config = loadConfig(opts.config);
  const plan = await planRoles(
    {
      config,
      inventory: inventoryFor(config, io),
      store: storeFor(io, config, opts.iamSnapshot),
      progress: progressFor(io),
      allowEmptyInventory: opts.allowEmptyInventory,
    },
    roleKeysFor(config, opts.role),
  );
  if (opts.json) io.stdout(`${JSON.stringify(planJson(plan), null, 2)}\n`);
  else io.stdout(`${renderPlan(plan, paintFor(io))}\n`);
  if (plan.roles.some((r) => r.status === 'missing' || r.status === 'unreachable')) return 1;
  return opts.detailedExitcode ? detailedExitCode(plan) : 0;
}

async function runApply(opts: PlanOpts, io: Io): Promise<number> {
  const config = loadConfig(opts.config);
  const store = storeFor(io, config, undefined);
  const progress = progressFor(io);
  const plan = await planRoles(
    { config, inventory: inventoryFor(config, io), store, progress, allowEmptyInventory: opts.allowEmptyInventory },
    roleKeysFor(config, opts.role),
  );
  const paint = paintFor(io);
  const writes = plan.roles.filter((r) => r.status === 'changes' && r.mode === 'enforce').length;
  if (!opts.json) io.stdout(`${renderPlan(plan, paint)}\n\n`);
  if (writes > 0 && !opts.yes) {
    if (!io.stdinIsTTY) {
      io.stderr(
        `astro-trust apply: ${writes} role${writes === 1 ? '' : 's'} would be written; refusing without --yes when standard input is not a terminal.\n`,
      );
      return 1;
    }
    if (
      !(await io.confirm(
        `Write the trust policies of ${writes} role${writes === 1 ? '' : 's'}? Only 'yes' is accepted: `,
      ))
    ) {
      io.stderr('Apply cancelled; nothing was written.\n');
      return 1;
    }
  }
  const result = await applyPlan(plan, store, { progress });
  if (opts.json) io.stdout(`${JSON.stringify({ ...planJson(plan), apply: result }, null, 2)}\n`);
  else io.stdout(`${renderApply(result, paint)}\n`);
  return result.converged ? 0 : 1;
}

/** The options plan and apply share. */
function common(c: Command) {
  return c
    .requiredOption('-c, --config <file>', 'the astro-trust.yaml config file')
    .option(
      '-r, --role <name>',
      'only this declared role: <account>/<name>, or a name for that name in every account (repeat, or separate with commas)',
      collect,
    )
    .option('--json', 'print one JSON document on stdout instead of text')
    .option(
      '--allow-empty-inventory',
      'act on an empty Deployment listing (refused by default: it would remove every trusted Deployment)',
    );
}

export function register(p: Command, io: Io, setCode: SetCode) {
  common(p.command('plan'))
    .description('Read IAM and the Deployment inventory; print what apply would change and all drift. Writes nothing.')
    .option(
      '--iam-snapshot <[account=]file>',
      'offline: actual state from `aws iam get-account-authorization-details --filter Role` output instead of IAM; repeat as ACCOUNT=FILE for the roles with account',
      repeat,
    )
    .option(
      '--detailed-exitcode',
      'exit 0 when nothing is to do, 2 when apply would write, 3 when a person must act (as Terraform, plus 3)',
    )
    .addHelpText(
      'after',
      '\nExit: 0 success, 1 error (a refused listing, a declared role missing in IAM, or an account that could not be read).\nWith --detailed-exitcode:\n' +
        '  0 nothing to do; 2 apply would write (an enforce role changes or an OIDC provider is missing);\n' +
        '  3 apply has nothing to do but a person must act (an observe role differs, a guard stopped a role,\n' +
        '    Deployments do not fit, an unacknowledged finding: acknowledge it under findings.acknowledge).',
    )
    .action(async (opts: PlanOpts) => setCode(await runPlan(opts, io)));

  common(p.command('apply'))
    .description('Converge every declared role (the backfill): plan, confirm, then write the roles in enforce mode.')
    .option('-y, --yes', 'do not ask for confirmation (required when standard input is not a terminal)')
    .addOption(new Option('--iam-snapshot <[account=]file>').hideHelp().argParser(repeat))
    .addHelpText(
      'after',
      '\nExit: 0 converged, 1 error or a guard stopped a role. Observe-mode roles are planned and reported, never written.',
    )
    .action(async (opts: PlanOpts) => {
      if (opts.iamSnapshot?.length)
        throw new UsageError(
          'apply writes to IAM and cannot use --iam-snapshot; run plan --iam-snapshot to preview offline',
        );
      setCode(await runApply(opts, io));
    });
}
