import fc from 'fast-check';
import { entryKey, type TrustEntry } from '../../src/domain/desired';
import { policyChars, type Statement } from '../../src/domain/policy';
import {
  entriesInOwned,
  NO_TRUST_SID,
  oidcSid,
  ownedStatements,
  packTrust,
  withOwned,
} from '../../src/domain/statements';

const entryArb: fc.Arbitrary<TrustEntry> = fc.oneof(
  fc.tuple(fc.stringMatching(/^[a-z]{3,20}-\d{4}$/), fc.integer({ min: 0, max: 30 })).map(([ns, d]) => ({
    kind: 'aws' as const,
    arn: `arn:aws:iam::111928029897:role/astro-${ns}`,
    deploymentIds: [`dep${d}`],
  })),
  fc
    .tuple(
      fc.constantFrom(
        'oidc.eks.us-east-1.amazonaws.com/id/AAAA0000AAAA0000AAAA0000AAAA0000',
        'oidc.eks.eu-west-1.amazonaws.com/id/BBBB1111BBBB1111BBBB1111BBBB1111',
      ),
      fc.stringMatching(/^[a-z]{3,20}-\d{4}$/),
      fc.integer({ min: 0, max: 30 }),
    )
    .map(([issuer, ns, d]) => ({
      kind: 'oidc' as const,
      issuer,
      sub: `system:serviceaccount:${ns}:*`,
      deploymentIds: [`dep${d}`],
    })),
);
const foreignArb: fc.Arbitrary<Statement[]> = fc.array(
  fc.constantFrom<Statement>(
    { Sid: 'AllowGlue', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
    {
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::222222222222:root' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'sts:ExternalId': 'abc' } },
    },
  ),
  { maxLength: 2 },
);

const ACCT = { partition: 'aws', accountId: '123456789012' };
const doc = (statements: Statement[]) => ({ Version: '2012-10-17', Statement: statements });
const depIds = (entries: TrustEntry[]) => [...new Set(entries.flatMap((e) => e.deploymentIds))];

describe('packTrust (properties): size without hostages (DESIGN 6.1)', () => {
  const caseArb = fc.record({
    entries: fc.uniqueArray(entryArb, { selector: entryKey, maxLength: 60 }),
    stale: fc.uniqueArray(entryArb, { selector: entryKey, maxLength: 10 }),
    trustedShare: fc.double({ min: 0, max: 1, noNaN: true }),
    foreign: foreignArb,
    limit: fc.integer({ min: 300, max: 6000 }),
    seed: fc.integer(),
  });

  it('drops every stale entry, keeps every trusted desired one, adds new Deployments oldest first, and names exactly those left out', () => {
    fc.assert(
      fc.property(caseArb, ({ entries, stale, trustedShare, foreign, limit, seed }) => {
        const wanted = new Set(entries.map(entryKey));
        const staleOnly = stale.filter((e) => !wanted.has(entryKey(e)));
        const trustedDesired = entries.filter((_, i) => i < entries.length * trustedShare);
        const trusted = new Set([...trustedDesired, ...staleOnly].map(entryKey));
        const order = depIds(entries).sort(
          (a, b) => ((a.charCodeAt(3) * 31 + seed) % 97) - ((b.charCodeAt(3) * 31 + seed) % 97) || (a < b ? -1 : 1),
        );
        const currentChars = policyChars({
          Version: '2012-10-17',
          Statement: [...foreign, ...ownedStatements('aws', ACCT.accountId, [...trustedDesired, ...staleOnly])],
        });
        const r = packTrust({
          ...ACCT,
          current: doc(foreign),
          entries,
          trusted,
          order,
          maxPolicyChars: limit,
          currentChars,
        });
        const inDoc = new Set(entriesInOwned(r.document.Statement).map(entryKey));

        expect(r.chars).toBe(policyChars(r.document));
        expect(r.document.Statement.slice(0, foreign.length)).toEqual(foreign);
        // Removals are always part of what is written.
        for (const e of staleOnly) expect(inDoc.has(entryKey(e))).toBe(false);
        // The document holds exactly the kept entries, all desired.
        expect(inDoc).toEqual(new Set(r.kept.map(entryKey)));
        for (const k of inDoc) expect(wanted.has(k)).toBe(true);
        if (r.writable && r.chars > limit) expect(r.chars).toBeLessThanOrEqual(currentChars);
        if (r.chars <= limit) {
          // Trusted principals keep their place.
          for (const e of trustedDesired) expect(inDoc.has(entryKey(e))).toBe(true);
        }
        // notFitting is exact: a Deployment is listed iff one of its desired entries is not in the document.
        const missing = new Set(entries.filter((e) => !inDoc.has(entryKey(e))).flatMap((e) => e.deploymentIds));
        expect(new Set(r.notFitting)).toEqual(missing);
        // Oldest first: every Deployment fully added is older than every one left out (among those with new entries).
        const rank = new Map(order.map((id, i) => [id, i]));
        const newIds = new Set(entries.filter((e) => !trusted.has(entryKey(e))).flatMap((e) => e.deploymentIds));
        const added = [...newIds].filter((id) => !missing.has(id));
        const oldestLeftOut = Math.min(...r.notFitting.map((id) => rank.get(id)!));
        for (const id of added) {
          const onlyVia = entries.filter((e) => e.deploymentIds.includes(id) && !trusted.has(entryKey(e)));
          if (onlyVia.length > 0) expect(rank.get(id)!).toBeLessThan(oldestLeftOut);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('a role at the quota still offboards: one deleted Deployment is removed while eight new ones wait (regression)', () => {
    const aws = (n: number, id = `dep${n}`): TrustEntry => ({
      kind: 'aws',
      arn: `arn:aws:iam::111928029897:role/astro-tenant-${1000 + n}`,
      deploymentIds: [id],
    });
    const today = Array.from({ length: 20 }, (_, i) => aws(i));
    const limit = policyChars({ Version: '2012-10-17', Statement: ownedStatements('aws', ACCT.accountId, today) });
    const desired = [...today.slice(1), ...Array.from({ length: 8 }, (_, i) => aws(100 + i))];
    const order = desired.flatMap((e) => e.deploymentIds);
    const r = packTrust({
      ...ACCT,
      current: doc([]),
      entries: desired,
      trusted: new Set(today.map(entryKey)),
      order,
      maxPolicyChars: limit,
      currentChars: limit,
    });
    const inDoc = new Set(entriesInOwned(r.document.Statement).map(entryKey));
    expect(inDoc.has(entryKey(today[0]!))).toBe(false);
    expect(r.writable).toBe(true);
    expect(r.chars).toBeLessThanOrEqual(limit);
    // The freed room goes to the oldest new Deployment; the rest wait, named exactly.
    expect(inDoc.has(entryKey(desired[19]!))).toBe(true);
    expect(r.notFitting).toEqual(order.slice(20));
  });

  it('packs all principals of a kind into one statement, one per OIDC issuer', () => {
    fc.assert(
      fc.property(fc.uniqueArray(entryArb, { selector: entryKey, minLength: 1, maxLength: 40 }), (entries) => {
        const r = packTrust({
          ...ACCT,
          current: doc([]),
          entries,
          trusted: new Set(),
          order: [],
          maxPolicyChars: 100_000,
        });
        const issuers = new Set(entries.flatMap((e) => (e.kind === 'oidc' ? [e.issuer] : [])));
        const hasAws = entries.some((e) => e.kind === 'aws');
        expect(r.document.Statement).toHaveLength(issuers.size + (hasAws ? 1 : 0));
        for (const issuer of issuers) expect(r.document.Statement.some((s) => s.Sid === oidcSid(issuer))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('withOwned (DESIGN 6.3)', () => {
  const glue: Statement = {
    Sid: 'AllowGlue',
    Effect: 'Allow',
    Principal: { Service: 'glue.amazonaws.com' },
    Action: 'sts:AssumeRole',
  };
  const mine: Statement = {
    Sid: 'AstroTrustWorkloadIdentity',
    Effect: 'Allow',
    Principal: { AWS: ['arn:aws:iam::111928029897:role/astro-a'] },
    Action: 'sts:AssumeRole',
  };
  const stale: Statement = { ...mine, Principal: { AWS: ['arn:aws:iam::111928029897:role/astro-old'] } };

  it.each<[string, Record<string, unknown>]>([
    ['no Version (IAM reads it as 2008-10-17, where ${aws:username} is literal text)', {}],
    ['Version 2008-10-17', { Version: '2008-10-17' }],
    ['Version 2012-10-17 and an Id', { Version: '2012-10-17', Id: 'team-a' }],
  ])('keeps %s and every foreign statement, in order, replacing only owned ones', (_l, top) => {
    const current = { ...top, Statement: [glue, stale, { ...glue, Sid: 'Second' }] };
    const out = withOwned(current, [mine]);
    expect(out).toEqual({ ...top, Statement: [glue, { ...glue, Sid: 'Second' }, mine] });
  });

  it('writes a deny-only placeholder rather than an empty policy, and drops it once there is something', () => {
    const empty = withOwned({ Version: '2012-10-17', Statement: [stale] }, []);
    expect(empty.Statement).toEqual([
      { Sid: NO_TRUST_SID, Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' },
    ]);
    expect(withOwned(empty, [mine]).Statement).toEqual([mine]);
  });
});

describe('oidcSid', () => {
  it('is a valid, stable Sid per issuer', () => {
    expect(oidcSid('oidc.eks.us-east-1.amazonaws.com/id/ABC')).toMatch(/^AstroTrustOidc[0-9a-f]{8}$/);
    expect(oidcSid('a')).toBe(oidcSid('a'));
    expect(oidcSid('a')).not.toBe(oidcSid('b'));
  });
});
