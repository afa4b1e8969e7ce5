import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const LPV = path.resolve(__dirname, '../../lib/cli/lpv.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `lpv` as a separate process, as a user would (`npx lpv ...`). */
export function spawnLpv(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): { child: ChildProcess; done: Promise<CliResult> } {
  return spawnCommand(process.execPath, [LPV, ...args], env, stdin);
}

/** Any command of the project, from the repository's root, with a minimal environment plus `env`. */
export function spawnCommand(
  command: string,
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(command, args, {
    cwd: path.resolve(__dirname, '../..'),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin?.end(stdin ?? '');
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function runLpv(args: string[], env: Record<string, string>, stdin?: string): Promise<CliResult> {
  return spawnLpv(args, env, stdin).done;
}

export function runCommand(command: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return spawnCommand(command, args, env).done;
}
