/**
 * How a selector's `name` glob matches a Deployment name (README "Config"): picomatch, with strict brackets,
 * and names that start with a dot matched like any other. The Lambda functions get every glob of their
 * config compiled when they are packaged, so their bundles carry no glob compiler: src/lambda/globs.ts
 * stands in for this module there (deploy/esbuild.config.js).
 */
import picomatch from 'picomatch';

export const GLOB_OPTIONS = { strictBrackets: true, dot: true } as const;

export type NameMatcher = (name: string) => boolean;

export function compileGlob(glob: string): NameMatcher {
  return picomatch(glob, GLOB_OPTIONS);
}

/** The regular expression a glob compiles to, as the functions get it (source and flags). */
export function globRegExp(glob: string): { source: string; flags: string } {
  const re = picomatch.makeRe(glob, GLOB_OPTIONS);
  return { source: re.source, flags: re.flags };
}
