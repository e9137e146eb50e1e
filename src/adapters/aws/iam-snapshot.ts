/**
 * Offline IAM: actual state from `aws iam get-account-authorization-details` output (the CLI prints
 * `AssumeRolePolicyDocument` as an object; raw API output has it URL-encoded; both are read).
 */
import { readFileSync } from 'node:fs';
import { parseRoleArn } from '../../domain/deployment.js';
import type { RoleState } from '../../domain/plan.js';
import { parseTrustPolicy } from '../../domain/policy.js';
import { IamSnapshotError, UsageError } from '../../errors.js';
import type { RoleLister, TrustStore } from '../../app/ports.js';

interface RoleDetail {
  RoleName?: unknown;
  Arn?: unknown;
  AssumeRolePolicyDocument?: unknown;
}

export class IamSnapshotStore implements TrustStore, RoleLister {
  private readonly roles = new Map<string, RoleState>();

  constructor(readonly file: string) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new IamSnapshotError(
        `${file}: cannot read the IAM snapshot (${(err as Error).message}); create it with: aws iam get-account-authorization-details --filter Role > ${file}`,
        { cause: err },
      );
    }
    const list = (data as { RoleDetailList?: unknown }).RoleDetailList;
    if (!Array.isArray(list))
      throw new IamSnapshotError(
        `${file}: RoleDetailList is missing; expected the output of aws iam get-account-authorization-details`,
      );
    list.forEach((r: RoleDetail, i) => {
      const arn = typeof r.Arn === 'string' ? parseRoleArn(r.Arn) : undefined;
      if (typeof r.RoleName !== 'string' || !arn)
        throw new IamSnapshotError(`${file}: RoleDetailList[${i}] has no RoleName or role Arn`);
      try {
        this.roles.set(r.RoleName, { arn, document: parseTrustPolicy(r.AssumeRolePolicyDocument) });
      } catch (err) {
        throw new IamSnapshotError(
          `${file}: RoleDetailList[${i}] (${r.RoleName}).AssumeRolePolicyDocument: ${(err as Error).message}`,
          { cause: err },
        );
      }
    });
  }

  /** The account the snapshot was taken in (its roles' ARNs), when it holds any role. */
  account(): string | undefined {
    const accounts = new Set([...this.roles.values()].map((r) => r.arn.accountId));
    if (accounts.size > 1)
      throw new IamSnapshotError(
        `${this.file}: holds roles of ${accounts.size} accounts (${[...accounts].join(', ')}); take one snapshot per account and pass each as --iam-snapshot ACCOUNT=FILE`,
      );
    return [...accounts][0];
  }

  async readRoles(names: string[]) {
    return new Map(names.map((n) => [n, this.roles.get(n)]));
  }

  async listAllRoles() {
    return [...this.roles.entries()].map(([name, state]) => ({ name, state }));
  }

  /** The snapshot (`--filter Role`) holds no OIDC providers: unknown. */
  async listOidcProviders(): Promise<undefined> {
    return undefined;
  }

  async writeTrust(): Promise<'written'> {
    throw new UsageError('an IAM snapshot is read-only: apply needs IAM (drop --iam-snapshot)');
  }

  async writeSavedTrust(): Promise<'written'> {
    throw new UsageError('an IAM snapshot is read-only: apply a saved plan against IAM (drop --iam-snapshot)');
  }

  async ensureOidcProviders(): Promise<{ created: string[] }> {
    throw new UsageError('an IAM snapshot is read-only: apply needs IAM (drop --iam-snapshot)');
  }
}
