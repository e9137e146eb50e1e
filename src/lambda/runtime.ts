/**
 * What every Lambda function shares, built once per cold start: the config bundled with the function (the
 * loader's result, packaged as JSON by deploy/from-config.js: no YAML parser or schema library here) and
 * the environment (read here and nowhere else). The AWS clients live in src/lambda/aws/, one module per
 * client, so that each function bundles only the clients it calls (the webhook and iamChange functions no
 * IAM client). Secrets come from SSM through the middy `ssm` middleware at invocation, never from the
 * environment and never logged.
 */
import { meteredInventory } from '../adapters/metered.js';
import type { InventorySource } from '../app/ports.js';
import type { Config } from '../config/config.js';
import { readPackagedConfig } from '../config/packaged.js';
import { UsageError } from '../errors.js';
import { DEFAULT_ASTRO_API_URL, inventorySource } from '../wiring/inventory.js';
import { usePackagedGlobs } from './globs.js';
import { logLine, meter } from './observability.js';

export interface LambdaEnv {
  /** The config packaged as JSON (`ASTRO_TRUST_PACKAGED_CONFIG`, relative to the function's directory). */
  packagedConfig?: string;
  queueUrl?: string;
  busName?: string;
  watchTable?: string;
  astroApiUrl: string;
  selfArns: string[];
  /** The roles the stack's functions run as (ASTRO_TRUST_OWN_ROLE_ARNS): any change to them is self-tampering. */
  ownRoleArns: string[];
  /** The account the stack runs in (serverless.yml: `${aws:accountId}`): roles without `account` live there. */
  homeAccount?: string;
  /** SSM SecureString parameter names. */
  params: { webhookSecret?: string; astroApiToken?: string; slackWebhookUrl?: string };
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): LambdaEnv {
  return {
    packagedConfig: env.ASTRO_TRUST_PACKAGED_CONFIG || undefined,
    queueUrl: env.RECONCILE_QUEUE_URL || undefined,
    busName: env.EVENT_BUS_NAME || undefined,
    watchTable: env.WATCH_TABLE || undefined,
    astroApiUrl: env.ASTRO_API_URL || DEFAULT_ASTRO_API_URL,
    selfArns: (env.ASTRO_TRUST_SELF_ARNS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    ownRoleArns: (env.ASTRO_TRUST_OWN_ROLE_ARNS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    homeAccount: /^\d{12}$/.test(env.ASTRO_TRUST_HOME_ACCOUNT ?? '') ? env.ASTRO_TRUST_HOME_ACCOUNT : undefined,
    params: {
      webhookSecret: env.WEBHOOK_SECRET_PARAM || undefined,
      astroApiToken: env.ASTRO_API_TOKEN_PARAM || undefined,
      slackWebhookUrl: env.SLACK_WEBHOOK_URL_PARAM || undefined,
    },
  };
}

export function required<T>(value: T | undefined, name: string): T {
  if (value === undefined)
    throw new UsageError(`${name} is not set in the function's environment (serverless.yml sets it)`);
  return value;
}

/** Built lazily, once per container. */
export class Runtime {
  readonly config: Config;

  constructor(readonly env: LambdaEnv = readEnv()) {
    const packaged = readPackagedConfig(required(env.packagedConfig, 'ASTRO_TRUST_PACKAGED_CONFIG'));
    usePackagedGlobs(packaged.globs);
    this.config = packaged.config;
  }

  /** The Deployment inventory: the Astro API with the token from SSM, or the bundled file; each listing counted. */
  inventory(secrets: { astroApiToken?: string }): InventorySource {
    const token = secrets.astroApiToken === undefined ? undefined : String(secrets.astroApiToken);
    const tokenFrom = `the Astro API token (the SSM parameter ${this.env.params.astroApiToken ?? 'named by ASTRO_API_TOKEN_PARAM'})`;
    return meteredInventory(
      inventorySource(this.config, { token, tokenFrom, baseUrl: this.env.astroApiUrl, log: logLine }),
      meter,
    );
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
