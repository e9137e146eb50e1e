/**
 * Adopting an estate (DESIGN 7.3, `astro-trust init`): from the trust policies IAM holds and the Deployment
 * inventory, the roles that already trust Astro Deployments (their workload identities, or their namespaces
 * on their cluster's OIDC issuer), each declaring exactly the Deployments it trusts today, by id. What a
 * config cannot say exactly (an identity no listed Deployment has, a namespace wildcard, a Condition, one
 * service-account list for Deployments that differ) is kept as a note for the person adopting.
 */
import { parseRoleArn, type Deployment } from './deployment.js';
import {
  COMPONENTS,
  desiredTrust,
  entryKey,
  issuerAllowed,
  NO_RULES,
  type Component,
  type IdentityRules,
  type RoleSpec,
  type TrustKind,
} from './desired.js';
import { ASTRO_IDENTITY, isWildcardSubject, namespaceOf } from './findings.js';
import type { RoleState } from './plan.js';
import { asList, type Statement } from './policy.js';
import { entriesTrusted, issuerOfProviderArn, subjectsOf } from './statements.js';

export { entriesTrusted };

export interface AdoptedRole {
  name: string;
  trust: TrustKind;
  /** The Deployments it trusts today, in inventory order. */
  deploymentIds: string[];
  serviceAccounts: 'all' | Component[];
  /** The statements the trust was found in: `"Sid"`, or `#n` for one without Sid. */
  statements: string[];
  /** Where the config cannot say exactly what IAM holds, and what the plan will show for it. */
  notes: string[];
}

export interface Adoption {
  roles: AdoptedRole[];
  /** Roles whose trust in Astro identities or issuers no config can declare; the notes say why. */
  notAdopted: { name: string; notes: string[] }[];
  /** Set when a trusted identity is neither Astro-managed nor in the role's account: the accounts they are in. */
  identityAccounts?: string[];
  /** Issuers trusted today that are not EKS cluster issuers (to list in inventory.oidcIssuers). */
  oidcIssuers: string[];
}

export interface RoleToAdopt {
  name: string;
  state: RoleState;
}

const label = (s: Statement, i: number) => (s.Sid ? JSON.stringify(s.Sid) : `#${i + 1}`);
const identityKey = (arn: string) => {
  const r = parseRoleArn(arn);
  return r ? `${r.partition}:${r.accountId}:${r.name}` : arn;
};

/** The config component a service account name stands for in a namespace, `all` for `*`, or undefined. */
function componentOf(ns: string, account: string): Component | 'all' | undefined {
  if (account === '*') return 'all';
  if (account === `${ns}-kpo`) return 'kpo';
  if (account === `${ns}-webserver-serviceaccount`) return 'apiserver';
  return COMPONENTS.find((c) => account === `${ns}-${c}-serviceaccount`);
}

interface Found {
  wi: Map<string, Deployment>;
  oidc: Map<string, { d: Deployment; accounts: Set<Component | 'all'> }>;
  wiStatements: Set<string>;
  oidcStatements: Set<string>;
  notes: string[];
}

function findTrust(role: RoleToAdopt, deployments: Deployment[]): Found {
  const byIdentity = new Map<string, Deployment[]>();
  const byNamespace = new Map<string, Deployment[]>();
  const issuers = new Set<string>();
  for (const d of deployments) {
    for (const arn of [d.workloadIdentity, d.drWorkloadIdentity])
      if (arn) byIdentity.set(identityKey(arn), [...(byIdentity.get(identityKey(arn)) ?? []), d]);
    for (const issuer of [d.oidcIssuer, d.drOidcIssuer]) {
      if (!issuer) continue;
      issuers.add(issuer);
      const k = `${issuer} ${d.namespace}`;
      byNamespace.set(k, [...(byNamespace.get(k) ?? []), d]);
    }
  }
  const f: Found = { wi: new Map(), oidc: new Map(), wiStatements: new Set(), oidcStatements: new Set(), notes: [] };
  role.state.document.Statement.forEach((s, i) => {
    if (s.Effect !== 'Allow' || s.Principal === undefined || s.NotPrincipal !== undefined) return;
    const where = `statement ${label(s, i)}`;
    const principal = s.Principal === '*' ? { AWS: '*' } : s.Principal;
    let adoptedHere = false;
    for (const arn of asList(principal.AWS)) {
      const ds = byIdentity.get(identityKey(arn));
      if (ds) {
        ds.forEach((d) => f.wi.set(d.id, d));
        f.wiStatements.add(label(s, i));
        adoptedHere = true;
      } else if (ASTRO_IDENTITY.test(arn)) {
        f.notes.push(
          `${where} trusts ${arn}, the identity of no Deployment in the inventory: not declared; plan shows it as a finding (a deleted Deployment, or another organization's)`,
        );
      }
    }
    for (const fed of asList(principal.Federated)) {
      const issuer = issuerOfProviderArn(fed);
      if (!issuer || !issuers.has(issuer)) continue;
      const subs = subjectsOf(s, issuer);
      if (subs.length === 0)
        f.notes.push(
          `${where} trusts every service account on the Astro issuer ${issuer} (no sub condition): not declared; plan shows it as a namespace-wildcard finding`,
        );
      for (const sub of subs) {
        const ns = namespaceOf(sub);
        if (isWildcardSubject(sub) || ns === undefined) {
          f.notes.push(
            `${where} trusts ${sub} on ${issuer}, every tenant of the cluster: not declared; plan shows it as a namespace-wildcard finding`,
          );
          continue;
        }
        const ds = byNamespace.get(`${issuer} ${ns}`);
        if (!ds) {
          f.notes.push(`${where} trusts namespace ${ns} on ${issuer}, of no Deployment in the inventory: not declared`);
          continue;
        }
        const component = componentOf(ns, sub.slice(`system:serviceaccount:${ns}:`.length));
        if (!component) {
          f.notes.push(
            `${where} trusts ${sub}, not an Astro service account of namespace ${ns} (scheduler, worker, triggerer, dag-processor, apiserver/webserver, kpo, or *): not declared`,
          );
          continue;
        }
        for (const d of ds) {
          const entry = f.oidc.get(d.id) ?? { d, accounts: new Set() };
          entry.accounts.add(component);
          f.oidc.set(d.id, entry);
        }
        f.oidcStatements.add(label(s, i));
        adoptedHere = true;
      }
    }
    if (adoptedHere && s.Condition && Object.keys(s.Condition).length > 0 && principal.AWS !== undefined)
      f.notes.push(
        `${where} grants its Astro identities only under a Condition (${Object.keys(s.Condition).join(', ')}); astro-trust's own statement has none: once enforced, they are trusted without it`,
      );
  });
  return f;
}

function inOrder(ids: Set<string>, deployments: Deployment[]): string[] {
  return deployments.filter((d) => ids.has(d.id)).map((d) => d.id);
}

/** The spec a config line for an adopted role stands for (observe, defaults), to plan it the way `plan` will. */
export function adoptedSpec(r: AdoptedRole): RoleSpec {
  return {
    name: r.name,
    roleName: r.name,
    trust: r.trust,
    mode: 'observe',
    maxPolicyChars: 2048,
    maxRemovals: 5,
    maxRevertsPerHour: 3,
    deployments: r.deploymentIds.map((id) => ({ id })),
    serviceAccounts: r.serviceAccounts,
  };
}

/** Which roles to declare, and how, so that the config says what IAM trusts today (see the module comment). */
export function adopt(roles: RoleToAdopt[], deployments: Deployment[]): Adoption {
  const adopted: { role: RoleToAdopt; r: AdoptedRole }[] = [];
  const notAdopted: Adoption['notAdopted'] = [];
  // By name: the same estate gives the same config, whatever order IAM lists it in.
  for (const role of [...roles].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const f = findTrust(role, deployments);
    if (f.wi.size === 0 && f.oidc.size === 0) {
      if (f.notes.length > 0) notAdopted.push({ name: role.name, notes: f.notes });
      continue;
    }
    const trust: TrustKind = f.wi.size >= f.oidc.size ? 'workload-identity' : 'oidc';
    const notes = [...f.notes];
    let serviceAccounts: AdoptedRole['serviceAccounts'] = 'all';
    if (trust === 'workload-identity' && f.oidc.size > 0)
      notes.push(
        `it also trusts ${f.oidc.size} Deployment${f.oidc.size === 1 ? '' : 's'} through OIDC (${[...f.oidcStatements].join(', ')}); a role has one trust kind: that trust stays as it is, and plan shows it as findings`,
      );
    if (trust === 'oidc') {
      if (f.wi.size > 0)
        notes.push(
          `it also trusts ${f.wi.size} Deployment identit${f.wi.size === 1 ? 'y' : 'ies'} (${[...f.wiStatements].join(', ')}); a role has one trust kind: that trust stays as it is, and plan shows it as findings`,
        );
      const sets = [...f.oidc.values()].map((e) => e.accounts);
      if (!sets.some((s) => s.has('all'))) {
        const union = new Set(sets.flatMap((s) => [...s] as Component[]));
        serviceAccounts = COMPONENTS.filter((c) => union.has(c));
      }
    }
    const ids = new Set(trust === 'workload-identity' ? f.wi.keys() : f.oidc.keys());
    adopted.push({
      role,
      r: {
        name: role.name,
        trust,
        deploymentIds: inOrder(ids, deployments),
        serviceAccounts,
        statements: [...(trust === 'workload-identity' ? f.wiStatements : f.oidcStatements)],
        notes,
      },
    });
  }

  // The identity rules (DESIGN 6.2) must allow what IAM trusts today: customer identities in another account
  // need inventory.identityAccounts, issuers other than EKS ones inventory.oidcIssuers.
  const byId = new Map(deployments.map((d) => [d.id, d]));
  const oidcIssuers = new Set<string>();
  let needAccounts = false;
  const accounts = new Set<string>();
  for (const { role, r } of adopted) {
    const desired = desiredTrust(adoptedSpec(r), deployments, role.state.arn, NO_RULES);
    for (const id of r.deploymentIds) {
      const d = byId.get(id)!;
      if (r.trust === 'workload-identity') {
        for (const arn of [d.workloadIdentity, d.drWorkloadIdentity]) {
          const parsed = arn ? parseRoleArn(arn) : undefined;
          if (parsed) accounts.add(parsed.accountId);
        }
      } else {
        for (const issuer of [d.oidcIssuer, d.drOidcIssuer])
          if (issuer && !issuerAllowed(issuer, NO_RULES)) oidcIssuers.add(issuer);
      }
    }
    if (desired.skipped.some((s) => /neither Astro-managed/.test(s.reason))) needAccounts = true;
  }
  const rules: IdentityRules = {
    ...(needAccounts ? { identityAccounts: [...accounts].sort() } : {}),
    oidcIssuers: [...oidcIssuers].sort(),
  };

  // What declaring exactly these Deployments would trust, against what IAM trusts today.
  for (const { role, r } of adopted) {
    const desired = desiredTrust(adoptedSpec(r), deployments, role.state.arn, rules);
    const today = new Set(entriesTrusted(role.state.document.Statement).map(entryKey));
    const more = desired.entries.filter((e) => !today.has(entryKey(e)));
    if (more.length > 0)
      r.notes.push(
        `declaring these Deployments trusts ${more.length} principal${more.length === 1 ? '' : 's'} the role does not trust today (${more
          .slice(0, 5)
          .map((e) => (e.kind === 'aws' ? e.arn : `${e.issuer}:sub=${e.sub}`))
          .join(
            ', ',
          )}${more.length > 5 ? ', ...' : ''}): a DR identity or issuer, or one service-account list for Deployments that differ; once enforced, the role trusts them too`,
      );
    for (const s of desired.skipped)
      r.notes.push(`Deployment ${s.name} (${s.deploymentId}) cannot be trusted: ${s.reason}`);
  }
  return {
    roles: adopted.map((a) => a.r),
    notAdopted,
    ...(rules.identityAccounts ? { identityAccounts: rules.identityAccounts } : {}),
    oidcIssuers: rules.oidcIssuers,
  };
}
