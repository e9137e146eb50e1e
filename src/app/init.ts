/**
 * `astro-trust init` (DESIGN 7.3): reads every role of the account (ListRoles, or a snapshot) and the
 * Deployment inventory, adopts the roles that already trust Astro Deployments (src/domain/adopt.ts), and
 * plans each one as the first `plan` will. Reads only: it writes nothing to AWS.
 */
import type { InventorySource, RoleLister } from './ports.js';
import { adopt, adoptedSpec, type Adoption } from '../domain/adopt.js';
import { knownIssuersOf, planRole, type RolePlan } from '../domain/plan.js';
import { UsageError } from '../errors.js';

export interface InitDeps {
  roles: RoleLister;
  inventory: InventorySource;
  now?: () => number;
}

export interface InitResult {
  adoption: Adoption;
  /** The account the roles were read in (from their ARNs); undefined when it has no role. */
  account?: string;
  rolesRead: number;
  deployments: number;
  inventorySource: string;
  /** Each adopted role as the first `plan` with the written config will show it. */
  firstPlan: RolePlan[];
}

export async function adoptEstate(deps: InitDeps): Promise<InitResult> {
  const inventory = await deps.inventory.list();
  if (inventory.deployments.length === 0)
    throw new UsageError(
      `${deps.inventory.description} lists no Deployment: init declares the Deployments roles trust today, and there is none to find (check the token's scope or the organization id)`,
    );
  const roles = await deps.roles.listAllRoles();
  const adoption = adopt(roles, inventory.deployments);
  const rules = {
    ...(adoption.identityAccounts ? { identityAccounts: adoption.identityAccounts } : {}),
    oidcIssuers: adoption.oidcIssuers,
  };
  const states = new Map(roles.map((r) => [r.name, r.state]));
  const knownIssuers = knownIssuersOf(inventory.deployments, rules);
  const firstPlan = adoption.roles.map((r) =>
    planRole({
      spec: adoptedSpec(r),
      deployments: inventory.deployments,
      state: states.get(r.name),
      knownIssuers,
      rules,
      nowMs: (deps.now ?? Date.now)(),
    }),
  );
  return {
    adoption,
    ...(roles[0] ? { account: roles[0].state.arn.accountId } : {}),
    rolesRead: roles.length,
    deployments: inventory.deployments.length,
    inventorySource: deps.inventory.description,
    firstPlan,
  };
}
