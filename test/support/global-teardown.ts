/** Jest global teardown: stops the workers' shared moto_servers (test/support/global-setup.ts). */
export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__astroTrustMotos ?? []).map((m) => m.stop()));
}
