/** Slack messages: safe against injection, complete when cut, within Block Kit's limits (`@slack/types`). */
import type { KnownBlock } from '@slack/types';
import { bulletSection, LIMITS, renderSlack } from '../../../src/adapters/slack/message';
import type { AstroTrustEvent, DriftDetected, SelfTampering } from '../../../src/domain/events';

const base = {
  role: 'data-lake-reader',
  roleArn: 'arn:aws:iam::123456789012:role/data-lake-reader',
  accountId: '123456789012',
  mode: 'enforce' as const,
  reason: 'iam-change' as const,
};
const drift = (over: Partial<DriftDetected> = {}): AstroTrustEvent => ({
  type: 'DriftDetected',
  detail: {
    ...base,
    undeclaredInOwned: [],
    missingDeclared: [],
    unexpected: [],
    rewritesOwned: false,
    action: 'reverted',
    actor: {
      arn: 'arn:aws:iam::123456789012:user/jo',
      type: 'IAMUser',
      sourceIp: '203.0.113.9',
      userAgent: 'console',
      eventName: 'UpdateAssumeRolePolicy',
      eventTime: '2026-11-25T19:00:00Z',
      eventId: 'a1b2c3',
    },
    ...over,
  },
});
const principals = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    principal: `arn:aws:iam::111928029897:role/astro-tenant-namespace-long-name-${1000 + i}`,
    deploymentIds: [`cldep${i}`],
    deployments: [{ id: `cldep${i}`, name: `tenant-${i}` }],
  }));

/** Every block within Block Kit's limits; the type check is `KnownBlock` from @slack/types. */
function withinLimits(blocks: KnownBlock[]) {
  expect(blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
  for (const b of blocks) {
    if (b.type === 'header') expect(b.text.text.length).toBeLessThanOrEqual(LIMITS.headerText);
    if (b.type === 'section') {
      if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(LIMITS.sectionText);
      expect((b.fields ?? []).length).toBeLessThanOrEqual(LIMITS.fields);
      for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(LIMITS.fieldText);
    }
    if (b.type === 'context')
      for (const e of b.elements) if ('text' in e) expect(e.text.length).toBeLessThanOrEqual(LIMITS.fieldText);
  }
}

const tamperer = {
  arn: 'arn:aws:sts::444455556666:assumed-role/member-admin/mallory',
  type: 'AssumedRole',
  sourceIp: '198.51.100.77',
  eventName: 'AttachRolePolicy',
  eventTime: '2026-11-25T19:04:11Z',
  eventId: '6e5d4c3b',
};
const selfTampering = (over: Partial<SelfTampering> = {}): AstroTrustEvent => ({
  type: 'SelfTampering',
  detail: {
    role: '444455556666/astro-trust-member',
    roleArn: 'arn:aws:iam::444455556666:role/astro-trust-member',
    accountId: '444455556666',
    kind: 'member-role',
    actor: tamperer,
    policy: 'arn:aws:iam::aws:policy/AdministratorAccess',
    reason: 'iam-change',
    ...over,
  },
});

describe('renderSlack', () => {
  it('escapes caller-controlled strings: no mention, no link can be injected', () => {
    const m = renderSlack(
      drift({
        actor: {
          arn: 'arn:aws:iam::123456789012:user/<!here>',
          userAgent: '<!channel> <https://evil.example|AWS console>',
          sourceIp: '<@U123>',
          eventName: 'UpdateAssumeRolePolicy',
          eventTime: '<!everyone>',
          eventId: 'x>|<',
        },
      }),
    );
    const text = JSON.stringify(m);
    for (const bad of ['<!channel>', '<!here>', '<!everyone>', '<@U123>', '<https://evil.example|'])
      expect(text).not.toContain(bad);
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).toContain('&lt;https://evil.example|AWS console&gt;');
    // The only links are astro-trust's own: the role's trust relationships and the CloudTrail event.
    expect(text.match(/<https:[^>]*>/g)).toEqual([
      '<https://console.aws.amazon.com/iam/home#/roles/details/data-lake-reader?section=trust_relationships|trust relationships>',
      '<https://console.aws.amazon.com/cloudtrail/home?region=us-east-1#/events/x%3E%7C%3C|CloudTrail x&gt;|&lt;>',
    ]);
  });

  it.each([60, 200, 1000])('%i principals: the list is cut within the limits and says exactly how many more', (n) => {
    const m = renderSlack(drift({ undeclaredInOwned: principals(n) }));
    withinLimits(m.blocks);
    const list = m.blocks
      .map((b) => (b.type === 'section' && b.text ? b.text.text : ''))
      .find((t) => t.startsWith('*Removed'))!;
    const shown = (list.match(/^• /gm) ?? []).length;
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThan(n);
    expect(list).toMatch(new RegExp(`\\n… and ${n - shown} more$`));
    expect(list).toContain('tenant-0 `cldep0`');
  });

  it('bulletSection never drops the count, even with items near the limit', () => {
    for (const size of [10, 500, 2000, 4000]) {
      const items = Array.from({ length: 30 }, (_, i) => `${i}:${'x'.repeat(size)}`);
      const s = bulletSection('Title', items);
      expect(s.text!.text.length).toBeLessThanOrEqual(LIMITS.sectionText);
      const shown = (s.text!.text.match(/^• /gm) ?? []).length;
      if (shown < 30) expect(s.text!.text.endsWith(`… and ${30 - shown} more`)).toBe(true);
      else expect(s.text!.text).not.toContain('more');
      // Short items all fit; long ones cannot (30 x 500+ characters is far over 3,000).
      if (size <= 10) expect(shown).toBe(30);
      else expect(shown).toBeLessThan(30);
    }
  });

  it('names an AWSService caller by the service (CloudFormation), not "unknown"', () => {
    const m = renderSlack(
      drift({
        actor: {
          arn: 'unknown',
          type: 'AWSService',
          invokedBy: 'cloudformation.amazonaws.com',
          eventName: 'UpdateAssumeRolePolicy',
          eventTime: 't',
        },
      }),
    );
    const changedBy = JSON.stringify(m.blocks);
    expect(changedBy).toContain('*Changed by*\\n`cloudformation.amazonaws.com` (AWSService)');
    expect(changedBy).not.toContain('`unknown`');
  });

  it('never says "reverted" while a finding stays, and lists what is left for a person', () => {
    const m = renderSlack(
      drift({
        action: 'reverted',
        unexpected: [
          {
            id: '0123456789abcdef',
            kind: 'external-account',
            principal: 'arn:aws:iam::999988887777:root',
            sid: 'Backdoor',
            condition: null,
            detail: '',
          },
        ],
      }),
    );
    expect(m.text).not.toMatch(/reverted/i);
    expect(m.text).toBe(
      'Trust drift on *data-lake-reader*: astro-trust statements restored (enforce mode); 1 finding in statements astro-trust does not own remains: a person must act',
    );
    // The id is what findings.acknowledge names.
    expect(JSON.stringify(m.blocks)).toContain(
      'external-account: `arn:aws:iam::999988887777:root` in `Backdoor` · id `0123456789abcdef`',
    );
    const none = renderSlack(
      drift({
        action: 'none',
        unexpected: [
          {
            id: '0123456789abcdef',
            kind: 'external-account',
            principal: 'arn:aws:iam::999988887777:root',
            condition: null,
            detail: '',
          },
        ],
      }),
    );
    expect(none.text).toBe(
      'Trust drift on *data-lake-reader*: 1 finding in statements astro-trust does not own (never edited): a person must act',
    );
  });

  it('renders a finding published by release 2 (no id, no condition) without failing', () => {
    const old = { kind: 'orphaned-principal', principal: 'AROA5XK7QEXAMPLE2ZJ4B', sid: 'OldJenkins', detail: '' };
    const m = renderSlack(drift({ action: 'none', unexpected: [old as never] }));
    expect(JSON.stringify(m.blocks)).toContain('orphaned-principal: `AROA5XK7QEXAMPLE2ZJ4B` in `OldJenkins`');
    expect(JSON.stringify(m.blocks)).not.toContain(' · id ');
  });

  it('links the console and CloudTrail, names Deployments, lists guard identities and not-fitting Deployments, and shows the configured config path', () => {
    const d = renderSlack(drift({ missingDeclared: principals(1) }), { configPath: '/etc/astro-trust/prod.yaml' });
    const text = JSON.stringify(d);
    expect(text).toContain('section=trust_relationships');
    expect(text).toContain('cloudtrail/home?region=us-east-1#/events/a1b2c3');
    expect(text).toContain('tenant-0 `cldep0`');
    expect(text).toContain('astro-trust plan --config /etc/astro-trust/prod.yaml --role data-lake-reader');
    const guard = renderSlack({
      type: 'GuardStopped',
      detail: {
        ...base,
        guard: 'too-many-removals',
        message: 'removes 7',
        identities: principals(7).map((p) => p.principal),
        policyChars: 1,
        limit: 2,
      },
    });
    expect(JSON.stringify(guard)).toContain('Identities the stopped plan would remove (7)');
    expect(JSON.stringify(guard)).toContain('astro-tenant-namespace-long-name-1006');
    const large = renderSlack({
      type: 'TrustPolicyTooLarge',
      detail: {
        ...base,
        guard: 'policy-too-large',
        message: 'full',
        deploymentsNotFitting: [{ id: 'cl1', name: '<!channel>' }],
        policyChars: 1,
        limit: 2,
      },
    });
    expect(JSON.stringify(large)).toContain('&lt;!channel&gt; `cl1`');
  });

  it('every event type renders within Block Kit limits', () => {
    const many = principals(300);
    const events: AstroTrustEvent[] = [
      drift({
        undeclaredInOwned: many,
        missingDeclared: many,
        unexpected: many.map((p, i) => ({
          id: `${i}`.padStart(16, '0'),
          kind: 'external-account',
          principal: p.principal,
          condition: null,
          detail: 'x',
        })),
        missingOidcProviders: many.map((p) => p.principal),
      }),
      { type: 'TrustPolicyUpdated', detail: { ...base, added: many, removed: many, policyChars: 2000, limit: 2048 } },
      { type: 'ReconcileFailed', detail: { ...base, error: 'e'.repeat(10_000), retryable: true } },
      {
        type: 'TrustPolicyTooLarge',
        detail: {
          ...base,
          guard: 'policy-too-large',
          message: 'm'.repeat(10_000),
          deploymentsNotFitting: many.map((p) => ({ id: p.deploymentIds[0]!, name: p.principal })),
          policyChars: 1,
          limit: 2,
        },
      },
      {
        type: 'GuardStopped',
        detail: {
          ...base,
          guard: 'too-many-removals',
          message: 'm',
          identities: many.map((p) => p.principal),
          policyChars: 1,
          limit: 2,
        },
      },
      { type: 'InventoryRefused', detail: { kind: 'empty', message: 'm'.repeat(10_000), reason: 'watch' } },
      selfTampering({
        policy: 'p'.repeat(2048),
        actor: { ...tamperer, arn: 'a'.repeat(2048), userAgent: 'u'.repeat(512) },
      }),
    ];
    for (const e of events) {
      const m = renderSlack(e);
      withinLimits(m.blocks);
      expect(m.text.length).toBeLessThanOrEqual(LIMITS.text);
    }
  });

  it("SelfTampering names astro-trust's role, the change, who made it and from where, and links only CloudTrail", () => {
    const m = renderSlack(
      selfTampering({
        policy: '<!channel>',
        actor: { ...tamperer, userAgent: '<https://evil.example|AWS console>', sourceIdentity: '<@U123>' },
      }),
    );
    withinLimits(m.blocks);
    const text = JSON.stringify(m);
    expect(m.text).toMatch(
      /astro-trust's own role \*444455556666\/astro-trust-member\* was changed \(AttachRolePolicy\)/,
    );
    for (const want of [
      'member role astro-trust writes trust through',
      'member-admin/mallory',
      '198.51.100.77',
      'Nothing was reverted',
    ])
      expect(text).toContain(want);
    for (const bad of ['<!channel>', '<@U123>', '<https://evil.example|']) expect(text).not.toContain(bad);
    expect(text.match(/<https:[^>]*>/g)).toEqual([
      '<https://console.aws.amazon.com/cloudtrail/home?region=us-east-1#/events/6e5d4c3b|CloudTrail 6e5d4c3b>',
    ]);
    expect(JSON.stringify(renderSlack(selfTampering({ kind: 'hub-function-role' })))).toContain(
      'a role an astro-trust function runs as',
    );
  });
});
