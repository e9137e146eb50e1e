/**
 * `npm run bench [-- --only apply|accounts|cost|functions|lambda50k|serve] [--roles 200] [--roles-per-account 70] [--deployments 500] [--repeat 3] [--events 100] [--runs 7]`
 * Prints tables; nothing here is asserted as a timing in tests.
 */
import { parseArgs } from 'node:util';
import '../test/support/env';
import { benchAccounts } from './accounts';
import { benchApply } from './apply';
import { benchCost } from './cost';
import { benchFunctions } from './functions';
import { benchLambda50k } from './lambda50k';
import { benchLimits } from './limits';
import { benchPlanning } from './planning';
import { benchServe } from './serve';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    roles: { type: 'string', default: '200' },
    deployments: { type: 'string', default: '500' },
    repeat: { type: 'string', default: '3' },
    events: { type: 'string', default: '100' },
    runs: { type: 'string', default: '7' },
    'roles-per-account': { type: 'string', default: '70' },
  },
});

async function main() {
  const want = (name: string) => !values.only || values.only === name;
  if (want('apply')) await benchApply(Number(values.roles), Number(values.deployments), Number(values.repeat));
  if (want('accounts')) await benchAccounts(Number(values['roles-per-account']), Number(values.deployments));
  if (want('cost')) await benchCost(Number(values.roles), Number(values.deployments));
  if (want('functions')) await benchFunctions(Number(values.runs));
  if (want('lambda50k')) await benchLambda50k(50_000, Number(values.repeat));
  if (want('serve')) await benchServe(Number(values.events));
  if (want('limits')) await benchLimits();
  if (want('planning')) await benchPlanning();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
