/**
 * The shell blocks of README.md and docs/ as tests run them ("docs that run"). Every ```sh block carries a
 * directive in an HTML comment on the line before it:
 *
 * - `<!-- doc-test: NAME -->`: a test runs it, reading it with `docBlock(FILE, NAME)`;
 * - `<!-- run by .ci/run -->`: CI runs these very lines (README's two commands);
 * - `<!-- not run: WHY -->`: it cannot run here (a real AWS deploy, a synopsis), and says why.
 *
 * test/docs/commands.test.ts checks that every block has one and that each doc-test is run by some test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SHELL_LANGS = ['sh', 'bash', 'shell', 'console'];

export type Directive = { kind: 'doc-test'; name: string } | { kind: 'ci' } | { kind: 'not-run'; reason: string };

export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  directive?: Directive;
}

/** README.md and every Markdown file under docs/, relative to the repository root. */
export function docFiles(root = '.'): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
    );
  return ['README.md', ...walk('docs').sort()];
}

function directiveOf(line: string | undefined): Directive | undefined {
  const m = /^<!--\s*(.*?)\s*-->$/.exec((line ?? '').trim());
  if (!m) return undefined;
  const text = m[1]!;
  const test = /^doc-test:\s*([a-z0-9-]+)$/.exec(text);
  if (test) return { kind: 'doc-test', name: test[1]! };
  if (/^run by \.ci\/run$/.test(text)) return { kind: 'ci' };
  const notRun = /^not run:\s*(.+)$/.exec(text);
  if (notRun) return { kind: 'not-run', reason: notRun[1]! };
  return undefined;
}

/** The shell blocks of one Markdown file, each with the directive on the line before its fence. */
export function shellBlocks(file: string, root = '.'): DocBlock[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const out: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    // A fence may be indented (a block inside a list item): its code is taken with that indentation removed.
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!;
    const end = lines.findIndex((l, j) => j > i && /^\s*```\s*$/.test(l));
    if (end < 0) break;
    if (SHELL_LANGS.includes(open[2]!)) {
      const directive = directiveOf(lines[i - 1]);
      const code = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
        .join('\n');
      out.push({ file, line: i + 1, lang: open[2]!, code: `${code}\n`, ...(directive ? { directive } : {}) });
    }
    i = end;
  }
  return out;
}

/** The code of the block marked `<!-- doc-test: NAME -->` in FILE, as written there. */
export function docBlock(file: string, name: string): string {
  const block = shellBlocks(file).find((b) => b.directive?.kind === 'doc-test' && b.directive.name === name);
  if (!block) throw new Error(`${file} has no shell block marked <!-- doc-test: ${name} -->`);
  return block.code;
}
