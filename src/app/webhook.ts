/**
 * The Deployment webhook (DESIGN 3.3, 7.2): size, content type and signature are checked on the raw body
 * before anything is parsed; the signature with a constant-time compare. Answers never 5xx for bad input.
 * Signatures are Standard Webhooks (standardwebhooks.com: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64>`, secret `whsec_<base64>`), so any language's library can sign. The
 * release-1 header `X-Astro-Trust-Signature` is gone: alone it gets 401, beside Standard headers it is ignored.
 */
import { timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import * as z from 'zod/mini';
import './zod.js'; // zod's English messages

export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_SKEW_SECONDS = 300;
/** Release 1's header, no longer accepted (DESIGN 7.2): named in the 401 a request signed only with it gets. */
const RELEASE_1_HEADER = 'x-astro-trust-signature';
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

export type SignatureCheck = { ok: true; webhookId: string } | { ok: false; reason: string };

/**
 * How long a `webhook-id` stays claimed (DESIGN 7.2): at least twice the tolerance, and past the last second a
 * replay of it could still be accepted. A request is accepted while |now - t| <= 300 s, so the earliest claim
 * is made at t - 300 s and the last replay can arrive just before t + 301 s: 602 s from the claim covers it.
 */
export const WEBHOOK_ID_CLAIM_MS = (2 * MAX_SKEW_SECONDS + 2) * 1000;

/** The command the docs and every refusal give for making a secret. */
export const MAKE_SECRET_COMMAND = 'echo "whsec_$(openssl rand -base64 32)"';
/** A secret's key is at least this many bytes (DESIGN 7.2). */
export const MIN_SECRET_BYTES = 24;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export type SecretsCheck = { ok: true; secrets: string[] } | { ok: false; problem: string };

/**
 * Checks a webhook secret setting (DESIGN 7.2): one or more comma-separated `whsec_` + base64 of at least 24
 * bytes (several while rotating). The problem names the value by position and the format, never its content.
 */
export function parseWebhookSecrets(value: string | undefined): SecretsCheck {
  const values = (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  const format = `expected whsec_ followed by base64 of at least ${MIN_SECRET_BYTES} bytes (two comma-separated while rotating); make one with: ${MAKE_SECRET_COMMAND}`;
  if (values.length === 0) return { ok: false, problem: `is empty: ${format}` };
  for (const [i, v] of values.entries()) {
    const which = values.length === 1 ? 'the value' : `value ${i + 1} of ${values.length}`;
    if (!v.startsWith('whsec_')) return { ok: false, problem: `${which} does not start with whsec_: ${format}` };
    const b64 = v.slice('whsec_'.length);
    if (!BASE64.test(b64) || b64.length === 0)
      return { ok: false, problem: `${which} is not base64 after whsec_: ${format}` };
    const bytes = Buffer.from(b64, 'base64').length;
    if (bytes < MIN_SECRET_BYTES) return { ok: false, problem: `${which} holds ${bytes} bytes: ${format}` };
  }
  return { ok: true, secrets: values };
}

/** The Standard Webhooks signer for a `whsec_<base64>` secret (checked at start: parseWebhookSecrets). */
export function standardWebhook(secret: string): Webhook {
  return new Webhook(secret);
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
      reason:
        'missing signature: webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks)' +
        (headers[RELEASE_1_HEADER] !== undefined
          ? '; the release-1 header X-Astro-Trust-Signature is no longer accepted (docs/onboarding.md)'
          : ''),
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

export interface WebhookRequest {
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
  nowSeconds: number;
}

export type WebhookVerdict =
  { status: 202; event: WebhookEvent; webhookId: string } | { status: 400 | 401 | 413 | 415; error: string };

/** Checks a webhook request in the order that keeps unauthenticated input unparsed: size, type, signature, body. */
export function checkWebhook(req: WebhookRequest, secrets: string[], organizationId: string): WebhookVerdict {
  if (req.rawBody.length > MAX_BODY_BYTES) return { status: 413, error: `body over ${MAX_BODY_BYTES} bytes` };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return { status: 415, error: 'content-type must be application/json' };
  const sig = verifyStandard(secrets, req.headers, req.rawBody, req.nowSeconds);
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
  return { status: 202, event: parsed.data, webhookId: sig.webhookId };
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
    /**
     * A `webhook-id` seen within the tolerance is answered 202 and does no new work (a resend, or a replay).
     * A claim whose work then failed is released, so the sender's retry is not taken for a duplicate.
     */
    seen?: { claim(key: string, windowMs: number): Promise<boolean>; release(key: string): Promise<void> };
  },
): Promise<WebhookHttpAnswer> {
  const verdict = checkWebhook(req, deps.secrets, deps.organizationId);
  if (verdict.status !== 202)
    return {
      status: verdict.status,
      body: { error: verdict.error },
      log: { msg: 'webhook rejected', status: verdict.status, error: verdict.error },
    };
  const webhookId = { webhookId: verdict.webhookId };
  const key = `webhook|${verdict.webhookId}`;
  let claimed = false;
  try {
    if (deps.seen) {
      if (!(await deps.seen.claim(key, WEBHOOK_ID_CLAIM_MS)))
        return {
          status: 202,
          body: { accepted: verdict.event.id, duplicate: true },
          log: { msg: 'webhook duplicate', webhookId: verdict.webhookId, id: verdict.event.id },
        };
      claimed = true;
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
    if (claimed) await deps.seen!.release(key).catch(() => {});
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
