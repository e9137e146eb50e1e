/**
 * Jest global setup: one moto_server per worker, shared by the test files that worker runs one after the
 * other (each resets it first: test/support/moto.ts). Starting moto costs about 0.7 s of CPU; 25 files
 * started their own. Workers inherit the endpoints through the environment; the teardown stops them.
 */
import { spawnMotoProcess } from './moto-process';

declare global {
  var __astroTrustMotos: { stop(): Promise<void> }[] | undefined;
}

export default async function globalSetup(globalConfig: { maxWorkers?: number }): Promise<void> {
  const workers = Math.max(1, Number(globalConfig.maxWorkers) || 1);
  const motos = await Promise.all(Array.from({ length: workers }, () => spawnMotoProcess()));
  motos.forEach((m, i) => (process.env[`ASTRO_TRUST_TEST_MOTO_${i + 1}`] = m.endpoint));
  globalThis.__astroTrustMotos = motos;
}
