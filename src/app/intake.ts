/**
 * Event intake: turn a Deployment webhook or an IAM CloudTrail event into reconcile requests for the
 * roles it can affect. Nothing here writes IAM; the single writer does, from fresh state.
 */
import type { Config } from '../config/config.js';
import { matchingSelector, type RoleSpec } from '../domain/desired.js';
import { parseRoleArn, type Deployment } from '../domain/deployment.js';
import type { Actor, ReconcileRequest } from '../domain/events.js';
import type { InventorySnapshotStore, InventorySource, ReconcileQueue } from './ports.js';
import type { CloudTrailDetail, CloudTrailEnvelope } from './cloudtrail.js';
import type { WebhookEvent } from './webhook.js';

/** Could this role's declared set include the Deployment? (Selectors, or the Deployment uses the role as its identity.) */
export function mayDeclare(spec: RoleSpec, d: Deployment): boolean {
  if (!spec.deployments) {
    return [d.workloadIdentity, d.drWorkloadIdentity].some((arn) => {
      const role = arn === undefined ? undefined : parseRoleArn(arn);
      return (
        role !== undefined &&
        role.name === spec.roleName &&
        (spec.account === undefined || role.accountId === spec.account)
      );
    });
  }
  return matchingSelector(spec, d) !== undefined;
}

/**
 * Roles a Deployment event can affect: those that declare the Deployment as the fresh inventory shows it
 * (after) or as the last listing showed it (before: the watch's snapshot), since an update may move it out of
 * a role's selectors and a delete leaves only the before. Without a known before (no snapshot, or a
 * Deployment neither listing shows), an update or delete affects every role: each reconcile reads fresh
 * state anyway, and a role that needs nothing writes nothing.
 */
export async function onDeploymentEvent(
  deps: { config: Config; inventory: InventorySource; queue: ReconcileQueue; snapshots?: InventorySnapshotStore },
  event: WebhookEvent,
): Promise<ReconcileRequest[]> {
  const { deployments } = await deps.inventory.list();
  const after = deployments.find((x) => x.id === event.deploymentId);
  const previous = event.type === 'deployment.created' ? undefined : await deps.snapshots?.load();
  const before = previous?.find((x) => x.id === event.deploymentId);
  const known =
    event.type === 'deployment.created'
      ? after !== undefined
      : previous !== undefined && (before !== undefined || after !== undefined);
  const roles = known
    ? deps.config.roles.filter((r) => [before, after].some((d) => d !== undefined && mayDeclare(r, d)))
    : deps.config.roles;
  const requests = roles.map((r): ReconcileRequest => ({
    role: r.name,
    reason: 'webhook',
    deploymentId: event.deploymentId,
    sourceEventId: event.id,
  }));
  await deps.queue.enqueue(requests);
  return requests;
}

export const IAM_EVENT_NAMES = ['UpdateAssumeRolePolicy', 'CreateRole', 'DeleteRole'] as const;

export type IamChangeVerdict = { enqueued: ReconcileRequest } | { ignored: string };

/** The CloudTrail identity of an IAM call: the session issuer's role ARN for an assumed role; the service for an `AWSService` caller. */
export function actorOf(detail: CloudTrailDetail): {
  arn: string;
  issuerArn?: string;
  type?: string;
  invokedBy?: string;
} {
  const u = detail.userIdentity ?? {};
  return {
    arn: u.arn ?? 'unknown',
    issuerArn: u.sessionContext?.sessionIssuer?.arn,
    type: u.type,
    invokedBy: u.invokedBy,
  };
}

/**
 * Is a role declared in this event's account? A role with `account` lives there; a role without it lives
 * in the home account: the one astro-trust knows it runs in, else any account no role names.
 */
function inAccount(
  spec: RoleSpec,
  account: string | undefined,
  deps: { config: Config; homeAccount?: string },
): boolean {
  if (spec.account) return spec.account === account;
  if (account === undefined) return true;
  if (deps.homeAccount) return account === deps.homeAccount;
  return !deps.config.roles.some((r) => r.account === account);
}

/** The member role astro-trust assumes in an account its config names (its own writes there, DESIGN 3.6). */
function isMemberRole(issuerArn: string | undefined, account: string, config: Config): boolean {
  if (!issuerArn || !config.roles.some((r) => r.account === account)) return false;
  const role = parseRoleArn(issuerArn);
  return role !== undefined && role.accountId === account && role.name === config.memberRoleName;
}

/**
 * An IAM change seen through CloudTrail (EventBridge `AWS API Call via CloudTrail`): a managed role changed
 * by someone other than astro-trust itself becomes a drift check for that role.
 */
export async function onIamChange(
  deps: {
    config: Config;
    queue: ReconcileQueue;
    selfArns: string[];
    /** The account astro-trust runs in, when known: the roles without `account` are there (DESIGN 3.6). */
    homeAccount?: string;
  },
  envelope: CloudTrailEnvelope,
): Promise<IamChangeVerdict> {
  const detail = envelope.detail ?? {};
  if (envelope.source !== 'aws.iam') return { ignored: `source ${envelope.source ?? '(none)'} is not aws.iam` };
  if (!IAM_EVENT_NAMES.includes(detail.eventName as (typeof IAM_EVENT_NAMES)[number]))
    return { ignored: `event ${detail.eventName ?? '(none)'} does not change trust` };
  if (detail.errorCode) return { ignored: `the call failed (${detail.errorCode})` };
  const named = detail.requestParameters?.roleName;
  const account = envelope.account;
  // IAM role names are case-insensitive: a call for Data-Lake-Reader changed data-lake-reader. The event's
  // account (a member account's events arrive forwarded to the hub) picks which of same-named roles changed.
  const role =
    typeof named === 'string'
      ? deps.config.roles.find((r) => r.roleName.toLowerCase() === named.toLowerCase() && inAccount(r, account, deps))
          ?.name
      : undefined;
  if (!role)
    return {
      ignored: `role ${typeof named === 'string' ? named : '(none)'}${account ? ` in account ${account}` : ''} is not managed`,
    };
  const actor = actorOf(detail);
  if (deps.selfArns.some((self) => self === actor.arn || self === actor.issuerArn))
    return { ignored: 'changed by astro-trust itself' };
  if (account && isMemberRole(actor.issuerArn, account, deps.config))
    return { ignored: 'changed by astro-trust itself (its member role)' };
  const drift: Actor = {
    arn: actor.arn,
    ...(actor.type ? { type: actor.type } : {}),
    ...(actor.invokedBy ? { invokedBy: actor.invokedBy } : {}),
    ...(detail.sourceIPAddress ? { sourceIp: detail.sourceIPAddress } : {}),
    ...(detail.userAgent ? { userAgent: detail.userAgent } : {}),
    eventName: detail.eventName!,
    eventTime: detail.eventTime ?? new Date(0).toISOString(),
    ...(detail.eventID ? { eventId: detail.eventID } : {}),
  };
  const request: ReconcileRequest = {
    role,
    reason: 'iam-change',
    drift,
    ...(detail.eventID ? { sourceEventId: detail.eventID } : {}),
  };
  await deps.queue.enqueue([request]);
  return { enqueued: request };
}
