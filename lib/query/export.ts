/**
 * `lpv export`: capture rows to local NDJSON files, partitioned like the S3 feed (partition.ts), so the
 * questions of the Athena named queries can be tried with any local tool (DuckDB, jq, pandas).
 *
 * Without a Scan: the sessions that started in the range are listed from the byStartDay index (one Query per
 * UTC day × shard, sessionsInRange), then each session's rows are read from its own partition (one Query per
 * session, sessionRows), outcome rows included. A session is exported once even when both its session row and
 * its outcome row are listed. Cost: (days × CAPTURE_DAY_SHARDS) + sessions Queries, each reading only what it
 * returns; up to `parallelSessions` sessions are read at once. Not exported: sessions whose start time could not be dated and that have no outcome row yet (they are
 * in no time index).
 *
 * Files: `<outDir>/rowType=<t>/dt=<d>/part-00000.ndjson`, a new part every `maxRowsPerFile` rows; one JSON object
 * per line, the analyst view of the row (rows.ts; `raw` keeps the key attributes). The directory must be new or
 * empty, so two exports never mix.
 */
import { appendFile, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sidOfCapturePk } from '../keys';
import type { StoredRow } from '../store/capture-store';
import { ExportTargetError } from './errors';
import { partitionOf, partitionPath } from './partition';
import type { CaptureReader } from './reader';
import { toAnalystRow } from './rows';
import type { TimeRange } from './time';

export interface ExportOptions {
  outDir: string;
  range: TimeRange;
  /** Keep pk, sk and gsi*. @default false */
  raw?: boolean;
  /** Rows per part file. @default 100000 */
  maxRowsPerFile?: number;
  /** Buffered bytes per partition before they are appended to the file. @default 1048576 (1 MiB) */
  flushBytes?: number;
  /** Sessions whose rows are read at once (each one Query, or more for a large session). @default 8 */
  parallelSessions?: number;
  /** Called after each session is written (sessions done, rows written). */
  onSession?: (sessions: number, rows: number) => void;
}

export interface ExportSummary {
  sessions: number;
  rows: number;
  rowsByType: Record<string, number>;
  /** Files written, relative to outDir, sorted. */
  files: string[];
}

interface PartitionBuffer {
  dir: string;
  lines: string[];
  bytes: number;
  rowsInFile: number;
  fileIndex: number;
}

/** Appends NDJSON lines to the part files of each partition, buffered. */
class PartitionedNdjsonWriter {
  private readonly partitions = new Map<string, PartitionBuffer>();
  readonly files = new Set<string>();

  constructor(
    private readonly outDir: string,
    private readonly maxRowsPerFile: number,
    private readonly flushBytes: number,
  ) {}

  async write(row: StoredRow, line: string): Promise<void> {
    const dir = partitionPath(partitionOf(row));
    let p = this.partitions.get(dir);
    if (p === undefined) {
      p = { dir, lines: [], bytes: 0, rowsInFile: 0, fileIndex: 0 };
      this.partitions.set(dir, p);
      await mkdir(join(this.outDir, dir), { recursive: true });
    }
    if (p.rowsInFile >= this.maxRowsPerFile) {
      await this.flush(p);
      p.fileIndex += 1;
      p.rowsInFile = 0;
    }
    p.lines.push(line);
    p.bytes += line.length;
    p.rowsInFile += 1;
    if (p.bytes >= this.flushBytes) await this.flush(p);
  }

  async close(): Promise<void> {
    for (const p of this.partitions.values()) await this.flush(p);
  }

  private async flush(p: PartitionBuffer): Promise<void> {
    if (p.lines.length === 0) return;
    const file = `${p.dir}/part-${String(p.fileIndex).padStart(5, '0')}.ndjson`;
    await appendFile(join(this.outDir, file), p.lines.join('\n') + '\n', 'utf8');
    this.files.add(file);
    p.lines = [];
    p.bytes = 0;
  }
}

async function prepareTarget(outDir: string): Promise<void> {
  const existing = await stat(outDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing === undefined) {
    await mkdir(outDir, { recursive: true });
    return;
  }
  if (!existing.isDirectory()) throw new ExportTargetError(`--out ${outDir} exists and is not a directory`);
  if ((await readdir(outDir)).length > 0) {
    throw new ExportTargetError(`--out ${outDir} is not empty; export into a new or empty directory`);
  }
}

async function readAll<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const row of rows) all.push(row);
  return all;
}

export async function exportRange(reader: CaptureReader, options: ExportOptions): Promise<ExportSummary> {
  const maxRowsPerFile = options.maxRowsPerFile ?? 100_000;
  const parallelSessions = options.parallelSessions ?? 8;
  if (!(Number.isInteger(parallelSessions) && parallelSessions > 0)) {
    throw new TypeError(`parallelSessions must be a positive integer, got ${parallelSessions}`);
  }
  if (!(Number.isInteger(maxRowsPerFile) && maxRowsPerFile > 0)) {
    throw new TypeError(`maxRowsPerFile must be a positive integer, got ${maxRowsPerFile}`);
  }
  await prepareTarget(options.outDir);
  const writer = new PartitionedNdjsonWriter(options.outDir, maxRowsPerFile, options.flushBytes ?? 1 << 20);
  const seen = new Set<string>();
  const rowsByType: Record<string, number> = {};
  let rows = 0;
  let written = 0;
  const writeSession = async (sessionRows: readonly StoredRow[]): Promise<void> => {
    for (const row of sessionRows) {
      await writer.write(row, JSON.stringify(toAnalystRow(row, options.raw ?? false)));
      const type = String(row.rowType);
      rowsByType[type] = (rowsByType[type] ?? 0) + 1;
      rows += 1;
    }
    written += 1;
    options.onSession?.(written, rows);
  };
  // One Query round trip per session dominated long exports: the next sessions' rows are read while the
  // current one is written, in listing order, so the files are exactly what a one-at-a-time export writes.
  const ahead: Array<Promise<StoredRow[]>> = [];
  // Only the sids are needed from the listing: the index's keys as stored (the table's pk holds the sid), not
  // the rows fetched by key, which sessionRows reads whole anyway.
  for await (const listed of reader.sessionsInRange(options.range, { fetchRows: false })) {
    const sid = typeof listed.sid === 'string' ? listed.sid : sidOfCapturePk(reader.accountId, listed.pk);
    if (typeof sid !== 'string' || seen.has(sid)) continue;
    seen.add(sid);
    const read = readAll(reader.sessionRows(sid));
    // Awaited in turn below; until then a failure must not count as unhandled.
    read.catch(() => undefined);
    ahead.push(read);
    if (ahead.length >= parallelSessions) await writeSession(await (ahead.shift() as Promise<StoredRow[]>));
  }
  while (ahead.length > 0) await writeSession(await (ahead.shift() as Promise<StoredRow[]>));
  await writer.close();
  return { sessions: seen.size, rows, rowsByType, files: [...writer.files].sort() };
}
