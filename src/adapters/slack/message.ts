/**
 * The Slack message for one event (pure): what happened, who did it, what astro-trust did and what is left
 * for a person. Every caller-controlled string (user agent, ARNs, names from the inventory, messages) is
 * escaped so no mention or link can be injected; every cut list says how many were left out; each block
 * stays within Block Kit's limits (section text 3,000, field 2,000, header 150, 10 fields, 50 blocks).
 */
import type { ContextBlock, HeaderBlock, KnownBlock, SectionBlock } from '@slack/types';
import type { AstroTrustEvent, DriftDetected, SelfTampering } from '../../domain/events.js';
import type { Finding, PrincipalChange } from '../../domain/plan.js';
import { splitRoleKey } from '../../domain/role-key.js';

export const LIMITS = {
  sectionText: 3000,
  fieldText: 2000,
  headerText: 150,
  fields: 10,
  blocks: 50,
  text: 3000,
} as const;

export interface MessageOptions {
  /** The config file astro-trust runs with, for the "see the plan" footer. */
  configPath: string;
  /** Region of the CloudTrail console link (IAM events are recorded in us-east-1). */
  cloudTrailRegion?: string;
}

/** Slack mrkdwn control characters: `<!channel>` or `<https://evil|AWS console>` arrive as plain text. */
export const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Inline code that cannot be closed early by a backtick in the value. */
const code = (text: string) => `\`${esc(text).replace(/`/g, "'")}\``;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A titled bulleted list cut to fit one section, always ending with "... and N more" when cut. */
export function bulletSection(title: string, items: string[], max: number = LIMITS.sectionText): SectionBlock {
  const head = `*${title}*`;
  const lines: string[] = [];
  let used = head.length;
  for (let i = 0; i < items.length; i++) {
    const line = `\n• ${clip(items[i]!, 600)}`;
    const tail = `\n… and ${items.length - i - 1} more`;
    // Keep room for the "... and N more" line whenever more items follow.
    if (used + line.length + (i < items.length - 1 ? tail.length : 0) > max) {
      lines.push(`\n… and ${items.length - i} more`);
      break;
    }
    lines.push(line);
    used += line.length;
  }
  return { type: 'section', text: { type: 'mrkdwn', text: `${head}${lines.join('')}` } };
}

const section = (text: string): SectionBlock => ({
  type: 'section',
  text: { type: 'mrkdwn', text: clip(text, LIMITS.sectionText) },
});
const header = (text: string): HeaderBlock => ({
  type: 'header',
  text: { type: 'plain_text', text: clip(text, LIMITS.headerText) },
});
const fields = (pairs: [string, string][]): SectionBlock => ({
  type: 'section',
  fields: pairs
    .slice(0, LIMITS.fields)
    .map(([k, v]) => ({ type: 'mrkdwn', text: clip(`*${k}*\n${v}`, LIMITS.fieldText) })),
});

function deploymentsOf(c: PrincipalChange): string {
  const ds = c.deployments ?? c.deploymentIds.map((id) => ({ id, name: id }));
  if (ds.length === 0) return '';
  return ` (${ds.map((d) => (d.name === d.id ? code(d.id) : `${esc(d.name)} ${code(d.id)}`)).join(', ')})`;
}
const changeLine = (c: PrincipalChange) =>
  `${code(c.principal)}${c.issuer ? ` on ${code(c.issuer)}` : ''}${deploymentsOf(c)}`;
const changes = (title: string, list: PrincipalChange[]) =>
  list.length === 0 ? [] : [bulletSection(title, list.map(changeLine))];
const statementOf = (f: Finding) =>
  f.sid ? code(f.sid) : f.statement !== undefined ? code(`Statement[${f.statement}]`) : undefined;
// The id is what `findings.acknowledge` names (DESIGN 7.1); a declared-trust-denied line names the blocking statement.
const findingLine = (f: Finding) => {
  const at = statementOf(f);
  const where = at ? (f.kind === 'declared-trust-denied' ? ` blocked by ${at}` : ` in ${at}`) : '';
  const deployments = f.deployments?.length
    ? ` (${f.kind === 'shared-identity' ? 'shared with' : 'Deployments'} ${f.deployments.map((d) => `${esc(d.name)} ${code(d.id)}`).join(', ')})`
    : '';
  // An event published by release 2 (still on the bus during an upgrade) has no id.
  return `${f.kind}: ${code(f.principal)}${where}${deployments}${f.id ? ` · id ${code(f.id)}` : ''}`;
};

/** The role's trust relationships in the IAM console (signed in to the role's account). */
export function consoleUrl(role: string): string {
  return `https://console.aws.amazon.com/iam/home#/roles/details/${encodeURIComponent(splitRoleKey(role).name)}?section=trust_relationships`;
}

export function cloudTrailUrl(eventId: string, region = 'us-east-1'): string {
  return `https://console.aws.amazon.com/cloudtrail/home?region=${encodeURIComponent(region)}#/events/${encodeURIComponent(eventId)}`;
}

/** What astro-trust did, in words that never claim more than it did. */
export function driftText(d: DriftDetected): string {
  const role = `*${esc(d.role)}*`;
  if (d.roleDeleted) return `Managed role ${role} was deleted`;
  const left = d.unexpected.length;
  const remain = left
    ? `; ${left} finding${left === 1 ? '' : 's'} in statements astro-trust does not own remain${left === 1 ? 's' : ''}: a person must act`
    : '';
  switch (d.action) {
    case 'reverted':
      return `Trust drift on ${role}: astro-trust statements restored (enforce mode)${remain}`;
    case 'not-reverted-flapping':
      return `Trust drift on ${role}: not reverted: astro-trust is fighting another writer${d.actor ? ` (${esc(otherWriter(d.actor))})` : ''} that keeps changing this role (flap guard)${remain}`;
    case 'blocked':
      return `Trust drift on ${role}: not reverted: a guard stopped the write${remain}`;
    case 'failed':
      return `Trust drift on ${role}: the revert failed${remain}`;
    default:
      return d.mode === 'observe'
        ? `Trust drift on ${role}: reported only (observe mode)${remain}`
        : left
          ? `Trust drift on ${role}: ${left} finding${left === 1 ? '' : 's'} in statements astro-trust does not own (never edited): a person must act`
          : `Trust drift on ${role}: reported only`;
  }
}

/** Who keeps re-applying a role: the service (CloudFormation), Terraform by its user agent, or the caller. */
export function otherWriter(actor: NonNullable<DriftDetected['actor']>): string {
  if (actor.invokedBy) return actor.invokedBy;
  if (/terraform|hashicorp/i.test(actor.userAgent ?? '')) return `Terraform as ${actor.arn}`;
  return actor.arn;
}

function actorName(d: DriftDetected): string {
  const a = d.actor!;
  // An AWSService caller (CloudFormation, ...) has no ARN: the service is in invokedBy.
  const who = a.arn !== 'unknown' ? a.arn : (a.invokedBy ?? 'unknown');
  return `${code(who)}${a.type ? ` (${esc(a.type)}${a.invokedBy && a.arn !== 'unknown' ? ` via ${esc(a.invokedBy)}` : ''})` : ''}${a.sourceIdentity ? ` · source identity ${code(a.sourceIdentity)}` : ''}`;
}

const OWN_ROLE: Record<SelfTampering['kind'], string> = {
  'member-role': 'the member role astro-trust writes trust through in this account',
  'member-reader-role': 'the read-only member role astro-trust reads trust through in this account',
  'hub-function-role': 'a role an astro-trust function runs as',
};

/** A change to one of astro-trust's own roles: who did what to which role, and what to check. */
function selfTamperingMessage(x: SelfTampering, options: MessageOptions): { text: string; blocks: KnownBlock[] } {
  const a = x.actor;
  const who = a.arn !== 'unknown' ? a.arn : (a.invokedBy ?? 'unknown');
  const text = `astro-trust's own role *${esc(x.role)}* was changed (${esc(a.eventName)}) by ${code(who)}: self-tampering`;
  const stack =
    x.kind === 'hub-function-role' ? 'the hub stack (serverless.yml)' : 'deploy/member-account.yml in that account';
  return {
    text,
    blocks: [
      header(`astro-trust: its own role ${x.role} was changed`),
      section(
        `*${text}*\n${esc(OWN_ROLE[x.kind])}. astro-trust never changes it, so this change is someone else's: ` +
          `it may let others rewrite trust, or stop astro-trust from seeing or repairing drift. Nothing was reverted. ` +
          `If it was not a deploy of ${stack}, check the change in CloudTrail and redeploy that stack to restore the role.`,
      ),
      fields([
        ['Role', code(x.roleArn)],
        ['Account', esc(x.accountId)],
        ['Change', `${esc(a.eventName)}${x.policy ? ` ${code(x.policy)}` : ''}`],
        [
          'Changed by',
          `${code(who)}${a.type ? ` (${esc(a.type)}${a.invokedBy && a.arn !== 'unknown' ? ` via ${esc(a.invokedBy)}` : ''})` : ''}${a.sourceIdentity ? ` · source identity ${code(a.sourceIdentity)}` : ''}`,
        ],
        [
          'When',
          `${esc(a.eventTime)}${a.eventId ? ` · <${cloudTrailUrl(a.eventId, options.cloudTrailRegion)}|CloudTrail ${esc(a.eventId)}>` : ''}`,
        ],
        ['From', `${esc(a.sourceIp ?? 'unknown')}${a.userAgent ? ` · ${code(clip(a.userAgent, 200))}` : ''}`],
      ]),
    ],
  };
}

/** The Block Kit message for one event. */
export function renderSlack(
  event: AstroTrustEvent,
  options: MessageOptions = { configPath: 'astro-trust.yaml' },
): { text: string; blocks: KnownBlock[] } {
  if (event.type === 'InventoryRefused') {
    const x = event.detail;
    const text = `Deployment listing refused (${x.kind}): nothing was changed`;
    return {
      text,
      blocks: [
        header('astro-trust: Deployment listing refused'),
        section(`*${text}*\n${esc(x.message)}`),
        fields([
          ['Check', x.kind],
          ['Trigger', x.reason],
          ...(x.role ? [['Role', code(x.role)] as [string, string]] : []),
        ]),
      ],
    };
  }
  if (event.type === 'SelfTampering') return selfTamperingMessage(event.detail, options);
  const d = event.detail;
  const who: [string, string][] = [
    ['Role', `${code(d.role)} · <${consoleUrl(d.role)}|trust relationships>`],
    ['Account', esc(d.accountId ?? 'unknown')],
    ['Mode', d.mode],
    ['Trigger', d.reason],
  ];
  const footer: ContextBlock = {
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: clip(
          `See the plan: ${code(`astro-trust plan --config ${options.configPath} --role ${d.role}`)}`,
          LIMITS.fieldText,
        ),
      },
    ],
  };
  switch (event.type) {
    case 'DriftDetected': {
      const x = event.detail;
      const text = driftText(x);
      const actor: [string, string][] = x.actor
        ? [
            ['Changed by', actorName(x)],
            [
              'When',
              `${esc(x.actor.eventTime)} (${esc(x.actor.eventName)})${x.actor.eventId ? ` · <${cloudTrailUrl(x.actor.eventId, options.cloudTrailRegion)}|CloudTrail ${esc(x.actor.eventId)}>` : ''}`,
            ],
            [
              'From',
              `${esc(x.actor.sourceIp ?? 'unknown')}${x.actor.userAgent ? ` · ${code(clip(x.actor.userAgent, 200))}` : ''}`,
            ],
          ]
        : [];
      const blocks: KnownBlock[] = [
        header(`astro-trust: drift on ${x.role}`),
        section(text),
        fields([...who, ...actor]),
        ...changes(
          x.action === 'reverted'
            ? 'Removed: undeclared principals in astro-trust statements'
            : 'Undeclared principals in astro-trust statements',
          x.undeclaredInOwned,
        ),
        ...changes(
          x.action === 'reverted'
            ? 'Restored: declared principals that were missing'
            : 'Declared principals that were missing',
          x.missingDeclared,
        ),
        ...(x.rewritesOwned
          ? [
              section(
                `*astro-trust statements were edited by hand* (Effect, Action or Condition)${x.action === 'reverted' ? ': rewritten' : ''}`,
              ),
            ]
          : []),
        ...(x.missingOidcProviders?.length
          ? [
              bulletSection(
                `IAM OIDC provider missing (trust through it is broken)${x.action === 'reverted' ? ', recreated' : ''}`,
                x.missingOidcProviders.map(code),
              ),
            ]
          : []),
        ...(x.unexpected.length
          ? [
              bulletSection(
                'Left for a person: findings in statements astro-trust does not own (never edited)',
                x.unexpected.map(findingLine),
              ),
            ]
          : []),
        ...(x.action === 'not-reverted-flapping'
          ? [
              section(
                'astro-trust stopped reverting this role for the rest of the hour. If Terraform or CloudFormation manages it, see docs/coexistence.md: let the tool ignore the trust policy, or let it own the role and astro-trust only its statements.',
              ),
            ]
          : []),
        ...(x.acknowledged
          ? [
              section(
                `${x.acknowledged} acknowledged finding${x.acknowledged === 1 ? '' : 's'} not listed (findings.acknowledge)`,
              ),
            ]
          : []),
        footer,
      ];
      return { text, blocks };
    }
    case 'TrustPolicyUpdated': {
      const x = event.detail;
      const text = `Trust policy of *${esc(x.role)}* updated: +${x.added.length} -${x.removed.length} (${x.policyChars}/${x.limit} characters)`;
      return {
        text,
        blocks: [section(text), fields(who), ...changes('Added', x.added), ...changes('Removed', x.removed), footer],
      };
    }
    case 'ReconcileFailed': {
      // "Will be retried" only when the runtime says it will (DESIGN 7.2); after the last attempt, say so.
      const x = event.detail;
      const retry =
        x.willRetry === true
          ? ` (attempt ${x.attempt} of ${x.attempts}; will be retried)`
          : x.willRetry === false && x.retryable
            ? ` after the last of ${x.attempts} attempts; not retried again`
            : x.retryable
              ? ''
              : ' (not retried: it needs a fix first)';
      const text = `Reconcile of *${esc(x.role)}* failed${retry}: ${esc(clip(x.error, 1500))}`;
      return { text, blocks: [section(text), fields(who), footer] };
    }
    case 'TrustPolicyTooLarge':
    case 'GuardStopped': {
      const x = event.detail;
      const text = `${event.type === 'GuardStopped' ? 'Guard stopped' : 'Trust policy too large for'} *${esc(x.role)}*: ${esc(clip(x.message, 1500))}`;
      const notFitting = x.deploymentsNotFitting ?? [];
      return {
        text,
        blocks: [
          section(text),
          fields(who),
          ...(notFitting.length
            ? [
                bulletSection(
                  `Not trusted for lack of room (${notFitting.length})`,
                  notFitting.map((n) => `${esc(n.name)} ${code(n.id)}`),
                ),
              ]
            : []),
          ...(x.identities?.length
            ? [
                bulletSection(
                  `Identities the stopped plan would remove (${x.identities.length})`,
                  x.identities.map(code),
                ),
              ]
            : []),
          footer,
        ],
      };
    }
  }
}
