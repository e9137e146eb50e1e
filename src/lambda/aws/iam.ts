/** IAM, for the functions that read or write trust policies (reconcile, backfill). */
import { createIamClient, IamTrustStore, onCommand } from '../../adapters/iam.js';
import { logLine, meter } from '../observability.js';
import type { Runtime } from '../runtime.js';

const stores = new WeakMap<Runtime, IamTrustStore>();

export function trustStore(rt: Runtime): IamTrustStore {
  // GetRole per role, never ListRoles: the functions' policies name the declared roles only (least privilege).
  let store = stores.get(rt);
  if (!store) {
    const client = createIamClient({});
    onCommand(client, () => meter.count('IamCalls'));
    store = new IamTrustStore(client, { listRolesFrom: Number.POSITIVE_INFINITY }, logLine);
  }
  stores.set(rt, store);
  return store;
}
