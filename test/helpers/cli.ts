import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../../packages/cli/src/cli.js';

export const ROOT = join(import.meta.dirname, '../..');

/** Runs the CLI in-process (fast), capturing stdout, stderr and the exit code. */
export async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), isStderrTty: false });
  return { code, stdout, stderr };
}

/** Runs `pnpm nnmax ...` as a real process (exit codes, stderr as a user sees it). */
export function cliProcess(...argv: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@nnmax/source', join(ROOT, 'packages/cli/src/main.ts'), ...argv], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
