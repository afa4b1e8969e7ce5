/**
 * Analyst commands: `lpv query session|visitor|events|sessions` and `lpv export`. Thin adapters: parse and
 * validate arguments, build a CaptureReader (lib/query) over the configured table, render the rows.
 *
 * Output: `--format json` (default when stdout is not a terminal) is ONE JSON array of row objects on stdout,
 * `[]` when nothing matched; `csv` is RFC 4180 with a header row (header only when nothing matched), nested
 * values are the JSON text stored in their cell; `table` (default on a terminal) shows the identifying columns
 * of each row, times as ISO 8601, and says on stderr how many columns it left out. Rows are the analyst view
 * (lib/query/rows.ts): no pk, sk or gsi1pk..gsi3sk unless `--raw`. `--limit N` stops reading after N rows.
 * Progress goes to stderr on reads longer than a second. Exit 0 with an empty result when nothing matched;
 * exit 2 on a bad argument (one line saying which, then the usage).
 */
import { loadAccountId, loadStorageSettings, type Env } from '../config';
import { idProblem, type IdKind } from '../ids';
import { createDocumentClient } from '../store/dynamo';
import type { StoredRow } from '../store/capture-store';
import { ExportTargetError, QueryArgumentError } from '../query/errors';
import { exportRange } from '../query/export';
import { ProgressReporter } from '../query/progress';
import { CaptureReader } from '../query/reader';
import { columnsFor, toAnalystRow, type AnalystRow } from '../query/rows';
import { DAY_MS } from '../clock';
import { checkRange, parseInstant, utcDayStartMs, type TimeRange } from '../query/time';
import { parseFormat, toCsv, toTable, type OutputFormat } from './format';
import { EXIT, UsageError, type CliIo } from './io';
import type { CliDeps, Command } from './main';

type Args = Parameters<Command['run']>[0];

const HELP = { help: { type: 'boolean', short: 'h' } } as const;
const OUTPUT_OPTIONS = {
  format: { type: 'string' },
  limit: { type: 'string' },
  raw: { type: 'boolean' },
} as const;
const RANGE_OPTIONS = { from: { type: 'string' }, to: { type: 'string' } } as const;

const OUTPUT_USAGE =
  '  --format table|json|csv  table on a terminal, json otherwise (one JSON array of row objects)\n' +
  '  --limit N                at most N rows (reading stops there)\n' +
  '  --raw                    keep the storage attributes pk, sk, gsi1pk..gsi3sk';
const TIME_USAGE =
  '--from is inclusive, --to exclusive. Both take an ISO 8601 date (2024-03-10: that UTC day, from 00:00Z)\n' +
  'or a date-time with Z or an offset (2024-03-10T14:00:00Z, 2024-03-10T16:00+02:00); nothing else.';

/** Columns every row of the command has; the CSV header always holds them, even with no rows. */
const BASE_COLUMNS = ['rowType', 'accountId', 'visitorId', 'sid'];
const EVENT_BASE_COLUMNS = [...BASE_COLUMNS, 'eventType', 'serverTimeStamp'];

/** Epoch-ms columns the table shows as ISO 8601. */
const TIME_COLUMNS = new Set([
  'serverTimeStamp',
  'startTime',
  'startTimeMs',
  'capturedAtMs',
  'endedAtMs',
  'deadlineMs',
  'enqueuedAtMs',
  'lastCapturedAtMs',
]);

function str(args: Args, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

function parseLimit(args: Args): number | undefined {
  const raw = str(args, 'limit');
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) === 0 || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`--limit must be a positive whole number, got "${raw}"`);
  }
  return Number(raw);
}

function checkedId(kind: IdKind, value: string | undefined, what: string): string {
  if (value === undefined) throw new UsageError(`missing ${what}`);
  const problem = idProblem(kind, value);
  if (problem !== undefined) throw new UsageError(`${what} ${problem}`);
  return value;
}

function onePositional(args: Args, what: string): string | undefined {
  if (args.positionals.length > 1) {
    throw new UsageError(`expected one ${what}, got ${args.positionals.length} arguments`);
  }
  return args.positionals[0];
}

function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof QueryArgumentError) throw new UsageError(error.message);
    throw error;
  }
}

/** --from/--to; without `defaults` both are required, with them a missing one is filled in. */
function parseRange(args: Args, defaults?: { toMs: number; spanMs: number }): TimeRange {
  const from = str(args, 'from');
  const to = str(args, 'to');
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

interface Output {
  format: OutputFormat;
  limit: number | undefined;
  raw: boolean;
}

function parseOutput(args: Args, io: CliIo): Output {
  return {
    format: parseFormat(str(args, 'format'), io.stdoutIsTty, ['table', 'json', 'csv']),
    limit: parseLimit(args),
    raw: args.values.raw === true,
  };
}

interface Session {
  reader: CaptureReader;
  progress: ProgressReporter;
  close(): void;
}

function open(env: Env, io: CliIo, label: string, pageSize?: number): Session {
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

async function collect(
  rows: AsyncIterable<StoredRow>,
  output: Output,
  progress: ProgressReporter,
): Promise<AnalystRow[]> {
  const out: AnalystRow[] = [];
  for await (const row of rows) {
    out.push(toAnalystRow(row, output.raw));
    progress.rowsEmitted(out.length);
    if (output.limit !== undefined && out.length >= output.limit) break;
  }
  progress.finish();
  return out;
}

function tableCell(column: string, value: unknown): unknown {
  if (TIME_COLUMNS.has(column) && typeof value === 'number' && Number.isFinite(value) && value >= 0) {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? value : date.toISOString();
  }
  return value;
}

function write(
  io: CliIo,
  output: Output,
  rows: readonly AnalystRow[],
  base: readonly string[],
  tableColumns: readonly string[],
): void {
  switch (output.format) {
    case 'json':
      io.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      return;
    case 'csv':
      io.stdout.write(toCsv(rows, columnsFor(rows, base)));
      return;
    case 'table': {
      const shown = tableColumns.filter((c) => rows.some((r) => r[c] !== undefined && r[c] !== null));
      const columns = shown.length > 0 ? shown : ['rowType'];
      const cells = rows.map((r) => Object.fromEntries(columns.map((c) => [c, tableCell(c, r[c])])));
      io.stdout.write(toTable(cells, columns));
      const all = columnsFor(rows, base).length;
      io.stderr.write(
        `${rows.length} row${rows.length === 1 ? '' : 's'}; the table shows ${columns.length} of ${all} ` +
          `columns (--format json or csv for all)\n`,
      );
      return;
    }
  }
}

async function runQuery(
  io: CliIo,
  args: Args,
  label: string,
  base: readonly string[],
  tableColumns: readonly string[],
  read: (reader: CaptureReader) => AsyncIterable<StoredRow>,
): Promise<number> {
  const output = parseOutput(args, io);
  const session = open(
    io.env,
    io,
    label,
    output.limit !== undefined ? Math.min(output.limit, 1000) : undefined,
  );
  try {
    const rows = await collect(read(session.reader), output, session.progress);
    write(io, output, rows, base, tableColumns);
    return EXIT.ok;
  } finally {
    session.close();
  }
}

const querySession: Command = {
  path: ['query', 'session'],
  summary: 'every row of one session (session, pages, engagements, events, items, outcome)',
  usage:
    'lpv query session <sid> [--format table|json|csv] [--limit N] [--raw]\n\n' +
    'All rows of the session in LP_ACCOUNT_ID: session rows, pages (by start), engagements, events (by\n' +
    'serverTimeStamp, each followed by its eventItem rows), and the outcome row, so a lost or invalid session\n' +
    'answers with its finalState and reason. One Query on the table key.\n' +
    OUTPUT_USAGE,
  options: { ...HELP, ...OUTPUT_OPTIONS },
  allowPositionals: true,
  run(args, io) {
    const sid = checkedId('sid', onePositional(args, 'sid'), 'sid');
    return runQuery(
      io,
      args,
      'lpv query session',
      BASE_COLUMNS,
      [
        'rowType',
        'appSessionId',
        'pageId',
        'engagementId',
        'eventType',
        'serverTimeStamp',
        'childPath',
        'childIndex',
        'startTime',
        'startTimeMs',
        'finalState',
        'reason',
      ],
      (reader) => reader.sessionRows(sid),
    );
  },
};

const queryVisitor: Command = {
  path: ['query', 'visitor'],
  summary: "a visitor's sessions, newest first",
  usage:
    'lpv query visitor <visitorId> [--format table|json|csv] [--limit N] [--raw]\n\n' +
    "The visitor's session rows and outcome rows (a lost session has only the latter), newest start first.\n" +
    'One Query on the byVisitor index.\n' +
    OUTPUT_USAGE,
  options: { ...HELP, ...OUTPUT_OPTIONS },
  allowPositionals: true,
  run(args, io) {
    const visitorId = checkedId('visitorId', onePositional(args, 'visitorId'), 'visitorId');
    return runQuery(
      io,
      args,
      'lpv query visitor',
      BASE_COLUMNS,
      [
        'rowType',
        'sid',
        'appSessionId',
        'startTime',
        'startTimeMs',
        'finalState',
        'reason',
        'rowsStored',
        'eventsSeen',
      ],
      (reader) => reader.visitorSessions(visitorId),
    );
  },
};

const queryEvents: Command = {
  path: ['query', 'events'],
  summary: 'one event type over a time range (by serverTimeStamp)',
  usage:
    'lpv query events --type <eventType> --from <date|date-time> --to <date|date-time>\n' +
    '                 [--items] [--format table|json|csv] [--limit N] [--raw]\n\n' +
    'Event rows of that type with from <= serverTimeStamp < to, in time order, read from the byEventType\n' +
    "index (one Query per UTC day and shard; no Scan). --items adds each event's eventItem rows (cart\n" +
    'products, contacts, ...) after it, one more Query per event.\n' +
    TIME_USAGE +
    '\n' +
    OUTPUT_USAGE,
  options: {
    ...HELP,
    ...OUTPUT_OPTIONS,
    ...RANGE_OPTIONS,
    type: { type: 'string' },
    items: { type: 'boolean' },
  },
  run(args, io) {
    const eventType = str(args, 'type');
    if (eventType === undefined || eventType === '') throw new UsageError('--type <eventType> is required');
    const range = parseRange(args);
    const withItems = args.values.items === true;
    return runQuery(
      io,
      args,
      'lpv query events',
      EVENT_BASE_COLUMNS,
      ['serverTimeStamp', 'rowType', 'eventType', 'sid', 'visitorId', 'pageId', 'childPath', 'childIndex'],
      (reader) => reader.eventsInRange(eventType, range, { withItems }),
    );
  },
};

const querySessions: Command = {
  path: ['query', 'sessions'],
  summary: 'sessions that started in a time range',
  usage:
    'lpv query sessions --from <date|date-time> --to <date|date-time> [--format table|json|csv] [--limit N] [--raw]\n\n' +
    "Session rows (by the app session's startTime) and outcome rows (by the start the queue knew) with\n" +
    'from <= start < to, in start order, from the byStartDay index (one Query per UTC day and shard).\n' +
    TIME_USAGE +
    '\n' +
    OUTPUT_USAGE,
  options: { ...HELP, ...OUTPUT_OPTIONS, ...RANGE_OPTIONS },
  run(args, io) {
    const range = parseRange(args);
    return runQuery(
      io,
      args,
      'lpv query sessions',
      BASE_COLUMNS,
      ['rowType', 'startTime', 'startTimeMs', 'sid', 'visitorId', 'appSessionId', 'finalState', 'reason'],
      (reader) => reader.sessionsInRange(range),
    );
  },
};

/** Default export window: the 30 UTC days up to the end of today. */
export const EXPORT_DEFAULT_DAYS = 30;

const exportCommand: Command = {
  path: ['export'],
  summary: 'write capture rows as NDJSON files partitioned like the S3 feed',
  usage:
    'lpv export --out DIR [--from <date|date-time>] [--to <date|date-time>] [--raw]\n\n' +
    'Writes every row of the sessions that started in [from, to) as NDJSON under\n' +
    'DIR/rowType=<rowType>/dt=<yyyy-mm-dd>/part-00000.ndjson, the layout of the S3 feed (dt: the UTC day the\n' +
    'row was captured). DIR must be new or empty. Without a Scan: sessions are listed from the byStartDay\n' +
    `index, then each session's rows are read. Default --to: the end of today (UTC); default --from:\n` +
    `${EXPORT_DEFAULT_DAYS} days before --to. Prints a summary as JSON on stdout.\n` +
    TIME_USAGE,
  options: { ...HELP, ...RANGE_OPTIONS, out: { type: 'string' }, raw: { type: 'boolean' } },
  async run(args, io, deps: CliDeps) {
    const outDir = str(args, 'out');
    if (outDir === undefined || outDir === '') throw new UsageError('--out DIR is required');
    const range = parseRange(args, {
      toMs: utcDayStartMs(deps.clock.nowMs()) + DAY_MS,
      spanMs: EXPORT_DEFAULT_DAYS * DAY_MS,
    });
    if (str(args, 'from') === undefined || str(args, 'to') === undefined) {
      io.stderr.write(
        `lpv export: sessions started from ${new Date(range.fromMs).toISOString()} to ` +
          `${new Date(range.toMs).toISOString()} (exclusive)\n`,
      );
    }
    const session = open(io.env, io, 'lpv export');
    try {
      const summary = await exportRange(session.reader, {
        outDir,
        range,
        raw: args.values.raw === true,
        onSession: (_sessions, rows) => session.progress.rowsEmitted(rows),
      }).catch((error: unknown) => {
        if (error instanceof ExportTargetError) throw new UsageError(error.message);
        throw error;
      });
      session.progress.finish();
      io.stdout.write(
        JSON.stringify(
          {
            out: outDir,
            from: new Date(range.fromMs).toISOString(),
            to: new Date(range.toMs).toISOString(),
            ...summary,
          },
          null,
          2,
        ) + '\n',
      );
      return EXIT.ok;
    } finally {
      session.close();
    }
  },
};

/** Registered in lib/cli/main.ts's COMMANDS. */
export const QUERY_COMMANDS: readonly Command[] = [
  querySession,
  queryVisitor,
  queryEvents,
  querySessions,
  exportCommand,
];
