/**
 * Rows of two capture schema versions side by side in one capture table (dynalite), read back by `lpv query`
 * and `lpv export`. Session A is today's flattening of the spec example (schema 3: `revActiveVPs` is one JSON
 * column); session B ended before the upgrade, so its session row is schema 2 (one column per id:
 * `revActiveVPs_<id>_revision`). Same account, same start day. The docs promise both show "as they are":
 * each row with its own columns, a CSV header holding the union, empty cells where a row lacks a column.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { flattenVisitState } from '../../lib/capture/flatten';
import { buildOutcomeRow } from '../../lib/capture/outcome-row';
import { CAPTURE_SCHEMA_VERSION } from '../../lib/capture/rows';
import { HOUR_MS, ManualClock, SESSION_MAX_AGE_MS } from '../../lib/clock';
import type { Env } from '../../lib/config';
import type { VisitState } from '../../lib/liveperson/types';
import { INTERNAL_COLUMNS } from '../../lib/query/rows';
import type { StoredRow } from '../../lib/store/capture-store';
import { createStorage, type Storage } from '../../lib/wiring';
import { startDynalite, type LocalDynamo } from '../support/local-dynamo';
import { parseCsv, runCli, type CliResult } from '../support/query-cli';

const ACCOUNT = '12345678';
const A = { visitorId: 'visitorSchemaThree', sid: 'sessionSchemaThree' };
const B = { visitorId: 'visitorSchemaTwo', sid: 'sessionSchemaTwo' };

const example = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'example-state.json'), 'utf8'),
) as VisitState;
/** The example's app session start: 2016-10-05T13:48:36.327Z. */
const START = 1475675316327;
const DAY = '2016-10-05';
const CAPTURED_A = START + 2 * HOUR_MS;
const CAPTURED_B = START + HOUR_MS;
const ENDED_B = START + 3 * HOUR_MS;

const MAP_COLUMN = 'revActiveVPs';
const MAP_JSON = '{"1249882912":{"revision":7},"493914412":{"revision":7}}';
const PER_ID_COLUMNS = ['revActiveVPs_493914412_revision', 'revActiveVPs_1249882912_revision'];

type Row = Record<string, unknown>;

/** Today's rows of the example for one visitor/sid, stamped as the poller stamps them. */
function flattened(ids: { visitorId: string; sid: string }, capturedAtMs: number): StoredRow[] {
  const { rows } = flattenVisitState({ accountId: ACCOUNT, ...ids, state: example });
  return rows.map((row) => ({ ...row, capturedAtMs }));
}

/** Session A: every row as flattened today (schema 3). */
const rowsA = flattened(A, CAPTURED_A);
const sessionRowA = rowsA.find((r) => r.rowType === 'session') as StoredRow;

/**
 * Session B's session row as a schema-2 writer stored it: the same keys and columns as a flattened row,
 * schemaVersion 2, and one column per id instead of the JSON map column.
 */
const sessionRowB: StoredRow = (() => {
  const current = flattened(B, CAPTURED_B).find((r) => r.rowType === 'session') as StoredRow;
  const row: StoredRow = {};
  for (const [name, value] of Object.entries(current)) {
    if (name === MAP_COLUMN) for (const column of PER_ID_COLUMNS) row[column] = 7;
    else row[name] = value as StoredRow[string];
  }
  row.schemaVersion = 2;
  return row;
})();
/** B's outcome row (B ended before the upgrade, after one captured poll of its session row). */
const outcomeRowB = buildOutcomeRow(
  {
    accountId: ACCOUNT,
    ...B,
    state: 'CAPTURED',
    startTimeMs: START,
    deadlineMs: START + SESSION_MAX_AGE_MS,
    enqueuedAtMs: START,
    attempts: 0,
    pollCount: 2,
    successCount: 1,
    lastCapturedAtMs: CAPTURED_B,
    rowsStored: 1,
    eventsSeen: 0,
    expiresAtSec: 0,
  },
  {
    state: 'CAPTURED',
    reason: 'session ended (404/12)',
    lastOutcome: '404/12',
    pollCount: 2,
    endedAtMs: ENDED_B,
  },
) as StoredRow;

/** The analyst view of a stored row: no key attributes. */
function analyst(row: Row): Row {
  const out: Row = {};
  for (const k of Object.keys(row).sort()) if (!INTERNAL_COLUMNS.includes(k)) out[k] = row[k];
  return out;
}
const sorted = (rows: Row[]): Row[] =>
  rows.map(analyst).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
const withoutProgress = (stderr: string): string =>
  stderr
    .split('\n')
    .filter((l) => !/^lpv (query \w+|export): (\d+\/\d+ partitions|done in)/.test(l))
    .join('\n');

describe('lpv query and lpv export over rows of capture schema versions 2 and 3', () => {
  let dynamo: LocalDynamo;
  let storage: Storage;
  let env: Env;
  const deps = { clock: new ManualClock(ENDED_B + HOUR_MS) };

  const cli = (argv: string[]): Promise<CliResult> => runCli(argv, env, deps);
  const ok = async (argv: string[]): Promise<string> => {
    const result = await cli(argv);
    expect(withoutProgress(result.stderr)).toBe('');
    expect(result.code).toBe(0);
    return result.stdout;
  };
  const json = async (argv: string[]): Promise<Row[]> =>
    JSON.parse(await ok([...argv, '--format', 'json'])) as Row[];
  /** CSV records as objects keyed by the header, and the header. */
  const csv = async (argv: string[]): Promise<{ header: string[]; records: Record<string, string>[] }> => {
    const [header = [], ...records] = parseCsv(await ok([...argv, '--format', 'csv']));
    for (const record of records) expect(record).toHaveLength(header.length);
    return {
      header,
      records: records.map((r) => Object.fromEntries(header.map((c, i) => [c, r[i] as string]))),
    };
  };

  beforeAll(async () => {
    dynamo = await startDynalite();
    const settings = dynamo.settings('schemas');
    await dynamo.createTables(settings);
    env = {
      LP_ACCOUNT_ID: ACCOUNT,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      QUEUE_TABLE: settings.queueTable,
      CAPTURE_TABLE: settings.captureTable,
    };
    storage = createStorage(settings, deps.clock);
    const stats = await storage.store.putRows([...rowsA, sessionRowB, outcomeRowB]);
    expect(stats).toMatchObject({ rowsWritten: rowsA.length + 2, rowsTruncated: 0 });
  });

  afterAll(async () => {
    storage?.documentClient.destroy();
    await dynamo?.close();
  });

  it('seeds what the scenario needs: a schema-3 map column in A, per-id columns of schema 2 in B', () => {
    expect(CAPTURE_SCHEMA_VERSION).toBe(3);
    expect(sessionRowA).toMatchObject({ schemaVersion: 3, [MAP_COLUMN]: MAP_JSON, startTime: START });
    for (const column of PER_ID_COLUMNS) expect(sessionRowA[column]).toBeUndefined();
    expect(sessionRowB).toMatchObject({ schemaVersion: 2, startTime: START });
    expect(sessionRowB[MAP_COLUMN]).toBeUndefined();
    expect(typeof sessionRowB.gsi3pk).toBe('string');
  });

  describe('query session', () => {
    it("shows B's schema-2 session row with its per-id columns, as stored", async () => {
      const rows = await json(['query', 'session', B.sid]);
      expect(rows.map((r) => r.rowType)).toEqual(['session', 'outcome']);
      expect(sorted(rows)).toEqual(sorted([sessionRowB, outcomeRowB]));
      const [session] = rows;
      expect(session).toMatchObject({
        schemaVersion: 2,
        revActiveVPs_493914412_revision: 7,
        revActiveVPs_1249882912_revision: 7,
      });
      expect(session).not.toHaveProperty(MAP_COLUMN);
    });

    it("shows A's schema-3 session row with the map as one JSON column", async () => {
      const rows = await json(['query', 'session', A.sid]);
      expect(sorted(rows)).toEqual(sorted(rowsA));
      const session = rows.find((r) => r.rowType === 'session');
      expect(session).toMatchObject({ schemaVersion: 3, [MAP_COLUMN]: MAP_JSON });
      for (const column of PER_ID_COLUMNS) expect(session).not.toHaveProperty(column);
    });

    it('writes the same columns and values as CSV, for each session', async () => {
      const b = await csv(['query', 'session', B.sid]);
      expect(b.header).toEqual(expect.arrayContaining(PER_ID_COLUMNS));
      expect(b.header).not.toContain(MAP_COLUMN);
      expect(b.records[0]).toMatchObject({
        rowType: 'session',
        schemaVersion: '2',
        revActiveVPs_493914412_revision: '7',
        revActiveVPs_1249882912_revision: '7',
      });
      // The outcome row has no per-id columns: empty cells.
      expect(b.records[1]).toMatchObject({ rowType: 'outcome', revActiveVPs_493914412_revision: '' });

      const a = await csv(['query', 'session', A.sid]);
      expect(a.header).toContain(MAP_COLUMN);
      for (const column of PER_ID_COLUMNS) expect(a.header).not.toContain(column);
      const session = a.records.find((r) => r.rowType === 'session');
      expect(session).toMatchObject({ schemaVersion: '3', [MAP_COLUMN]: MAP_JSON });
    });
  });

  describe('query sessions (one result over both versions)', () => {
    const range = ['query', 'sessions', '--from', DAY, '--to', '2016-10-06'];

    it('lists both sessions, each row with its own columns', async () => {
      const rows = await json(range);
      expect(sorted(rows)).toEqual(sorted([sessionRowA, sessionRowB, outcomeRowB]));
    });

    it('writes one CSV header with the per-id columns and the map column, empty where a row lacks one', async () => {
      const { header, records } = await csv(range);
      expect(header).toEqual(expect.arrayContaining([MAP_COLUMN, ...PER_ID_COLUMNS, 'schemaVersion']));
      const a = records.find((r) => r.sid === A.sid && r.rowType === 'session');
      const b = records.find((r) => r.sid === B.sid && r.rowType === 'session');
      expect(a).toMatchObject({
        schemaVersion: '3',
        [MAP_COLUMN]: MAP_JSON,
        revActiveVPs_493914412_revision: '',
        revActiveVPs_1249882912_revision: '',
      });
      expect(b).toMatchObject({
        schemaVersion: '2',
        [MAP_COLUMN]: '',
        revActiveVPs_493914412_revision: '7',
        revActiveVPs_1249882912_revision: '7',
      });
      // Every other column of B's row is the value A's row has (same answer, other ids).
      const differ = header.filter((c) => a?.[c] !== b?.[c]);
      expect(differ.sort()).toEqual(
        [MAP_COLUMN, ...PER_ID_COLUMNS, 'schemaVersion', 'sid', 'visitorId', 'capturedAtMs'].sort(),
      );
    });
  });

  describe('export', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'lpv-schemas-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('writes both versions of session rows into the same partition, each with its own columns', async () => {
      const out = join(dir, 'rows');
      const summary = JSON.parse(
        await ok(['export', '--out', out, '--from', DAY, '--to', '2016-10-06']),
      ) as Row;
      const files = readdirSync(out, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => relative(out, join(e.parentPath, e.name)))
        .sort();
      expect(summary).toMatchObject({ sessions: 2, rows: rowsA.length + 2, files });
      const written = files.flatMap((file) =>
        readFileSync(join(out, file), 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as Row),
      );
      expect(sorted(written)).toEqual(sorted([...rowsA, sessionRowB, outcomeRowB]));

      const sessionFile = `rowType=session/dt=${DAY}/part-00000.ndjson`;
      expect(files).toContain(sessionFile);
      const lines = readFileSync(join(out, sessionFile), 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Row);
      expect(lines.map((r) => r.sid).sort()).toEqual([A.sid, B.sid].sort());
      const a = lines.find((r) => r.sid === A.sid);
      const b = lines.find((r) => r.sid === B.sid);
      expect(a).toMatchObject({ schemaVersion: 3, [MAP_COLUMN]: MAP_JSON });
      for (const column of PER_ID_COLUMNS) expect(a).not.toHaveProperty(column);
      expect(b).toMatchObject({
        schemaVersion: 2,
        revActiveVPs_493914412_revision: 7,
        revActiveVPs_1249882912_revision: 7,
      });
      expect(b).not.toHaveProperty(MAP_COLUMN);
    });
  });
});
