/**
 * Docs that run: every shell block in README.md and docs/ is run by a test, run by CI, or says why it cannot
 * be (test/support/docs.ts). A block added without a directive, or a doc-test no test runs, fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { docFiles, shellBlocks, type DocBlock } from '../support/docs';

const blocks: DocBlock[] = docFiles().flatMap((f) => shellBlocks(f));

function testSources(dir = 'test'): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((e) =>
      e.isDirectory()
        ? testSources(join(dir, e.name))
        : e.name.endsWith('.ts')
          ? readFileSync(join(dir, e.name), 'utf8')
          : '',
    )
    .join('\n');
}

describe('shell blocks in README.md and docs/', () => {
  it('finds the blocks (the walk works)', () => {
    expect(blocks.length).toBeGreaterThan(5);
    expect(new Set(blocks.map((b) => b.file))).toContain('README.md');
  });

  it('each says how it is run: <!-- doc-test: NAME -->, <!-- run by .ci/run --> or <!-- not run: WHY -->', () => {
    const bare = blocks.filter((b) => !b.directive).map((b) => `${b.file}:${b.line}`);
    expect(bare).toEqual([]);
  });

  it('a reason to leave a block unrun says something', () => {
    const thin = blocks.filter((b) => b.directive?.kind === 'not-run' && b.directive.reason.length < 12);
    expect(thin.map((b) => `${b.file}:${b.line}`)).toEqual([]);
  });

  it('each doc-test is run by a test (docBlock(FILE, NAME) in test/), and its name is unique in its file', () => {
    const sources = testSources().replace(readFileSync('test/docs/commands.test.ts', 'utf8'), '');
    const named = blocks.flatMap((b) =>
      b.directive?.kind === 'doc-test' ? [{ file: b.file, name: b.directive.name }] : [],
    );
    const unrun = named.filter(({ file, name }) => !sources.includes(`docBlock('${file}', '${name}')`));
    expect(unrun).toEqual([]);
    const keys = named.map(({ file, name }) => `${file} ${name}`);
    expect(keys.length).toBe(new Set(keys).size);
  });

  it('the blocks CI runs are the lines of .ci/run', () => {
    const ci = readFileSync('.ci/run', 'utf8')
      .split('\n')
      .map((l) => l.trim());
    const lines = blocks
      .filter((b) => b.directive?.kind === 'ci')
      .flatMap((b) => b.code.split('\n'))
      .flatMap((l) => l.split('&&'))
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(lines.length).toBeGreaterThan(0);
    // CI may add flags (npm ci --no-audit): the doc's command, then options.
    expect(lines.filter((l) => !ci.some((c) => c === l || c.startsWith(`${l} --`)))).toEqual([]);
  });
});
