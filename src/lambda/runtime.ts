/**
 * What every Lambda function shares, built once per cold start: the config bundled with the function and
 * the environment (read here and nowhere else). The AWS clients live in src/lambda/aws/, one module per
 * client, so that each function bundles only the clients it calls (the webhook and iamChange functions no
 * IAM client). Secrets come from SSM through the middy `ssm` middleware at invocation, never from the
 * environment and never logged.
 */
import { AstroApiInventory } from '../adapters/astro-api.js';
import { FileInventory } from '../adapters/inventory-file.js';
import type { InventorySource } from '../adapters/ports.js';
import { loadConfig, type Config } from '../config/config.js';
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

export function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new UsageError(`${name} is not set in the function's environment (serverless.yml sets it)`);
  return value;
}

/** Built lazily, once per container. */
export class Runtime {
  readonly config: Config;

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
