/**
 * The Deployment inventory from the Astro API v1:
 * `GET {url}/v1/organizations/{org}/deployments?limit=&offset=&sorts=createdAt:asc` with a bearer token,
 * paged until `totalCount`; when Dedicated or Hybrid Deployments are listed, `GET .../clusters` once, paged
 * the same way, for their clouds (the API gives a Deployment's own `cloudProvider` only for Standard ones).
 * Any failure stops the run: a failed listing is never an empty inventory, and a listing that contradicts
 * itself is taken again from the start, then refused (DESIGN 6.1).
 */
import {
  clusterClouds,
  needsClusterClouds,
  normalizeDeployments,
  type NormalizedInventory,
} from '../../domain/deployment.js';
import { assembleListing, type ListingPage } from '../../domain/listing.js';
import { AstroApiAuthError, AstroApiError, InconsistentListingError } from '../../errors.js';
import type { InventorySource } from '../../app/ports.js';
import { request, retryableStatus, retryAfterMs } from '../http.js';
import { sleep, withRetry } from '../retry.js';

export interface AstroApiOptions {
  baseUrl: string;
  organizationId: string;
  token: string;
  pageSize?: number;
  timeoutMs?: number;
  attempts?: number;
  /** Whole listings taken before an inconsistent one is reported (each after a pause of `baseDelayMs`). */
  listingAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  log?: (line: string) => void;
}

/** The two listings astro-trust reads, named as in their paths and as their answers' list keys. */
type Resource = 'deployments' | 'clusters';

/** A status worth classifying (429 and 5xx retried); never leaves this adapter unwrapped. */
class HttpStatusError extends AstroApiError {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

export class AstroApiInventory implements InventorySource {
  private readonly o: Required<Omit<AstroApiOptions, 'log'>> & { log: (line: string) => void };

  constructor(options: AstroApiOptions) {
    this.o = {
      pageSize: 1000,
      timeoutMs: 15_000,
      attempts: 4,
      listingAttempts: 3,
      baseDelayMs: 500,
      maxDelayMs: 8_000,
      log: () => {},
      ...options,
    };
    this.o.baseUrl = this.o.baseUrl.replace(/\/+$/, '');
  }

  get description() {
    return `Astro API ${this.o.baseUrl} (organization ${this.o.organizationId})`;
  }

  private async page(resource: Resource, offset: number): Promise<ListingPage> {
    // The API's only stable order: oldest first, so a new item lands on the last page (sorts is an enum of
    // createdAt|name|updatedAt with :asc|:desc for both listings in the Astro Platform API v1 OpenAPI document).
    const url = `${this.o.baseUrl}/v1/organizations/${encodeURIComponent(this.o.organizationId)}/${resource}?limit=${this.o.pageSize}&offset=${offset}&sorts=createdAt:asc`;
    return withRetry(
      async () => {
        let res: Response;
        try {
          res = await request(
            url,
            { headers: { Authorization: `Bearer ${this.o.token}`, Accept: 'application/json' } },
            this.o.timeoutMs,
          );
        } catch (err) {
          throw new AstroApiError(`GET ${resource} offset ${offset}: ${(err as Error).message}`, { cause: err });
        }
        if (res.status === 401 || res.status === 403) {
          throw new AstroApiAuthError(
            `Astro API answered ${res.status} listing the ${resource} of organization ${this.o.organizationId}: ` +
              'check ASTRO_API_TOKEN (an Organization API token with at least Organization Member, or a Workspace token per workspace)',
          );
        }
        if (!res.ok) {
          await res.body?.cancel();
          throw new HttpStatusError(
            res.status,
            retryAfterMs(res.headers.get('retry-after'), 60_000),
            `GET ${resource} offset ${offset}: HTTP ${res.status}`,
          );
        }
        let body: unknown;
        try {
          body = await res.json();
        } catch (err) {
          throw new AstroApiError(`GET ${resource} offset ${offset}: the answer is not JSON`, { cause: err });
        }
        const b = body as Record<string, unknown>;
        const items = b[resource];
        if (!Array.isArray(items) || !Number.isSafeInteger(b.totalCount) || (b.totalCount as number) < 0) {
          throw new AstroApiError(`GET ${resource} offset ${offset}: the answer has no ${resource} list or totalCount`);
        }
        return { offset, items, totalCount: b.totalCount as number };
      },
      {
        attempts: this.o.attempts,
        baseDelayMs: this.o.baseDelayMs,
        maxDelayMs: this.o.maxDelayMs,
        classify: (err) => {
          if (err instanceof HttpStatusError) {
            return retryableStatus(err.status) ? { retry: true, delayMs: err.retryAfterMs } : { retry: false };
          }
          return err instanceof AstroApiAuthError ? { retry: false } : { retry: true };
        },
        onRetry: (err, attempt, delay) =>
          this.o.log(`Astro API: ${(err as Error).message}; retry ${attempt} in ${delay} ms`),
      },
    ).catch((err) => {
      if (err instanceof AstroApiAuthError) throw err;
      throw new AstroApiError(`${(err as Error).message}; gave up after ${this.o.attempts} attempts`, { cause: err });
    });
  }

  /** One pass over the pages; throws `InconsistentListingError` when the pages contradict each other. */
  private async listOnce(resource: Resource): Promise<unknown[]> {
    const pages: ListingPage[] = [];
    let fetched = 0;
    let total = Infinity;
    while (fetched < total) {
      if (pages.length > 10_000) throw new AstroApiError('Astro API pagination did not end after 10,000 pages');
      const page = await this.page(resource, fetched);
      pages.push(page);
      total = page.totalCount;
      if (page.items.length === 0 && fetched < total) {
        throw new InconsistentListingError(
          'empty-page',
          `an empty page of ${resource} at offset ${fetched} of totalCount ${total}`,
        );
      }
      fetched += page.items.length;
    }
    // A totalCount that is too low ends the paging early and looks consistent. When the last page was full,
    // ask for the page after it: a truthful API answers it empty, with the same totalCount.
    const last = pages.at(-1);
    if (last && last.items.length >= this.o.pageSize) pages.push(await this.page(resource, fetched));
    return assembleListing(pages, resource === 'clusters' ? 'cluster' : 'Deployment');
  }

  async list(): Promise<NormalizedInventory> {
    for (let attempt = 1; ; attempt++) {
      try {
        const deployments = await this.listOnce('deployments');
        // Read once per listing, and only when a Deployment's cloud is its cluster's.
        const clusters = needsClusterClouds(deployments) ? clusterClouds(await this.listOnce('clusters')) : undefined;
        return normalizeDeployments(deployments, clusters);
      } catch (err) {
        if (!(err instanceof InconsistentListingError)) throw err;
        if (attempt >= this.o.listingAttempts) {
          throw new InconsistentListingError(
            err.check,
            `Astro API listing of organization ${this.o.organizationId} was inconsistent ${attempt} times in a row (last: ${err.message}); nothing is changed`,
          );
        }
        this.o.log(
          `Astro API: inconsistent listing (${err.message}); listing again from the start (${attempt}/${this.o.listingAttempts})`,
        );
        await sleep(this.o.baseDelayMs);
      }
    }
  }
}
