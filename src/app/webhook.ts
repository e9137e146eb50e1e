/**
 * The Deployment webhook (DESIGN 3.3): size, content type and signature are checked on the raw body
 * before anything is parsed; the signature with a constant-time compare. Answers never 5xx for bad input.
 * Signatures are Standard Webhooks (standardwebhooks.com: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64>`, secret `whsec_<base64>`), so any language's library can sign; the
 * release-1 header `X-Astro-Trust-Signature` stays accepted until release 3.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import * as z from 'zod/mini';
import './zod.js'; // zod's English messages

export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_SKEW_SECONDS = 300;
/** Release 1's header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. Accepted until release 3. */
export const SIGNATURE_HEADER = 'x-astro-trust-signature';
export const STANDARD_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;
export const WEBHOOK_TYPES = ['deployment.created', 'deployment.updated', 'deployment.deleted'] as const;

export const webhookEvent = z.strictObject({
  id: z.string().check(z.minLength(1), z.maxLength(200)),
  type: z.enum(WEBHOOK_TYPES),
  deploymentId: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,128}$/, 'a Deployment id')),
  organizationId: z.string().check(z.minLength(1), z.maxLength(200)),
  occurredAt: z.iso.datetime({ offset: true }),
});
export type WebhookEvent = z.infer<typeof webhookEvent>;

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` */
export function signWebhook(secret: string, rawBody: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${rawBody}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export type SignatureCheck = { ok: true; webhookId?: string } | { ok: false; reason: string };

/** The Standard Webhooks signer for a secret: `whsec_<base64>` as the standard says; any other value as raw bytes. */
export function standardWebhook(secret: string): Webhook {
  return secret.startsWith('whsec_') ? new Webhook(secret) : new Webhook(secret, { format: 'raw' });
}

/** The three Standard Webhooks headers for a body (what `astro-trust send` and the tests send). */
export function signStandard(
  secret: string,
  webhookId: string,
  rawBody: string,
  unixSeconds: number,
): Record<string, string> {
  return {
    [STANDARD_HEADERS.id]: webhookId,
    [STANDARD_HEADERS.timestamp]: String(unixSeconds),
    [STANDARD_HEADERS.signature]: standardWebhook(secret).sign(webhookId, new Date(unixSeconds * 1000), rawBody),
  };
}

/**
 * Verifies Standard Webhooks headers. The library computes the signature; the timestamp window is checked
 * here against the caller's clock (the library's own `verify` reads the system clock, which tests and the
 * replay window must not depend on).
 */
export function verifyStandard(
  secrets: string[],
  headers: Record<string, string | undefined>,
  rawBody: Buffer,
  nowSeconds: number,
): SignatureCheck {
  const id = headers[STANDARD_HEADERS.id];
  const ts = headers[STANDARD_HEADERS.timestamp];
  const sigs = headers[STANDARD_HEADERS.signature];
  if (!id || !ts || !sigs)
    return {
      ok: false,
      reason: `missing signature: webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks), or ${SIGNATURE_HEADER}`,
    };
  if (id.length > 256 || !/^\d{1,12}$/.test(ts))
    return { ok: false, reason: 'malformed webhook-id or webhook-timestamp header' };
  if (Math.abs(nowSeconds - Number(ts)) > MAX_SKEW_SECONDS) return { ok: false, reason: 'stale signature timestamp' };
  const given = sigs.split(' ').flatMap((s) => (s.startsWith('v1,') ? [Buffer.from(s.slice(3))] : []));
  if (given.length === 0) return { ok: false, reason: 'malformed signature header (expected v1,<base64>)' };
  for (const secret of secrets) {
    const expected = Buffer.from(
      standardWebhook(secret)
        .sign(id, new Date(Number(ts) * 1000), rawBody.toString('utf8'))
        .slice(3),
    );
    if (given.some((g) => g.length === expected.length && timingSafeEqual(g, expected)))
      return { ok: true, webhookId: id };
  }
  return { ok: false, reason: 'signature does not match' };
}

/** Verifies the signature header over the raw body; several v1 values are allowed (secret rotation). */
export function verifySignature(
  secrets: string[],
  header: string | undefined,
  rawBody: Buffer | string,
  nowSeconds: number,
): SignatureCheck {
  if (!header) return { ok: false, reason: `missing ${SIGNATURE_HEADER} header` };
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = parts.find(([k]) => k === 't')?.[1];
  const given = parts
    .filter(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]{64}$/i.test(v))
    .map(([, v]) => Buffer.from(v!, 'hex'));
  if (!t || !/^\d{1,12}$/.test(t) || given.length === 0) return { ok: false, reason: 'malformed signature header' };
  if (Math.abs(nowSeconds - Number(t)) > MAX_SKEW_SECONDS) return { ok: false, reason: 'stale signature timestamp' };
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody) : rawBody;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
    if (given.some((g) => g.length === expected.length && timingSafeEqual(g, expected))) return { ok: true };
  }
  return { ok: false, reason: 'signature does not match' };
}

export interface WebhookRequest {
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
  nowSeconds: number;
}

export type WebhookVerdict =
  { status: 202; event: WebhookEvent; webhookId?: string } | { status: 400 | 401 | 413 | 415; error: string };

/** Checks a webhook request in the order that keeps unauthenticated input unparsed: size, type, signature, body. */
export function checkWebhook(req: WebhookRequest, secrets: string[], organizationId: string): WebhookVerdict {
  if (req.rawBody.length > MAX_BODY_BYTES) return { status: 413, error: `body over ${MAX_BODY_BYTES} bytes` };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return { status: 415, error: 'content-type must be application/json' };
  const sig =
    req.headers[STANDARD_HEADERS.signature] !== undefined || req.headers[SIGNATURE_HEADER] === undefined
      ? verifyStandard(secrets, req.headers, req.rawBody, req.nowSeconds)
      : verifySignature(secrets, req.headers[SIGNATURE_HEADER], req.rawBody, req.nowSeconds);
  if (!sig.ok) return { status: 401, error: sig.reason };
  let body: unknown;
  try {
    body = JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    return { status: 400, error: 'body is not valid JSON' };
  }
  const parsed = webhookEvent.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length ? issue.path.join('.') : '(body)';
    const what = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message;
    return { status: 400, error: `${field}: ${what}` };
  }
  if (parsed.data.organizationId !== organizationId)
    return { status: 400, error: 'organizationId: not the organization this astro-trust manages' };
  return { status: 202, event: parsed.data, ...(sig.webhookId ? { webhookId: sig.webhookId } : {}) };
}

export interface WebhookHttpAnswer {
  status: 202 | 400 | 401 | 413 | 415 | 503;
  body: Record<string, unknown>;
  /** One structured log entry for the runtime to write: its message, and correlation fields. */
  log: { msg: string } & Record<string, unknown>;
}

/**
 * The webhook's whole HTTP mapping, for every runtime (the Lambda function, `serve`): check the request,
 * queue the reconciles, and answer 202; 4xx for bad input (never 5xx); 503 when the Astro API or the queue
 * is down, so the sender retries.
 */
export async function answerWebhook(
  req: WebhookRequest,
  deps: {
    secrets: string[];
    organizationId: string;
    accept: (event: WebhookEvent) => Promise<{ role: string }[]>;
    /** A `webhook-id` seen within the tolerance is answered 202 and does no new work (a resend, or a replay). */
    seen?: { claim(key: string, windowMs: number): Promise<boolean> };
  },
): Promise<WebhookHttpAnswer> {
  const verdict = checkWebhook(req, deps.secrets, deps.organizationId);
  if (verdict.status !== 202)
    return {
      status: verdict.status,
      body: { error: verdict.error },
      log: { msg: 'webhook rejected', status: verdict.status, error: verdict.error },
    };
  const webhookId = verdict.webhookId ? { webhookId: verdict.webhookId } : {};
  try {
    if (
      verdict.webhookId &&
      deps.seen &&
      !(await deps.seen.claim(`webhook|${verdict.webhookId}`, 2 * MAX_SKEW_SECONDS * 1000))
    ) {
      return {
        status: 202,
        body: { accepted: verdict.event.id, duplicate: true },
        log: { msg: 'webhook duplicate', webhookId: verdict.webhookId, id: verdict.event.id },
      };
    }
    const roles = (await deps.accept(verdict.event)).map((r) => r.role);
    return {
      status: 202,
      body: { accepted: verdict.event.id, roles },
      log: {
        msg: 'webhook accepted',
        ...webhookId,
        id: verdict.event.id,
        type: verdict.event.type,
        deploymentId: verdict.event.deploymentId,
        roles: roles.length,
      },
    };
  } catch (err) {
    return {
      status: 503,
      body: { error: 'temporarily unable to process; retry' },
      log: {
        msg: 'webhook failed',
        ...webhookId,
        id: verdict.event.id,
        error: err instanceof Error ? err.message : String(err),
      },
    };
  }
}
