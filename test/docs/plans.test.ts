/** docs/plan-and-apply.md's and docs/adoption.md's commands, run as written. */
import { existsSync, readFileSync } from 'node:fs';
import { docBlock } from '../support/docs';
import { playground, REPO, runScript, type Playground } from '../support/playground';

const checkout = (script: string) =>
  runScript(script, {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', npm_config_update_notifier: 'false' },
  });

let pg: Playground;
beforeAll(async () => {
  pg = await playground();
}, 60_000);
afterAll(async () => pg?.close());

it('adoption, offline: init writes a config from the example estate, and plan reads it', async () => {
  const run = await checkout(docBlock('docs/adoption.md', 'try-offline'));
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/legacy-exporter/);
  expect(run.stdout).toContain('+ arn:aws:iam::111928029897:role/astro-nebular-quasar-2211');
});

it('saved plan of the example: plan -out saves it, show prints it', async () => {
  const run = await checkout(docBlock('docs/plan-and-apply.md', 'saved-plan-example'));
  expect(run.code).toBe(0);
  const saved = JSON.parse(readFileSync('/tmp/astro-trust-example-plan.json', 'utf8'));
  expect(saved).toMatchObject({ formatVersion: 1, config: { digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) } });
  expect(run.stdout).toMatch(/data-lake-reader/);
});

it('saved plan against IAM: plan -out, show, then apply FILE writes the reviewed policies', async () => {
  const run = await pg.run(docBlock('docs/plan-and-apply.md', 'saved-plan'));
  expect(run.stderr).not.toMatch(/refused|error/i);
  // The example keeps one role full on purpose: apply writes what fits and exits 1 (not converged), as documented.
  expect(run.stdout).toMatch(/2 declared Deployments were left out for lack of room/);
  expect(run.stdout).toMatch(/^wrote {3}data-lake-reader$/m);
  expect(run.code).toBe(1);
  expect(existsSync(`${pg.dir}/plan.json`)).toBe(true);
  // The apply wrote: a second plan against moto has nothing left to change for the enforce roles it wrote.
  const again = await pg.run('astro-trust plan --json');
  const roles = JSON.parse(again.stdout).roles as { role: string; status: string; mode: string }[];
  expect(roles.find((r) => r.role === 'data-lake-reader')).toMatchObject({ status: 'in-sync' });
});

it("deploy.md's plan, then apply, from a laptop: the plan is printed; apply, not at a terminal, refuses without --yes", async () => {
  // A reader's estate as the example has it (the other tests here apply to theirs).
  const fresh = await playground({ ownMoto: true });
  try {
    const run = await fresh.run(docBlock('docs/deploy.md', 'plan-apply-laptop'));
    expect(run.stdout).toMatch(/^Plan: 5 to change/m);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /5 roles would be written; refusing without --yes when standard input is not a terminal/,
    );
  } finally {
    await fresh.close();
  }
});
