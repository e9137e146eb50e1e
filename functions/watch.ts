/**
 * Schedule (every minute): list the Deployments, compare with the snapshot in DynamoDB, and queue
 * reconciles for the roles the changes affect. Astro sends no lifecycle webhooks; this makes its own.
 */
import middy from '@middy/core';
import { watchInventory, type WatchResult } from '../src/app/watch.js';
import { listingHistory, snapshots } from '../src/lambda/aws/dynamodb.js';
import { eventPublisher } from '../src/lambda/aws/eventbridge.js';
import { reconcileQueue } from '../src/lambda/aws/sqs.js';
import { logger, observed } from '../src/lambda/observability.js';
import { runtime } from '../src/lambda/runtime.js';
import { secrets, type WithSecrets } from '../src/lambda/secrets.js';

/** The changes as the function returns and logs them: what changed, not the whole Deployments. */
type WatchSummary = Omit<WatchResult, 'changes'> & {
  changes: { type: string; deploymentId: string; changed: string[] }[];
};

export async function watch(_event: unknown, context: WithSecrets<'astroApiToken'>): Promise<WatchSummary> {
  const rt = runtime();
  const result = await watchInventory({
    config: rt.config,
    inventory: rt.inventory(context),
    snapshots: snapshots(rt),
    history: listingHistory(rt),
    queue: reconcileQueue(rt),
    events: eventPublisher(rt),
  });
  const changes = result.changes.map((c) => ({ type: c.type, deploymentId: c.deploymentId, changed: c.changed }));
  logger.info('watch', { firstRun: result.firstRun, changes, roles: result.requests.map((r) => r.role) });
  return { ...result, changes };
}

export const handler = middy<unknown, WatchSummary>()
  .use(observed())
  .use(secrets(['astroApiToken'], 'ssm-watch'))
  .handler(watch);
