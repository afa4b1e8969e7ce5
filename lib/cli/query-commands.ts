/**
 * `lpv query session|visitor|events|sessions`: one table of definitions (QUERY_DEFINITIONS), one interpreter
 * (queryCommand). Thin adapters: parse and validate arguments, build a CaptureReader (lib/query) over the
 * configured table, render the rows.
 *
 * Output: `--format json` (default when stdout is not a terminal) is ONE JSON array of row objects on stdout,
 * `[]` when nothing matched; `csv` is RFC 4180 with a header row (header only when nothing matched), nested
 * values are the JSON text stored in their cell; `table` (default on a terminal) shows the identifying columns
 * of each row, times as ISO 8601, and says on stderr how many columns it left out. Rows are the analyst view
 * (lib/query/rows.ts): no pk, sk or gsi1pk..gsi3sk unless `--raw`. `--limit N` stops reading after N rows.
 * Progress goes to stderr on reads longer than a second. Exit 0 with an empty result when nothing matched;
 * exit 2 on a bad argument (one line saying which, then the usage).
 */
import { idProblem, type IdKind } from '../ids';
import type { ProgressReporter } from '../query/progress';
import type { CaptureReader } from '../query/reader';
import { columnsFor, toAnalystRow, type AnalystRow } from '../query/rows';
import type { TimeRange } from '../query/time';
import type { StoredRow } from '../store/capture-store';
import { openReader, parseRange, RANGE_OPTIONS, stringOption, TIME_USAGE } from './capture-reading';
import { HELP_OPTION, type Command, type CommandOptions, type ParsedArgs } from './command';
import { parseFormat, toCsv, toTable, type OutputFormat } from './format';
import { EXIT, UsageError, type CliIo } from './io';

const OUTPUT_OPTIONS = {
  format: { type: 'string' },
  limit: { type: 'string' },
  raw: { type: 'boolean' },
} as const;

const OUTPUT_USAGE =
  '  --format table|json|csv  table on a terminal, json otherwise (one JSON array of row objects)\n' +
  '  --limit N                at most N rows (reading stops there)\n' +
  '  --raw                    keep the storage attributes pk, sk, gsi1pk..gsi3sk';
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

/** One `lpv query` command as data; `queryCommand` below is the one interpreter of all of them. */
type QueryDefinition = {
  /** The word after `lpv query`. */
  name: string;
  summary: string;
  /** The usage line(s); the usage adds a blank line, `description`, TIME_USAGE (range only), OUTPUT_USAGE. */
  synopsis: string;
  /** What the command answers and how it reads it; ends with a newline. */
  description: string;
  /** Options besides --help, the output options and (range commands) --from/--to. */
  options?: CommandOptions;
  /** String options that must be given and not empty, with the message when one is not; checked first. */
  required?: Record<string, string>;
  /** Columns every row has: the CSV header holds them even when nothing matched. */
  baseColumns: readonly string[];
  /** The columns `--format table` may show, in order; those empty in every row are left out. */
  tableColumns: readonly string[];
} & (
  | {
      /** The rows are picked by one positional argument: an id of this kind (also its name in messages). */
      selectBy: Extract<IdKind, 'sid' | 'visitorId'>;
      read(reader: CaptureReader, id: string): AsyncIterable<StoredRow>;
    }
  | {
      /** The rows are picked by --from/--to, both required. */
      selectBy: 'range';
      read(reader: CaptureReader, range: TimeRange, args: ParsedArgs): AsyncIterable<StoredRow>;
    }
);

const QUERY_DEFINITIONS: readonly QueryDefinition[] = [
  {
    name: 'session',
    summary: 'every row of one session (session, pages, engagements, events, items, outcome)',
    synopsis: 'lpv query session <sid> [--format table|json|csv] [--limit N] [--raw]',
    description:
      'All rows of the session in LP_ACCOUNT_ID: session rows, pages (by start), engagements, events (by\n' +
      'serverTimeStamp, each followed by its eventItem rows), and the outcome row, so a lost or invalid session\n' +
      'answers with its finalState and reason. One Query on the table key.\n',
    selectBy: 'sid',
    read: (reader, sid) => reader.sessionRows(sid),
    baseColumns: BASE_COLUMNS,
    tableColumns: [
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
  },
  {
    name: 'visitor',
    summary: "a visitor's sessions, newest first",
    synopsis: 'lpv query visitor <visitorId> [--format table|json|csv] [--limit N] [--raw]',
    description:
      "The visitor's session rows and outcome rows (a lost session has only the latter), newest start first.\n" +
      'One Query on the byVisitor index.\n',
    selectBy: 'visitorId',
    read: (reader, visitorId) => reader.visitorSessions(visitorId),
    baseColumns: BASE_COLUMNS,
    tableColumns: [
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
  },
  {
    name: 'events',
    summary: 'one event type over a time range (by serverTimeStamp)',
    synopsis:
      'lpv query events --type <eventType> --from <date|date-time> --to <date|date-time>\n' +
      '                 [--items] [--format table|json|csv] [--limit N] [--raw]',
    description:
      'Event rows of that type with from <= serverTimeStamp < to, in time order, read from the byEventType\n' +
      "index (one Query per UTC day and shard; no Scan). --items adds each event's eventItem rows (cart\n" +
      'products, contacts, ...) after it, one more Query per event.\n',
    options: { type: { type: 'string' }, items: { type: 'boolean' } },
    required: { type: '--type <eventType> is required' },
    selectBy: 'range',
    read: (reader, range, args) =>
      // --type is in `required`, so a non-empty string by now.
      reader.eventsInRange(stringOption(args, 'type') as string, range, {
        withItems: args.values.items === true,
      }),
    baseColumns: EVENT_BASE_COLUMNS,
    tableColumns: [
      'serverTimeStamp',
      'rowType',
      'eventType',
      'sid',
      'visitorId',
      'pageId',
      'childPath',
      'childIndex',
    ],
  },
  {
    name: 'sessions',
    summary: 'sessions that started in a time range',
    synopsis:
      'lpv query sessions --from <date|date-time> --to <date|date-time> [--format table|json|csv] [--limit N] [--raw]',
    description:
      "Session rows (by the app session's startTime) and outcome rows (by the start the queue knew) with\n" +
      'from <= start < to, in start order, from the byStartDay index (one Query per UTC day and shard).\n',
    selectBy: 'range',
    read: (reader, range) => reader.sessionsInRange(range),
    baseColumns: BASE_COLUMNS,
    tableColumns: [
      'rowType',
      'startTime',
      'startTimeMs',
      'sid',
      'visitorId',
      'appSessionId',
      'finalState',
      'reason',
    ],
  },
];

function queryCommand(definition: QueryDefinition): Command {
  const takesRange = definition.selectBy === 'range';
  return {
    path: ['query', definition.name],
    summary: definition.summary,
    usage:
      `${definition.synopsis}\n\n${definition.description}` +
      (takesRange ? `${TIME_USAGE}\n` : '') +
      OUTPUT_USAGE,
    options: {
      ...HELP_OPTION,
      ...OUTPUT_OPTIONS,
      ...(takesRange ? RANGE_OPTIONS : {}),
      ...definition.options,
    },
    allowPositionals: !takesRange,
    run: (args, io) => runQuery(definition, args, io),
  };
}

/**
 * Checks the arguments in the order the commands always have (required options, then the selection, then
 * the output options), so each bad invocation names the same problem; then reads, collects and writes.
 */
async function runQuery(definition: QueryDefinition, args: ParsedArgs, io: CliIo): Promise<number> {
  for (const [name, missing] of Object.entries(definition.required ?? {})) {
    const value = stringOption(args, name);
    if (value === undefined || value === '') throw new UsageError(missing);
  }
  const read = selectRows(definition, args);
  const output = parseOutput(args, io);
  const table = openReader(
    io.env,
    io,
    `lpv query ${definition.name}`,
    output.limit !== undefined ? Math.min(output.limit, 1000) : undefined,
  );
  try {
    const rows = await collectRows(read(table.reader), output, table.progress);
    writeRows(io, output, rows, definition.baseColumns, definition.tableColumns);
    return EXIT.ok;
  } finally {
    table.close();
  }
}

/** Validates the selecting argument(s) now, before the output options; the read itself comes later. */
function selectRows(
  definition: QueryDefinition,
  args: ParsedArgs,
): (reader: CaptureReader) => AsyncIterable<StoredRow> {
  if (definition.selectBy === 'range') {
    const range = parseRange(args);
    return (reader) => definition.read(reader, range, args);
  }
  const kind = definition.selectBy;
  const id = checkedId(kind, onePositional(args, kind), kind);
  return (reader) => definition.read(reader, id);
}

function parseLimit(args: ParsedArgs): number | undefined {
  const raw = stringOption(args, 'limit');
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

function onePositional(args: ParsedArgs, what: string): string | undefined {
  if (args.positionals.length > 1) {
    throw new UsageError(`expected one ${what}, got ${args.positionals.length} arguments`);
  }
  return args.positionals[0];
}

interface OutputOptions {
  format: OutputFormat;
  limit: number | undefined;
  raw: boolean;
}

function parseOutput(args: ParsedArgs, io: CliIo): OutputOptions {
  return {
    format: parseFormat(stringOption(args, 'format'), io.stdoutIsTty, ['table', 'json', 'csv']),
    limit: parseLimit(args),
    raw: args.values.raw === true,
  };
}

async function collectRows(
  rows: AsyncIterable<StoredRow>,
  output: OutputOptions,
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

function writeRows(
  io: CliIo,
  output: OutputOptions,
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

/** Registered in main.ts's COMMANDS. */
export const QUERY_COMMANDS: readonly Command[] = QUERY_DEFINITIONS.map(queryCommand);
