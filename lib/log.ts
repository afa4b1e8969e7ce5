import { createHash } from 'node:crypto';

/**
 * Structured logging port. Entry points pick the adapter: the Lambda handlers use Powertools Logger (JSON to
 * CloudWatch), the CLI writes JSON lines to stderr so stdout stays clean for `--format json`.
 * Callers pass ids through `idRef()`: raw visitor and session ids are PII and never reach a log line.
 */
export type LogFields = Record<string, unknown>;

export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** JSON lines on a stream (stderr for the CLI). */
export class JsonLineLog implements Log {
  constructor(
    private readonly write: (line: string) => void = (line) => process.stderr.write(line),
    private readonly minLevel: LogLevel = 'info',
    private readonly base: LogFields = {},
  ) {}
  private emit(level: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields): void {
    if (LEVELS[level] < LEVELS[this.minLevel]) return;
    this.write(
      JSON.stringify(
        { level, timestamp: new Date().toISOString(), message, ...this.base, ...fields },
        errorReplacer,
      ) + '\n',
    );
  }
  debug(message: string, fields?: LogFields): void {
    this.emit('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.emit('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.emit('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.emit('error', message, fields);
  }
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** Errors serialise to name and message only: a stack or cause could carry a request URL with ids. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/**
 * A stable, non-reversible reference to a visitor or session id for logs: the same id always gives the same
 * reference (so an operator can follow one session), the id itself is never printed.
 */
export function idRef(id: string): string {
  return createHash('sha256').update(`lpv-log:${id}`).digest('hex').slice(0, 12);
}
