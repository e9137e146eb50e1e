/** The small interfaces the use cases need from the outside world. */
import type { Deployment, NormalizedInventory } from '../domain/deployment.js';
import type { AstroTrustEvent, ReconcileRequest } from '../domain/events.js';
import type { ListingSize } from '../domain/listing.js';
import type { RoleRead, RoleState } from '../domain/plan.js';
import type { PolicyDocument, Statement } from '../domain/policy.js';

/** Where the actual trust policies live: IAM, or an offline snapshot of it. */
export interface TrustStore {
  /**
   * Reads the named roles (one read each at most); undefined for a role that does not exist, `Unreachable`
   * for a role in an account that could not be read (the other accounts' roles are still read).
   */
  readRoles(names: string[], onProgress?: (done: number, total: number) => void): Promise<Map<string, RoleRead>>;
  /**
   * Replaces the owned statements of a role's trust policy (DESIGN 6.3): before every attempt (the first and
   * each retry) the role is read again and only its owned statements are replaced, so a statement someone
   * added meanwhile is kept; then it is read back and checked. `unchanged` when IAM already held them.
   */
  writeTrust(roleName: string, owned: OwnedTrust): Promise<'written' | 'unchanged'>;
  /**
   * Writes the `after` document of a saved plan (DESIGN 7.3) as it is: reads the role first and refuses
   * (StalePlanError naming the statements that changed, nothing written) when its policy is not the one the
   * plan was made against (`liveDigest`); `unchanged` when IAM already holds `document`; after the write it
   * is read back and checked. IAM has no conditional write: a change landing between that read and the
   * write is overwritten (docs/plan-and-apply.md says so).
   */
  writeSavedTrust(roleName: string, saved: SavedTrust): Promise<'written' | 'unchanged'>;
  /** Issuers (host/path) that have an IAM OIDC provider in the account (a role's `account`; default the home account), read fresh; undefined when unknown. */
  listOidcProviders(account?: string): Promise<Set<string> | undefined>;
  /** Makes sure the account has an IAM OIDC provider for each issuer (audience sts.amazonaws.com). */
  ensureOidcProviders(partition: string, accountId: string, issuers: string[]): Promise<{ created: string[] }>;
}

/** Every role of an account with its trust policy (`init` reads an estate with it: ListRoles, or a snapshot). */
export interface RoleLister {
  listAllRoles(onProgress?: (listed: number) => void): Promise<{ name: string; state: RoleState }[]>;
}

/** What astro-trust writes into a role: its own statements, and the size the merged policy may take. */
export interface OwnedTrust {
  statements: Statement[];
  maxPolicyChars: number;
}

/** One role of a saved plan: the document to write, and the live policy (and its digest) it was planned against. */
export interface SavedTrust {
  document: PolicyDocument;
  planned: PolicyDocument;
  liveDigest: string;
}

/** Where the Deployments come from: the Astro API, or a file of the same shape. */
export interface InventorySource {
  list(): Promise<NormalizedInventory>;
  readonly description: string;
}

/** Where reconcile requests wait for the single writer of their role (SQS FIFO, or a per-role queue in process). */
export interface ReconcileQueue {
  enqueue(requests: ReconcileRequest[]): Promise<void>;
}

/** Where astro-trust's own events go (its EventBridge bus, or straight to the notifier in process). */
export interface EventPublisher {
  publish(events: AstroTrustEvent[]): Promise<void>;
}

/** The last inventory the watch saw (DynamoDB on AWS, a local file in `serve`). */
export interface InventorySnapshotStore {
  /** Undefined before the first run. */
  load(): Promise<Deployment[] | undefined>;
  save(deployments: Deployment[]): Promise<void>;
}

/**
 * The sizes of recent listings (DESIGN 7.2): the shrink guard compares a listing with the largest within
 * `inventory.shrinkWindow`. Only times and counts are kept, never the listings (serve: the journal in its
 * state directory; Lambda: one item of the watch table).
 */
export interface ListingHistory {
  /** What is kept, oldest first. */
  sizes(): Promise<ListingSize[]>;
  /** Records a listing that was used (domain `recordListingSize`). */
  record(atMs: number, count: number, windowMs: number): Promise<void>;
}

/** When astro-trust reverted each role (the flap guard's memory: in process in `serve`, DynamoDB on Lambda). */
export interface RevertLog {
  /** Reverts of the role at or after `sinceMs`. */
  count(role: string, sinceMs: number): Promise<number>;
  record(role: string, atMs: number): Promise<void>;
}

/** "Seen already?" claims with a lifetime: alerts posted, webhook ids answered (memory, a file, or the watch table). */
export interface DedupStore {
  /** True the first time `key` is claimed within `windowMs` (and records it); false while a claim stands. */
  claim(key: string, windowMs: number): Promise<boolean>;
  /** Forgets a claim (the alert was not delivered after all). */
  release(key: string): Promise<void>;
}

/** Fields a log line carries besides its message: correlation (role, webhookId, eventId...) and outcome. */
export type LogFields = Record<string, unknown>;

/**
 * Structured logs: `serve` writes them as JSON lines or text (src/adapters/log.ts), the Lambda functions
 * through the Powertools Logger, which has this shape.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Counts for dashboards and alarms (CloudWatch EMF through the Powertools Metrics on Lambda). */
export interface Meter {
  count(name: MetricName, value?: number): void;
}

export type MetricName =
  | 'TrustWrites'
  | 'Drift'
  | 'Failures'
  | 'NotFitting'
  | 'InventoryRefused'
  | 'AstroListings'
  | 'IamCalls'
  /** A change to one of astro-trust's own roles (DESIGN 7.1). */
  | 'SelfTampering'
  /** Events the notify function would not post: not astro-trust's, or not from the hub's own account. */
  | 'EventsDropped';
