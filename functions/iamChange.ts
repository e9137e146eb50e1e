/** EventBridge (default bus, us-east-1): IAM CloudTrail events for managed roles become drift checks. */
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { parseIamEvent } from '../src/app/cloudtrail.js';
import { onIamChange, type IamChangeVerdict } from '../src/app/intake.js';
import { runtime } from '../src/lambda/runtime.js';
import { reconcileQueue } from '../src/lambda/aws/sqs.js';

export async function iamChange(event: EventBridgeEvent<string, unknown>): Promise<IamChangeVerdict> {
  const rt = runtime();
  const parsed = parseIamEvent(event);
  const verdict: IamChangeVerdict = parsed.ok ? await onIamChange({ config: rt.config, queue: reconcileQueue(rt), selfArns: rt.env.selfArns }, parsed.envelope) : { ignored: parsed.error };
  console.log(JSON.stringify({ msg: 'iam change', id: event.id, ...verdict }));
  return verdict;
}

export const handler = middy<EventBridgeEvent<string, unknown>, IamChangeVerdict>().handler(iamChange);
