import type { Readable, Writable } from 'node:stream';
import type { Env } from '../config';

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: Env;
  /** True when stdout is a terminal (table output by default). */
  stdoutIsTty: boolean;
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    stdoutIsTty: Boolean(process.stdout.isTTY),
  };
}

/** Exit codes: 0 success, 1 failure at run time, 2 bad usage or bad input, 3 configuration fault (401/10, 404/6). */
export const EXIT = { ok: 0, failure: 1, usage: 2, configurationFault: 3 } as const;

/** A usage error: the message and the command's usage go to stderr, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
