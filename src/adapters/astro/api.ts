/**
 * The Deployment inventory from the Astro API v1:
 * `GET {url}/v1/organizations/{org}/deployments?limit=&offset=&sorts=createdAt:asc` with a bearer token,
 * paged until `totalCount`. Any failure stops the run: a failed listing is never an empty inventory, and a
 * listing that contradicts itself is taken again from the start, then refused (DESIGN 6.1).
 */
import { normalizeDeployments, type NormalizedInventory } from '../../domain/deployment.js';
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

  private async page(offset: number): Promise<ListingPage> {
    // The API's only stable order: oldest first, so a new Deployment lands on the last page (sorts is an
    // enum of createdAt|name|updatedAt with :asc|:desc in the Astro Platform API v1 OpenAPI document).
    const url = `${this.o.baseUrl}/v1/organizations/${encodeURIComponent(this.o.organizationId)}/deployments?limit=${this.o.pageSize}&offset=${offset}&sorts=createdAt:asc`;
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
          throw new AstroApiError(`GET deployments offset ${offset}: ${(err as Error).message}`, { cause: err });
        }
        if (res.status === 401 || res.status === 403) {
          throw new AstroApiAuthError(
            `Astro API answered ${res.status} listing the Deployments of organization ${this.o.organizationId}: ` +
              'check ASTRO_API_TOKEN (an Organization API token with at least Organization Member, or a Workspace token per workspace)',
          );
        }
        if (!res.ok) {
          await res.body?.cancel();
          throw new HttpStatusError(
            res.status,
            retryAfterMs(res.headers.get('retry-after'), 60_000),
            `GET deployments offset ${offset}: HTTP ${res.status}`,
          );
        }
        let body: unknown;
        try {
          body = await res.json();
        } catch (err) {
          throw new AstroApiError(`GET deployments offset ${offset}: the answer is not JSON`, { cause: err });
        }
        const b = body as { deployments?: unknown; totalCount?: unknown };
        if (!Array.isArray(b.deployments) || !Number.isSafeInteger(b.totalCount) || (b.totalCount as number) < 0) {
          throw new AstroApiError(`GET deployments offset ${offset}: the answer has no deployments list or totalCount`);
        }
        return { offset, deployments: b.deployments, totalCount: b.totalCount as number };
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
  private async listOnce(): Promise<unknown[]> {
    const pages: ListingPage[] = [];
    let fetched = 0;
    let total = Infinity;
    while (fetched < total) {
      if (pages.length > 10_000) throw new AstroApiError('Astro API pagination did not end after 10,000 pages');
      const page = await this.page(fetched);
      pages.push(page);
      total = page.totalCount;
      if (page.deployments.length === 0 && fetched < total) {
        throw new InconsistentListingError('empty-page', `an empty page at offset ${fetched} of totalCount ${total}`);
      }
      fetched += page.deployments.length;
    }
    // A totalCount that is too low ends the paging early and looks consistent. When the last page was full,
    // ask for the page after it: a truthful API answers it empty, with the same totalCount.
    const last = pages.at(-1);
    if (last && last.deployments.length >= this.o.pageSize) pages.push(await this.page(fetched));
    return assembleListing(pages);
  }

  async list(): Promise<NormalizedInventory> {
    for (let attempt = 1; ; attempt++) {
      try {
        return normalizeDeployments(await this.listOnce());
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
