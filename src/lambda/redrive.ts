/**
 * How many times SQS hands the reconcile function one message before it moves to the dead-letter queue
 * (`maxReceiveCount` in serverless.yml; test/deploy/template.test.ts keeps them equal). A failure on the last
 * receive is alerted as the last attempt, never as "will be retried" (DESIGN 7.2). Its own module: importing
 * it brings no SQS client into a bundle.
 */
export const RECONCILE_MAX_RECEIVES = 5;
