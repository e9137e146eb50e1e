/**
 * The full backfill: a manual invoke (`{"dryRun": true, "roles": ["..."]}`, both optional) returns the plan;
 * the schedule (every 15 minutes) resyncs everything.
 */
import middy from '@middy/core';
import ssm from '@middy/ssm';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { reconcileAll } from '../src/app/reconcile.js';
import { planJson } from '../src/cli/render.js';
import { UsageError } from '../src/errors.js';
import { runtime, ssmFetchData } from '../src/lambda/runtime.js';

const manual = z.strictObject({ dryRun: z.boolean().optional(), roles: z.array(z.string().min(1)).optional() });

export async function backfill(event: unknown, context: Context & { astroApiToken?: string }) {
  const scheduled = typeof event === 'object' && event !== null && (event as { source?: string }).source === 'aws.events';
  let opts: z.infer<typeof manual> = {};
  if (!scheduled) {
    const parsed = manual.safeParse(event ?? {});
    if (!parsed.success) {
      throw new UsageError(`backfill input: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}; expected {"dryRun"?: boolean, "roles"?: [names]}`);
    }
    opts = parsed.data;
  }
  const rt = runtime();
  const { plan, results } = await reconcileAll(
    { config: rt.config, inventory: rt.inventory(context), store: rt.store(), events: rt.events(), snapshots: rt.lastListing() },
    { roles: opts.roles, dryRun: opts.dryRun ?? false, reason: scheduled ? 'resync' : 'manual' },
  );
  const outcomes = results.map((r) => ({ role: r.plan?.role, result: r.outcome?.result ?? (opts.dryRun ? 'planned' : 'ignored'), ...(r.outcome && 'message' in r.outcome ? { message: r.outcome.message } : {}) }));
  console.log(JSON.stringify({ msg: 'backfill', scheduled, dryRun: opts.dryRun ?? false, outcomes }));
  return { dryRun: opts.dryRun ?? false, ...planJson(plan), outcomes };
}

export const handler = middy()
  .use(ssm({ fetchData: ssmFetchData(['astroApiToken']), setToContext: true, cacheKey: 'ssm-backfill', cacheExpiry: 5 * 60_000 }))
  .handler(backfill as never);
