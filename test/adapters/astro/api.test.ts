import { AstroApiInventory } from '../../../src/adapters/astro/api';
import { AstroApiAuthError, AstroApiError } from '../../../src/errors';
import { apiDeployment } from '../../support/fixtures';
import { fakeService, json, type FakeService } from '../../support/http';

const ORG = 'clmh59gt0000308lbgswe5fvh';
const all = Array.from({ length: 7 }, (_, i) => apiDeployment(i));

/** Serves the Astro API v1 Deployment list in pages, as documented: deployments, limit, offset, totalCount. */
function page(url: string, items = all) {
  const q = new URL(url, 'http://x').searchParams;
  const limit = Number(q.get('limit'));
  const offset = Number(q.get('offset'));
  return { deployments: items.slice(offset, offset + limit), limit, offset, totalCount: items.length };
}

let svc: FakeService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

const client = (url: string, over: Partial<ConstructorParameters<typeof AstroApiInventory>[0]> = {}) =>
  new AstroApiInventory({
    baseUrl: url,
    organizationId: ORG,
    token: 'secret-token',
    pageSize: 3,
    timeoutMs: 500,
    attempts: 3,
    baseDelayMs: 10,
    maxDelayMs: 20,
    ...over,
  });

describe('AstroApiInventory', () => {
  it('pages with limit/offset until totalCount, with the bearer token', async () => {
    svc = await fakeService((req, res) => json(res, 200, page(req.url)));
    const inv = await client(svc.url).list();
    expect(inv.deployments.map((d) => d.id)).toEqual(all.map((d) => d.id));
    expect(svc.requests.map((r) => r.url)).toEqual(
      [0, 3, 6].map((o) => `/v1/organizations/${ORG}/deployments?limit=3&offset=${o}&sorts=createdAt:asc`),
    );
    expect(svc.requests.every((r) => r.headers.authorization === 'Bearer secret-token')).toBe(true);
  });

  it('stops on 401 without retrying, and never returns an empty inventory', async () => {
    svc = await fakeService((_req, res) => json(res, 401, { message: 'Unauthorized' }));
    await expect(client(svc.url).list()).rejects.toThrow(AstroApiAuthError);
    await expect(client(svc.url).list()).rejects.toThrow(/answered 401.*ASTRO_API_TOKEN/);
    expect(svc.requests).toHaveLength(2);
  });

  it('retries a 500, then succeeds', async () => {
    let calls = 0;
    svc = await fakeService((req, res) =>
      ++calls === 2 ? json(res, 500, { message: 'boom' }) : json(res, 200, page(req.url)),
    );
    const inv = await client(svc.url).list();
    expect(inv.deployments).toHaveLength(7);
    expect(svc.requests.map((r) => new URL(r.url, 'http://x').searchParams.get('offset'))).toEqual([
      '0',
      '3',
      '3',
      '6',
    ]);
  });

  it('honours Retry-After on 429', async () => {
    let calls = 0;
    svc = await fakeService((req, res) =>
      ++calls === 1 ? json(res, 429, {}, { 'retry-after': '0' }) : json(res, 200, page(req.url)),
    );
    expect((await client(svc.url).list()).deployments).toHaveLength(7);
  });

  it('gives up after the bounded retries on a 5xx that does not end', async () => {
    svc = await fakeService((_req, res) => json(res, 503, {}));
    await expect(client(svc.url).list()).rejects.toThrow(/HTTP 503; gave up after 3 attempts/);
    expect(svc.requests).toHaveLength(3);
  });

  it('times out a hanging answer, retries, then fails', async () => {
    svc = await fakeService(() => {
      /* never answers */
    });
    const started = Date.now();
    const err = await client(svc.url, { timeoutMs: 200, attempts: 2 })
      .list()
      .catch((e) => e);
    expect(err).toBeInstanceOf(AstroApiError);
    expect(err.message).toMatch(/no answer within 200 ms/);
    expect(svc.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails when a page is missing mid-pagination instead of returning part of the list', async () => {
    svc = await fakeService((req, res) => {
      const p = page(req.url);
      json(res, 200, p.offset === 3 ? { ...p, deployments: [] } : p);
    });
    await expect(client(svc.url).list()).rejects.toThrow(
      /inconsistent 3 times in a row \(last: an empty page at offset 3 of totalCount 7\)/,
    );
  });

  it('rejects an answer that is not a Deployment page', async () => {
    svc = await fakeService((_req, res) => json(res, 200, { items: [] }));
    await expect(client(svc.url, { attempts: 1 }).list()).rejects.toThrow(/no deployments list or totalCount/);
  });
});
