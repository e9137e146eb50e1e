/**
 * astro-trust's own identities (DESIGN 7.1): the roles it runs as or assumes, and how a change it made
 * itself is told apart from anyone else's. In a member account astro-trust writes only through the
 * member role, in a session the hub opened with session name `astro-trust` and source identity
 * `astro-trust` (the member role's trust requires both); reads go through `<memberRoleName>-reader`.
 * A change to any of these roles, or to the hub's function roles, is never astro-trust's: it is alerted
 * as self-tampering.
 */
import { parseRoleArn } from './deployment.js';

/** The session name astro-trust assumes member roles with (CloudTrail shows it; the member role's trust requires it). */
export const MEMBER_SESSION_NAME = 'astro-trust';

/**
 * The source identity the hub sets when it assumes a member role (STS `SourceIdentity`): it cannot be changed
 * for the session's life, and CloudTrail records it as `userIdentity.sessionContext.sourceIdentity`.
 */
export const HUB_SOURCE_IDENTITY = 'astro-trust';

/** Reads only (plan, backfill) or reads and writes (apply, reconcile, serve). */
export type MemberAccess = 'read' | 'write';

/** The read-only role the member stack creates beside the member role. */
export function memberReaderRoleName(memberRoleName: string): string {
  return `${memberRoleName}-reader`;
}

/** The member role to assume for what a function or command does: the writer only where it writes. */
export function memberRoleNameFor(memberRoleName: string, access: MemberAccess): string {
  return access === 'write' ? memberRoleName : memberReaderRoleName(memberRoleName);
}

/** What one of astro-trust's own roles is to it. */
export type OwnRoleKind = 'member-role' | 'member-reader-role' | 'hub-function-role';

/** IAM calls that change what a role may do or who may assume it. */
export const ROLE_CHANGE_EVENT_NAMES = [
  'CreateRole',
  'DeleteRole',
  'UpdateAssumeRolePolicy',
  'UpdateRole',
  'PutRolePolicy',
  'DeleteRolePolicy',
  'AttachRolePolicy',
  'DetachRolePolicy',
  'PutRolePermissionsBoundary',
  'DeleteRolePermissionsBoundary',
] as const;

/**
 * Is `roleName` in `account` one of astro-trust's own roles? The member roles in the accounts the config
 * names (not in the hub's own account, where astro-trust uses its function roles), and the hub's function
 * roles (`ownRoleArns`). Role names are compared case-insensitively, as IAM does.
 */
export function ownRoleKind(
  roleName: string,
  account: string,
  o: { memberRoleName: string; memberAccounts: Iterable<string>; homeAccount?: string; ownRoleArns: string[] },
): OwnRoleKind | undefined {
  const name = roleName.toLowerCase();
  if (account !== o.homeAccount && [...o.memberAccounts].includes(account)) {
    if (name === o.memberRoleName.toLowerCase()) return 'member-role';
    if (name === memberReaderRoleName(o.memberRoleName).toLowerCase()) return 'member-reader-role';
  }
  const hub = o.ownRoleArns.some((arn) => {
    const role = parseRoleArn(arn);
    return role !== undefined && role.accountId === account && role.name.toLowerCase() === name;
  });
  return hub ? 'hub-function-role' : undefined;
}

/**
 * Did the hub make this change through the member role? Only in a session of exactly that role, named
 * `astro-trust`, whose source identity is `astro-trust`: the member role's trust lets only the hub's
 * reconcile role open such a session. Any other session of the member role (a person allowed to run
 * `apply`, a session without the source identity) is someone else.
 */
export function isHubMemberSession(
  identity: { arn?: string; issuerArn?: string; sourceIdentity?: string },
  account: string,
  memberRoleName: string,
): boolean {
  const issuer = identity.issuerArn === undefined ? undefined : parseRoleArn(identity.issuerArn);
  if (!issuer || issuer.accountId !== account || issuer.name !== memberRoleName) return false;
  const session = /^arn:aws[\w-]*:sts::(\d{12}):assumed-role\/([^/]+)\/([^/]+)$/.exec(identity.arn ?? '');
  return (
    session !== null &&
    session[1] === account &&
    session[2] === memberRoleName &&
    session[3] === MEMBER_SESSION_NAME &&
    identity.sourceIdentity === HUB_SOURCE_IDENTITY
  );
}
