/**
 * Event intake: turn a Deployment webhook or an IAM CloudTrail event into reconcile requests for the
 * roles it can affect. Nothing here writes IAM; the single writer does, from fresh state.
 */
import type { Config } from '../config/config.js';
import { matchingSelector, type RoleSpec } from '../domain/desired.js';
import { parseRoleArn, type Deployment } from '../domain/deployment.js';
import type { Actor, ReconcileRequest, SelfTampering } from '../domain/events.js';
import { isHubMemberSession, ownRoleKind, ROLE_CHANGE_EVENT_NAMES } from '../domain/self.js';
import type { EventPublisher, InventorySnapshotStore, InventorySource, ReconcileQueue } from './ports.js';
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

export type IamChangeVerdict =
  | { enqueued: ReconcileRequest }
  | { ignored: string }
  /** A change to one of astro-trust's own roles: alerted (published), nothing queued. */
  | { selfTampering: SelfTampering };

/** The CloudTrail identity of an IAM call: the session issuer's role ARN for an assumed role; the service for an `AWSService` caller. */
export function actorOf(detail: CloudTrailDetail): {
  arn: string;
  issuerArn?: string;
  type?: string;
  invokedBy?: string;
  sourceIdentity?: string;
} {
  const u = detail.userIdentity ?? {};
  return {
    arn: u.arn ?? 'unknown',
    issuerArn: u.sessionContext?.sessionIssuer?.arn,
    type: u.type,
    invokedBy: u.invokedBy,
    sourceIdentity: u.sessionContext?.sourceIdentity,
  };
}

/** The accounts the config's roles name with `account`. */
function namedAccounts(config: Config): Set<string> {
  return new Set(config.roles.flatMap((r) => (r.account ? [r.account] : [])));
}

/**
 * Is a role declared in this event's account? A role with `account` lives there; a role without it lives
 * in the home account (an event without an account is taken as the home account's).
 */
function inAccount(spec: RoleSpec, account: string | undefined, homeAccount: string | undefined): boolean {
  if (spec.account) return spec.account === account;
  return account === undefined || account === homeAccount;
}

/** Who made an IAM call, as alerts show it. */
function actorFor(detail: CloudTrailDetail): Actor {
  const actor = actorOf(detail);
  return {
    arn: actor.arn,
    ...(actor.type ? { type: actor.type } : {}),
    ...(actor.invokedBy ? { invokedBy: actor.invokedBy } : {}),
    ...(detail.sourceIPAddress ? { sourceIp: detail.sourceIPAddress } : {}),
    ...(detail.userAgent ? { userAgent: detail.userAgent } : {}),
    eventName: detail.eventName!,
    eventTime: detail.eventTime ?? new Date(0).toISOString(),
    ...(detail.eventID ? { eventId: detail.eventID } : {}),
    ...(actor.sourceIdentity ? { sourceIdentity: actor.sourceIdentity } : {}),
  };
}

const partitionOfRegion = (region: string | undefined) =>
  region?.startsWith('cn-') ? 'aws-cn' : region?.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';

/**
 * An IAM change seen through CloudTrail (EventBridge `AWS API Call via CloudTrail`). Only events of the
 * accounts the config names count (the home account and each role's `account`). A change to one of
 * astro-trust's own roles (the member role and its reader, the hub's function roles) is alerted as
 * `SelfTampering`; a trust change to a managed role by anyone but astro-trust itself becomes a drift check.
 * astro-trust's own changes are those of its reconcile role (`selfArns`) and, in a member account, of the
 * member role in a session the hub opened (session name and source identity `astro-trust`).
 */
export async function onIamChange(
  deps: {
    config: Config;
    queue: ReconcileQueue;
    /** Where a self-tampering alert goes (the bus on Lambda, the notifier in `serve`). */
    events: EventPublisher;
    /** The reconcile role(s): their changes are astro-trust's own. */
    selfArns: string[];
    /** The roles astro-trust runs as (the hub's function roles): any change to them is self-tampering. */
    ownRoleArns?: string[];
    /** The account astro-trust runs in: the roles without `account` are there (DESIGN 3.6). */
    homeAccount?: string;
  },
  envelope: CloudTrailEnvelope,
): Promise<IamChangeVerdict> {
  const detail = envelope.detail ?? {};
  if (envelope.source !== 'aws.iam') return { ignored: `source ${envelope.source ?? '(none)'} is not aws.iam` };
  if (!ROLE_CHANGE_EVENT_NAMES.includes(detail.eventName as (typeof ROLE_CHANGE_EVENT_NAMES)[number]))
    return { ignored: `event ${detail.eventName ?? '(none)'} does not change trust` };
  if (detail.errorCode) return { ignored: `the call failed (${detail.errorCode})` };
  const account = envelope.account;
  const members = namedAccounts(deps.config);
  // Anyone may put events on a bus that lets them, or forward another account's: only the config's accounts count.
  if (account !== undefined && account !== deps.homeAccount && !members.has(account))
    return { ignored: `account ${account} is not one the config names` };
  const named = detail.requestParameters?.roleName;
  if (typeof named === 'string') {
    const kind = ownRoleKind(named, account ?? deps.homeAccount ?? '', {
      memberRoleName: deps.config.memberRoleName,
      memberAccounts: members,
      ...(deps.homeAccount ? { homeAccount: deps.homeAccount } : {}),
      ownRoleArns: deps.ownRoleArns ?? [],
    });
    if (kind) {
      const accountId = account ?? deps.homeAccount ?? 'unknown';
      const hubArn = (deps.ownRoleArns ?? []).find((a) => {
        const r = parseRoleArn(a);
        return r?.accountId === accountId && r.name.toLowerCase() === named.toLowerCase();
      });
      const policy = detail.requestParameters?.policyName ?? detail.requestParameters?.policyArn;
      const tampering: SelfTampering = {
        role: `${accountId}/${named}`,
        roleArn:
          kind === 'hub-function-role' && hubArn
            ? hubArn
            : `arn:${partitionOfRegion(envelope.region)}:iam::${accountId}:role/${named}`,
        accountId,
        kind,
        actor: actorFor(detail),
        ...(policy ? { policy } : {}),
        reason: 'iam-change',
      };
      await deps.events.publish([{ type: 'SelfTampering', detail: tampering }]);
      return { selfTampering: tampering };
    }
  }
  if (!IAM_EVENT_NAMES.includes(detail.eventName as (typeof IAM_EVENT_NAMES)[number]))
    return { ignored: `event ${detail.eventName ?? '(none)'} does not change trust` };
  // IAM role names are case-insensitive: a call for Data-Lake-Reader changed data-lake-reader. The event's
  // account (a member account's events arrive forwarded to the hub) picks which of same-named roles changed.
  const role =
    typeof named === 'string'
      ? deps.config.roles.find(
          (r) => r.roleName.toLowerCase() === named.toLowerCase() && inAccount(r, account, deps.homeAccount),
        )?.name
      : undefined;
  if (!role)
    return {
      ignored: `role ${typeof named === 'string' ? named : '(none)'}${account ? ` in account ${account}` : ''} is not managed`,
    };
  const actor = actorOf(detail);
  if (deps.selfArns.some((self) => self === actor.arn || self === actor.issuerArn))
    return { ignored: 'changed by astro-trust itself' };
  if (account && account !== deps.homeAccount && isHubMemberSession(actor, account, deps.config.memberRoleName))
    return { ignored: 'changed by astro-trust itself (its member role, in a session the hub opened)' };
  const drift = actorFor(detail);
  const request: ReconcileRequest = {
    role,
    reason: 'iam-change',
    drift,
    ...(detail.eventID ? { sourceEventId: detail.eventID } : {}),
  };
  await deps.queue.enqueue([request]);
  return { enqueued: request };
}
