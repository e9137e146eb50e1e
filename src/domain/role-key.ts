/**
 * How astro-trust names a role (DESIGN 3.6): its IAM name, or `<account>/<name>` when the config puts it
 * in another account. IAM role names hold no `/`, so the split is never ambiguous.
 */
export function roleKey(name: string, account: string | undefined): string {
  return account ? `${account}/${name}` : name;
}

export function splitRoleKey(key: string): { account?: string; name: string } {
  const m = /^(\d{12})\/(.+)$/.exec(key);
  return m ? { account: m[1]!, name: m[2]! } : { name: key };
}
