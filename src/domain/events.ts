/**
 * What comes in (reconcile requests: a hint naming a role and why) and what goes out (astro-trust's own
 * events, published on its bus and rendered to Slack). Level-triggered: a request never carries state.
 */
import { standing } from './findings.js';
import type { Finding, PrincipalChange, RolePlan } from './plan.js';
import type { OwnRoleKind } from './self.js';

/** Who changed IAM, from CloudTrail's `detail.userIdentity` and friends. */
export interface Actor {
  arn: string;
  type?: string;
  /** For an `AWSService` caller (CloudFormation, ...): the service, from `userIdentity.invokedBy`. */
  invokedBy?: string;
  sourceIp?: string;
  userAgent?: string;
  eventName: string;
  eventTime: string;
  eventId?: string;
  /** The session's source identity (`userIdentity.sessionContext.sourceIdentity`): who opened a role session, kept across role chaining. */
  sourceIdentity?: string;
}

export type ReconcileReason = 'webhook' | 'iam-change' | 'resync' | 'manual' | 'watch';

export interface ReconcileRequest {
  role: string;
  reason: ReconcileReason;
  /** Set for IAM-change requests: the reconcile is a drift check and alerts what it finds. */
  drift?: Actor;
  deploymentId?: string;
  /** Id of the webhook or CloudTrail event behind the request, for logs and deduplication. */
  sourceEventId?: string;
}

export const EVENT_SOURCE = 'astro-trust';

export type AstroTrustEvent =
  | { type: 'TrustPolicyUpdated'; detail: TrustPolicyUpdated }
  | { type: 'DriftDetected'; detail: DriftDetected }
  | { type: 'ReconcileFailed'; detail: ReconcileFailed }
  | { type: 'TrustPolicyTooLarge'; detail: GuardDetail }
  | { type: 'GuardStopped'; detail: GuardDetail }
  | { type: 'InventoryRefused'; detail: InventoryRefused }
  | { type: 'SelfTampering'; detail: SelfTampering };

/**
 * A change to a role astro-trust itself runs as or assumes (DESIGN 7.1): the member role or its reader in
 * a member account, or one of the hub's function roles. astro-trust never changes these roles, so every
 * change is someone else's (a stack update is CloudFormation's, and is alerted too): it may widen who can
 * rewrite trust, or blind astro-trust. Nothing is reverted; a person checks the change.
 */
export interface SelfTampering {
  /** The changed role, `<account>/<name>`. */
  role: string;
  roleArn: string;
  accountId: string;
  /** What the role is to astro-trust. */
  kind: OwnRoleKind;
  /** Who changed it, and the IAM call (`eventName`). */
  actor: Actor;
  /** The inline or managed policy the call named (PutRolePolicy, AttachRolePolicy...), when it named one. */
  policy?: string;
  reason: 'iam-change';
}

/** A Deployment listing astro-trust would not act on (DESIGN 6.1): nothing was changed. */
export interface InventoryRefused {
  /**
   * empty; shrunk past maxShrinkPercent (since the largest listing within inventory.shrinkWindow); inconsistent
   * (pages that contradict each other, after retries); unreadable (a snapshot without a `deployments` array).
   */
  kind: 'empty' | 'shrunk' | 'inconsistent' | 'unreadable';
  message: string;
  /** What was being done when the listing was refused: a reconcile reason, or `watch`. */
  reason: ReconcileReason;
  /** The role whose reconcile needed the listing, when one did. */
  role?: string;
}

/** What an event is about, for logs: its role, or the inventory. */
export function subjectOf(event: AstroTrustEvent): string {
  return event.type === 'InventoryRefused' ? 'inventory' : event.detail.role;
}

interface RoleRef {
  role: string;
  roleArn?: string;
  accountId?: string;
  mode: 'enforce' | 'observe';
  reason: ReconcileReason;
}

export interface TrustPolicyUpdated extends RoleRef {
  added: PrincipalChange[];
  removed: PrincipalChange[];
  policyChars: number;
  limit: number;
}

export interface DriftDetected extends RoleRef {
  /** CloudTrail identity behind the change, when the drift was seen through an IAM event. */
  actor?: Actor;
  /** Principals in owned statements that the config does not declare (reverted in enforce). */
  undeclaredInOwned: PrincipalChange[];
  /** Declared principals missing from owned statements (restored in enforce). */
  missingDeclared: PrincipalChange[];
  /**
   * Findings not acknowledged (DESIGN 7.1), each with its `id`: undeclared trust in statements astro-trust does not
   * own (alerted, never edited), and declared identities the policy does not let in (`declared-trust-denied`).
   */
  unexpected: Finding[];
  /** Owned statements edited by hand (Effect, Action, Condition). */
  rewritesOwned: boolean;
  /** `not-reverted-flapping`: the flap guard stopped reverting a role another writer keeps changing. */
  action: 'reverted' | 'none' | 'blocked' | 'failed' | 'not-reverted-flapping';
  /** Findings acknowledged in the config: not listed, counted. */
  acknowledged?: number;
  roleDeleted?: boolean;
  /** OIDC issuers the role trusts whose IAM identity provider is gone: the trust is broken (recreated in enforce). */
  missingOidcProviders?: string[];
}

export interface ReconcileFailed extends RoleRef {
  error: string;
  /** The error is of a kind a later try may fix. Whether one will come is `willRetry`. */
  retryable: boolean;
  /** Which attempt failed, of how many (`serve`'s retries, SQS receives on Lambda), when the runtime retries. */
  attempt?: number;
  attempts?: number;
  /** True only when the runtime will try again; false after the last attempt; unset where nothing retries. */
  willRetry?: boolean;
}

export interface GuardDetail extends RoleRef {
  guard: string;
  message: string;
  /** GuardStopped: the identities the stopped plan would have removed. */
  identities?: string[];
  /** Declared Deployments left untrusted for lack of room: exactly the ones IAM does not trust afterwards. */
  deploymentsNotFitting?: { id: string; name: string }[];
  policyChars: number;
  limit: number;
}

/** A stable fingerprint of what a drift alert says, so the same drift is not posted twice in a window. */
export function driftFingerprint(d: DriftDetected): string {
  const parts = [
    d.role,
    d.action,
    ...d.undeclaredInOwned.map((c) => `-${c.issuer ?? ''}${c.principal}`),
    ...d.missingDeclared.map((c) => `+${c.issuer ?? ''}${c.principal}`),
    // By id: a changed grant (a condition removed, a second statement) is a new alert.
    ...d.unexpected.map((f) => `!${f.id}`),
    d.rewritesOwned ? 'rewrite' : '',
    d.roleDeleted ? 'deleted' : '',
    ...(d.missingOidcProviders ?? []).map((i) => `?${i}`),
  ];
  return parts.sort().join('|');
}

function ref(plan: RolePlan, reason: ReconcileReason): RoleRef {
  // Every event names the role's account: from its ARN, or from the config when the role could not be read.
  const accountId = plan.arn ? plan.arn.split(':')[4] : plan.account;
  return {
    role: plan.role,
    ...(plan.arn ? { roleArn: plan.arn } : {}),
    ...(accountId ? { accountId } : {}),
    mode: plan.mode,
    reason,
  };
}

/**
 * The events one reconcile produces. `written`: the proposed policy was written; `error`: the write
 * failed. Drift is reported for IAM-change requests, and for any request that finds trust nobody declared.
 */
export function eventsForReconcile(
  plan: RolePlan,
  request: ReconcileRequest,
  outcome: { written: boolean; error?: { message: string; retryable: boolean }; flapping?: boolean },
): AstroTrustEvent[] {
  const events: AstroTrustEvent[] = [];
  const base = ref(plan, request.reason);
  const size = { policyChars: plan.policy.proposedChars, limit: plan.policy.limit };
  if (plan.status === 'missing') {
    if (request.drift) {
      events.push({
        type: 'DriftDetected',
        detail: {
          ...base,
          actor: request.drift,
          undeclaredInOwned: [],
          missingDeclared: [],
          unexpected: [],
          rewritesOwned: false,
          action: 'none',
          roleDeleted: true,
        },
      });
    }
    events.push({
      type: 'ReconcileFailed',
      detail: { ...base, error: 'the role does not exist in IAM', retryable: false },
    });
    return events;
  }
  if (plan.status === 'unreachable') {
    events.push({
      type: 'ReconcileFailed',
      detail: { ...base, error: plan.error!.message, retryable: plan.error!.retryable },
    });
    return events;
  }
  // Acknowledged findings are not alerted until their acknowledgement expires.
  const findings = standing(plan.findings);
  const drifted = request.drift !== undefined && (plan.status !== 'in-sync' || findings.length > 0);
  const foreignOnly = request.drift === undefined && (findings.length > 0 || plan.missingOidcProviders.length > 0);
  if (drifted || foreignOnly) {
    const action: DriftDetected['action'] =
      plan.status === 'in-sync'
        ? 'none'
        : outcome.flapping
          ? 'not-reverted-flapping'
          : plan.status === 'blocked'
            ? 'blocked'
            : outcome.error
              ? 'failed'
              : outcome.written
                ? 'reverted'
                : 'none';
    events.push({
      type: 'DriftDetected',
      detail: {
        ...base,
        ...(request.drift ? { actor: request.drift } : {}),
        // Without an IAM event behind it, a plan's changes are onboarding/offboarding, not drift.
        undeclaredInOwned: request.drift ? plan.remove : [],
        missingDeclared: request.drift ? plan.add : [],
        unexpected: findings,
        ...(plan.findings.length > findings.length ? { acknowledged: plan.findings.length - findings.length } : {}),
        rewritesOwned: request.drift ? plan.rewritesOwned : false,
        action,
        ...(plan.missingOidcProviders.length ? { missingOidcProviders: plan.missingOidcProviders } : {}),
      },
    });
  }
  if (outcome.written)
    events.push({ type: 'TrustPolicyUpdated', detail: { ...base, added: plan.add, removed: plan.remove, ...size } });
  if (plan.guard?.kind === 'policy-too-large') {
    events.push({
      type: 'TrustPolicyTooLarge',
      detail: {
        ...base,
        guard: plan.guard.kind,
        message: plan.guard.message,
        deploymentsNotFitting: plan.notFitting,
        ...size,
      },
    });
  } else if (plan.notFitting.length > 0 && (outcome.written || plan.mode === 'observe')) {
    const n = plan.notFitting.length;
    const message =
      `${outcome.written ? 'written with what fits' : 'would be written with what fits'} (${plan.policy.proposedChars} of ${plan.policy.limit} characters); ` +
      `${n} declared Deployment${n === 1 ? ' is' : 's are'} not trusted for lack of room and will be added, oldest first, as room frees up. ` +
      `Narrow the role's selectors, or ask AWS to raise the "Role trust policy length" quota and set maxPolicyChars to it.`;
    events.push({
      type: 'TrustPolicyTooLarge',
      detail: { ...base, guard: 'policy-too-large', message, deploymentsNotFitting: plan.notFitting, ...size },
    });
  }
  if (plan.guard?.kind === 'too-many-removals') {
    events.push({
      type: 'GuardStopped',
      detail: {
        ...base,
        guard: plan.guard.kind,
        message: plan.guard.message,
        identities: plan.remove.map((r) => (r.issuer ? `${r.issuer}:sub=${r.principal}` : r.principal)),
        ...size,
      },
    });
  }
  if (outcome.error)
    events.push({
      type: 'ReconcileFailed',
      detail: { ...base, error: outcome.error.message, retryable: outcome.error.retryable },
    });
  return events;
}
