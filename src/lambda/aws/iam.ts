/** IAM, for the functions that read or write trust policies (reconcile, backfill). */
import { createIamClient, IamTrustStore } from '../../adapters/iam.js';
import type { Runtime } from '../runtime.js';

const stores = new WeakMap<Runtime, IamTrustStore>();

export function trustStore(rt: Runtime): IamTrustStore {
  // GetRole per role, never ListRoles: the functions' policies name the declared roles only (least privilege).
  const store = stores.get(rt) ?? new IamTrustStore(createIamClient({}), { listRolesFrom: Number.POSITIVE_INFINITY }, (l) => console.log(l));
  stores.set(rt, store);
  return store;
}
