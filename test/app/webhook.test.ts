/** The webhook secret's format (DESIGN 7.2): what the docs' command makes is accepted, anything else is refused. */
import { execFileSync } from 'node:child_process';
import { Webhook } from 'standardwebhooks';
import { MAKE_SECRET_COMMAND, parseWebhookSecrets, signStandard } from '../../src/app/webhook';

describe('parseWebhookSecrets', () => {
  it('accepts what the documented command prints, and the standardwebhooks library signs with it', () => {
    const made = execFileSync('bash', ['-c', MAKE_SECRET_COMMAND], { encoding: 'utf8' }).trim();
    const r = parseWebhookSecrets(made);
    expect(r).toEqual({ ok: true, secrets: [made] });
    const body = '{"a":1}';
    const headers = signStandard(made, 'msg_1', body, Math.floor(Date.now() / 1000));
    expect(new Webhook(made).verify(body, headers)).toEqual({ a: 1 });
  });

  it('accepts two comma-separated secrets (rotation), spaces trimmed', () => {
    const a = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    const b = `whsec_${Buffer.alloc(32, 2).toString('base64')}`;
    expect(parseWebhookSecrets(` ${a} , ${b} `)).toEqual({ ok: true, secrets: [a, b] });
  });

  it.each([
    ['unset', undefined, /^is empty/],
    ['only commas', ' , ', /^is empty/],
    ['hex', 'a3'.repeat(32), /^the value does not start with whsec_/],
    ['whsec_ alone', 'whsec_', /^the value is not base64 after whsec_/],
    ['not base64', 'whsec_abc$def', /^the value is not base64/],
    ['unpadded base64', `whsec_${Buffer.alloc(32, 3).toString('base64').replace(/=+$/, '')}`, /not base64/],
    ['base64url', `whsec_${Buffer.alloc(30, 0xfb).toString('base64url')}`, /not base64/],
    ['23 bytes', `whsec_${Buffer.alloc(23, 4).toString('base64')}`, /^the value holds 23 bytes/],
    [
      'a good one and a short one',
      `whsec_${Buffer.alloc(32).toString('base64')},whsec_AAAA`,
      /^value 2 of 2 holds 3 bytes/,
    ],
  ])('refuses %s, with the format and the command, never the value', (_l, value, problem) => {
    const r = parseWebhookSecrets(value);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem).toMatch(problem);
    expect(r.problem).toContain('expected whsec_ followed by base64 of at least 24 bytes');
    expect(r.problem).toContain('echo "whsec_$(openssl rand -base64 32)"');
    for (const part of (value ?? '').split(',').filter((p) => p.trim().length > 6))
      expect(r.problem).not.toContain(part.trim());
  });
});
