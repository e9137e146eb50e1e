/** Runs the astro-trust command line in process, capturing its output. */
import { run, type Io } from '../../src/cli/main';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(argv: string[], over: Partial<Io> = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    stdoutIsTTY: false,
    stderrIsTTY: false,
    stdinIsTTY: false,
    env: process.env,
    confirm: async () => false,
    ...over,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}
