/**
 * What a saved plan (DESIGN 7.3) remembers of each role's live trust policy, and how a later read is
 * compared with it: a digest of the canonical form (IAM may reorder statements and list values; that is
 * no change), and, when the digests differ, which statements changed, named by Sid.
 */
import { createHash } from 'node:crypto';
import { canonicalKey, canonicalStatement, type PolicyDocument, type Statement } from './policy.js';

/** `sha256:<hex>` of the document's canonical form (Sids included): equal exactly when IAM holds the same policy. */
export function policyDigest(doc: PolicyDocument): string {
  return `sha256:${createHash('sha256').update(canonicalKey(doc)).digest('hex')}`;
}

/** `sha256:<hex>` of some bytes (a config file as it is on disk). */
export function bytesDigest(bytes: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function label(s: Statement, index: number): string {
  return s.Sid ? `statement ${JSON.stringify(s.Sid)}` : `statement #${index + 1} (no Sid)`;
}

/**
 * The statements that differ between the policy a plan was made against and the one read now, for a
 * person: `statement "BreakGlass" added`, `statement "AstroTrustWorkloadIdentity" changed`,
 * `statement #2 (no Sid) removed`; `Version` and `Id` too. Empty when IAM holds the same policy.
 */
export function policyChanges(planned: PolicyDocument, live: PolicyDocument): string[] {
  const key = (s: Statement) => JSON.stringify(canonicalStatement(s));
  const plannedKeys = new Set(planned.Statement.map(key));
  const liveKeys = new Set(live.Statement.map(key));
  const gone = planned.Statement.map((s, i) => ({ s, i })).filter(({ s }) => !liveKeys.has(key(s)));
  const added = live.Statement.map((s, i) => ({ s, i })).filter(({ s }) => !plannedKeys.has(key(s)));
  const out: string[] = [];
  if ((planned.Version ?? '2008-10-17') !== (live.Version ?? '2008-10-17'))
    out.push(`Version ${JSON.stringify(planned.Version ?? null)} -> ${JSON.stringify(live.Version ?? null)}`);
  if (planned.Id !== live.Id)
    out.push(`Id ${JSON.stringify(planned.Id ?? null)} -> ${JSON.stringify(live.Id ?? null)}`);
  const changedSids = new Set(gone.flatMap(({ s }) => (s.Sid && added.some((a) => a.s.Sid === s.Sid) ? [s.Sid] : [])));
  for (const sid of changedSids) out.push(`statement ${JSON.stringify(sid)} changed`);
  for (const { s, i } of gone) if (!s.Sid || !changedSids.has(s.Sid)) out.push(`${label(s, i)} removed`);
  for (const { s, i } of added) if (!s.Sid || !changedSids.has(s.Sid)) out.push(`${label(s, i)} added`);
  return out;
}
