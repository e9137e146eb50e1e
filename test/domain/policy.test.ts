import fc from 'fast-check';
import {
  canonicalKey,
  parseTrustPolicy,
  policyChars,
  samePolicy,
  type PolicyDocument,
  type Statement,
} from '../../src/domain/policy';

const base: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'AstroTrustWorkloadIdentity',
      Effect: 'Allow',
      Principal: { AWS: ['arn:aws:iam::1:role/a', 'arn:aws:iam::1:role/b'] },
      Action: 'sts:AssumeRole',
    },
    {
      Sid: 'Oidc',
      Effect: 'Allow',
      Principal: { Federated: 'arn:aws:iam::1:oidc-provider/x' },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: { 'x:aud': 'sts.amazonaws.com' }, StringLike: { 'x:sub': ['s:a:*', 's:b:*'] } },
    },
  ],
};

describe('parseTrustPolicy', () => {
  it.each([
    ['plain JSON text', JSON.stringify(base)],
    ['URL-encoded (as GetRole returns it)', encodeURIComponent(JSON.stringify(base))],
    ['pretty-printed', JSON.stringify(base, null, 4)],
    ['an object', base],
  ])('reads %s', (_label, input) => {
    expect(samePolicy(parseTrustPolicy(input), base)).toBe(true);
  });

  it('accepts a single Statement object', () => {
    const doc = parseTrustPolicy({ Version: '2012-10-17', Statement: base.Statement[0] });
    expect(doc.Statement).toHaveLength(1);
  });

  it.each([
    ['not JSON', '{"Statement": [', /not valid JSON/],
    ['an array', '[]', /must be a JSON object/],
    ['a statement without Effect', '{"Statement":[{"Principal":"*"}]}', /Effect/],
    ['bad percent-encoding', '%E0%A4%A', /neither JSON nor URL-encoded/],
  ])('rejects %s', (_label, input, message) => {
    expect(() => parseTrustPolicy(input)).toThrow(message);
  });
});

describe('canonical form', () => {
  const variants: [string, (d: PolicyDocument) => unknown, boolean][] = [
    ['statements reordered', (d) => ({ ...d, Statement: [...d.Statement].reverse() }), true],
    [
      'principal list reordered',
      (d) => ({
        ...d,
        Statement: [
          { ...d.Statement[0], Principal: { AWS: ['arn:aws:iam::1:role/b', 'arn:aws:iam::1:role/a'] } },
          d.Statement[1],
        ],
      }),
      true,
    ],
    [
      'one-element list as a string',
      (d) => ({ ...d, Statement: [d.Statement[0], { ...d.Statement[1], Action: ['sts:AssumeRoleWithWebIdentity'] }] }),
      true,
    ],
    [
      'action case',
      (d) => ({ ...d, Statement: [{ ...d.Statement[0], Action: 'STS:assumerole' }, d.Statement[1]] }),
      true,
    ],
    [
      'condition key case',
      (d) => ({
        ...d,
        Statement: [
          d.Statement[0],
          {
            ...d.Statement[1],
            Condition: { StringEquals: { 'X:AUD': 'sts.amazonaws.com' }, StringLike: { 'x:sub': ['s:b:*', 's:a:*'] } },
          },
        ],
      }),
      true,
    ],
    [
      'duplicate principal',
      (d) => ({
        ...d,
        Statement: [
          {
            ...d.Statement[0],
            Principal: { AWS: ['arn:aws:iam::1:role/a', 'arn:aws:iam::1:role/b', 'arn:aws:iam::1:role/a'] },
          },
          d.Statement[1],
        ],
      }),
      true,
    ],
    [
      'a principal removed',
      (d) => ({
        ...d,
        Statement: [{ ...d.Statement[0], Principal: { AWS: 'arn:aws:iam::1:role/a' } }, d.Statement[1]],
      }),
      false,
    ],
    [
      'a subject changed',
      (d) => ({
        ...d,
        Statement: [
          d.Statement[0],
          {
            ...d.Statement[1],
            Condition: { StringEquals: { 'x:aud': 'sts.amazonaws.com' }, StringLike: { 'x:sub': ['s:a:*', 's:*:*'] } },
          },
        ],
      }),
      false,
    ],
    ['Effect changed', (d) => ({ ...d, Statement: [{ ...d.Statement[0], Effect: 'Deny' }, d.Statement[1]] }), false],
    ['Sid changed', (d) => ({ ...d, Statement: [{ ...d.Statement[0], Sid: 'Other' }, d.Statement[1]] }), false],
  ];
  it.each(variants.map(([label, t, eq]) => [`${label}: ${eq ? 'equal' : 'different'}`, t, eq] as const))(
    '%s',
    (_label, transform, equal) => {
      expect(samePolicy(parseTrustPolicy(transform(base)), base)).toBe(equal);
    },
  );

  it('treats "*" and {"AWS": "*"} the same', () => {
    const a: Statement = { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' };
    const b: Statement = { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };
    expect(samePolicy({ Statement: [a] }, { Statement: [b] })).toBe(true);
  });

  it('ignores Sids only when asked', () => {
    const renamed = { ...base, Statement: [{ ...base.Statement[0]!, Sid: 'X' }, base.Statement[1]!] };
    expect(canonicalKey(renamed, false)).toBe(canonicalKey(base, false));
    expect(canonicalKey(renamed)).not.toBe(canonicalKey(base));
  });
});

describe('policyChars', () => {
  it('does not count whitespace, as IAM does not', () => {
    expect(policyChars(parseTrustPolicy(JSON.stringify(base, null, 8)))).toBe(JSON.stringify(base).length);
  });
});

// Equivalent documents (any order, string-or-list, encoding) always compare equal; different ones never.
const arb = {
  arn: fc.stringMatching(/^arn:aws:iam::\d{12}:role\/astro-[a-z]{1,8}$/),
  sub: fc.stringMatching(/^system:serviceaccount:[a-z]{1,8}:(\*|[a-z]{1,8})$/),
};
const statementArb = fc.oneof(
  fc
    .record({
      sid: fc.constantFrom('AstroTrustWorkloadIdentity', 'Manual', undefined),
      arns: fc.uniqueArray(arb.arn, { minLength: 1, maxLength: 6 }),
    })
    .map(({ sid, arns }): Statement => ({
      ...(sid ? { Sid: sid } : {}),
      Effect: 'Allow',
      Principal: { AWS: arns },
      Action: 'sts:AssumeRole',
    })),
  fc.uniqueArray(arb.sub, { minLength: 1, maxLength: 6 }).map((subs): Statement => ({
    Sid: 'AstroTrustOidc1',
    Effect: 'Allow',
    Principal: { Federated: 'arn:aws:iam::1:oidc-provider/i' },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: { StringEquals: { 'i:aud': 'sts.amazonaws.com' }, StringLike: { 'i:sub': subs } },
  })),
);
const docArb = fc
  .array(statementArb, { minLength: 1, maxLength: 4 })
  .map((Statement): PolicyDocument => ({ Version: '2012-10-17', Statement }));

function scramble(doc: PolicyDocument, seed: number): unknown {
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const shuffle = <T>(xs: T[]) =>
    xs
      .map((x) => [rnd(1000), x] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, x]) => x);
  const listy = (v: string[]) => (v.length === 1 && rnd(2) === 0 ? v[0] : shuffle(v));
  const out = {
    ...doc,
    Statement: shuffle(doc.Statement).map((s) => {
      const p = s.Principal as Record<string, string[] | string>;
      const principal = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, listy(Array.isArray(v) ? v : [v])]));
      const cond = s.Condition
        ? Object.fromEntries(
            Object.entries(s.Condition).map(([op, block]) => [
              op,
              Object.fromEntries(
                Object.entries(block).map(([k, v]) => [
                  rnd(2) ? k.toUpperCase() : k,
                  listy(Array.isArray(v) ? (v as string[]) : [v as string]),
                ]),
              ),
            ]),
          )
        : undefined;
      return { ...s, Principal: principal, Action: listy([s.Action as string]), ...(cond ? { Condition: cond } : {}) };
    }),
  };
  const text = JSON.stringify(out, null, rnd(3));
  return rnd(2) ? encodeURIComponent(text) : text;
}

describe('canonical form (properties)', () => {
  it('equivalent documents compare equal, whatever the order, list shape or encoding', () => {
    fc.assert(
      fc.property(docArb, fc.integer({ min: 1, max: 2 ** 30 }), (doc, seed) =>
        samePolicy(parseTrustPolicy(scramble(doc, seed)), doc),
      ),
      { numRuns: 500 },
    );
  });

  it('adding a principal is never equal', () => {
    fc.assert(
      fc.property(docArb, arb.arn, (doc, extra) => {
        const first = doc.Statement[0]!;
        fc.pre(
          first.Principal !== '*' &&
            first.Principal?.AWS !== undefined &&
            !([] as string[]).concat(first.Principal.AWS).includes(extra),
        );
        const p = first.Principal as { AWS: string[] };
        const changed = {
          ...doc,
          Statement: [{ ...first, Principal: { AWS: [...p.AWS, extra] } }, ...doc.Statement.slice(1)],
        };
        return !samePolicy(changed, doc);
      }),
      { numRuns: 300 },
    );
  });
});
