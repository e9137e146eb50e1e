/**
 * What every Lambda function shares, built once per cold start: the config bundled with the function,
 * the environment (read here and nowhere else), and the AWS clients. Secrets come from SSM through the
 * middy `ssm` middleware at invocation, never from the environment and never logged.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { AstroApiInventory } from '../adapters/astro-api.js';
import { EventBridgePublisher } from '../adapters/eventbridge.js';
import { createIamClient, IamTrustStore } from '../adapters/iam.js';
import { FileInventory } from '../adapters/inventory-file.js';
import type { InventorySource } from '../adapters/ports.js';
import { SqsReconcileQueue } from '../adapters/sqs-queue.js';
import { DynamoDbSnapshotStore } from '../adapters/snapshot-dynamodb.js';
import { DynamoDbDedup } from '../adapters/dedup.js';
import { DynamoDbRevertLog } from '../adapters/revert-log.js';
import { loadConfig, type Config } from '../config/config.js';
import type middy from '@middy/core';
import ssm from '@middy/ssm';
import { UsageError } from '../errors.js';

export interface LambdaEnv {
  configFile: string;
  queueUrl?: string;
  busName?: string;
  watchTable?: string;
  astroApiUrl: string;
  selfArns: string[];
  /** SSM SecureString parameter names. */
  params: { webhookSecret?: string; astroApiToken?: string; slackWebhookUrl?: string };
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): LambdaEnv {
  return {
    configFile: env.ASTRO_TRUST_CONFIG || 'astro-trust.yaml',
    queueUrl: env.RECONCILE_QUEUE_URL || undefined,
    busName: env.EVENT_BUS_NAME || undefined,
    watchTable: env.WATCH_TABLE || undefined,
    astroApiUrl: env.ASTRO_API_URL || 'https://api.astronomer.io',
    selfArns: (env.ASTRO_TRUST_SELF_ARNS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    params: {
      webhookSecret: env.WEBHOOK_SECRET_PARAM || undefined,
      astroApiToken: env.ASTRO_API_TOKEN_PARAM || undefined,
      slackWebhookUrl: env.SLACK_WEBHOOK_URL_PARAM || undefined,
    },
  };
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new UsageError(`${name} is not set in the function's environment (serverless.yml sets it)`);
  return value;
}

/** Built lazily, once per container. */
export class Runtime {
  readonly config: Config;
  private clients: { sqs?: SQSClient; events?: EventBridgeClient; store?: IamTrustStore; dynamodb?: DynamoDBClient } = {};

  constructor(readonly env: LambdaEnv = readEnv()) {
    this.config = loadConfig(env.configFile);
  }

  /** The Deployment inventory: the Astro API with the token from SSM, or the bundled file. */
  inventory(secrets: { astroApiToken?: string }): InventorySource {
    if (this.config.inventory.source === 'file') return new FileInventory(this.config.inventory.path);
    return new AstroApiInventory({
      baseUrl: this.env.astroApiUrl,
      organizationId: this.config.organizationId,
      token: String(required(secrets.astroApiToken, 'the Astro API token (SSM parameter ASTRO_API_TOKEN_PARAM)')),
      log: (l) => console.log(l),
    });
  }

  queue() {
    this.clients.sqs ??= new SQSClient({});
    return new SqsReconcileQueue(this.clients.sqs, required(this.env.queueUrl, 'RECONCILE_QUEUE_URL'));
  }

  events() {
    this.clients.events ??= new EventBridgeClient({});
    return new EventBridgePublisher(this.clients.events, required(this.env.busName, 'EVENT_BUS_NAME'));
  }

  snapshots() {
    this.clients.dynamodb ??= new DynamoDBClient({});
    return new DynamoDbSnapshotStore(this.clients.dynamodb, required(this.env.watchTable, 'WATCH_TABLE'));
  }

  /** The watch's last listing, when the stack has the watch table: reconciles refuse a listing that shrank past it. */
  lastListing() {
    return this.env.watchTable ? this.snapshots() : undefined;
  }

  /** The flap guard's memory, shared by every reconcile container through the watch table. */
  reverts() {
    if (!this.env.watchTable) return undefined;
    this.clients.dynamodb ??= new DynamoDBClient({});
    return new DynamoDbRevertLog(this.clients.dynamodb, this.env.watchTable);
  }

  /** What the notifier posted, remembered across cold starts in the watch table (in memory without one). */
  dedup() {
    if (!this.env.watchTable) return undefined;
    this.clients.dynamodb ??= new DynamoDBClient({});
    return new DynamoDbDedup(this.clients.dynamodb, this.env.watchTable);
  }

  store() {
    this.clients.store ??= new IamTrustStore(createIamClient({}), {}, (l) => console.log(l));
    return this.clients.store;
  }
}

let shared: Runtime | undefined;
/** The container's runtime: built on first use so a bad config fails the invocation with its message. */
export function runtime(): Runtime {
  shared ??= new Runtime();
  return shared;
}

/** For tests: forget the container's runtime so the next call reads the environment again. */
export function resetRuntime() {
  shared = undefined;
}

type SecretKey = keyof LambdaEnv['params'];

/**
 * How long secrets are cached: 5 minutes on Lambda (rotation is picked up), for the whole process under
 * `osls invoke local` (IS_LOCAL), where middy's refresh timer would keep Node from exiting.
 */
export function secretsCacheMs(env: NodeJS.ProcessEnv = process.env): number {
  return env.IS_LOCAL === 'true' ? -1 : 5 * 60_000;
}

/**
 * The middy `ssm` middleware for a function's secrets, with an error that names the SSM parameters and
 * says how to create them instead of middy's "Failed to resolve internal values".
 */
export function secrets(keys: SecretKey[], cacheKey: string): middy.MiddlewareObj {
  const fetchData = ssmFetchData(keys);
  const inner = ssm({ fetchData, setToContext: true, cacheKey, cacheExpiry: secretsCacheMs() });
  return {
    before: async (request) => {
      try {
        return await inner.before!(request as never);
      } catch (err) {
        const causes = ((err as { cause?: { data?: unknown[] } }).cause?.data ?? []).map((e) => (e as Error).message ?? String(e));
        throw new UsageError(
          `cannot read the SSM parameter${Object.keys(fetchData).length === 1 ? '' : 's'} ${Object.values(fetchData).join(', ')}` +
            `${causes.length ? ` (${causes.join('; ')})` : ''}: create ${Object.keys(fetchData).length === 1 ? 'it' : 'them'} as SecureString (docs/deploy.md, "Secrets"), or npm run local:up for a local run`,
          { cause: err },
        );
      }
    },
  };
}

/**
 * middy `ssm` fetchData for the secrets a function needs: each SSM parameter named in the environment,
 * except the Astro API token when the config reads its inventory from a file.
 */
export function ssmFetchData(keys: SecretKey[]): Record<string, string> {
  const rt = runtime();
  const out: Record<string, string> = {};
  for (const key of keys) {
    const name = rt.env.params[key];
    if (!name) continue;
    if (key === 'astroApiToken' && rt.config.inventory.source === 'file') continue;
    out[key] = name;
  }
  return out;
}
