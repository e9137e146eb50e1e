/** POST /webhooks/astro (HTTP API, payload v2): verify, validate, enqueue reconciles for the affected roles. */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { onDeploymentEvent } from '../src/app/intake.js';
import { answerWebhook, parseWebhookSecrets, type WebhookEvent } from '../src/app/webhook.js';
import { dedup, freshSharedInventory, lastListing } from '../src/lambda/aws/dynamodb.js';
import { reconcileQueue } from '../src/lambda/aws/sqs.js';
import { logger, observed } from '../src/lambda/observability.js';
import { runtime } from '../src/lambda/runtime.js';
import { secrets, type WithSecrets } from '../src/lambda/secrets.js';

type WebhookContext = WithSecrets<'webhookSecret' | 'astroApiToken'>;

function reply(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

export async function webhook(
  event: APIGatewayProxyEventV2,
  context: WebhookContext,
): Promise<APIGatewayProxyStructuredResultV2> {
  const rawBody = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const rt = runtime();
  // Checked as loaded from SSM (DESIGN 7.2): a secret no sender can sign with is refused, saying why in the log.
  const keys = parseWebhookSecrets(context.webhookSecret);
  if (!keys.ok) {
    logger.error(
      `webhook secret refused: the SSM parameter ${rt.env.params.webhookSecret ?? '(WEBHOOK_SECRET_PARAM)'} ${keys.problem}`,
    );
    return reply(503, { error: 'webhook not configured' });
  }
  const snapshots = lastListing(rt);
  const accept = (e: WebhookEvent) =>
    onDeploymentEvent(
      {
        config: rt.config,
        inventory: freshSharedInventory(rt, rt.inventory(context)),
        queue: reconcileQueue(rt),
        ...(snapshots ? { snapshots } : {}),
      },
      e,
    );
  const seen = dedup(rt);
  const answer = await answerWebhook(
    { headers, rawBody, nowSeconds: Math.floor(Date.now() / 1000) },
    {
      secrets: keys.secrets,
      organizationId: rt.config.organizationId,
      ...(seen ? { seen } : {}),
      accept,
    },
  );
  const { msg, ...fields } = answer.log;
  const level = answer.status >= 500 ? 'error' : answer.status >= 400 ? 'warn' : 'info';
  logger[level](msg, { ...fields, status: answer.status, sourceIp: event.requestContext?.http?.sourceIp });
  return reply(answer.status, answer.body);
}

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(observed())
  .use(secrets(['webhookSecret', 'astroApiToken'], 'ssm-webhook'))
  .handler(webhook);
