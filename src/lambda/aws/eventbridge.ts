/** astro-trust's own bus, for the functions that publish events. */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EventBridgePublisher } from '../../adapters/aws/eventbridge.js';
import { meteredPublisher } from '../../adapters/metered.js';
import type { EventPublisher } from '../../app/ports.js';
import { meter } from '../observability.js';
import { required, type Runtime } from '../runtime.js';

const clients = new WeakMap<Runtime, EventBridgeClient>();

/** The bus, with each published event counted (trust writes, drift, failures...). */
export function eventPublisher(rt: Runtime): EventPublisher {
  const client = clients.get(rt) ?? new EventBridgeClient({});
  clients.set(rt, client);
  return meteredPublisher(new EventBridgePublisher(client, required(rt.env.busName, 'EVENT_BUS_NAME')), meter);
}
