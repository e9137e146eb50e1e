/**
 * `astro-trust serve`: the whole system in one process. Webhook endpoint, IAM-change intake, periodic
 * resync, Slack alerts, one writer per role; the same use cases the Lambda functions call. What it accepted
 * and owes (reconciles, retries, alerts, webhook-ids seen, recent listing sizes) is in its journal, so a
 * restart finishes it (DESIGN 7.2).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SingleFlightInventory } from '../adapters/astro/single-flight.js';
import { AlertOutbox } from '../adapters/local/outbox.js';
import { Journal, type AlertEntry } from '../adapters/local/journal.js';
import { JournaledQueue, StateWriteError, type RetryPolicy } from '../adapters/local/journaled-queue.js';
import { MemoryRevertLog } from '../adapters/local/revert-log.js';
import type { EventPublisher, InventorySnapshotStore, InventorySource, Logger, TrustStore } from '../app/ports.js';
import { silentLogger } from '../adapters/log.js';
import { watchInventory } from '../app/watch.js';
import { lastResortLine, type Notifier } from '../adapters/slack/notifier.js';
import { parseIamEvent } from '../app/cloudtrail.js';
import { onDeploymentEvent, onIamChange } from '../app/intake.js';
import { reconcileRole, type ReconcileResult } from '../app/reconcile.js';
import { answerWebhook, checkWebhook, MAX_BODY_BYTES, parseWebhookSecrets } from '../app/webhook.js';
import type { Config } from '../config/config.js';
import { withAttempt } from '../domain/attempts.js';
import { subjectOf, type AstroTrustEvent, type ReconcileRequest } from '../domain/events.js';
import { describeError, PayloadTooLargeError, UsageError } from '../errors.js';

export interface ServeOptions {
  config: Config;
  store: TrustStore;
  inventory: InventorySource;
  notifier: Notifier;
  /** Webhook secrets; more than one while rotating. */
  secrets: string[];
  /** ARNs whose IAM changes are astro-trust's own (not alerted). */
  selfArns: string[];
  /** The roles astro-trust runs as: any change to them is alerted as SelfTampering. */
  ownRoleArns?: string[];
  /**
   * The account astro-trust runs in (`serve` learns it at start): IAM events from it are about the roles
   * without `account`; events from an account the config does not name are ignored.
   */
  homeAccount: string;
  /** `POST /events/eventbridge` requires `Authorization: Bearer <this>`; unset: the route answers 401. */
  eventsToken?: string;
  port?: number;
  host?: string;
  /** 0 disables the periodic resync. */
  resyncIntervalMs?: number;
  /** The inventory watch: every N ms, reconcile the roles that Deployment changes affect. 0 or unset disables it. */
  watchIntervalMs?: number;
  snapshots?: InventorySnapshotStore;
  concurrency?: number;
  /** Structured logs (JSON lines or text, `--log-format`). */
  logger?: Logger;
  /** Where an alert that neither Slack nor the dead letters took is written whole (default: standard error). */
  lastResort?: (line: string) => void;
  /** How long stopping waits for queued alerts before writing them to the last resort. */
  alertDrainMs?: number;
  /** Queue a full resync at start, so work accepted before a crash is redone (default true; DESIGN 6.4). */
  resyncAtStart?: boolean;
  /**
   * What was accepted and is owed, kept across a restart (DESIGN 7.2): the CLI opens it in the state
   * directory (Journal.open); default in memory.
   */
  journal?: Journal;
  /** Retries of a failed reconcile (default: 5 attempts, 30 s doubling, as SQS redrives on Lambda). */
  reconcileRetry?: RetryPolicy;
  now?: () => number;
  onReconciled?: (request: ReconcileRequest, result: ReconcileResult) => void;
}

export interface Server {
  url: string;
  queue: JournaledQueue;
  /** Resolves when no reconcile is queued or running and every alert they published is delivered. */
  settled(): Promise<void>;
  /** Runs the inventory watch now (tests, and the first run at start). */
  watchOnce(): Promise<void>;
  close(): Promise<void>;
}

const MAX_EVENT_BYTES = 256 * 1024;

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new PayloadTooLargeError('body too large'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new PayloadTooLargeError('body too large'));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Constant-time: both sides hashed to the same length first, so neither length nor content leaks. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '';
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The CloudTrail event id behind a drift alert: the same id in the log as in Slack. */
function alertIds(event: AstroTrustEvent) {
  return event.type === 'DriftDetected' && event.detail.actor?.eventId ? { eventId: event.detail.actor.eventId } : {};
}

/** The ids that tie a reconcile to what caused it: the webhook id, the CloudTrail event id, the resync. */
function correlation(request: ReconcileRequest) {
  return {
    ...(request.sourceEventId ? { sourceEventId: request.sourceEventId } : {}),
    ...(request.drift?.eventId ? { eventId: request.drift.eventId } : {}),
  };
}

export async function startServer(o: ServeOptions): Promise<Server> {
  // A secret no sender can sign with would answer 401 (or 503) forever: refused before listening (DESIGN 7.2).
  const secrets = parseWebhookSecrets(o.secrets.join(','));
  if (!secrets.ok) throw new UsageError(`webhook secret ${secrets.problem}`);
  const logger = o.logger ?? silentLogger;
  const now = o.now ?? (() => Date.now());
  const inventory = new SingleFlightInventory(o.inventory);
  const journal = o.journal ?? Journal.memory({ now });
  // Reconciles only queue their events; this worker delivers them, so a hanging Slack never delays IAM. Each
  // alert is in the journal before it is delivered and until Slack (or the log, or the dead letters) took it.
  const lastResort = o.lastResort ?? ((line: string) => process.stderr.write(`${line}\n`));
  const outbox = new AlertOutbox<AlertEntry>(
    async ({ id, event }) => {
      // Claims made while delivering are this alert's: delivered again after a restart, it is not a duplicate.
      const delivery = await journal.deliveringAs(id, () => o.notifier.notify(event));
      logger.info('alert', { event: event.type, role: subjectOf(event), delivery, ...alertIds(event) });
      await journal.delivered(id);
    },
    ({ id, event }, error) => {
      logger.error('alert not delivered; written to standard error', {
        event: event.type,
        role: subjectOf(event),
        error,
      });
      lastResort(lastResortLine(event, error));
      void journal.delivered(id);
    },
    // Still queued when stopping: written whole now, and left in the journal for the next start.
    ({ event }, error) => {
      logger.error('alert not delivered before stopping; written to standard error', {
        event: event.type,
        role: subjectOf(event),
        error,
      });
      lastResort(lastResortLine(event, error));
    },
  );
  /** Records alerts (clearing the intent of the work they stand for), then queues them for delivery. */
  const publishAlerts = async (list: AstroTrustEvent[], clearingIntentOf: string[] = []): Promise<boolean> => {
    const { entries, durable } = journal.addAlerts(list, clearingIntentOf);
    await outbox.publish(entries);
    return durable;
  };
  const events: EventPublisher = {
    publish: async (list) => {
      await publishAlerts(list);
    },
  };
  // The watch's snapshot is the last known listing, the journal keeps the largest recent ones: a reconcile
  // refuses a listing that shrank past maxShrinkPercent since either.
  const deps = {
    config: o.config,
    inventory,
    store: o.store,
    events,
    snapshots: o.snapshots,
    history: journal.history,
    reverts: new MemoryRevertLog(),
    ...(o.now ? { now: o.now } : {}),
  };
  const queue = new JournaledQueue(
    journal,
    async (request, ctx) => {
      const result = await reconcileRole(
        {
          ...deps,
          events: {
            publish: async (list) => {
              await publishAlerts(withAttempt(list, ctx.attempt, ctx.attempts), ctx.ids);
            },
          },
          beforeWrite: ctx.intend,
        },
        request,
      );
      // An earlier attempt wrote IAM and was stopped before its alerts were recorded: this one finds the role
      // in sync and publishes nothing, so it delivers what that attempt owed (the drift alert, with its actor).
      if (ctx.intended.length && result.outcome?.result !== 'written' && result.plan?.status === 'in-sync') {
        const published = new Set(result.events.map((e) => e.type));
        const owed = ctx.intended.filter((e) => !published.has(e.type));
        if (owed.length) {
          logger.info('alerts of an earlier attempt, stopped after its write, delivered', {
            role: request.role,
            ...correlation(request),
            events: owed.map((e) => e.type),
          });
          await publishAlerts(owed, ctx.ids);
        }
      }
      logger.info('reconciled', {
        role: request.role,
        reason: request.reason,
        status: result.plan?.status ?? 'not declared',
        outcome: result.outcome?.result ?? 'ignored',
        ...correlation(request),
        ...(ctx.attempt > 1 ? { attempt: ctx.attempt } : {}),
        events: result.events.map((e) => e.type),
      });
      o.onReconciled?.(request, result);
      return result.outcome?.result === 'failed' && result.outcome.retryable ? 'retry' : 'done';
    },
    {
      concurrency: o.concurrency ?? 4,
      ...(o.reconcileRetry ? { retry: o.reconcileRetry } : {}),
      now,
      onError: (request, err, attempt) =>
        logger.error('reconcile failed', {
          role: request.role,
          reason: request.reason,
          ...correlation(request),
          attempt,
          error: describeError(err),
        }),
      onRetry: (request, attempt, delayMs) =>
        logger.warn('reconcile will be retried', {
          role: request.role,
          reason: request.reason,
          ...correlation(request),
          attempt,
          inMs: delayMs,
        }),
    },
  );

  // Seen webhook-ids are claims in the journal: a replay after a restart does no work either.
  const webhookIds = journal.claims;
  // A resend that arrives while the first delivery of its webhook-id is still at work (its sender timed out:
  // an Astro API listing may take a minute) waits for that one's outcome. Answered "duplicate" at once, it
  // would end its sender's retries while the first may still fail, with a 503 nobody is listening for.
  const webhooksAtWork = new Map<string, Promise<unknown>>();
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    'POST /webhooks/astro': async (req, res) => {
      const rawBody = await readBody(req, MAX_BODY_BYTES);
      const request = { headers: req.headers as Record<string, string>, rawBody, nowSeconds: Math.floor(now() / 1000) };
      // Only a signed request waits: a forged one with the same webhook-id is answered at once.
      const checked = checkWebhook(request, secrets.secrets, o.config.organizationId);
      const id = checked.status === 202 ? checked.webhookId : undefined;
      const before = id === undefined ? undefined : webhooksAtWork.get(id);
      const answering = (async () => {
        await before;
        return answerWebhook(request, {
          secrets: secrets.secrets,
          organizationId: o.config.organizationId,
          seen: webhookIds,
          accept: (event) =>
            onDeploymentEvent(
              { config: o.config, inventory, queue, ...(o.snapshots ? { snapshots: o.snapshots } : {}) },
              event,
            ),
        });
      })();
      if (id !== undefined) {
        const settled = answering.then(
          () => {},
          () => {},
        );
        webhooksAtWork.set(id, settled);
        void settled.then(() => {
          if (webhooksAtWork.get(id) === settled) webhooksAtWork.delete(id);
        });
      }
      const answer = await answering;
      const { msg, ...fields } = answer.log;
      (answer.status >= 500 ? logger.error : answer.status >= 400 ? logger.warn : logger.info)(String(msg), fields);
      send(res, answer.status, answer.body);
    },
    'POST /events/eventbridge': async (req, res) => {
      // Authenticated before anything is read: a forged CloudTrail event must cause no write and no alert.
      if (!o.eventsToken) return send(res, 401, { error: 'IAM-change intake is off: set ASTRO_TRUST_EVENTS_TOKEN' });
      if (!bearerMatches(req.headers.authorization, o.eventsToken)) {
        logger.warn('IAM event rejected: missing or wrong bearer token', { status: 401 });
        return send(res, 401, { error: 'missing or wrong Authorization: Bearer token' });
      }
      const raw = await readBody(req, MAX_EVENT_BYTES);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return send(res, 400, { error: 'body is not valid JSON' });
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return send(res, 400, { error: 'expected one EventBridge event object' });
      const parsed = parseIamEvent(body);
      if (!parsed.ok) return send(res, 400, { error: parsed.error });
      const eventId = parsed.envelope.detail?.eventID;
      let verdict;
      try {
        verdict = await onIamChange(
          {
            config: o.config,
            queue,
            // An alert the intake raises (SelfTampering) is accepted work like a drift check: posted from
            // memory if the disk is full, but answered 503, so that EventBridge sends the event again.
            events: {
              publish: async (list) => {
                if (!(await publishAlerts(list)))
                  throw new StateWriteError(
                    'the alert could not be written to the state directory (it is being delivered from memory); send again',
                  );
              },
            },
            selfArns: o.selfArns,
            ownRoleArns: o.ownRoleArns ?? [],
            homeAccount: o.homeAccount,
          },
          parsed.envelope,
        );
      } catch (err) {
        if (!(err instanceof StateWriteError)) throw err;
        // Being handled from memory (its alert still goes out), but not on disk: EventBridge is asked to resend.
        logger.error('IAM event handled, but not recorded in the state directory; answered 503 to have it sent again', {
          eventId,
          error: describeError(err),
        });
        return send(res, 503, { error: 'accepted work could not be recorded; send again' });
      }
      if ('ignored' in verdict) logger.info('IAM event ignored', { eventId, reason: verdict.ignored });
      else if ('selfTampering' in verdict)
        logger.warn("astro-trust's own role changed: SelfTampering alerted", {
          eventId,
          role: verdict.selfTampering.role,
        });
      else logger.info('IAM event accepted', { eventId, ...verdict });
      send(res, 202, verdict);
    },
    'GET /healthz': async (_req, res) =>
      send(res, 200, {
        status: 'ok',
        queued: queue.size(),
        retriesWaiting: queue.retriesWaiting(),
        processed: queue.processed,
        alertsQueued: outbox.size(),
      }),
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const route = routes[`${req.method} ${(req.url ?? '').split('?')[0]}`];
    if (!route) return send(res, 404, { error: 'not found' });
    route(req, res).catch((err) => {
      if (err instanceof PayloadTooLargeError) return send(res, 413, { error: 'body too large' });
      // Bad input never gets here; an Astro API or queue failure does: the sender should retry.
      logger.error('request failed', { method: req.method, path: req.url, error: describeError(err) });
      if (!res.headersSent) send(res, 503, { error: 'temporarily unable to process; retry' });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8787, o.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;

  // What the journal owes from before a restart first: alerts not yet delivered, then reconciles (a drift
  // check keeps its actor and event id; a resync queued behind it merges into it), then the resync.
  const owedAlerts = journal.pendingAlerts();
  if (owedAlerts.length) await outbox.publish(owedAlerts);
  const owedWork = await queue.resume();
  if (owedAlerts.length || owedWork)
    logger.info('journal: resuming what was owed before the restart', {
      alerts: owedAlerts.length,
      reconciles: owedWork,
    });
  // Work accepted before a crash (a 202 whose reconcile never ran) is redone: a full resync at start.
  const resyncAll = () => queue.enqueue(o.config.roles.map((r) => ({ role: r.name, reason: 'resync' as const })));
  if (o.resyncAtStart ?? true) void resyncAll().catch(() => {});

  const resync = o.resyncIntervalMs
    ? setInterval(() => {
        void resyncAll().catch(() => {});
      }, o.resyncIntervalMs)
    : undefined;
  resync?.unref();

  // One watch run at a time; a slow listing delays the next run instead of overlapping it.
  let watching: Promise<void> | undefined;
  const watchOnce = () => {
    watching ??= watchInventory({
      config: o.config,
      inventory,
      snapshots: o.snapshots!,
      history: journal.history,
      queue,
      events,
    })
      .then((r) => {
        if (r.firstRun) logger.info('watch: first run, inventory snapshot taken');
        for (const c of r.changes)
          logger.info('watch: Deployment changed', {
            change: c.type,
            deploymentId: c.deploymentId,
            changed: c.changed,
          });
        if (r.requests.length) logger.info('watch: roles queued', { roles: r.requests.map((q) => q.role) });
      })
      .catch((err) => logger.error('watch: listing failed, nothing emitted', { error: describeError(err) }))
      .finally(() => {
        watching = undefined;
      });
    return watching;
  };
  const watch = o.watchIntervalMs && o.snapshots ? setInterval(watchOnce, o.watchIntervalMs) : undefined;
  watch?.unref();
  if (watch) void watchOnce();

  return {
    url,
    queue,
    watchOnce: () => (o.snapshots ? watchOnce() : Promise.resolve()),
    settled: async () => {
      await queue.drained();
      await outbox.idle();
    },
    close: async () => {
      if (resync) clearInterval(resync);
      if (watch) clearInterval(watch);
      await watching;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await queue.close();
      await outbox.close(o.alertDrainMs ?? 10_000);
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
