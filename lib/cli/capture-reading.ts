/**
 * What `lpv query` and `lpv export` share: reading the capture table of LP_ACCOUNT_ID through a CaptureReader
 * (lib/query) with progress on stderr, and the --from/--to range.
 */
import { loadAccountId, loadStorageSettings, type Env } from '../config';
import { QueryArgumentError } from '../query/errors';
import { ProgressReporter } from '../query/progress';
import { CaptureReader } from '../query/reader';
import { checkRange, parseInstant, type TimeRange } from '../query/time';
import { createDocumentClient } from '../store/dynamo';
import type { ParsedArgs } from './command';
import { UsageError, type CliIo } from './io';

export const RANGE_OPTIONS = { from: { type: 'string' }, to: { type: 'string' } } as const;

export const TIME_USAGE =
  '--from is inclusive, --to exclusive. Both take an ISO 8601 date (2024-03-10: that UTC day, from 00:00Z)\n' +
  'or a date-time with Z or an offset (2024-03-10T14:00:00Z, 2024-03-10T16:00+02:00); nothing else.';

/** A string option's value; undefined when absent. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** lib/query's argument errors (a bad date, an empty range) are usage errors here. */
function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof QueryArgumentError) throw new UsageError(error.message);
    throw error;
  }
}

/** --from/--to; without `defaults` both are required, with them a missing one is filled in. */
export function parseRange(args: ParsedArgs, defaults?: { toMs: number; spanMs: number }): TimeRange {
  const from = stringOption(args, 'from');
  const to = stringOption(args, 'to');
  if (defaults === undefined && (from === undefined || to === undefined)) {
    throw new UsageError(
      from === undefined && to === undefined
        ? '--from and --to are required'
        : `${from === undefined ? '--from' : '--to'} is required`,
    );
  }
  return asUsage(() => {
    const toMs = to !== undefined ? parseInstant(to, '--to') : (defaults as { toMs: number }).toMs;
    const fromMs =
      from !== undefined ? parseInstant(from, '--from') : toMs - (defaults as { spanMs: number }).spanMs;
    return checkRange({ fromMs, toMs });
  });
}

/** A CaptureReader over the configured table, with its progress reporter; close() frees the client. */
export interface OpenReader {
  reader: CaptureReader;
  progress: ProgressReporter;
  close(): void;
}

export function openReader(env: Env, io: CliIo, label: string, pageSize?: number): OpenReader {
  const accountId = loadAccountId(env);
  const storage = loadStorageSettings(env);
  const client = createDocumentClient(storage);
  const progress = new ProgressReporter(label, (line) => io.stderr.write(line));
  const reader = new CaptureReader(client, {
    tableName: storage.captureTable,
    accountId,
    onProgress: progress.onProgress,
    ...(pageSize !== undefined ? { pageSize } : {}),
  });
  return { reader, progress, close: () => client.destroy() };
}
