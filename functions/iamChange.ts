/**
 * EventBridge (default bus, us-east-1, and the astro-trust bus for member accounts): IAM CloudTrail events for
 * managed roles become drift checks; a change to astro-trust's own roles is alerted as SelfTampering.
 */
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { parseIamEvent } from '../src/app/cloudtrail.js';
import { onIamChange, type IamChangeVerdict } from '../src/app/intake.js';
import type { AstroTrustEvent } from '../src/domain/events.js';
import { eventPublisher } from '../src/lambda/aws/eventbridge.js';
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
    // Only a change to astro-trust's own roles publishes (a SelfTampering alert): the bus client is made then.
    events: { publish: (e: AstroTrustEvent[]) => eventPublisher(rt).publish(e) },
    selfArns: rt.env.selfArns,
    ownRoleArns: rt.env.ownRoleArns,
    ...(rt.env.homeAccount ? { homeAccount: rt.env.homeAccount } : {}),
  };
  const verdict: IamChangeVerdict = parsed.ok ? await onIamChange(deps, parsed.envelope) : { ignored: parsed.error };
  const fields = { eventBridgeId: event.id, account: event.account, ...verdict };
  if ('selfTampering' in verdict) logger.warn("astro-trust's own role changed: SelfTampering alerted", fields);
  else logger.info('ignored' in verdict ? 'IAM event ignored' : 'IAM event accepted', fields);
  return verdict;
}

export const handler = middy<EventBridgeEvent<string, unknown>, IamChangeVerdict>().use(observed()).handler(iamChange);
