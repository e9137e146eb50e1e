/**
 * The world of the tests that run `astro-trust serve` as a real process and kill it (test/reliability/
 * journal.test.ts, state-dir.test.ts): moto (optionally behind a fault proxy), a local Slack that can hang,
 * a config with one converged role per test, a hand edit of that role and the CloudTrail event that reports it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, UpdateAssumeRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { IamTrustStore } from '../../src/adapters/aws/iam';
import { isOwned, parseTrustPolicy, type PolicyDocument } from '../../src/domain/policy';
import { cli } from './cli';
import { faultProxy, type FaultProxy } from './fault-proxy';
import { apiDeployment, astroRole } from './fixtures';
import { fakeService, type FakeService } from './http';
import { startMoto, type Moto } from './moto';
import { killAllServe, waitFor, type ServeProcess } from './serve-process';
import { testSecret } from './world';

/** Who made the hand edit, as CloudTrail names them. */
export const ACTOR = 'arn:aws:sts::123456789012:assumed-role/Admin/mallory';
/** What the hand edit adds to astro-trust's statement. */
export const INTRUDER = astroRole('intruder-0666');

/** The Deployments every test's config lists (one workspace: the role declares them all). */
export const deployments = [1, 2, 3].map((i) => apiDeployment(i));

export interface Setup {
  dir: string;
  /** The state directory: the default one, `.astro-trust` beside the config. */
  state: string;
  role: string;
  /** The flags every start uses. */
  args: string[];
}

export interface ServeWorld {
  moto: Moto;
  iam: IAMClient;
  /** Plays Slack's incoming webhook: answers ok, or (`hang(true)`) reads the post and never answers. */
  slack: FakeService;
  /** IAM through a fault proxy, when asked for. */
  proxy?: FaultProxy;
  hang(on: boolean): void;
  /** A config with one role, its Deployments, the role in IAM already converged (`apply`). */
  setup(role: string): Promise<Setup>;
  /** serve's environment: secrets, Slack, and moto's account (so serve does not ask STS at start). */
  env(): Record<string, string>;
  trust(role: string): Promise<PolicyDocument>;
  owned(doc: PolicyDocument): string[];
  /** Someone adds an intruder to astro-trust's statement by hand (straight in moto, not through serve's proxy). */
  handEdit(role: string): Promise<void>;
  /** The CloudTrail event EventBridge would forward for that hand edit; resolves to serve's answer. */
  cloudTrail(server: ServeProcess, role: string, eventId: string): Promise<number>;
  /** Slack posts since `from` that are the drift alert for this CloudTrail event. */
  driftPosts(eventId: string, from?: number): string[];
  health(server: ServeProcess): Promise<{ queued: number; processed: number; alertsQueued: number }>;
  /** Waits until serve has nothing queued or being delivered. */
  quiet(server: ServeProcess): Promise<void>;
  /**
   * Waits for the resync serve queues at start: a hand edit made while it runs would be reverted by it, before
   * the CloudTrail event's drift check, which would then find nothing to alert.
   */
  resynced(server: ServeProcess): Promise<void>;
  close(): Promise<void>;
}

export async function serveWorld(label: string, opts: { proxy?: boolean } = {}): Promise<ServeWorld> {
  const secret = testSecret(label);
  const token = `${label}-events-token`;
  const moto = await startMoto();
  const iam = moto.iam();
  const proxy = opts.proxy ? await faultProxy(moto.endpoint) : undefined;
  let hangs = false;
  const slack = await fakeService((_req, res) => {
    if (hangs) return;
    res.writeHead(200);
    res.end('ok');
  });
  const trust = async (role: string) =>
    parseTrustPolicy((await iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument);
  const owned = (doc: PolicyDocument) =>
    ([] as string[]).concat((doc.Statement.find(isOwned)?.Principal as { AWS?: string | string[] })?.AWS ?? []);
  const health = async (server: ServeProcess) =>
    (await (await fetch(`${server.url}/healthz`)).json()) as {
      queued: number;
      processed: number;
      alertsQueued: number;
    };
  return {
    moto,
    iam,
    slack,
    ...(proxy ? { proxy } : {}),
    hang: (on) => {
      hangs = on;
    },
    setup: async (role) => {
      const dir = mkdtempSync(join(tmpdir(), `astro-trust-${role}-`));
      writeFileSync(join(dir, 'deployments.json'), JSON.stringify({ deployments, totalCount: deployments.length }));
      writeFileSync(
        join(dir, 'astro-trust.yaml'),
        `version: 1\norganizationId: org\ninventory: { source: file, path: ./deployments.json }\nroles:\n  - { name: ${role}, trust: workload-identity, deployments: [{ workspaceId: clws0000000001 }] }\n`,
      );
      await iam.send(
        new CreateRoleCommand({
          RoleName: role,
          AssumeRolePolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'AllowGlue',
                Effect: 'Allow',
                Principal: { Service: 'glue.amazonaws.com' },
                Action: 'sts:AssumeRole',
              },
            ],
          }),
        }),
      );
      const applied = await cli(['apply', '--config', join(dir, 'astro-trust.yaml'), '--yes'], {
        adapters: { store: new IamTrustStore(iam, { verifyDelayMs: 1 }) },
      });
      expect(applied.code).toBe(0);
      const state = join(dir, '.astro-trust');
      return {
        dir,
        state,
        role,
        // --snapshot and --dead-letters name the state directory explicitly (release 2 defaulted them to the
        // working directory), so that every run keeps its state where the test can see it.
        args: [
          '--config',
          join(dir, 'astro-trust.yaml'),
          '--resync-interval',
          '0',
          '--watch-interval',
          '0',
          '--snapshot',
          join(state, 'inventory-snapshot.json'),
          '--dead-letters',
          join(state, 'dead-letters.jsonl'),
        ],
      };
    },
    env: () => ({
      ASTRO_TRUST_WEBHOOK_SECRET: secret,
      ASTRO_TRUST_EVENTS_TOKEN: token,
      SLACK_WEBHOOK_URL: slack.url,
      // moto's account: serve would otherwise ask STS at start (through the proxy, when IAM's slowness is played).
      ASTRO_TRUST_HOME_ACCOUNT: '123456789012',
    }),
    trust,
    owned,
    handEdit: async (role) => {
      const doc = await trust(role);
      (doc.Statement.find(isOwned)!.Principal as { AWS: string[] }).AWS = [...owned(doc), INTRUDER];
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role, PolicyDocument: JSON.stringify(doc) }));
    },
    cloudTrail: async (server, role, eventId) => {
      const res = await fetch(`${server.url}/events/eventbridge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          source: 'aws.iam',
          'detail-type': 'AWS API Call via CloudTrail',
          detail: {
            eventName: 'UpdateAssumeRolePolicy',
            eventID: eventId,
            eventTime: new Date().toISOString(),
            sourceIPAddress: '203.0.113.24',
            requestParameters: { roleName: role },
            userIdentity: { type: 'AssumedRole', arn: ACTOR },
          },
        }),
      });
      await res.arrayBuffer();
      return res.status;
    },
    driftPosts: (eventId, from = 0) =>
      slack.requests
        .slice(from)
        .map((r) => r.body)
        .filter((b) => b.includes('Trust drift') && b.includes(`CloudTrail ${eventId}`)),
    health,
    quiet: async (server) => {
      await waitFor(async () => {
        const h = await health(server);
        return h.queued === 0 && h.alertsQueued === 0;
      }, 20_000);
    },
    resynced: async (server) => {
      expect(
        await waitFor(async () => {
          const h = await health(server);
          return h.queued === 0 && h.processed >= 1;
        }, 20_000),
      ).toBe(true);
    },
    close: async () => {
      killAllServe();
      await proxy?.close();
      await slack.close();
      await moto.stop();
    },
  };
}
