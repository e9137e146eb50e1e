/**
 * Metrics without touching the use cases: the inventory and the event publisher wrapped so that each
 * listing, and each event astro-trust publishes, is also counted (CloudWatch EMF on Lambda).
 */
import type { AstroTrustEvent } from '../domain/events.js';
import type { EventPublisher, InventorySource, Meter, MetricName } from '../app/ports.js';

/** Counts every real listing (a listing served from the shared recent one is not a listing). */
export function meteredInventory(source: InventorySource, meter: Meter): InventorySource {
  return {
    description: source.description,
    list: async () => {
      meter.count('AstroListings');
      return source.list();
    },
  };
}

/** What each event counts as: trust writes, drift, failures, Deployments left out for lack of room, refused listings. */
export function metricsOf(event: AstroTrustEvent): [MetricName, number][] {
  switch (event.type) {
    case 'TrustPolicyUpdated':
      return [['TrustWrites', 1]];
    case 'DriftDetected':
      return [['Drift', 1]];
    case 'ReconcileFailed':
      return [['Failures', 1]];
    case 'TrustPolicyTooLarge':
      return [['NotFitting', event.detail.deploymentsNotFitting?.length ?? 0]];
    case 'InventoryRefused':
      return [['InventoryRefused', 1]];
    case 'SelfTampering':
      return [['SelfTampering', 1]];
    case 'GuardStopped':
      return [];
  }
}

export function meteredPublisher(publisher: EventPublisher, meter: Meter): EventPublisher {
  return {
    publish: async (events) => {
      await publisher.publish(events);
      for (const e of events) for (const [name, value] of metricsOf(e)) meter.count(name, value);
    },
  };
}
