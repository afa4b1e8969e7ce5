/** `lpv export`: the rows of the sessions started in a range, as NDJSON files laid out like the S3 feed. */
import { DAY_MS } from '../clock';
import { ExportTargetError } from '../query/errors';
import { exportRange } from '../query/export';
import { utcDayStartMs } from '../query/time';
import { openReader, parseRange, RANGE_OPTIONS, stringOption, TIME_USAGE } from './capture-reading';
import { HELP_OPTION, type Command } from './command';
import { EXIT, UsageError } from './io';

/** Default export window: the 30 UTC days up to the end of today. */
export const EXPORT_DEFAULT_DAYS = 30;

/** Registered in main.ts's COMMANDS. */
export const EXPORT_COMMAND: Command = {
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
  options: { ...HELP_OPTION, ...RANGE_OPTIONS, out: { type: 'string' }, raw: { type: 'boolean' } },
  async run(args, io, deps) {
    const outDir = stringOption(args, 'out');
    if (outDir === undefined || outDir === '') throw new UsageError('--out DIR is required');
    const range = parseRange(args, {
      toMs: utcDayStartMs(deps.clock.nowMs()) + DAY_MS,
      spanMs: EXPORT_DEFAULT_DAYS * DAY_MS,
    });
    if (stringOption(args, 'from') === undefined || stringOption(args, 'to') === undefined) {
      io.stderr.write(
        `lpv export: sessions started from ${new Date(range.fromMs).toISOString()} to ` +
          `${new Date(range.toMs).toISOString()} (exclusive)\n`,
      );
    }
    const table = openReader(io.env, io, 'lpv export');
    try {
      const summary = await exportRange(table.reader, {
        outDir,
        range,
        raw: args.values.raw === true,
        onSession: (_sessions, rows) => table.progress.rowsEmitted(rows),
      }).catch((error: unknown) => {
        if (error instanceof ExportTargetError) throw new UsageError(error.message);
        throw error;
      });
      table.progress.finish();
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
      table.close();
    }
  },
};
