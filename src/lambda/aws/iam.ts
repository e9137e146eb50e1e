/**
 * IAM, for the functions that read or write trust policies (reconcile, backfill): the stack's own account,
 * and each account the config names through its member role (DESIGN 3.6). Every IAM call is counted.
 */
import { memberTrustStore } from '../../adapters/aws/accounts.js';
import { createIamClient, IamTrustStore, onCommand } from '../../adapters/aws/iam.js';
import type { TrustStore } from '../../app/ports.js';
import { callerAccount, routedTrustStore } from '../../wiring/accounts.js';
import { logLine, meter } from '../observability.js';
import type { Runtime } from '../runtime.js';

const stores = new WeakMap<Runtime, TrustStore>();

export function trustStore(rt: Runtime): TrustStore {
  let store = stores.get(rt);
  if (!store) {
    const region = process.env.AWS_REGION || 'us-east-1';
    const metered = (client: ReturnType<typeof createIamClient>) => onCommand(client, () => meter.count('IamCalls'));
    const home = createIamClient({});
    metered(home);
    const homeAccount = rt.env.homeAccount;
    store = routedTrustStore(rt.config, {
      // GetRole per role, never ListRoles: the functions' policies name the declared roles only (least privilege).
      home: new IamTrustStore(home, { listRolesFrom: Number.POSITIVE_INFINITY }, logLine),
      member: (account) =>
        memberTrustStore(account, {
          memberRoleName: rt.config.memberRoleName,
          region,
          log: logLine,
          onClient: metered,
        }),
      homeAccount: homeAccount ? async () => homeAccount : callerAccount({ region }),
    });
    stores.set(rt, store);
  }
  return store;
}
