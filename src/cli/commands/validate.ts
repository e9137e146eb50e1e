/** `astro-trust validate`: the config alone, nothing read from AWS or Astro. */
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import type { Io, SetCode } from '../io.js';

export function register(p: Command, io: Io, setCode: SetCode) {
  p.command('validate')
    .description('Check a config file: syntax, keys, values. Reads nothing from AWS or Astro.')
    .requiredOption('-c, --config <file>', 'the astro-trust.yaml config file')
    .addHelpText('after', '\nExit: 0 valid, 1 invalid (each problem names the key path, the line and what was expected).\nEditors: schema/astro-trust.schema.json is the same rules as a JSON Schema.')
    .action(async (opts: { config: string }) => {
      const config = loadConfig(opts.config);
      const acks = config.findings.acknowledge.length;
      io.stdout(`${opts.config}: valid: ${config.roles.length} role${config.roles.length === 1 ? '' : 's'}, inventory from ${config.inventory.source}${acks ? `, ${acks} acknowledged finding${acks === 1 ? '' : 's'}` : ''}\n`);
      setCode(0);
    });
}
