/** Creates the roles of an `aws iam get-account-authorization-details` snapshot in moto (demo, bench, tests). */
import { readFileSync } from 'node:fs';
import { CreateRoleCommand, type IAMClient } from '@aws-sdk/client-iam';

export async function createRolesFromSnapshot(iam: IAMClient, snapshotFile: string): Promise<string[]> {
  const snapshot = JSON.parse(readFileSync(snapshotFile, 'utf8')) as {
    RoleDetailList: { RoleName: string; AssumeRolePolicyDocument: unknown }[];
  };
  for (const r of snapshot.RoleDetailList) {
    await iam.send(
      new CreateRoleCommand({
        RoleName: r.RoleName,
        AssumeRolePolicyDocument: JSON.stringify(r.AssumeRolePolicyDocument),
      }),
    );
  }
  return snapshot.RoleDetailList.map((r) => r.RoleName);
}
