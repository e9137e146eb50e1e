/**
 * Logs and metrics of the Lambda functions: Powertools for AWS Lambda (TypeScript). The Logger writes
 * JSON lines with level, timestamp, the function's request id and cold start (injectLambdaContext), plus
 * the correlation each function appends (role, webhookId, CloudTrail eventId). Metrics go out as
 * CloudWatch EMF at the end of each invocation (logMetrics): trust writes, drift, failures, Deployments
 * not fitting, refused listings, Astro listings and IAM calls, in the namespace `AstroTrust`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type middy from '@middy/core';
import type { LogAttributes } from '@aws-lambda-powertools/logger/types';
import type { Logger as PortLogger, Meter } from '../app/ports.js';

export const logger = new Logger({ serviceName: 'astro-trust' });
export const metrics = new Metrics({ namespace: 'AstroTrust', serviceName: 'astro-trust' });

export const meter: Meter = {
  count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value),
};

/** The same logger through astro-trust's own Logger port (src/adapters/ports.ts), for adapters that log fields. */
export const structuredLog: PortLogger = {
  debug: (message, fields = {}) => logger.debug(message, fields as LogAttributes),
  info: (message, fields = {}) => logger.info(message, fields as LogAttributes),
  warn: (message, fields = {}) => logger.warn(message, fields as LogAttributes),
  error: (message, fields = {}) => logger.error(message, fields as LogAttributes),
};

/** The adapters' one-line reports (retry summaries, listing notes) as entries of the function's log. */
export const logLine = (line: string) => logger.info(line);

/** The middlewares every function starts with: request id and cold start on every line; metrics flushed at the end. */
export function observed(): middy.MiddlewareObj[] {
  return [
    injectLambdaContext(logger, { resetKeys: true }),
    logMetrics(metrics, { throwOnEmptyMetrics: false }),
  ] as middy.MiddlewareObj[];
}
