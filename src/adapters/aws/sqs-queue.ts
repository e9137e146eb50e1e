/** Reconcile requests on an SQS FIFO queue: MessageGroupId = role, so each role has one writer at a time. */
import { createHash, randomUUID } from 'node:crypto';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ReconcileRequest } from '../../domain/events.js';
import { RetryableError } from '../../errors.js';
import type { ReconcileQueue } from '../../app/ports.js';

export class EnqueueError extends RetryableError {
  override name = 'EnqueueError';
}

/** The SQS message attributes of a request: the group is the role; the dedup id is the source event (or unique). */
export function sqsEntry(r: ReconcileRequest, index: number) {
  const dedup = createHash('sha256')
    .update(`${r.role}|${r.reason}|${r.sourceEventId ?? randomUUID()}`)
    .digest('hex');
  return { Id: String(index), MessageBody: JSON.stringify(r), MessageGroupId: r.role, MessageDeduplicationId: dedup };
}

export class SqsReconcileQueue implements ReconcileQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(requests: ReconcileRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += 10) {
      const out = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: requests.slice(i, i + 10).map((r, j) => sqsEntry(r, i + j)),
        }),
      );
      if (out.Failed && out.Failed.length > 0)
        throw new EnqueueError(`SendMessageBatch: ${out.Failed.length} requests not queued (${out.Failed[0]!.Code})`);
    }
  }
}
