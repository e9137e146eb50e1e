/** `send` against `serve` onboards a Deployment; `connections` and `explain` for both trust kinds. */
import { IamTrustStore } from '../../src/adapters/aws/iam';
import { startServer, type Server } from '../../src/cli/serve';
import { cli } from '../support/cli';
import { fakeService, json } from '../support/http';
import { startMoto, type Moto } from '../support/moto';
import { exampleWorld, serveOnWorld, testSecret, type World } from '../support/world';

const BILLING = 'clmh5h2rb001208lb4q0e6x8z'; // prod-billing: new, matches data-lake-reader's "prod-*"
const REPORTS = 'clmh5f1pd001008lb2n8c4v6x'; // prod-reports: workload-identity roles
const HOURLY = 'clmh5k3wz001408lb6s2g8z0b'; // etl-hourly: identity is etl-runner (oidc), declared on s3-exporter (oidc)
const ORG = 'clmh59gt0000308lbgswe5fvh';

let moto: Moto;
let world: World;
let server: Server;
let store: IamTrustStore;
const SECRET = testSecret('send');
const env = { ASTRO_TRUST_WEBHOOK_SECRET: SECRET, ASTRO_ORGANIZATION_ID: ORG, AWS_REGION: 'eu-west-1' };

beforeAll(async () => {
  moto = await startMoto();
  world = await exampleWorld(moto.iam());
  store = new IamTrustStore(moto.iam(), { verifyDelayMs: 1 });
  server = await startServer(
    serveOnWorld(world, store, {
      secrets: [SECRET],
    }),
  );
});
afterAll(async () => {
  await server?.close();
  await moto?.stop();
});

const adapters = () => ({ env, adapters: { store } });

describe('astro-trust send', () => {
  it('signs and sends a Deployment event that serve accepts and acts on', async () => {
    const r = await cli(
      ['send', '--url', `${server.url}/webhooks/astro`, '--type', 'deployment.created', '--deployment-id', BILLING],
      { env },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^accepted: deployment.created clmh5h2rb001208lb4q0e6x8z \(evt_[0-9a-f]{32}\) -> HTTP 202 .*"roles":\["data-lake-reader"\]/,
    );
    await server.queue.drained();
    expect(JSON.stringify(await world.trust('data-lake-reader'))).toContain('astro-stellar-comet-3141');
  });

  it('retries a 503 and gives up on a 4xx with exit 1', async () => {
    let calls = 0;
    const flaky = await fakeService((_req, res) =>
      ++calls < 3 ? json(res, 503, { error: 'busy' }) : json(res, 202, { ok: true }),
    );
    const ok = await cli(['send', '--url', flaky.url, '--type', 'deployment.deleted', '--deployment-id', BILLING], {
      env,
      stderr: () => {},
    });
    expect(ok.code).toBe(0);
    expect(calls).toBe(3);
    await flaky.close();
    const wrong = await cli(
      ['send', '--url', `${server.url}/webhooks/astro`, '--type', 'deployment.created', '--deployment-id', BILLING],
      { env: { ...env, ASTRO_TRUST_WEBHOOK_SECRET: testSecret('wrong') } },
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/not accepted: .*HTTP 401 .*signature does not match/);
  });

  it.each([
    [['--type', 'deployment.hibernated'], /--type deployment.hibernated: expected one of deployment.created/],
    [['--url', 'not a url'], /--url not a url: not a URL/],
  ])('rejects bad arguments %#', async (args, message) => {
    const base = ['send', '--url', 'http://127.0.0.1:9/x', '--type', 'deployment.created', '--deployment-id', BILLING];
    const argv = [...base];
    argv[argv.indexOf(args[0]!) + 1] = args[1]!;
    const r = await cli(argv, { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it('needs the secret', async () => {
    const r = await cli(['send', '--url', 'http://x', '--type', 'deployment.created', '--deployment-id', BILLING], {
      env: {},
    });
    expect(r.stderr).toMatch(/ASTRO_TRUST_WEBHOOK_SECRET is not set/);
  });
});

describe('astro-trust connections', () => {
  it('workload-identity roles: one AWS connection each with role_arn and region_name, as JSON and as AIRFLOW_CONN_*', async () => {
    const r = await cli(['connections', '--config', world.configFile, '--deployment', REPORTS], adapters());
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.connections.map((c: { conn_id: string }) => c.conn_id).sort()).toEqual([
      'aws_data_lake_reader',
      'aws_reports_reader',
    ]);
    expect(out.connections.find((c: { role: string }) => c.role === 'reports-reader')).toMatchObject({
      conn_type: 'aws',
      extra: { role_arn: 'arn:aws:iam::123456789012:role/reports-reader', region_name: 'eu-west-1' },
    });
    expect(out.precedence).toMatch(
      /secrets backend, then the Astro Environment Manager, then environment variables.*then the Airflow metadata database/,
    );
    const env2 = await cli(
      ['connections', '--config', world.configFile, '--deployment', REPORTS, '--format', 'env'],
      adapters(),
    );
    expect(env2.stdout).toContain(
      `AIRFLOW_CONN_AWS_REPORTS_READER='{"conn_type":"aws","extra":{"role_arn":"arn:aws:iam::123456789012:role/reports-reader","region_name":"eu-west-1"}}'`,
    );
  });

  it("oidc: no connection for the role that is the Deployment's own identity; web identity for another oidc role", async () => {
    const out = JSON.parse(
      (await cli(['connections', '--config', world.configFile, '--deployment', HOURLY], adapters())).stdout,
    );
    expect(out.noConnectionNeeded).toEqual([expect.objectContaining({ role: 'etl-runner' })]);
    expect(out.connections).toEqual([
      expect.objectContaining({
        conn_id: 'aws_s3_exporter',
        extra: expect.objectContaining({ assume_role_method: 'assume_role_with_web_identity' }),
      }),
    ]);
  });

  it('an unknown Deployment exits 1', async () => {
    const r = await cli(['connections', '--config', world.configFile, '--deployment', 'clnope'], adapters());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Deployment clnope is not in the inventory/);
  });
});

describe('astro-trust explain', () => {
  it('--deployment (workload identity): the selector that matched, the identity, and the live state', async () => {
    const r = await cli(['explain', '--config', world.configFile, '--deployment', BILLING], adapters());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /= data-lake-reader \(workload-identity, enforce\): declared by name "prod-\*"\n {4}in IAM {6}arn:aws:iam::111928029897:role\/astro-stellar-comet-3141\n {4}live: trusted/,
    );
    expect(r.stdout).toMatch(
      /- archive-writer .*not declared: no selector matches \(id "clmh5h2rb001208lb4q0e6x8z", workspaceId "clmh5c9vn000708lb1f4q8z2m", name "prod-billing"; selectors: id "clmh57jtm000008lb58fe2wmv"\)/,
    );
  });

  it('--deployment (oidc): the namespace subjects per component and whether IAM has them', async () => {
    const r = await cli(['explain', '--config', world.configFile, '--deployment', HOURLY, '--json'], adapters());
    const roles = Object.fromEntries(JSON.parse(r.stdout).roles.map((x: { role: string }) => [x.role, x]));
    expect(roles['etl-runner']).toMatchObject({
      declared: true,
      why: 'uses this role as its workload identity',
      usesRoleAsIdentity: true,
      live: 'not trusted',
    });
    expect(roles['s3-exporter'].principals.map((p: { principal: string }) => p.principal)).toContain(
      'system:serviceaccount:solar-flare-6677:solar-flare-6677-webserver-serviceaccount',
    );
  });

  it('--role: what the role trusts and why', async () => {
    const r = await cli(['explain', '--config', world.configFile, '--role', 'reports-reader'], adapters());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^reports-reader \(workload-identity, enforce\) arn:aws:iam::123456789012:role\/reports-reader\n {2}prod-reports \(clmh5f1pd001008lb2n8c4v6x\): id "clmh5f1pd001008lb2n8c4v6x"/,
    );
  });

  it('needs exactly one of --deployment and --role', async () => {
    const r = await cli(['explain', '--config', world.configFile], adapters());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exactly one of --deployment ID or --role NAME/);
  });
});
