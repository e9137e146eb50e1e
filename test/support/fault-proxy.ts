/**
 * An HTTP proxy in front of moto that answers chosen IAM calls with AWS-shaped errors (Throttling,
 * LimitExceeded, MalformedPolicyDocument, 500) and forwards everything else.
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

export interface FaultProxy extends FakeService {
  faults: Fault[];
  actions: string[];
  chaos?: Chaos;
  /** Faults injected by chaos, by kind. */
  injected: Record<ChaosKind, number>;
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
  const proxy = { faults, actions, injected } as FaultProxy;
  const svc = await fakeService(async (req, res) => {
    const params = new URLSearchParams(req.body);
    const action = params.get('Action') ?? '';
    actions.push(action);
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
    try {
      const upstream = await fetch(`${target}${req.url}`, {
        method: req.method,
        headers,
        body: req.method === 'GET' ? undefined : req.body,
      });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/xml' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    } catch {
      // The emulator is gone (a test ended while this call was held back): drop the connection.
      res.socket?.destroy();
    }
  });
  return Object.assign(proxy, svc);
}
