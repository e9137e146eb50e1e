/**
 * An HTTP proxy in front of moto that answers chosen IAM calls with AWS-shaped errors (Throttling,
 * LimitExceeded, MalformedPolicyDocument, 500) and forwards everything else. It can also play two traits of
 * real IAM that moto lacks: a request rate limit per account (`rateLimit`: Throttling above N a second) and
 * eventual consistency (`stale`: GetRole keeps answering with the document from before a write for a while).
 */
import { fakeService, type FakeService } from './http';

export interface Fault {
  action: string;
  /** How many calls of this action get the fault. */
  times: number;
  status: number;
  code: string;
  message: string;
  /** Runs before the fault is answered: a person editing the role while astro-trust's call fails. */
  before?: () => Promise<void>;
  /** Only calls whose parameters match get the fault (e.g. AssumeRole of one account's role). */
  match?: (params: URLSearchParams) => boolean;
}

export type ChaosKind = 'throttle' | '500' | 'slow' | 'drop';

/** Random faults at a rate, from a seeded generator so a failing run can be replayed. */
export interface Chaos {
  rate: number;
  kinds: ChaosKind[];
  slowMs: number;
  seed: number;
}

/** IAM's request rate limit, as a token bucket: `perSecond` tokens a second, at most `burst` saved up. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export interface FaultProxy extends FakeService {
  faults: Fault[];
  actions: string[];
  chaos?: Chaos;
  /** Faults injected by chaos, by kind. */
  injected: Record<ChaosKind, number>;
  /** When set, requests over the rate are answered with Throttling (before anything else). */
  rateLimit?: RateLimit;
  /** When each request arrived (ms, `performance.now()`), throttled or not. */
  arrivals: number[];
  /** Requests answered with Throttling by `rateLimit`. */
  rateThrottled: number;
  /**
   * When set, for `ms` after a successful UpdateAssumeRolePolicy, GetRole of that role answers with the role
   * as it was before the write (a replica that has not seen it yet).
   */
  stale?: { ms: number };
  /** GetRole answers served from before a write. */
  staleServed: number;
  /** Runs after a call was forwarded and answered 2xx (another writer acting right after astro-trust). */
  afterForward?: (action: string, params: URLSearchParams) => Promise<void>;
}

/** The most requests that arrived within any window of `windowMs` (a sliding window over `arrivals`). */
export function maxInWindow(arrivals: number[], windowMs = 1000): number {
  const t = [...arrivals].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

function errorXml(code: string, message: string, status: number) {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>`;
}

export async function faultProxy(target: string): Promise<FaultProxy> {
  const faults: Fault[] = [];
  const actions: string[] = [];
  const injected: Record<ChaosKind, number> = { throttle: 0, '500': 0, slow: 0, drop: 0 };
  let state = 0;
  const random = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const proxy = { faults, actions, injected, arrivals: [], rateThrottled: 0, staleServed: 0 } as unknown as FaultProxy;
  let bucket: { tokens: number; at: number } | undefined;
  const before = new Map<string, { body: Buffer; contentType: string; until: number }>();
  const svc = await fakeService(async (req, res) => {
    const params = new URLSearchParams(req.body);
    const action = params.get('Action') ?? '';
    actions.push(action);
    const now = performance.now();
    proxy.arrivals.push(now);
    if (!proxy.stale) before.clear();
    const limit = proxy.rateLimit;
    if (limit) {
      bucket ??= { tokens: limit.burst, at: now };
      bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond);
      bucket.at = now;
      if (bucket.tokens < 1) {
        proxy.rateThrottled++;
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(errorXml('Throttling', 'Rate exceeded', 400));
        return;
      }
      bucket.tokens -= 1;
    } else bucket = undefined;
    const chaos = proxy.chaos;
    if (chaos) {
      if (state === 0) state = chaos.seed;
      if (random() < chaos.rate) {
        const kind = chaos.kinds[Math.floor(random() * chaos.kinds.length)]!;
        injected[kind]++;
        if (kind === 'drop') {
          res.socket?.destroy();
          return;
        }
        if (kind === 'throttle' || kind === '500') {
          const [status, code] = kind === 'throttle' ? [400, 'Throttling'] : [500, 'ServiceFailure'];
          res.writeHead(status, { 'content-type': 'text/xml' });
          res.end(errorXml(code, kind === 'throttle' ? 'Rate exceeded' : 'internal error', status));
          return;
        }
        await new Promise((r) => setTimeout(r, chaos.slowMs).unref());
      }
    }
    const fault = faults.find((f) => f.action === action && f.times > 0 && (f.match?.(params) ?? true));
    if (fault) {
      fault.times--;
      await fault.before?.();
      res.writeHead(fault.status, { 'content-type': 'text/xml' });
      res.end(errorXml(fault.code, fault.message, fault.status));
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)),
    ) as Record<string, string>;
    const send = (body: string | undefined) =>
      fetch(`${target}${req.url}`, { method: req.method, headers, body: req.method === 'GET' ? undefined : body });
    const role = (params.get('RoleName') ?? '').toLowerCase();
    try {
      const old = before.get(role);
      if (action === 'GetRole' && proxy.stale && old && performance.now() < old.until) {
        proxy.staleServed++;
        res.writeHead(200, { 'content-type': old.contentType });
        res.end(old.body);
        return;
      }
      // The role as it is before a write, to serve as the stale answer afterwards.
      const previous =
        proxy.stale && action === 'UpdateAssumeRolePolicy'
          ? await send(
              new URLSearchParams({
                Action: 'GetRole',
                RoleName: params.get('RoleName') ?? '',
                Version: '2010-05-08',
              }).toString(),
            )
          : undefined;
      const upstream = await send(req.body);
      const body = Buffer.from(await upstream.arrayBuffer());
      if (previous?.ok && upstream.ok && proxy.stale)
        before.set(role, {
          body: Buffer.from(await previous.arrayBuffer()),
          contentType: previous.headers.get('content-type') ?? 'text/xml',
          until: performance.now() + proxy.stale.ms,
        });
      if (upstream.ok) await proxy.afterForward?.(action, params);
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/xml' });
      res.end(body);
    } catch {
      // The emulator is gone (a test ended while this call was held back): drop the connection.
      res.socket?.destroy();
    }
  });
  return Object.assign(proxy, svc);
}
