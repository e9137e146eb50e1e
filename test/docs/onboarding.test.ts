/** docs/onboarding.md's commands, run as a reader runs them: in their own project, against their AWS (moto). */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { docBlock } from '../support/docs';
import { playground, type Playground } from '../support/playground';

let pg: Playground;
beforeAll(async () => {
  pg = await playground();
}, 60_000);
afterAll(async () => pg?.close());

it('send: signs and delivers the event to the webhook URL, which accepts it', async () => {
  const secret = `whsec_${Buffer.from('onboarding-doc-test-secret-32byt').toString('base64')}`;
  const received: { headers: Record<string, string>; body: string }[] = [];
  // A receiver that checks the signature with the Standard Webhooks library itself.
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const headers = req.headers as Record<string, string>;
      try {
        new Webhook(secret).verify(body, headers);
        received.push({ headers, body });
        res.writeHead(202).end('{}');
      } catch {
        res.writeHead(401).end('{}');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/astro`;
    const run = await pg.run(docBlock('docs/onboarding.md', 'send'), {
      env: { ASTRO_TRUST_WEBHOOK_SECRET: secret, ASTRO_TRUST_WEBHOOK_URL: url },
    });
    expect(run).toMatchObject({ code: 0 });
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!.body)).toMatchObject({
      type: 'deployment.created',
      deploymentId: 'clmh57jtm000008lb58fe2wmv',
      organizationId: 'clmh59gt0000308lbgswe5fvh',
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
});

it('connections: prints the Airflow connection of each role the Deployment is declared on', async () => {
  const run = await pg.run(docBlock('docs/onboarding.md', 'connections'));
  expect(run.stderr).toBe('');
  expect(run).toMatchObject({ code: 0 });
  expect(run.stdout).toContain(
    `AIRFLOW_CONN_AWS_REPORTS_READER='{"conn_type":"aws","extra":{"role_arn":"arn:aws:iam::123456789012:role/reports-reader","region_name":"us-east-1"}}'`,
  );
});

it('explain: why a Deployment is trusted by each role, and what a role trusts', async () => {
  const run = await pg.run(docBlock('docs/onboarding.md', 'explain'));
  expect(run).toMatchObject({ code: 0 });
  expect(run.stdout).toContain('Deployment prod-billing (clmh5h2rb001208lb4q0e6x8z)');
  expect(run.stdout).toMatch(/archive-writer/);
});

it("deploy.md's serve: starts from a new secret, listens on 8787 and stops on SIGTERM", async () => {
  const child = spawn('bash', ['-euo', 'pipefail', '-c', docBlock('docs/deploy.md', 'serve')], {
    cwd: pg.dir,
    env: pg.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    let health: { status?: string } = {};
    for (let i = 0; i < 200 && health.status !== 'ok'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      health = await fetch('http://127.0.0.1:8787/healthz')
        .then((res) => res.json() as Promise<{ status?: string }>)
        .catch(() => ({}));
    }
    expect(health.status).toBe('ok');
    expect(stderr).toMatch(/listening on http:\/\/127\.0\.0\.1:8787/);
    expect(stderr).not.toMatch(/IAM-change intake is off/);
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }
}, 60_000);
