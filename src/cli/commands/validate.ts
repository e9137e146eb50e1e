/** `astro-trust validate`: the config alone, nothing read from AWS or Astro. */
import type { Command } from 'commander';
import { partitionOf } from '../../adapters/aws/accounts.js';
import { memberAccounts } from '../../wiring/accounts.js';
import { configFileFor, configOption, regionOf, type Io, type SetCode } from '../io.js';
import { loadConfig } from '../../config/config.js';

export function register(p: Command, io: Io, setCode: SetCode) {
  configOption(
    p.command('validate').description('Check a config file: syntax, keys, values. Reads nothing from AWS or Astro.'),
  )
    .addHelpText(
      'after',
      '\nExit: 0 valid, 1 invalid (each problem names the key path, the line and what was expected).\nEditors: schema/astro-trust.schema.json is the same rules as a JSON Schema.',
    )
    .action(async (opts: { config?: string }) => {
      const file = configFileFor(io, opts.config);
      const config = loadConfig(file);
      const acks = config.findings.acknowledge.length;
      io.stdout(
        `${file}: valid: ${config.roles.length} role${config.roles.length === 1 ? '' : 's'}, inventory from ${config.inventory.source}${acks ? `, ${acks} acknowledged finding${acks === 1 ? '' : 's'}` : ''}\n`,
      );
      const accounts = memberAccounts(config);
      if (accounts.length > 0) {
        // What each member account's stack needs (docs/accounts.md); HubReconcileRoleArn, HubReaderRoleArns and
        // HubEventBusArn are the hub stack's outputs.
        io.stdout(`member accounts: deploy deploy/member-account.yml in each (docs/accounts.md) with\n`);
        const partition = partitionOf(regionOf(io));
        for (const account of accounts) {
          const roles = config.roles.filter((r) => r.account === account);
          io.stdout(
            `  ${account}: MemberRoleName=${config.memberRoleName} ManagedRoleArns=${roles.map((r) => `arn:${partition}:iam::${account}:role/${r.roleName}`).join(',')} ManagesOidcProviders=${roles.some((r) => r.trust === 'oidc')}\n`,
          );
        }
      }
      setCode(0);
    });
}
