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
}

export interface FaultProxy extends FakeService {
  faults: Fault[];
  actions: string[];
}

function errorXml(code: string, message: string, status: number) {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>`;
}

export async function faultProxy(target: string): Promise<FaultProxy> {
  const faults: Fault[] = [];
  const actions: string[] = [];
  const svc = await fakeService(async (req, res) => {
    const action = new URLSearchParams(req.body).get('Action') ?? '';
    actions.push(action);
    const fault = faults.find((f) => f.action === action && f.times > 0);
    if (fault) {
      fault.times--;
      res.writeHead(fault.status, { 'content-type': 'text/xml' });
      res.end(errorXml(fault.code, fault.message, fault.status));
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
    const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: req.method === 'GET' ? undefined : req.body });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/xml' });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  return Object.assign(svc, { faults, actions });
}
