/**
 * deploy/eks-regions.json: the regions whose EKS issuers astro-trust may create IAM OIDC providers for
 * (DESIGN 7.1, one ARN each, no `*` for the region). The AWS SDK's partitions data judges it: every region
 * listed is one the SDK knows, and every region the SDK knows is listed (a new AWS region fails this test
 * until it is added, here and in deploy/member-account.yml, whose lists test/deploy/member-template.test.ts
 * compares).
 */
import { readFileSync } from 'node:fs';
import { partition } from '@aws-sdk/core/client';

const listed = JSON.parse(readFileSync('deploy/eks-regions.json', 'utf8')) as Record<
  string,
  { dnsSuffix: string; regions: string[] }
>;
const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov'];

/** The SDK's own table of partitions and regions (the one its endpoint resolution uses). */
function sdkRegions(): Record<string, { dnsSuffix: string; regions: string[] }> {
  const source = readFileSync(require.resolve('@aws-sdk/core/client'), 'utf8');
  const start = source.indexOf('const partitionsInfo = ');
  const end = source.indexOf('\n};\n', start);
  if (start < 0 || end < 0) throw new Error('the AWS SDK no longer holds partitionsInfo where this test reads it');
  const info = JSON.parse(source.slice(start + 'const partitionsInfo = '.length, end + 2)) as {
    partitions: { id: string; regionRegex: string; outputs: { dnsSuffix: string }; regions: Record<string, unknown> }[];
  };
  return Object.fromEntries(
    info.partitions.map((p) => [
      p.id,
      {
        dnsSuffix: p.outputs.dnsSuffix,
        regions: Object.keys(p.regions).filter((r) => new RegExp(p.regionRegex).test(r)),
      },
    ]),
  );
}

describe('deploy/eks-regions.json', () => {
  it.each(PARTITIONS)('%s: lists exactly the regions the AWS SDK knows, with its DNS suffix', (id) => {
    const sdk = sdkRegions()[id]!;
    expect(listed[id]!.dnsSuffix).toBe(sdk.dnsSuffix);
    expect([...listed[id]!.regions].sort()).toEqual([...sdk.regions].sort());
    for (const region of listed[id]!.regions) {
      const p = partition(region) as { name: string; description?: string };
      expect({ region, partition: p.name, known: p.description !== undefined }).toEqual({
        region,
        partition: id,
        known: true,
      });
    }
  });
});
