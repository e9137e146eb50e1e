/** The reconcile queue (SQS FIFO), for the functions that enqueue. */
import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsReconcileQueue } from '../../adapters/aws/sqs-queue.js';
import { required, type Runtime } from '../runtime.js';

const clients = new WeakMap<Runtime, SQSClient>();

export function reconcileQueue(rt: Runtime): SqsReconcileQueue {
  const client = clients.get(rt) ?? new SQSClient({});
  clients.set(rt, client);
  return new SqsReconcileQueue(client, required(rt.env.queueUrl, 'RECONCILE_QUEUE_URL'));
}
