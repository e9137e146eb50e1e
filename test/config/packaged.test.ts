/** The config as the functions read it: the loader's result as JSON, found by the one discovery rule. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { loadConfig } from '../../src/config/config';
import { packConfig } from '../../src/config/pack';
import { readPackagedConfig } from '../../src/config/packaged';
import { compileGlob, globRegExp } from '../../src/domain/glob';
import { compileGlob as packagedGlob, usePackagedGlobs } from '../../src/lambda/globs';

describe('the packaged config', () => {
  const CONFIG = 'examples/astro-trust.yaml';

  it('is what the loader returned, JSON all the way (no Date, RegExp or function to lose on the way)', () => {
    const loaded = loadConfig(CONFIG);
    expect(JSON.parse(JSON.stringify(loaded))).toEqual(loaded);
  });

  it('reads back, from the function’s directory, as the loader returned it there, with each name glob compiled', () => {
    const root = resolve('.');
    const loaded = loadConfig(CONFIG);
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-packaged-'));
    const file = join(dir, 'astro-trust.json');
    const packaged = packConfig(loaded, root);
    // Paths inside the service directory are relative: they hold once it is /var/task.
    expect(packaged.config.file).toBe('examples/astro-trust.yaml');
    expect(packaged.config.inventory).toMatchObject({ path: 'examples/deployments.json' });
    const globs = loaded.roles.flatMap((r) => (r.deployments ?? []).flatMap((s) => (s.name ? [s.name] : [])));
    expect(globs.length).toBeGreaterThan(0);
    expect(Object.keys(packaged.globs).sort()).toEqual([...new Set(globs)].sort());
    writeFileSync(file, JSON.stringify(packaged));
    expect(readPackagedConfig(file, root)).toEqual({ ...packaged, config: loaded });
    expect(readPackagedConfig(file, '/var/task').config.inventory).toMatchObject({
      path: '/var/task/examples/deployments.json',
    });
  });

  it('is refused, naming what to do, when missing or of another format', () => {
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-packaged-'));
    expect(() => readPackagedConfig(join(dir, 'none.json'))).toThrow(
      /cannot read the packaged config .*none\.json \(ENOENT\): package the functions with osls package/,
    );
    writeFileSync(join(dir, 'old.json'), JSON.stringify({ version: 1, roles: [] }));
    expect(() => readPackagedConfig(join(dir, 'old.json'))).toThrow(
      /is not a config packaged by this version of astro-trust .*package the functions again/,
    );
  });
});

describe('name globs compiled at package time', () => {
  const part = fc.constantFrom(
    'prod',
    'dev',
    '-',
    '.',
    'a',
    'b1',
    '*',
    '?',
    '**',
    '[ab]',
    '[!a]',
    '{x,y}',
    '/',
    '+(a)',
    '!',
  );
  const globs = fc.array(part, { minLength: 1, maxLength: 5 }).map((p) => p.join(''));
  const names = fc.array(fc.constantFrom('prod', 'dev', '-', '.', 'a', 'b', '1', 'x', 'y', '/', '*', '!'), {
    maxLength: 6,
  });

  it('match each Deployment name exactly as picomatch does', () => {
    fc.assert(
      fc.property(globs, fc.array(names, { minLength: 1, maxLength: 10 }), (glob, samples) => {
        let domain: ((s: string) => boolean) | undefined;
        try {
          domain = compileGlob(glob);
        } catch {
          return; // the loader refuses it (strict brackets): never packaged
        }
        usePackagedGlobs({ [glob]: globRegExp(glob) });
        const packaged = packagedGlob(glob);
        for (const name of [...samples.map((s) => s.join('')), glob])
          expect([name, packaged(name)]).toEqual([name, domain(name)]);
      }),
      { numRuns: 500 },
    );
  });

  it('a glob missing from the packaged config is an error that says to package again', () => {
    usePackagedGlobs({});
    expect(() => packagedGlob('prod-*')).toThrow(/"prod-\*" was not compiled when the functions were packaged/);
  });
});
