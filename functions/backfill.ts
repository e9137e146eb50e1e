/**
 * The full backfill, through the single writer: it never writes IAM itself (DESIGN 6.3), it queues one
 * reconcile request per role on the FIFO queue (MessageGroupId = role), where the reconcile function
 * writes each role alone. The schedule (every 15 minutes) only queues; a manual invoke
 * (`{"dryRun": true, "roles": ["..."]}`, both optional) also returns the plan, and with `dryRun` queues nothing.
 */
import middy from '@middy/core';
import * as z from 'zod/mini';
import '../src/app/zod.js'; // zod's English messages
import { reconcileAll, selectRoles } from '../src/app/reconcile.js';
import { resolveRoleKeys } from '../src/app/roles.js';
import { planJson } from '../src/cli/render.js';
import type { ReconcileRequest } from '../src/domain/events.js';
import { UsageError } from '../src/errors.js';
import { lastListing, listingHistory } from '../src/lambda/aws/dynamodb.js';
import { eventPublisher } from '../src/lambda/aws/eventbridge.js';
import { trustStore } from '../src/lambda/aws/iam.js';
import { reconcileQueue } from '../src/lambda/aws/sqs.js';
import { logger, observed } from '../src/lambda/observability.js';
import { runtime } from '../src/lambda/runtime.js';
import { secrets, type WithSecrets } from '../src/lambda/secrets.js';

const manual = z.strictObject({
  dryRun: z.optional(z.boolean()),
  roles: z.optional(z.array(z.string().check(z.minLength(1)))),
});

export async function backfill(event: unknown, context: WithSecrets<'astroApiToken'>) {
  const scheduled =
    typeof event === 'object' && event !== null && (event as { source?: string }).source === 'aws.events';
  let opts: z.infer<typeof manual> = {};
  if (!scheduled) {
    const parsed = manual.safeParse(event ?? {});
    if (!parsed.success) {
      throw new UsageError(
        `backfill input: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}; expected {"dryRun"?: boolean, "roles"?: [names]}`,
      );
    }
    opts = parsed.data;
  }
  const rt = runtime();
  const keys = await resolveRoleKeys(rt.config, opts.roles);
  const roles = selectRoles(rt.config, keys).map((r) => r.name);
  const reason: ReconcileRequest['reason'] = scheduled ? 'resync' : 'manual';
  const requestId = context.awsRequestId ?? `backfill-${Date.now()}`;
  const requests = roles.map((role): ReconcileRequest => ({ role, reason, sourceEventId: `${reason}:${requestId}` }));
  if (scheduled) {
    // Every reconcile reads fresh state anyway: planning here too would only read every role twice.
    await reconcileQueue(rt).enqueue(requests);
    logger.info('backfill queued', { scheduled, enqueued: roles.length });
    return { scheduled, enqueued: roles };
  }
  const deps = {
    config: rt.config,
    inventory: rt.inventory(context),
    store: trustStore(rt, 'read'),
    events: eventPublisher(rt),
    snapshots: lastListing(rt),
    history: listingHistory(rt, { readOnly: true }),
  };
  const { plan } = await reconcileAll(deps, { ...(keys ? { roles: keys } : {}), dryRun: true, reason });
  const dryRun = opts.dryRun ?? false;
  if (!dryRun) await reconcileQueue(rt).enqueue(requests);
  logger.info(dryRun ? 'backfill planned' : 'backfill queued', {
    scheduled,
    dryRun,
    enqueued: dryRun ? 0 : roles.length,
  });
  return { dryRun, ...planJson(plan), enqueued: dryRun ? [] : roles };
}

export const handler = middy<unknown>()
  .use(observed())
  .use(secrets(['astroApiToken'], 'ssm-backfill'))
  .handler(backfill);
