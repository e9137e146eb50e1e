/**
 * IAM, for the functions that read or write trust policies (reconcile, backfill): the stack's own account,
 * and each account the config names through its member role (DESIGN 3.6): the writer for the reconcile
 * function, the read-only `<memberRoleName>-reader` for the backfill (DESIGN 7.1), always with the hub's
 * session name and source identity. Every IAM call is counted.
 */
import { memberTrustStore } from '../../adapters/aws/accounts.js';
import { createIamClient, IamTrustStore, onCommand } from '../../adapters/aws/iam.js';
import type { TrustStore } from '../../app/ports.js';
import { HUB_SOURCE_IDENTITY, type MemberAccess } from '../../domain/self.js';
import { callerAccount, routedTrustStore } from '../../wiring/accounts.js';
import { logLine, meter } from '../observability.js';
import type { Runtime } from '../runtime.js';

const stores = new WeakMap<Runtime, Map<MemberAccess, TrustStore>>();

/** `write` only in the reconcile function, the single writer; `read` elsewhere. */
export function trustStore(rt: Runtime, access: MemberAccess): TrustStore {
  const forRuntime = stores.get(rt) ?? new Map<MemberAccess, TrustStore>();
  stores.set(rt, forRuntime);
  let store = forRuntime.get(access);
  if (!store) {
    const region = process.env.AWS_REGION || 'us-east-1';
    const metered = (client: ReturnType<typeof createIamClient>) => onCommand(client, () => meter.count('IamCalls'));
    // Paced per account and per container: docs/deploy.md sizes the reconcile concurrency to the account's limit.
    const home = createIamClient({}, { requestsPerSecond: rt.config.iamRequestsPerSecond });
    metered(home);
    const homeAccount = rt.env.homeAccount;
    store = routedTrustStore(rt.config, {
      // GetRole per role, never ListRoles: the functions' policies name the declared roles only (least privilege).
      home: new IamTrustStore(home, { listRolesFrom: Number.POSITIVE_INFINITY }, logLine),
      member: (account) =>
        memberTrustStore(account, {
          memberRoleName: rt.config.memberRoleName,
          access,
          sourceIdentity: HUB_SOURCE_IDENTITY,
          region,
          requestsPerSecond: rt.config.iamRequestsPerSecond,
          log: logLine,
          onClient: metered,
        }),
      homeAccount: homeAccount ? async () => homeAccount : callerAccount({ region }),
    });
    forRuntime.set(access, store);
  }
  return store;
}
