/** astro-trust's own events on its EventBridge bus (`source: astro-trust`, `detail-type`: the event type). */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, type AstroTrustEvent } from '../../domain/events.js';
import { RetryableError } from '../../errors.js';
import type { EventPublisher } from '../../app/ports.js';

export class EventPublishError extends RetryableError {
  override name = 'EventPublishError';
}

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: AstroTrustEvent[]): Promise<void> {
    const entries: PutEventsRequestEntry[] = events.map((e) => ({
      EventBusName: this.busName,
      Source: EVENT_SOURCE,
      DetailType: e.type,
      Detail: JSON.stringify(e.detail),
    }));
    // PutEvents takes 10 entries a call; failed entries are retried once, then reported.
    for (let i = 0; i < entries.length; i += 10) {
      let batch = entries.slice(i, i + 10);
      for (let attempt = 1; batch.length > 0; attempt++) {
        const out = await this.client.send(new PutEventsCommand({ Entries: batch }));
        const failed = batch.filter((_, j) => out.Entries?.[j]?.ErrorCode);
        if (failed.length === 0) break;
        if (attempt >= 2)
          throw new EventPublishError(
            `PutEvents: ${failed.length} events not accepted (${out.Entries?.find((x) => x.ErrorCode)?.ErrorCode})`,
          );
        batch = failed;
      }
    }
  }
}
