/** The config as the functions read it: the loader's result as JSON, found by the one discovery rule. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/config/config';
import { configPath } from '../../src/config/config-path';
import { packConfig, readPackagedConfig } from '../../src/config/packaged';

describe('configPath', () => {
  it('is ASTRO_TRUST_CONFIG, else ./astro-trust.yaml', () => {
    expect(configPath({ ASTRO_TRUST_CONFIG: 'conf/prod.yaml' })).toBe('conf/prod.yaml');
    expect(configPath({ ASTRO_TRUST_CONFIG: '' })).toBe('astro-trust.yaml');
    expect(configPath({})).toBe('astro-trust.yaml');
  });
});

describe('the packaged config', () => {
  const CONFIG = 'examples/astro-trust.yaml';

  it('is what the loader returned, JSON all the way (no Date, RegExp or function to lose on the way)', () => {
    const loaded = loadConfig(CONFIG);
    expect(JSON.parse(JSON.stringify(loaded))).toEqual(loaded);
  });

  it('reads back, from the function’s directory, as the loader returned it there', () => {
    const root = resolve('.');
    const loaded = loadConfig(CONFIG);
    const dir = mkdtempSync(join(tmpdir(), 'astro-trust-packaged-'));
    const file = join(dir, 'astro-trust.json');
    const packaged = packConfig(loaded, root);
    // Paths inside the service directory are relative: they hold once it is /var/task.
    expect(packaged.config.file).toBe('examples/astro-trust.yaml');
    expect(packaged.config.inventory).toMatchObject({ path: 'examples/deployments.json' });
    writeFileSync(file, JSON.stringify(packaged));
    expect(readPackagedConfig(file, root)).toEqual(loaded);
    expect(readPackagedConfig(file, '/var/task').inventory).toMatchObject({
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
