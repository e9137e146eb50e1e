/** `astro-trust show FILE`: a saved plan (plan -out FILE), printed as plan printed it. Reads nothing else. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatDuration, parseSavedPlan, planFromSaved } from '../../app/saved-plan.js';
import { UsageError } from '../../errors.js';
import { paintFor, type Io, type SetCode } from '../io.js';
import { renderPlan } from '../render.js';

export function register(p: Command, io: Io, setCode: SetCode) {
  p.command('show')
    .description(
      'Print a saved plan (plan -out FILE) as plan printed it: for review before apply FILE. Reads nothing from AWS or Astro.',
    )
    .argument('<plan>', 'the saved plan file')
    .option('--json', 'print the saved plan document (schema/astro-trust-plan.schema.json; Terraform spelling: -json)')
    .addHelpText(
      'after',
      "\nEach role's whole trust policy before and after is in the JSON (before, after); apply FILE writes the after\n" +
        'documents of the roles with write: true. Exit: 0, 1 when the file is not a saved plan.',
    )
    .action(async (planFile: string, opts: { json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(resolve(planFile), 'utf8');
      } catch (err) {
        throw new UsageError(
          `${planFile}: cannot read the saved plan (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        );
      }
      const saved = parseSavedPlan(text, planFile);
      if (opts.json) {
        io.stdout(`${JSON.stringify(saved, null, 2)}\n`);
        return setCode(0);
      }
      const paint = paintFor(io);
      const age = formatDuration(Date.now() - Date.parse(saved.createdAt));
      io.stdout(
        `${paint('dim', `saved plan ${planFile}: made ${saved.createdAt} (${age} ago) by astro-trust ${saved.toolVersion} with ${saved.config.file} (${saved.config.digest.slice(0, 19)}...)`)}\n` +
          `${renderPlan(planFromSaved(saved), paint)}\n`,
      );
      const writes = saved.roles.filter((r) => r.write).length;
      io.stdout(
        `\napply ${planFile} writes ${writes} role${writes === 1 ? '' : 's'}${
          writes
            ? `: ${saved.roles
                .filter((r) => r.write)
                .map((r) => r.role)
                .join(', ')}`
            : ''
        }.\n`,
      );
      setCode(0);
    });
}
