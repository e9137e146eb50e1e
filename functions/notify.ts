/**
 * astro-trust's own events (its bus) to Slack. An alert that cannot be delivered fails the invocation:
 * EventBridge retries it, then puts it in the rule's dead-letter queue. Nothing is dropped silently.
 *
 * Only the hub's own events are posted (DESIGN 7.1): `source: astro-trust`, put on the bus by the hub's
 * account. The bus also takes events from member accounts (their IAM CloudTrail events), and anything
 * else on it, a member account's event claiming `source: astro-trust` above all, would be a forged alert:
 * it is dropped with a log line and the `EventsDropped` metric.
 */
import middy from '@middy/core';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { LogNotifier, SlackNotifier, type Delivery, type Notifier } from '../src/adapters/slack/notifier.js';
import type { AstroTrustEvent } from '../src/domain/events.js';
import { dedup } from '../src/lambda/aws/dynamodb.js';
import { logger, logLine, meter, observed, structuredLog } from '../src/lambda/observability.js';
import { runtime } from '../src/lambda/runtime.js';
import { secrets, type WithSecrets } from '../src/lambda/secrets.js';

type AstroTrustBusEvent = EventBridgeEvent<string, AstroTrustEvent['detail']>;

const TYPES = new Set([
  'TrustPolicyUpdated',
  'DriftDetected',
  'ReconcileFailed',
  'TrustPolicyTooLarge',
  'GuardStopped',
  'InventoryRefused',
  'SelfTampering',
]);
// Kept across invocations of a warm container; what was posted is remembered in the watch table across cold starts.
let notifier: { url: string; notifier: Notifier } | undefined;

/** The hub's account: the stack sets ASTRO_TRUST_HOME_ACCOUNT; else the account in the function's own ARN. */
function hubAccount(context: Partial<Pick<Context, 'invokedFunctionArn'>>): string | undefined {
  return (
    runtime().env.homeAccount ?? /^arn:aws[\w-]*:lambda:[^:]*:(\d{12}):/.exec(context.invokedFunctionArn ?? '')?.[1]
  );
}

/** Why an event on the bus is not one of the hub's alerts, or undefined when it is. */
function notOurs(event: AstroTrustBusEvent, hub: string | undefined): string | undefined {
  if (event.source !== 'astro-trust') return `source ${String(event.source)} is not astro-trust`;
  if (hub === undefined) return 'the hub account is unknown (ASTRO_TRUST_HOME_ACCOUNT is not set)';
  if (event.account !== hub) return `put by account ${String(event.account)}, not the hub's (${hub}): a forged alert`;
  if (!TYPES.has(event['detail-type']))
    return `detail-type ${String(event['detail-type'])} is not an astro-trust event`;
  return undefined;
}

export async function notify(
  event: AstroTrustBusEvent,
  context: WithSecrets<'slackWebhookUrl'>,
): Promise<Delivery | 'dropped'> {
  const why = notOurs(event, hubAccount(context));
  if (why) {
    logger.warn('event dropped, not posted', {
      reason: why,
      eventBridgeId: event.id,
      account: event.account,
      source: event.source,
      detailType: event['detail-type'],
    });
    meter.count('EventsDropped');
    return 'dropped';
  }
  const url = String(context.slackWebhookUrl ?? '');
  if (!notifier || notifier.url !== url) {
    const rt = runtime();
    const posted = dedup(rt);
    notifier = {
      url,
      notifier: url
        ? new SlackNotifier({
            webhookUrl: url,
            log: logLine,
            configPath: rt.config.file,
            ...(posted ? { dedup: posted } : {}),
          })
        : new LogNotifier(structuredLog, posted ? { dedup: posted } : {}),
    };
  }
  const delivery = await notifier.notifier.notify({
    type: event['detail-type'],
    detail: event.detail,
  } as AstroTrustEvent);
  logger.info('notify', { type: event['detail-type'], role: event.detail.role ?? null, delivery });
  return delivery;
}

export const handler = middy<AstroTrustBusEvent, Delivery | 'dropped'>()
  .use(observed())
  .use(secrets(['slackWebhookUrl'], 'ssm-notify'))
  .handler(notify);
