/**
 * Stack traces of a bundled function in source terms (`at required (src/lambda/runtime.ts:53:11)`), mapped
 * when a stack is formatted, not when the bundle loads. Node's `--enable-source-maps` reads and decodes the
 * bundle's whole source map at load, which doubled init (DESIGN 7.4); here the map beside the bundle
 * (`<bundle>.js.map`) is read the first time an error's `stack` is read, once per container, with
 * @jridgewell/trace-mapping. Function names come from the map too, so the bundle need not keep them.
 *
 * The build injects this module first into every function (deploy/esbuild.config.js). Outside a bundle
 * (tests, `tsx`) there is no map beside this file and stacks are left as V8 formats them.
 */
import { readFileSync } from 'node:fs';
import { LEAST_UPPER_BOUND, originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';

/** The bundle this module is part of (esbuild's CommonJS output keeps `__filename`). */
const bundle = typeof __filename === 'string' ? __filename : undefined;
let map: TraceMap | null | undefined;

function bundleMap(): TraceMap | null {
  if (map === undefined) {
    try {
      map = new TraceMap(readFileSync(`${bundle}.map`, 'utf8'));
    } catch {
      map = null;
    }
  }
  return map;
}

/**
 * A source as the map names it, relative to the bundle's directory (`../../../src/app/intake.ts` from
 * `.esbuild/.build/functions/`), as the path in the project: `src/app/intake.ts`, `node_modules/...`.
 */
const projectPath = (source: string) => source.replace(/^(\.\.?\/)+/, '');

/**
 * The name a position of the bundle had in the source (a minified identifier's original), if the map says;
 * `after`: the first name after it (a `new` call's position is the keyword's, the class name follows).
 */
function nameAt(traced: TraceMap, line: number | null | undefined, column: number | null | undefined, after = false) {
  if (!line || !column) return null;
  return after
    ? originalPositionFor(traced, { line, column, bias: LEAST_UPPER_BOUND }).name
    : originalPositionFor(traced, { line, column: column - 1 }).name;
}

/**
 * One frame as V8 writes it, with the bundle's position and names mapped to the source: the enclosing
 * function's name where it is declared, else the name its caller called it by (as Node's own
 * source-map support does).
 */
function frame(site: NodeJS.CallSite, caller: NodeJS.CallSite | undefined, traced: TraceMap): string {
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  if (site.getFileName() !== bundle || line === null || column === null) return `    at ${site}`;
  const at = originalPositionFor(traced, { line, column: column - 1 });
  if (at.source === null) return `    at ${site}`;
  const name =
    nameAt(traced, site.getEnclosingLineNumber?.(), site.getEnclosingColumnNumber?.()) ??
    (caller?.getFileName() === bundle
      ? nameAt(traced, caller.getLineNumber(), caller.getColumnNumber(), site.isConstructor())
      : null) ??
    site.getFunctionName();
  const prefix = `${site.isAsync() ? 'async ' : ''}${site.isConstructor() ? 'new ' : ''}`;
  const where = `${projectPath(at.source)}:${at.line}:${at.column + 1}`;
  return name ? `    at ${prefix}${name} (${where})` : `    at ${prefix}${where}`;
}

function header(error: unknown): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return '<error>';
  }
}

/** Installs the mapping for this bundle's frames; stacks without a map are formatted as V8 does. */
export function installStackTraceMapping(): void {
  if (!bundle || !bundle.endsWith('.js')) return;
  Error.prepareStackTrace = (error, sites) => {
    const traced = bundleMap();
    const frames = sites.map((site, i) => {
      try {
        return traced ? frame(site, sites[i + 1], traced) : `    at ${site}`;
      } catch {
        return `    at ${site}`;
      }
    });
    return [header(error), ...frames].join('\n');
  };
}

installStackTraceMapping();
