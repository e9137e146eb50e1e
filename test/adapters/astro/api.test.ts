import { AstroApiInventory } from '../../../src/adapters/astro/api';
import { AstroApiAuthError, AstroApiError } from '../../../src/errors';
import { AWS_CLUSTER, clustersPage, isClustersRequest } from '../../support/astro-api';
import { apiDeployment } from '../../support/fixtures';
import { fakeService, json, type FakeService } from '../../support/http';

const ORG = 'clmh59gt0000308lbgswe5fvh';
const all = Array.from({ length: 7 }, (_, i) => apiDeployment(i));

/**
 * Serves the Astro API v1 Deployment list in pages, as documented: deployments, limit, offset, totalCount
 * (and the clusters listing, which a listing of Dedicated Deployments reads once).
 */
function page(url: string, items = all): Record<string, unknown> & { offset: number } {
  if (isClustersRequest(url)) return clustersPage(url);
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
    expect(svc.requests.map((r) => r.url)).toEqual([
      ...[0, 3, 6].map((o) => `/v1/organizations/${ORG}/deployments?limit=3&offset=${o}&sorts=createdAt:asc`),
      `/v1/organizations/${ORG}/clusters?limit=3&offset=0&sorts=createdAt:asc`,
    ]);
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
    const deploymentPages = svc.requests.filter((r) => !isClustersRequest(r.url));
    expect(deploymentPages.map((r) => new URL(r.url, 'http://x').searchParams.get('offset'))).toEqual([
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
      /inconsistent 3 times in a row \(last: an empty page of deployments at offset 3 of totalCount 7\)/,
    );
  });

  it('rejects an answer that is not a Deployment page', async () => {
    svc = await fakeService((_req, res) => json(res, 200, { items: [] }));
    await expect(client(svc.url, { attempts: 1 }).list()).rejects.toThrow(/no deployments list or totalCount/);
  });

  describe("the cloud of a Dedicated or Hybrid Deployment is its cluster's", () => {
    const GCP_CLUSTER = { id: 'clclgcp0000001', name: 'dedicated-gcp', type: 'DEDICATED', cloudProvider: 'GCP' };
    // The API documents a Deployment's own cloudProvider only for Standard Deployments: these two carry none.
    const onAws = apiDeployment(1, { clusterId: AWS_CLUSTER.id, type: 'DEDICATED' });
    const onGcp = apiDeployment(2, { clusterId: GCP_CLUSTER.id, type: 'DEDICATED' });
    const standard = apiDeployment(3, { type: 'STANDARD', clusterId: 'clclshared0001', cloudProvider: 'AWS' });

    it("reads the clusters once per listing and gives each Dedicated Deployment its cluster's cloud", async () => {
      svc = await fakeService((req, res) =>
        json(
          res,
          200,
          isClustersRequest(req.url)
            ? clustersPage(req.url, [AWS_CLUSTER, GCP_CLUSTER])
            : page(req.url, [onAws, onGcp, standard]),
        ),
      );
      const inv = await client(svc.url).list();
      const cloud = Object.fromEntries(inv.deployments.map((d) => [d.id, d.cloudProvider]));
      expect(cloud).toEqual({
        [onAws.id as string]: 'AWS',
        [onGcp.id as string]: 'GCP',
        [standard.id as string]: 'AWS',
      });
      expect(svc.requests.filter((r) => isClustersRequest(r.url))).toHaveLength(1);
      expect(inv.warnings).toEqual([]);
    });

    it('a Standard-only listing does not read the clusters', async () => {
      svc = await fakeService((req, res) => json(res, 200, page(req.url, [standard])));
      await client(svc.url).list();
      expect(svc.requests.some((r) => isClustersRequest(r.url))).toBe(false);
    });

    it('a Dedicated Deployment whose cluster is not listed keeps an unknown cloud, with a warning naming it', async () => {
      svc = await fakeService((req, res) =>
        json(res, 200, isClustersRequest(req.url) ? clustersPage(req.url, [AWS_CLUSTER]) : page(req.url, [onGcp])),
      );
      const inv = await client(svc.url).list();
      expect(inv.deployments[0]!.cloudProvider).toBeUndefined();
      expect(inv.warnings).toEqual([
        {
          deploymentId: onGcp.id,
          message: expect.stringContaining(`cluster "${GCP_CLUSTER.id}", which the clusters listing does not have`),
        },
      ]);
    });

    it('a clusters listing that fails stops the run: the listing is never used without it', async () => {
      svc = await fakeService((req, res) =>
        isClustersRequest(req.url) ? json(res, 500, {}) : json(res, 200, page(req.url, [onAws])),
      );
      await expect(client(svc.url).list()).rejects.toThrow(/GET clusters offset 0: HTTP 500; gave up after 3 attempts/);
    });
  });
});
