/**
 * Does an EventBridge event pattern match an event? moto's EventBridge pattern engine judges (its
 * TestEventPattern API answers nothing, so its matcher is asked directly, in one Python process per batch).
 */
import { execFileSync } from 'node:child_process';
import { ensureMotoInstalled } from './moto';

const SCRIPT = `
import json, sys
from moto.events.models import EventPattern
pairs = json.load(sys.stdin)
json.dump([EventPattern.load(json.dumps(p)).matches_event(e) for p, e in pairs], sys.stdout)
`;

/** For each [pattern, event], whether the pattern matches the event. */
export function patternMatches(pairs: [unknown, unknown][]): boolean[] {
  ensureMotoInstalled();
  return JSON.parse(execFileSync('python3', ['-c', SCRIPT], { input: JSON.stringify(pairs), encoding: 'utf8' }));
}
