/** astro-trust's own bus, for the functions that publish events. */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EventBridgePublisher } from '../../adapters/eventbridge.js';
import { required, type Runtime } from '../runtime.js';

const clients = new WeakMap<Runtime, EventBridgeClient>();

export function eventPublisher(rt: Runtime): EventBridgePublisher {
  const client = clients.get(rt) ?? new EventBridgeClient({});
  clients.set(rt, client);
  return new EventBridgePublisher(client, required(rt.env.busName, 'EVENT_BUS_NAME'));
}
