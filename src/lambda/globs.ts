/**
 * src/domain/glob.ts as the Lambda functions bundle it (deploy/esbuild.config.js swaps it in): the name globs
 * of the packaged config, compiled by picomatch at package time, matched here as picomatch matches them
 * (an empty name never; the glob itself, literally; else its regular expression). No glob compiler here.
 */
import { UsageError } from '../errors.js';

export type NameMatcher = (name: string) => boolean;

const compiled = new Map<string, RegExp>();

/** The packaged config's globs (`PackagedConfig.globs`), read at start. */
export function usePackagedGlobs(globs: Record<string, { source: string; flags: string }>): void {
  compiled.clear();
  for (const [glob, { source, flags }] of Object.entries(globs)) compiled.set(glob, new RegExp(source, flags));
}

export function compileGlob(glob: string): NameMatcher {
  const re = compiled.get(glob);
  if (!re)
    throw new UsageError(
      `the name glob ${JSON.stringify(glob)} was not compiled when the functions were packaged: package them again (osls package)`,
    );
  return (name) => name !== '' && (name === glob || re.test(name));
}
