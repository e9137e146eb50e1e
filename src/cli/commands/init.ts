/**
 * `astro-trust init` (DESIGN 7.3): a config for an estate whose roles already trust Astro Deployments by
 * hand, declaring exactly what they trust today, in observe mode. Reads IAM and the inventory; writes the
 * config file and nothing else (nothing to AWS).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { AstroApiInventory } from '../../adapters/astro/api.js';
import { FileInventory } from '../../adapters/astro/inventory-file.js';
import { IamSnapshotStore } from '../../adapters/aws/iam-snapshot.js';
import { createIamClient, IamTrustStore } from '../../adapters/aws/iam.js';
import { adoptEstate, type InitResult } from '../../app/init.js';
import { entriesTrusted } from '../../domain/adopt.js';
import { entryKey } from '../../domain/desired.js';
import type { PrincipalChange, RolePlan } from '../../domain/plan.js';
import type { InventorySource, RoleLister } from '../../app/ports.js';
import { parseConfig } from '../../config/config.js';
import { UsageError } from '../../errors.js';
import { DEFAULT_ASTRO_API_URL } from '../../wiring/inventory.js';
import { regionOf, type Io, type SetCode } from '../io.js';

interface InitOpts {
  out: string;
  inventory?: string;
  organizationId?: string;
  iamSnapshot?: string;
}

/** A comment line's text: nothing from IAM or the inventory may end the comment and become config. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must not reach the file
const safe = (text: string) => text.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, ' ');
const q = (text: string) => JSON.stringify(text);

/** The config text: JSON-quoted scalars (valid YAML), and comments a person reads while adopting. */
export function renderInitConfig(
  r: InitResult,
  o: { organizationId: string; inventory: { source: 'api' } | { source: 'file'; path: string }; when: string },
): string {
  const names = new Map(r.firstPlan.flatMap((p) => p.declared.map((d) => [d.id, d.name] as const)));
  const lines = [
    `# Written by astro-trust init on ${o.when}, from the ${r.rolesRead} roles of account ${r.account ?? '(none)'} and ${safe(r.inventorySource)}.`,
    '# Each role declares, by id, exactly the Deployments its trust policy trusts today. defaults.mode is observe:',
    '# plan and apply report and write nothing. docs/adoption.md walks from here to enforce, role by role.',
    'version: 1',
    `organizationId: ${q(o.organizationId)}`,
    'inventory:',
    `  source: ${o.inventory.source}`,
  ];
  if (o.inventory.source === 'file') lines.push(`  path: ${q(o.inventory.path)}`);
  if (r.adoption.identityAccounts)
    lines.push(
      '  # trusted today: identities in these accounts (Astro-managed ones, and customer roles outside the role accounts)',
      `  identityAccounts: [${r.adoption.identityAccounts.map(q).join(', ')}]`,
    );
  if (r.adoption.oidcIssuers.length > 0)
    lines.push(
      '  # trusted today: issuers that are not EKS cluster issuers',
      `  oidcIssuers: [${r.adoption.oidcIssuers.map(q).join(', ')}]`,
    );
  lines.push('defaults:', '  mode: observe   # set mode: enforce on a role once its plan is what you expect', 'roles:');
  for (const role of r.adoption.roles) {
    lines.push(
      `  - name: ${q(role.name)}   # trusted today through statement${role.statements.length === 1 ? '' : 's'} ${safe(role.statements.join(', '))}`,
      `    trust: ${role.trust}`,
    );
    if (role.trust === 'oidc')
      lines.push(
        `    serviceAccounts: ${role.serviceAccounts === 'all' ? 'all' : `[${role.serviceAccounts.join(', ')}]`}`,
      );
    lines.push('    deployments:');
    for (const id of role.deploymentIds) lines.push(`      - id: ${q(id)}   # ${safe(q(names.get(id) ?? id))}`);
    for (const note of role.notes) lines.push(`    # note: ${safe(note)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `+3 already trusted by hand, +1 new, -0`: the first plan's + lines split by what IAM trusts today. */
function firstPlanLine(p: RolePlan): string {
  const today = new Set(entriesTrusted(p.current?.Statement ?? []).map(entryKey));
  const key = (c: PrincipalChange) => (c.issuer ? `oidc ${c.issuer} ${c.principal}` : `aws ${c.principal}`);
  const known = p.add.filter((c) => today.has(key(c))).length;
  const fresh = p.add.length - known;
  return `first plan: +${known} already trusted by hand${fresh ? `, +${fresh} not trusted today` : ''}, -${p.remove.length}`;
}

/** What init found and what the first plan will show, for the person at the terminal. */
export function renderInitSummary(r: InitResult, out: string): string {
  const lines = [
    `Read ${r.rolesRead} roles in account ${r.account ?? '(none)'} and ${r.deployments} Deployments (${r.inventorySource}); nothing was written to AWS.`,
    `${r.adoption.roles.length} role${r.adoption.roles.length === 1 ? '' : 's'} trust Astro Deployments today; ${out === '-' ? 'the config (stdout)' : out} declares ${r.adoption.roles.length === 1 ? 'it' : 'them'} in observe mode:`,
  ];
  r.adoption.roles.forEach((role, i) => {
    const p = r.firstPlan[i]!;
    const status =
      p.status === 'in-sync'
        ? 'in sync (astro-trust owns its trust already)'
        : p.status === 'blocked'
          ? `blocked: ${p.guard!.message}`
          : firstPlanLine(p);
    lines.push(
      `  ${role.name} (${role.trust}): ${role.deploymentIds.length} Deployment${role.deploymentIds.length === 1 ? '' : 's'}, from statement${role.statements.length === 1 ? '' : 's'} ${safe(role.statements.join(', '))}; ${status}`,
    );
    for (const note of role.notes) lines.push(`    note: ${safe(note)}`);
  });
  for (const n of r.adoption.notAdopted) {
    lines.push(`  not adopted: ${n.name}`);
    for (const note of n.notes) lines.push(`    ${safe(note)}`);
  }
  const config = out === '-' ? 'astro-trust.yaml' : out;
  lines.push(
    '',
    `Next: astro-trust plan --config ${config}   (observe: nothing is written; the + lines are the trust the hand-made statements grant today)`,
    'Then docs/adoption.md: per role, mode: enforce, apply, remove the hand-made statement.',
  );
  return `${lines.join('\n')}\n`;
}

/** The organization id in the inventory file's Deployments (the Astro API object has one), if they agree. */
function organizationIn(file: string): string | undefined {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { deployments?: { organizationId?: unknown }[] };
    const ids = new Set((data.deployments ?? []).map((d) => d.organizationId).filter((v) => typeof v === 'string'));
    return ids.size === 1 ? ([...ids][0] as string) : undefined;
  } catch {
    return undefined; // the inventory adapter reports an unreadable file with its own message
  }
}

async function runInit(opts: InitOpts, io: Io): Promise<number> {
  const out = opts.out;
  if (out !== '-' && existsSync(resolve(io.cwd ?? process.cwd(), out)))
    throw new UsageError(
      `${out} exists: init never overwrites a config; pass --out with another file (or --out - for stdout)`,
    );
  let inventory: InventorySource;
  let organizationId = opts.organizationId || io.env.ASTRO_ORGANIZATION_ID || undefined;
  let inventoryConfig: { source: 'api' } | { source: 'file'; path: string };
  if (opts.inventory) {
    const file = resolve(io.cwd ?? process.cwd(), opts.inventory);
    inventory = io.adapters?.inventory ?? new FileInventory(file);
    organizationId ??= organizationIn(file);
    if (!organizationId)
      throw new UsageError(
        `${opts.inventory} names no organization (deployments[].organizationId): pass --organization-id ID (Astro: Organization settings)`,
      );
    const base = out === '-' ? (io.cwd ?? process.cwd()) : dirname(resolve(io.cwd ?? process.cwd(), out));
    const rel = relative(base, file).replace(/\\/g, '/');
    // Beside the config (or below it): relative, as a checked-in config wants; elsewhere: absolute.
    inventoryConfig = { source: 'file', path: rel.startsWith('..') || rel.startsWith('/') ? file : `./${rel}` };
  } else {
    if (!organizationId)
      throw new UsageError(
        'init needs the Deployments: --inventory FILE (one Astro API page), or --organization-id ID with ASTRO_API_TOKEN for the Astro API',
      );
    const token = io.env.ASTRO_API_TOKEN;
    if (!token && !io.adapters?.inventory)
      throw new UsageError(
        '--organization-id lists the Deployments with the Astro API: set ASTRO_API_TOKEN (or pass --inventory FILE)',
      );
    inventory =
      io.adapters?.inventory ??
      new AstroApiInventory({
        baseUrl: io.env.ASTRO_API_URL || DEFAULT_ASTRO_API_URL,
        organizationId,
        token: token!,
        log: (l) => io.stderr(`${l}\n`),
      });
    inventoryConfig = { source: 'api' };
  }
  const roles: RoleLister = opts.iamSnapshot
    ? new IamSnapshotStore(opts.iamSnapshot)
    : new IamTrustStore(createIamClient({ region: regionOf(io) }), { verbose: io.verbose }, (l) => io.stderr(`${l}\n`));
  const result = await adoptEstate({ roles, inventory });
  const summary = renderInitSummary(result, out);
  if (result.adoption.roles.length === 0) {
    io.stderr(
      `${summary}astro-trust init: no role in account ${result.account ?? '(none)'} trusts a Deployment of ${result.inventorySource}; no config written. Start from the README's config instead.\n`,
    );
    return 1;
  }
  const text = renderInitConfig(result, {
    organizationId,
    inventory: inventoryConfig,
    when: new Date().toISOString().slice(0, 10),
  });
  // What init writes must load: the same loader as plan (a role name or note that broke it would fail here).
  parseConfig(text, out === '-' ? 'astro-trust.yaml' : resolve(io.cwd ?? process.cwd(), out));
  if (out === '-') {
    io.stdout(text);
    io.stderr(summary);
  } else {
    const path = resolve(io.cwd ?? process.cwd(), out);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { flag: 'wx' });
    renameSync(tmp, path);
    io.stdout(summary);
  }
  return 0;
}

export function register(p: Command, io: Io, setCode: SetCode) {
  p.command('init')
    .description(
      'Adopt an estate: read every role of the account (ListRoles) and the Deployments, and write a config that declares, ' +
        'by id, exactly the Deployments each role trusts today, in observe mode. Writes nothing to AWS.',
    )
    .option('-o, --out <file>', 'where to write the config (never overwritten; - for stdout)', 'astro-trust.yaml')
    .option(
      '--inventory <file>',
      'the Deployments from a JSON file in the Astro API page shape (the config then uses it)',
    )
    .option(
      '--organization-id <id>',
      'the Astro organization (default: ASTRO_ORGANIZATION_ID); without --inventory the Deployments come from the Astro API (ASTRO_API_TOKEN)',
    )
    .option(
      '--iam-snapshot <file>',
      'offline: the roles from `aws iam get-account-authorization-details --filter Role` output instead of ListRoles',
    )
    .addHelpText(
      'after',
      '\nA role is adopted when a statement trusts a Deployment identity of the inventory (sts:AssumeRole) or a namespace\n' +
        "on a Deployment's OIDC issuer. The hand-made statements stay as they are (astro-trust never edits a statement it\n" +
        'does not own): the first plan shows, per role, the trust they grant today as + lines (observe: not written) and no\n' +
        '- lines. What the config cannot say exactly is printed as a note. Next steps: docs/adoption.md.\n' +
        'Permissions: iam:ListRoles (or --iam-snapshot). Exit: 0 config written, 1 error or no role trusts a Deployment.',
    )
    .action(async (opts: InitOpts) => setCode(await runInit(opts, io)));
}
