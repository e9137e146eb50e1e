/**
 * `serve`'s logs: one line per entry, JSON (the keys the Lambda functions' Powertools Logger writes:
 * level, message, timestamp, service, then the fields) or readable text. In text, a value that holds
 * spaces, quotes, `=` or control characters is written JSON-quoted, so a caller-controlled string (a
 * role name from CloudTrail, a webhook id) can never forge a second line or a field.
 */
import type { LogFields, Logger } from '../app/ports.js';

export type LogFormat = 'json' | 'text';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];
type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface LineLoggerOptions {
  format: LogFormat;
  write: (line: string) => void;
  /** Debug lines only when true (`--verbose`). */
  debug?: boolean;
  now?: () => number;
}

function textValue(v: unknown): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? 'undefined');
  // eslint-disable-next-line no-control-regex
  return s === '' || /[\s"=\u0000-\u001f\u007f\u2028\u2029]/.test(s) ? JSON.stringify(s) : s;
}

export function lineLogger(o: LineLoggerOptions): Logger {
  const now = o.now ?? Date.now;
  const entry =
    (level: Level) =>
    (message: string, fields: LogFields = {}) => {
      if (level === 'DEBUG' && !o.debug) return;
      const timestamp = new Date(now()).toISOString();
      if (o.format === 'json') {
        o.write(JSON.stringify({ level, message, timestamp, service: 'astro-trust', ...fields }));
        return;
      }
      const rest = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${textValue(v)}`);
      o.write([timestamp, level.padEnd(5), JSON.stringify(message).slice(1, -1), ...rest].join(' '));
    };
  return { debug: entry('DEBUG'), info: entry('INFO'), warn: entry('WARN'), error: entry('ERROR') };
}

/** A logger that keeps nothing (tests, and callers that were given none). */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
