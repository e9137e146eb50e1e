/** IAM in memory for tests that plan and apply without moto: roles as states, writes merged as IAM would. */
import type { OwnedTrust, TrustStore } from '../../src/app/ports';
import type { RoleState } from '../../src/domain/plan';
import { withOwned } from '../../src/domain/statements';

export function memoryTrustStore(roles: Map<string, RoleState>, oidcProviders: Set<string> = new Set()): TrustStore {
  return {
    readRoles: async (names) => new Map(names.map((n) => [n, roles.get(n)])),
    writeTrust: async (name: string, owned: OwnedTrust) => {
      const state = roles.get(name)!;
      roles.set(name, { ...state, document: withOwned(state.document, owned.statements) });
      return 'written';
    },
    writeSavedTrust: async (name, saved) => {
      const state = roles.get(name)!;
      roles.set(name, { ...state, document: saved.document });
      return 'written';
    },
    listOidcProviders: async () => oidcProviders,
    ensureOidcProviders: async () => ({ created: [] }),
  };
}
