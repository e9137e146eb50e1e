/** POST /webhooks/astro (HTTP API, payload v2): verify, validate, enqueue reconciles for the affected roles. */
import middy from '@middy/core';
import ssm from '@middy/ssm';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { onDeploymentEvent } from '../src/app/intake.js';
import { checkWebhook } from '../src/app/webhook.js';
import { describeError } from '../src/errors.js';
import { runtime, ssmFetchData } from '../src/lambda/runtime.js';

type Secrets = { webhookSecret?: string; astroApiToken?: string };
const reply = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({ statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

export async function webhook(event: APIGatewayProxyEventV2, context: Context & Secrets): Promise<APIGatewayProxyStructuredResultV2> {
  const rawBody = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const rt = runtime();
  const secrets = String(context.webhookSecret ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (secrets.length === 0) {
    console.error('webhook secret is empty: set the SSM parameter named by WEBHOOK_SECRET_PARAM');
    return reply(503, { error: 'webhook not configured' });
  }
  const verdict = checkWebhook({ headers, rawBody, nowSeconds: Math.floor(Date.now() / 1000) }, secrets, rt.config.organizationId);
  if (verdict.status !== 202) {
    console.log(JSON.stringify({ msg: 'webhook rejected', status: verdict.status, error: verdict.error, sourceIp: event.requestContext?.http?.sourceIp }));
    return reply(verdict.status, { error: verdict.error });
  }
  try {
    const requests = await onDeploymentEvent({ config: rt.config, inventory: rt.inventory(context), queue: rt.queue() }, verdict.event);
    console.log(JSON.stringify({ msg: 'webhook accepted', id: verdict.event.id, type: verdict.event.type, deploymentId: verdict.event.deploymentId, roles: requests.length }));
    return reply(202, { accepted: verdict.event.id, roles: requests.map((r) => r.role) });
  } catch (err) {
    // The Astro API or SQS failed, not the sender: 503 tells it to retry.
    console.error(JSON.stringify({ msg: 'webhook failed', error: describeError(err) }));
    return reply(503, { error: 'temporarily unable to process; retry' });
  }
}

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(ssm({ fetchData: ssmFetchData(['webhookSecret', 'astroApiToken']), setToContext: true, cacheKey: 'ssm-webhook', cacheExpiry: 5 * 60_000 }))
  .handler(webhook as never);
