/**
 * `astro-trust plan` and `apply`: the backfill, planned first, then written after a confirmation; or planned
 * and saved (`plan -out FILE`), reviewed, and written exactly as saved (`apply FILE`, DESIGN 7.3).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { applyPlan, planRoles } from '../../app/reconcile.js';
import { resolveRoleKeys } from '../../app/roles.js';
import { applySavedPlan, checkSavedPlan, formatDuration, parseSavedPlan } from '../../app/saved-plan.js';
import { loadConfig, parseConfig, type Config } from '../../config/config.js';
import { bytesDigest } from '../../domain/saved-plan.js';
import { UsageError } from '../../errors.js';
import {
  collect,
  configFileFor,
  configOption,
  homeAccountFor,
  inventoryFor,
  paintFor,
  progressFor,
  repeat,
  storeFor,
  type Io,
  type SetCode,
} from '../io.js';
import { detailedExitCode, planJson, renderApply, renderPlan, type PlanMeta } from '../render.js';
import { packageVersion } from '../version.js';

interface PlanOpts {
  config?: string;
  allowEmptyInventory?: boolean;
  role?: string[];
  json?: boolean;
  detailedExitcode?: boolean;
  iamSnapshot?: string[];
  yes?: boolean;
  out?: string;
  maxAge?: string;
}

/** The config and the digest of the very bytes it was parsed from (a saved plan records it). */
function configAndDigest(io: Io, flag: string | undefined): { file: string; config: Config; digest: string } {
  const file = configFileFor(io, flag);
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch {
    return { file, config: loadConfig(file), digest: '' }; // throws the loader's own "cannot read" error
  }
  return { file, config: parseConfig(text, file), digest: bytesDigest(text) };
}

/** Written whole or not at all: a reviewer never reads half a plan. */
function writePlanFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

async function runPlan(opts: PlanOpts, io: Io): Promise<number> {
  const { file, config, digest } = configAndDigest(io, opts.config);
  const plan = await planRoles(
    {
      config,
      inventory: inventoryFor(config, io),
      store: storeFor(io, config, opts.iamSnapshot, { access: 'read' }),
      progress: progressFor(io),
      allowEmptyInventory: opts.allowEmptyInventory,
    },
    await resolveRoleKeys(config, opts.role, homeAccountFor(io, opts.iamSnapshot)),
  );
  const meta: PlanMeta = {
    toolVersion: packageVersion(),
    createdAt: new Date().toISOString(),
    config: { file, digest },
  };
  const doc = `${JSON.stringify(planJson(plan, meta), null, 2)}\n`;
  if (opts.out) writePlanFile(opts.out, doc);
  if (opts.json) io.stdout(doc);
  else {
    io.stdout(`${renderPlan(plan, paintFor(io))}\n`);
    if (opts.out)
      io.stdout(
        `\nSaved the plan to ${opts.out}. To write exactly these trust policies, run:\n    astro-trust apply ${opts.out}\n`,
      );
  }
  if (plan.roles.some((r) => r.status === 'missing' || r.status === 'unreachable')) return 1;
  return opts.detailedExitcode ? detailedExitCode(plan) : 0;
}

async function runApply(opts: PlanOpts, io: Io): Promise<number> {
  const { file, config, digest } = configAndDigest(io, opts.config);
  const store = storeFor(io, config, undefined, { access: 'write' });
  const progress = progressFor(io);
  const plan = await planRoles(
    { config, inventory: inventoryFor(config, io), store, progress, allowEmptyInventory: opts.allowEmptyInventory },
    await resolveRoleKeys(config, opts.role, homeAccountFor(io, undefined)),
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
  const meta = { toolVersion: packageVersion(), createdAt: new Date().toISOString(), config: { file, digest } };
  if (opts.json) io.stdout(`${JSON.stringify({ ...planJson(plan, meta), apply: result }, null, 2)}\n`);
  else io.stdout(`${renderApply(result, paint)}\n`);
  return result.converged ? 0 : 1;
}

/** `1h`, `30m`, `90s`, `1h30m`, `2d`: milliseconds. */
export function parseMaxAge(text: string): number {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (!m || text.trim() === '')
    throw new UsageError(`--max-age ${text}: expected a duration such as 1h, 30m, 90s or 1h30m`);
  const [d, h, min, s] = m.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number];
  return (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
}

/** `apply FILE`: the saved plan, checked whole, then each role checked against IAM and written as saved. No prompt. */
async function runApplySaved(planFile: string, opts: PlanOpts, io: Io): Promise<number> {
  const given = (['role', 'allowEmptyInventory', 'iamSnapshot'] as const).filter((k) =>
    Array.isArray(opts[k]) ? (opts[k] as string[]).length > 0 : Boolean(opts[k]),
  );
  if (given.length > 0)
    throw new UsageError(
      `apply ${planFile}: ${given.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} cannot change a saved plan; plan again with them (astro-trust plan -out ${planFile} ...)`,
    );
  const maxAgeMs = parseMaxAge(opts.maxAge ?? '1h');
  let text: string;
  try {
    text = readFileSync(resolve(planFile), 'utf8');
  } catch (err) {
    throw new UsageError(
      `${planFile}: cannot read the saved plan (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); make one with astro-trust plan -out ${planFile}`,
    );
  }
  const saved = parseSavedPlan(text, planFile);
  const { file, config, digest } = configAndDigest(io, opts.config);
  const nowMs = Date.now();
  checkSavedPlan(saved, {
    planFile,
    configFile: file,
    configDigest: digest,
    toolVersion: packageVersion(),
    nowMs,
    maxAgeMs,
  });
  const store = storeFor(io, config, undefined, { access: 'write' });
  if (!opts.json)
    io.stdout(
      `Applying the saved plan ${planFile} (made ${formatDuration(nowMs - Date.parse(saved.createdAt))} ago with ${file}); each role is checked against IAM before it is written.\n`,
    );
  const result = await applySavedPlan(saved, store, { progress: progressFor(io) });
  if (opts.json) io.stdout(`${JSON.stringify({ ...saved, apply: result }, null, 2)}\n`);
  else io.stdout(`${renderApply(result, paintFor(io))}\n`);
  return result.converged ? 0 : 1;
}

/** The options plan and apply share. */
function common(c: Command) {
  return configOption(c)
    .option(
      '-r, --role <key>',
      'only this role: <account>/<name>, or a name for that name in every account (repeat, or separate with commas)',
      collect,
    )
    .option('--json', 'print one JSON document on stdout instead of text (schema/astro-trust-plan.schema.json)')
    .option(
      '--allow-empty-inventory',
      'act on an empty Deployment listing (refused by default: it would remove every trusted Deployment)',
    );
}

export function register(p: Command, io: Io, setCode: SetCode) {
  common(p.command('plan'))
    .description('Read IAM and the Deployment inventory; print what apply would change and all drift. Writes nothing.')
    .option(
      '--out <file>',
      'also save the plan to FILE (JSON, the --json document): apply FILE writes exactly it (Terraform spelling: -out FILE)',
    )
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
        '    Deployments do not fit, an unacknowledged finding: acknowledge it under findings.acknowledge).\n' +
        "\nSaved plans: plan -out plan.json saves the plan (with each role's whole trust policy before and after);\n" +
        '  review it (astro-trust show plan.json), then astro-trust apply plan.json writes exactly those policies.',
    )
    .action(async (opts: PlanOpts) => setCode(await runPlan(opts, io)));

  common(p.command('apply'))
    .description(
      'Converge every declared role (the backfill): plan, confirm, then write the roles in enforce mode. ' +
        'With a saved plan (apply FILE): write exactly its after documents, without asking.',
    )
    .argument('[plan]', 'a saved plan (plan -out FILE): write exactly it, refusing what changed since')
    .option('-y, --yes', 'do not ask for confirmation (required when standard input is not a terminal)')
    .option('--max-age <duration>', 'apply FILE: refuse a saved plan older than this (1h, 30m, 90s, 1h30m)', '1h')
    .addOption(new Option('--iam-snapshot <[account=]file>').hideHelp().argParser(repeat))
    .addHelpText(
      'after',
      '\nExit: 0 converged, 1 error or a guard stopped a role. Observe-mode roles are planned and reported, never written.\n' +
        '\napply FILE (a saved plan) does not prompt, as Terraform applies a saved plan. It refuses, writing nothing:\n' +
        '  the whole file when the config is not the one planned with (digest), the plan is older than --max-age\n' +
        '  or was made by another astro-trust version; and each role whose trust policy in IAM changed since the\n' +
        '  plan (the message names the statements), while the other roles are written. Exit 1 on any refusal.',
    )
    .action(async (planFile: string | undefined, opts: PlanOpts, cmd: Command) => {
      if (planFile) return setCode(await runApplySaved(planFile, opts, io));
      if (cmd.getOptionValueSource('maxAge') === 'cli')
        throw new UsageError('--max-age applies to a saved plan: astro-trust apply FILE --max-age 2h');
      if (opts.iamSnapshot?.length)
        throw new UsageError(
          'apply writes to IAM and cannot use --iam-snapshot; run plan --iam-snapshot to preview offline',
        );
      setCode(await runApply(opts, io));
    });
}
