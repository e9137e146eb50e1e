import fc from 'fast-check';
import { entryKey, type TrustEntry } from '../../src/domain/desired';
import { policyChars, type Statement } from '../../src/domain/policy';
import { entriesInOwned, oidcSid, packTrust } from '../../src/domain/statements';

const entryArb: fc.Arbitrary<TrustEntry> = fc.oneof(
  fc.tuple(fc.stringMatching(/^[a-z]{3,20}-\d{4}$/), fc.integer({ min: 0, max: 30 })).map(([ns, d]) => ({
    kind: 'aws' as const, arn: `arn:aws:iam::111928029897:role/astro-${ns}`, deploymentIds: [`dep${d}`],
  })),
  fc.tuple(fc.constantFrom('oidc.eks.us-east-1.amazonaws.com/id/AAA', 'oidc.eks.eu-west-1.amazonaws.com/id/BBB'), fc.stringMatching(/^[a-z]{3,20}-\d{4}$/), fc.integer({ min: 0, max: 30 })).map(
    ([issuer, ns, d]) => ({ kind: 'oidc' as const, issuer, sub: `system:serviceaccount:${ns}:*`, deploymentIds: [`dep${d}`] }),
  ),
);
const foreignArb: fc.Arbitrary<Statement[]> = fc.array(
  fc.constantFrom<Statement>(
    { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
    { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::222222222222:root' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': 'abc' } } },
  ),
  { maxLength: 2 },
);

describe('packTrust (properties)', () => {
  it('never reports success over the limit, and keeps exactly the set of principals', () => {
    fc.assert(
      fc.property(fc.uniqueArray(entryArb, { selector: entryKey, maxLength: 60 }), foreignArb, fc.integer({ min: 300, max: 6000 }), (entries, foreign, limit) => {
        const r = packTrust({ version: '2012-10-17', partition: 'aws', accountId: '123456789012', foreign, entries, maxPolicyChars: limit });
        expect(r.chars).toBe(policyChars(r.document));
        if (r.ok) {
          expect(r.chars).toBeLessThanOrEqual(limit);
          expect(new Set(entriesInOwned(r.document.Statement).map(entryKey))).toEqual(new Set(entries.map(entryKey)));
          expect(r.document.Statement.slice(0, foreign.length)).toEqual(foreign);
          expect(r.document.Statement.length).toBeGreaterThan(0);
        } else {
          expect(r.chars).toBeGreaterThan(limit);
          const ids = new Set(entries.flatMap((e) => e.deploymentIds));
          expect(r.deploymentsOver).toBeGreaterThanOrEqual(ids.size > 0 ? 1 : 0);
          if (r.foreignChars <= limit) {
            // Dropping that many Deployments makes it fit; one fewer does not.
            const keep = (n: number) => new Set([...ids].sort().slice(0, ids.size - n));
            const fitsWith = (n: number) => packTrust({ version: '2012-10-17', partition: 'aws', accountId: '123456789012', foreign, maxPolicyChars: limit, entries: entries.filter((e) => e.deploymentIds.some((id) => keep(n).has(id))) }).ok;
            expect(fitsWith(r.deploymentsOver)).toBe(true);
            expect(fitsWith(r.deploymentsOver - 1)).toBe(false);
          }
          expect(r.deploymentsOver).toBeLessThanOrEqual(ids.size);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('packs all principals of a kind into one statement, one per OIDC issuer', () => {
    fc.assert(
      fc.property(fc.uniqueArray(entryArb, { selector: entryKey, minLength: 1, maxLength: 40 }), (entries) => {
        const r = packTrust({ version: '2012-10-17', partition: 'aws', accountId: '123456789012', foreign: [], entries, maxPolicyChars: 100_000 });
        const issuers = new Set(entries.flatMap((e) => (e.kind === 'oidc' ? [e.issuer] : [])));
        const hasAws = entries.some((e) => e.kind === 'aws');
        expect(r.document.Statement).toHaveLength(issuers.size + (hasAws ? 1 : 0));
        for (const issuer of issuers) expect(r.document.Statement.some((s) => s.Sid === oidcSid(issuer))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('oidcSid', () => {
  it('is a valid, stable Sid per issuer', () => {
    expect(oidcSid('oidc.eks.us-east-1.amazonaws.com/id/ABC')).toMatch(/^AstroTrustOidc[0-9a-f]{8}$/);
    expect(oidcSid('a')).toBe(oidcSid('a'));
    expect(oidcSid('a')).not.toBe(oidcSid('b'));
  });
});
