/** serve's log lines: JSON with the Powertools keys, or text that a caller's string cannot split or forge. */
import { lineLogger } from '../../src/adapters/log';

const at = Date.parse('2026-11-26T10:00:00.000Z');

function capture(format: 'json' | 'text', debug = false) {
  const lines: string[] = [];
  return { lines, logger: lineLogger({ format, write: (l) => lines.push(l), now: () => at, debug }) };
}

describe('lineLogger', () => {
  it('json: level, message, timestamp, service, then the fields', () => {
    const { lines, logger } = capture('json');
    logger.warn('webhook rejected', { status: 401, webhookId: 'msg_1' });
    expect(JSON.parse(lines[0]!)).toEqual({
      level: 'WARN',
      message: 'webhook rejected',
      timestamp: '2026-11-26T10:00:00.000Z',
      service: 'astro-trust',
      status: 401,
      webhookId: 'msg_1',
    });
  });

  it('text: key=value, and a value with a newline, a space, a quote or "=" is quoted so it cannot forge a line or a field', () => {
    const { lines, logger } = capture('text');
    logger.info('reconciled', {
      role: 'etl\n2026-11-26T10:00:00.000Z ERROR forged',
      actor: 'a b',
      eq: 'x=y',
      plain: 'data-lake-reader',
      n: 3,
      roles: ['a', 'b'],
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    expect(lines[0]).toBe(
      '2026-11-26T10:00:00.000Z INFO  reconciled role="etl\\n2026-11-26T10:00:00.000Z ERROR forged" actor="a b" eq="x=y" plain=data-lake-reader n=3 roles="[\\"a\\",\\"b\\"]"',
    );
  });

  it('debug entries only when asked (--verbose)', () => {
    const quiet = capture('text');
    quiet.logger.debug('retry', { attempt: 1 });
    expect(quiet.lines).toHaveLength(0);
    const loud = capture('text', true);
    loud.logger.debug('retry', { attempt: 1 });
    expect(loud.lines).toEqual(['2026-11-26T10:00:00.000Z DEBUG retry attempt=1']);
  });
});
