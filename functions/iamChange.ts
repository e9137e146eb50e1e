/** EventBridge (default bus, us-east-1): IAM CloudTrail events for managed roles become drift checks. */
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { parseIamEvent } from '../src/app/cloudtrail.js';
import { onIamChange, type IamChangeVerdict } from '../src/app/intake.js';
import { reconcileQueue } from '../src/lambda/aws/sqs.js';
import { logger, observed } from '../src/lambda/observability.js';
import { runtime } from '../src/lambda/runtime.js';

export async function iamChange(event: EventBridgeEvent<string, unknown>): Promise<IamChangeVerdict> {
  const rt = runtime();
  const parsed = parseIamEvent(event);
  if (parsed.ok && parsed.envelope.detail?.eventID) logger.appendKeys({ eventId: parsed.envelope.detail.eventID });
  const deps = {
    config: rt.config,
    queue: reconcileQueue(rt),
    selfArns: rt.env.selfArns,
    ...(rt.env.homeAccount ? { homeAccount: rt.env.homeAccount } : {}),
  };
  const verdict: IamChangeVerdict = parsed.ok ? await onIamChange(deps, parsed.envelope) : { ignored: parsed.error };
  logger.info('ignored' in verdict ? 'IAM event ignored' : 'IAM event accepted', {
    eventBridgeId: event.id,
    account: event.account,
    ...verdict,
  });
  return verdict;
}

export const handler = middy<EventBridgeEvent<string, unknown>, IamChangeVerdict>().use(observed()).handler(iamChange);
