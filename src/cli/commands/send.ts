/** `astro-trust send`: sign one Deployment event (Standard Webhooks) and deliver it, with retries. */
import type { Command } from 'commander';
import { sendEvent } from '../../app/send.js';
import { MAKE_SECRET_COMMAND, parseWebhookSecrets, WEBHOOK_TYPES, type WebhookEvent } from '../../app/webhook.js';
import { describeError, UsageError } from '../../errors.js';
import type { Io, SetCode } from '../io.js';

interface SendOpts {
  url: string;
  type: string;
  deploymentId: string;
  organizationId?: string;
  id?: string;
  attempts: string;
}

async function runSend(opts: SendOpts, io: Io): Promise<number> {
  if (!io.env.ASTRO_TRUST_WEBHOOK_SECRET?.trim())
    throw new UsageError(
      `ASTRO_TRUST_WEBHOOK_SECRET is not set: send signs the event with it; make one with: ${MAKE_SECRET_COMMAND}`,
    );
  const checked = parseWebhookSecrets(io.env.ASTRO_TRUST_WEBHOOK_SECRET);
  if (!checked.ok) throw new UsageError(`ASTRO_TRUST_WEBHOOK_SECRET ${checked.problem}`);
  const secret = checked.secrets[0]!;
  const organizationId = opts.organizationId ?? io.env.ASTRO_ORGANIZATION_ID;
  if (!organizationId)
    throw new UsageError(
      '--organization-id (or ASTRO_ORGANIZATION_ID) is required: the receiver accepts events of its own organization only',
    );
  if (!(WEBHOOK_TYPES as readonly string[]).includes(opts.type))
    throw new UsageError(`--type ${opts.type}: expected one of ${WEBHOOK_TYPES.join(', ')}`);
  try {
    new URL(opts.url);
  } catch {
    throw new UsageError(`--url ${opts.url}: not a URL (e.g. https://example.com/webhooks/astro)`);
  }
  const attempts = Number(opts.attempts);
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new UsageError(`--attempts ${opts.attempts}: expected a whole number >= 1`);
  try {
    const r = await sendEvent({
      url: opts.url,
      secret,
      event: {
        type: opts.type as WebhookEvent['type'],
        deploymentId: opts.deploymentId,
        organizationId,
        ...(opts.id ? { id: opts.id } : {}),
      },
      attempts,
      log: (l) => io.stderr(`${l}\n`),
    });
    io.stdout(`accepted: ${r.event.type} ${r.event.deploymentId} (${r.event.id}) -> HTTP ${r.status} ${r.body}\n`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    io.stderr(`astro-trust send: not accepted: ${describeError(err)}\n`);
    return 1;
  }
}

export function register(p: Command, io: Io, setCode: SetCode) {
  p.command('send')
    .description(
      'Sign one Deployment event (secret from ASTRO_TRUST_WEBHOOK_SECRET) and send it to an astro-trust webhook, with retries.',
    )
    .requiredOption('--url <url>', 'the webhook, e.g. https://<api>/webhooks/astro')
    .requiredOption('--type <type>', `one of ${WEBHOOK_TYPES.join(', ')}`)
    .requiredOption('--deployment-id <id>', 'the Astro Deployment id')
    .option('--organization-id <id>', 'the Astro organization (default: ASTRO_ORGANIZATION_ID)')
    .option('--id <id>', 'the event id (default: a new one); a retried send keeps its id')
    .option('--attempts <n>', 'attempts on timeouts, 429 and 5xx', '5')
    .addHelpText(
      'after',
      '\nExit: 0 accepted (2xx), 1 not (a 4xx is not retried).\nExample: astro-trust send --url https://abc.execute-api.us-east-1.amazonaws.com/webhooks/astro --type deployment.created --deployment-id clmh57jtm000008lb58fe2wmv',
    )
    .action(async (opts: SendOpts) => setCode(await runSend(opts, io)));
}
