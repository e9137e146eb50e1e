/**
 * `npm run demo`: astro-trust end to end on this machine. Starts moto (the AWS emulator) with the
 * example's roles, a local Slack-compatible receiver and `astro-trust serve`, then walks through:
 *   1. a signed webhook onboards a new Deployment;
 *   2. someone adds an undeclared principal by hand: the drift alert arrives and enforce mode reverts it;
 *   3. the same on an observe-mode role: reported only.
 * Each step prints the trust policy before and after.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { styleText } from 'node:util';
import { GetRoleCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { memberTrustStore } from '../src/adapters/aws/accounts';
import { IamTrustStore } from '../src/adapters/aws/iam';
import { FileInventory } from '../src/adapters/astro/inventory-file';
import { SlackNotifier } from '../src/adapters/slack/notifier';
import { signStandard } from '../src/app/webhook';
import { startServer } from '../src/cli/serve';
import { loadConfig } from '../src/config/config';
import { asList, isOwned, parseTrustPolicy, type PolicyDocument } from '../src/domain/policy';
import '../test/support/env';
import { fakeService } from '../test/support/http';
import { routedTrustStore } from '../src/wiring/accounts';
import { startMoto, TEST_CREDENTIALS } from '../test/support/moto';
import { createRolesFromSnapshot } from '../test/support/moto-roles';

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (s: Parameters<typeof styleText>[0], t: string) => (colour ? styleText(s, t) : t);
const say = (t = '') => console.log(t);
const step = (n: number, title: string) =>
  say(`\n${paint('bold', `Step ${n}: ${title}`)}\n${'-'.repeat(title.length + 8)}`);

function showTrust(label: string, doc: PolicyDocument) {
  say(paint('dim', `  ${label}:`));
  for (const s of doc.Statement) {
    const owner = isOwned(s) ? paint('cyan', 'astro-trust') : paint('yellow', 'foreign');
    const p = s.Principal === '*' ? { AWS: '*' } : (s.Principal ?? {});
    const subs = Object.values(s.Condition?.StringLike ?? {}).flatMap((v) => asList(v));
    const who = [...asList(p.AWS), ...asList(p.Service), ...subs].map((x) =>
      x.replace(/^arn:aws:iam::\d+:role\//, 'role/'),
    );
    say(`    [${owner}] ${s.Sid ?? '(no Sid)'}: ${who.join(', ')}`);
  }
}

async function main() {
  // Made as the docs say: echo "whsec_$(openssl rand -base64 32)".
  const secret = `whsec_${Buffer.from('astro-trust-demo-webhook-secret!').toString('base64')}`;
  say(paint('bold', 'astro-trust demo') + ' (everything local: moto for AWS, a local Slack receiver)');
  say('Starting moto_server...');
  const moto = await startMoto();
  const iam = moto.iam();
  const dir = mkdtempSync(join(tmpdir(), 'astro-trust-demo-'));
  copyFileSync('examples/astro-trust.yaml', join(dir, 'astro-trust.yaml'));
  const inventory = JSON.parse(readFileSync('examples/deployments.json', 'utf8'));
  const newcomer = inventory.deployments.find((d: { name: string }) => d.name === 'prod-billing');
  const writeInventory = (deployments: unknown[]) =>
    writeFileSync(
      join(dir, 'deployments.json'),
      JSON.stringify({ ...inventory, deployments, totalCount: deployments.length }),
    );
  writeInventory(inventory.deployments.filter((d: { id: string }) => d.id !== newcomer.id));
  await createRolesFromSnapshot(iam, 'examples/iam-snapshot.json');
  // The example's second account (DESIGN 3.6): moto keeps IAM per account; the member role's credentials act there.
  const memberIam = await moto.iamIn('444455556666');
  await createRolesFromSnapshot(memberIam, 'examples/iam-snapshot-444455556666.json');
  const trust = async (role: string) =>
    parseTrustPolicy((await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument);

  const slackMessages: {
    text: string;
    blocks: { type: string; text?: { text: string }; fields?: { text: string }[] }[];
  }[] = [];
  // Slack's *bold*, shown plain; asterisks inside principals (`...:*`) stay.
  const unbold = (t: string) => t.replace(/\*([A-Za-z][^*`\n]*)\*/g, '$1');
  const slack = await fakeService((req, res) => {
    const msg = JSON.parse(req.body);
    slackMessages.push(msg);
    say(paint('magenta', `  [Slack] ${unbold(msg.text)}`));
    for (const b of msg.blocks) {
      if (b.type === 'section' && b.fields)
        for (const f of b.fields) say(paint('magenta', `          ${unbold(f.text).replace('\n', ': ')}`));
      else if (b.type === 'section' && b.text && b.text.text !== msg.text)
        say(paint('magenta', `          ${unbold(b.text.text).replace(/\n/g, '\n          ')}`));
    }
    res.writeHead(200);
    res.end('ok');
  });
  const config = loadConfig(join(dir, 'astro-trust.yaml'));
  const server = await startServer({
    eventsToken: 'demo-events-token',
    config,
    store: routedTrustStore(config, {
      home: new IamTrustStore(iam),
      member: (account) =>
        memberTrustStore(account, {
          memberRoleName: config.memberRoleName,
          access: 'write',
          sourceIdentity: 'astro-trust', // as serve does
          region: 'us-east-1',
          endpoint: moto.endpoint,
          masterCredentials: TEST_CREDENTIALS,
        }),
      homeAccount: async () => '123456789012',
    }),
    inventory: new FileInventory(join(dir, 'deployments.json')),
    notifier: new SlackNotifier({ webhookUrl: slack.url }),
    secrets: [secret],
    selfArns: [],
    homeAccount: '123456789012', // moto's account
    port: 0,
    resyncIntervalMs: 0,
    // The demo walks through one event at a time; `astro-trust serve` itself resyncs every role at start.
    resyncAtStart: false,
  });
  say(`astro-trust serve listening on ${server.url}; ${config.roles.length} roles from examples/astro-trust.yaml`);

  try {
    step(1, 'a signed webhook onboards a new Deployment');
    writeInventory(inventory.deployments);
    say(
      `  Deployment ${newcomer.name} (${newcomer.id}) appears in the inventory; a CI pipeline sends deployment.created.`,
    );
    showTrust('data-lake-reader before', await trust('data-lake-reader'));
    const body = JSON.stringify({
      id: 'evt_demo_1',
      type: 'deployment.created',
      deploymentId: newcomer.id,
      organizationId: config.organizationId,
      occurredAt: new Date().toISOString(),
    });
    const res = await fetch(`${server.url}/webhooks/astro`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...signStandard(secret, 'evt_demo_1', body, Math.floor(Date.now() / 1000)),
      },
      body,
    });
    say(`  POST /webhooks/astro -> ${res.status} ${await res.text()}`);
    await server.queue.drained();
    showTrust('data-lake-reader after', await trust('data-lake-reader'));

    step(2, 'a hand edit adds an undeclared principal (enforce mode)');
    const edited = structuredClone(await trust('data-lake-reader'));
    (edited.Statement.find(isOwned)!.Principal as { AWS: string[] }).AWS.push(
      'arn:aws:iam::111928029897:role/astro-intruder-0666',
    );
    await iam.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: 'data-lake-reader', PolicyDocument: JSON.stringify(edited) }),
    );
    showTrust('data-lake-reader after the hand edit', await trust('data-lake-reader'));
    const envelope = JSON.parse(readFileSync('events/iamChange/update-assume-role-policy.json', 'utf8'));
    envelope.detail.requestParameters.policyDocument = JSON.stringify(edited);
    say(
      '  CloudTrail reports UpdateAssumeRolePolicy (moto emits none, so the demo posts the EventBridge event itself):',
    );
    await fetch(`${server.url}/events/eventbridge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer demo-events-token' },
      body: JSON.stringify(envelope),
    });
    await server.queue.drained();
    showTrust('data-lake-reader after astro-trust', await trust('data-lake-reader'));

    step(3, 'the same on an observe-mode role: reported, never written');
    const etl = structuredClone(await trust('etl-runner'));
    const owned = etl.Statement.find(isOwned)!;
    const key = Object.keys(owned.Condition!.StringLike!)[0]!;
    owned.Condition!.StringLike![key] = [
      ...asList(owned.Condition!.StringLike![key]),
      'system:serviceaccount:intruder-ns:*',
    ];
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'etl-runner', PolicyDocument: JSON.stringify(etl) }));
    showTrust('etl-runner after the hand edit', await trust('etl-runner'));
    envelope.detail.requestParameters.roleName = 'etl-runner';
    await fetch(`${server.url}/events/eventbridge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer demo-events-token' },
      body: JSON.stringify(envelope),
    });
    await server.queue.drained();
    showTrust('etl-runner after astro-trust (unchanged)', await trust('etl-runner'));

    step(4, 'another AWS account: the same role name, reached through its member role (docs/accounts.md)');
    const memberTrust = async () =>
      parseTrustPolicy(
        (await memberIam.send(new GetRoleCommand({ RoleName: 'data-lake-reader' }))).Role!.AssumeRolePolicyDocument,
      );
    showTrust('444455556666/data-lake-reader before', await memberTrust());
    // The member account forwards its IAM CloudTrail events to the hub's bus; the event's account picks the role.
    const forwarded = {
      ...envelope,
      account: '444455556666',
      detail: { ...envelope.detail, eventID: 'demo-member-1', requestParameters: { roleName: 'data-lake-reader' } },
    };
    await fetch(`${server.url}/events/eventbridge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer demo-events-token' },
      body: JSON.stringify(forwarded),
    });
    await server.queue.drained();
    showTrust('444455556666/data-lake-reader after astro-trust', await memberTrust());
    showTrust('data-lake-reader (hub account, another role) unchanged', await trust('data-lake-reader'));

    say(
      `\n${paint('bold', 'Done:')} ${slackMessages.length} Slack messages received. Try it yourself: npm run astro-trust -- serve --config examples/astro-trust.yaml --help`,
    );
  } finally {
    await server.close();
    await slack.close();
    await moto.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
