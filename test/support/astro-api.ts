/** The Astro API v1 clusters listing as local fakes serve it, next to the Deployment pages they script. */

/** The cluster every `apiDeployment` fixture runs on (a Dedicated cluster on AWS), and others tests add. */
export const AWS_CLUSTER = { id: 'clcl0000000001', name: 'dedicated-aws', type: 'DEDICATED', cloudProvider: 'AWS' };

/** True for `GET /v1/organizations/{id}/clusters?...`. */
export function isClustersRequest(url: string): boolean {
  return /\/v1\/organizations\/[^/]+\/clusters(\?|$)/.test(url);
}

/** One page of `GET .../clusters` as documented: clusters, limit, offset, totalCount. */
export function clustersPage(url: string, clusters: object[] = [AWS_CLUSTER]) {
  const q = new URL(url, 'http://x').searchParams;
  const limit = Number(q.get('limit') ?? 20);
  const offset = Number(q.get('offset') ?? 0);
  return { clusters: clusters.slice(offset, offset + limit), limit, offset, totalCount: clusters.length };
}
