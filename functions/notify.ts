/**
 * astro-trust's own events (its bus) to Slack. An alert that cannot be delivered fails the invocation:
 * EventBridge retries it, then puts it in the rule's dead-letter queue. Nothing is dropped silently.
 */
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { LogNotifier, SlackNotifier, type Delivery, type Notifier } from '../src/adapters/slack/notifier.js';
import type { AstroTrustEvent } from '../src/domain/events.js';
import { dedup } from '../src/lambda/aws/dynamodb.js';
import { logger, logLine, observed, structuredLog } from '../src/lambda/observability.js';
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
]);
// Kept across invocations of a warm container; what was posted is remembered in the watch table across cold starts.
let notifier: { url: string; notifier: Notifier } | undefined;

export async function notify(
  event: AstroTrustBusEvent,
  context: WithSecrets<'slackWebhookUrl'>,
): Promise<Delivery | 'ignored'> {
  if (event.source !== 'astro-trust' || !TYPES.has(event['detail-type'])) return 'ignored';
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
            configPath: rt.env.configFile,
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

export const handler = middy<AstroTrustBusEvent, Delivery | 'ignored'>()
  .use(observed())
  .use(secrets(['slackWebhookUrl'], 'ssm-notify'))
  .handler(notify);
