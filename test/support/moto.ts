/**
 * `moto_server` (a real AWS API emulator) for tests: one per jest worker, shared by the test files it runs one
 * after the other and reset before each (test/support/global-setup.ts), or one of its own for the bench and
 * scripts (test/support/moto-process.ts starts the process).
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { createIamClient } from '../../src/adapters/aws/iam';
import { ensureMotoInstalled, freePort, spawnMotoProcess, TEST_CREDENTIALS } from './moto-process';

export { ensureMotoInstalled, freePort, TEST_CREDENTIALS };

export interface Moto {
  endpoint: string;
  iam(): IAMClient;
  /**
   * IAM inside another account: moto keeps IAM per account and lets credentials from AssumeRole act in the
   * assumed role's account (it assumes any role; the role need not exist).
   */
  iamIn(account: string): Promise<IAMClient>;
  reset(): Promise<void>;
  stop(): Promise<void>;
  /** The moto_server process, when this handle started it. */
  pid?: number;
}

/** Starts a moto_server process of its own (the bench, or a run without jest's global setup). */
export async function spawnMoto(): Promise<Moto> {
  const p = await spawnMotoProcess();
  return motoAt(p.endpoint, p.stop, p.pid);
}

/** A handle on the moto_server at `endpoint`; `stop` is what ending it means for whoever holds it. */
function motoAt(endpoint: string, stop: () => Promise<void>, pid?: number): Moto {
  return {
    endpoint,
    ...(pid ? { pid } : {}),
    iam: () => createIamClient({ region: 'us-east-1', endpoint, credentials: TEST_CREDENTIALS }),
    iamIn: async (account) => {
      const sts = new STSClient({ region: 'us-east-1', endpoint, credentials: TEST_CREDENTIALS });
      const c = (
        await sts.send(
          new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/test-setup`, RoleSessionName: 'test-setup' }),
        )
      ).Credentials!;
      return createIamClient({
        region: 'us-east-1',
        endpoint,
        credentials: {
          accessKeyId: c.AccessKeyId!,
          secretAccessKey: c.SecretAccessKey!,
          sessionToken: c.SessionToken!,
        },
      });
    },
    reset: async () => {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset at ${endpoint} answered ${res.status}`);
    },
    stop,
  };
}

/** The moto_server this jest worker shares across its test files (test/support/global-setup.ts starts one per worker). */
function workerEndpoint(): string | undefined {
  const worker = process.env.JEST_WORKER_ID;
  return worker ? process.env[`ASTRO_TRUST_TEST_MOTO_${worker}`] : undefined;
}

/**
 * moto for one test file: the worker's shared moto_server, reset to empty (test files of one worker run one
 * after the other), or a process of its own where there is none (the bench, a script, a single jest run
 * without the global setup). `stop()` leaves a shared server running for the next file.
 */
export async function startMoto(): Promise<Moto> {
  const endpoint = workerEndpoint();
  if (!endpoint) return spawnMoto();
  const moto = motoAt(endpoint, async () => {});
  await moto.reset();
  return moto;
}
