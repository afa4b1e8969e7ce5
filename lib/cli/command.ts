/**
 * What an `lpv` command is, as main.ts dispatches it. Its own module so that the files defining commands
 * (main.ts, query-commands.ts) and the dispatcher (main.ts) depend on it rather than on each other.
 */
import type { ParseArgsConfig } from 'node:util';
import type { Clock } from '../clock';
import type { Log } from '../log';
import type { CliIo } from './io';

/** The arguments after the command's words, as node:util parseArgs left them. */
export type ParsedArgs = { values: Record<string, string | boolean | undefined>; positionals: string[] };

/**
 * What `main` takes from its caller rather than the process: the clock (tests pass their own), a log, and how
 * to wait (`lpv forget` waits a lease; tests pass their own). @default sleep: a timer
 */
export interface CliDeps {
  clock: Clock;
  log?: Log;
  sleep?: (ms: number) => Promise<void>;
}

export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  /** Words after `lpv`, e.g. ['tables', 'create']. */
  path: string[];
  /** One line in `lpv --help`. */
  summary: string;
  /** `lpv <command> --help`, and what follows a usage error. */
  usage: string;
  options: CommandOptions;
  allowPositionals?: boolean;
  run(args: ParsedArgs, io: CliIo, deps: CliDeps): Promise<number>;
}

/** Every command takes -h/--help (main.ts answers it before the command runs). */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;
