/** SQS FIFO (MessageGroupId = role, batch size 1): the single writer of each role. Partial batch failures reported. */
import middy from '@middy/core';
import sqsPartialBatchFailure from '@middy/sqs-partial-batch-failure';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { reconcileRole } from '../src/app/reconcile.js';
import { withAttempt } from '../src/domain/attempts.js';
import type { AstroTrustEvent, ReconcileRequest } from '../src/domain/events.js';
import { describeError, isRetryable, RetryableError } from '../src/errors.js';
import { lastListing, listingHistory, reverts, sharedInventory } from '../src/lambda/aws/dynamodb.js';
import { eventPublisher } from '../src/lambda/aws/eventbridge.js';
import { trustStore } from '../src/lambda/aws/iam.js';
import { RECONCILE_MAX_RECEIVES } from '../src/lambda/redrive.js';
import { logger, observed } from '../src/lambda/observability.js';
import { runtime } from '../src/lambda/runtime.js';
import { secrets, type WithSecrets } from '../src/lambda/secrets.js';

type ReconcileContext = WithSecrets<'astroApiToken'>;

/** A retryable failure handed back to SQS: the message becomes visible again (then the dead-letter queue). */
class ReconcileRetryError extends RetryableError {
  override name = 'ReconcileRetryError';
}

async function one(record: SQSRecord, context: ReconcileContext) {
  let request: ReconcileRequest;
  try {
    request = JSON.parse(record.body);
  } catch {
    // A message that is not a request can never succeed: log it and let it go.
    logger.error('unreadable reconcile request dropped', { messageId: record.messageId });
    return 'dropped';
  }
  // Each line about this record names the role and what caused the request (the webhook's id, the CloudTrail event's).
  const log = logger.createChild({
    persistentKeys: {
      role: request.role,
      reason: request.reason,
      messageId: record.messageId,
      ...(request.sourceEventId ? { sourceEventId: request.sourceEventId } : {}),
      ...(request.drift?.eventId ? { eventId: request.drift.eventId } : {}),
    },
  });
  const rt = runtime();
  // SQS redelivers a failed message up to maxReceiveCount times: a failure says which receive this was, and
  // on the last one that no retry follows.
  const attempt = Number(record.attributes?.ApproximateReceiveCount) || 1;
  const bus = eventPublisher(rt);
  const deps = {
    config: rt.config,
    inventory: sharedInventory(rt, rt.inventory(context)),
    store: trustStore(rt, 'write'),
    events: { publish: (list: AstroTrustEvent[]) => bus.publish(withAttempt(list, attempt, RECONCILE_MAX_RECEIVES)) },
    snapshots: lastListing(rt),
    history: listingHistory(rt),
    reverts: reverts(rt),
  };
  let result;
  try {
    result = await reconcileRole(deps, request);
  } catch (err) {
    // Retrying cannot help a terminal error (a refused listing, a policy IAM handed back unparsable): it was
    // alerted; let the message go instead of cycling it into the dead-letter queue.
    if (isRetryable(err)) throw err;
    log.error('reconcile failed, not retried', { error: describeError(err) });
    return 'failed';
  }
  log.info('reconciled', {
    status: result.plan?.status ?? 'not declared',
    outcome: result.outcome?.result ?? 'ignored',
    events: result.events.map((e) => e.type),
  });
  if (result.outcome?.result === 'failed' && result.outcome.retryable) {
    throw new ReconcileRetryError(`reconcile ${request.role} failed: ${result.outcome.message}`);
  }
  return result.outcome?.result ?? 'ignored';
}

export async function reconcile(event: SQSEvent, context: ReconcileContext) {
  return Promise.allSettled(event.Records.map((r) => one(r, context)));
}

export const handler = middy<SQSEvent>()
  .use(observed())
  .use(secrets(['astroApiToken'], 'ssm-reconcile'))
  .use(sqsPartialBatchFailure())
  .handler(reconcile);
