/**
 * The analyst commands against dynalite seeded through the real pipeline: sessions in the simulator, items
 * enqueued through DynamoQueue, two Poller ticks over HTTP with OAuth, rows stored by DynamoCaptureStore.
 * Expected rows are computed independently from the simulator's states (flattened) and the queue's facts.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { flattenVisitState } from '../../lib/capture/flatten';
import { HOUR_MS, ManualClock, MINUTE_MS, SESSION_MAX_AGE_MS } from '../../lib/clock';
import type { Env } from '../../lib/config';
import { StaticCredentialsProvider } from '../../lib/liveperson/credentials';
import { JsonLineLog } from '../../lib/log';
import { exportRange } from '../../lib/query/export';
import { CaptureReader } from '../../lib/query/reader';
import { INTERNAL_COLUMNS } from '../../lib/query/rows';
import { VisitSimulator } from '../../lib/simulator/server';
import { SimulatedWorld } from '../../lib/simulator/world';
import type { StoredRow } from '../../lib/store/capture-store';
import { createPoller, createStorage, createVisitClient, type Storage } from '../../lib/wiring';
import { createPrivacyPolicy } from '../../lib/privacy/policy';
import { startDynalite, type LocalDynamo } from '../support/local-dynamo';
import { parseCsv, runCli, type CliResult } from '../support/query-cli';

const ACCOUNT = '12345678';
const CREDENTIALS = {
  consumerKey: 'query-key',
  consumerSecret: 'query-secret',
  token: 'query-token',
  tokenSecret: 'query-token-secret',
};
const at = (iso: string): number => Date.parse(iso);

/** First tick (21:00 on March 10th): L has ended (lost), B is live. */
const P0 = at('2024-03-10T21:00:00Z');
/** Second tick (00:55 on March 11th, before B's six-hour deadline): B has ended (captured), C and D are live, I is unknown to LivePerson. */
const P1 = at('2024-03-11T00:55:00Z');

type Row = Record<string, unknown>;

/** The analyst view of a stored row: no key attributes, keys sorted (order is checked separately). */
function analyst(row: StoredRow | Row): Row {
  const out: Row = {};
  for (const k of Object.keys(row).sort()) if (!INTERNAL_COLUMNS.includes(k)) out[k] = row[k];
  return out;
}
const sortedKeys = (row: Row): Row => analyst(row);
/** stderr without progress lines, which a slow machine may print on any read longer than a second. */
const withoutProgress = (stderr: string): string =>
  stderr
    .split('\n')
    .filter((l) => !/^lpv (query \w+|export): (\d+\/\d+ partitions|done in)/.test(l))
    .join('\n');
const settled = (result: CliResult): CliResult => ({ ...result, stderr: withoutProgress(result.stderr) });
const byJson = (a: Row, b: Row): number => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);

describe('lpv query and lpv export over a capture table filled by the poller', () => {
  let dynamo: LocalDynamo;
  let simulator: VisitSimulator;
  let storage: Storage;
  let env: Env;
  const clock = new ManualClock(P0);
  const deps = { clock };
  const world = new SimulatedWorld({
    seed: 11,
    accountId: ACCOUNT,
    clock,
    earlyEndProbability: 0,
    eventRatePerHour: { min: 12, max: 12 },
  });
  const V1 = 'visitorOne';
  const V2 = 'visitorTwo';
  const L = world.startSession({
    visitorId: V1,
    sid: 'sessionLost',
    startTimeMs: at('2024-03-10T17:00:00Z'),
    durationMs: 30 * MINUTE_MS,
  });
  const B = world.startSession({
    visitorId: V1,
    sid: 'sessionB',
    startTimeMs: at('2024-03-10T19:00:00Z'),
    durationMs: 3 * HOUR_MS,
  });
  const C = world.startSession({ visitorId: V2, sid: 'sessionC', startTimeMs: at('2024-03-10T23:30:00Z') });
  const D = world.startSession({ sid: 'sessionD.0123456789abcdef', startTimeMs: at('2024-03-11T00:30:00Z') });
  const I = { visitorId: 'visitorUnknown', sid: 'sessionInvalid', startTimeMs: at('2024-03-11T00:50:00Z') };

  /** What the poller stored from each successful poll: flattened state + capturedAtMs. */
  const captured = new Map<string, StoredRow[]>();
  const capture = (info: { visitorId: string; sid: string }, atMs: number): void => {
    const state = world.stateAt(info.visitorId, info.sid, atMs);
    const rows = flattenVisitState({ accountId: ACCOUNT, ...info, state }).rows;
    captured.set(
      info.sid,
      rows.map((r) => ({ ...r, capturedAtMs: atMs })),
    );
  };
  const eventsSeen = (sid: string): number =>
    (captured.get(sid) ?? []).filter((r) => r.rowType === 'event').length;

  function outcome(
    info: { visitorId: string; sid: string; startTimeMs: number },
    fields: {
      finalState: string;
      reason: string;
      lastOutcome: string;
      pollCount: number;
      successCount: number;
      enqueuedAtMs: number;
      endedAtMs: number;
      lastCapturedAtMs: number | null;
    },
  ): Row {
    return sortedKeys({
      rowType: 'outcome',
      accountId: ACCOUNT,
      visitorId: info.visitorId,
      sid: info.sid,
      startTimeMs: info.startTimeMs,
      deadlineMs: info.startTimeMs + SESSION_MAX_AGE_MS,
      rowsStored: captured.get(info.sid)?.length ?? 0,
      eventsSeen: eventsSeen(info.sid),
      // Every answer of these sessions was stored whole: no partial capture.
      complete: true,
      ...fields,
    });
  }

  let outcomeL: Row;
  let outcomeB: Row;
  let outcomeI: Row;

  const cli = (argv: string[], options: { tty?: boolean } = {}): Promise<CliResult> =>
    runCli(argv, env, deps, options);
  const json = async (argv: string[]): Promise<Row[]> => {
    const result = await cli([...argv, '--format', 'json']);
    expect(withoutProgress(result.stderr)).toBe('');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as Row[];
  };

  beforeAll(async () => {
    dynamo = await startDynalite();
    const settings = dynamo.settings('query');
    await dynamo.createTables(settings);
    env = {
      LP_ACCOUNT_ID: ACCOUNT,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      QUEUE_TABLE: settings.queueTable,
      CAPTURE_TABLE: settings.captureTable,
    };
    simulator = new VisitSimulator({ world, credentials: CREDENTIALS });
    await simulator.start();
    storage = createStorage(settings, clock);
    const source = createVisitClient(
      {
        accountId: ACCOUNT,
        baseUrl: simulator.baseUrl,
        domainApiUrl: 'https://api.liveperson.net',
        credentials: { source: 'env', ...CREDENTIALS },
        requestTimeoutMs: 5000,
        credentialsRefreshSec: 300,
      },
      { clock, credentials: new StaticCredentialsProvider(CREDENTIALS) },
    );
    const poller = createPoller(
      ACCOUNT,
      { concurrency: 4, pollIntervalSec: 600, leaseSec: 300, maxRequestsPerSec: 0 },
      {
        storage,
        source,
        clock,
        log: new JsonLineLog(() => undefined, 'silent'),
        privacy: createPrivacyPolicy(),
      },
    );
    const tick = async (): Promise<void> => {
      const summary = await poller.tick({ budgetMs: 60_000, force: true, safetyMarginMs: 1000 });
      expect(summary.stoppedBy).toBe('done');
      expect(summary.itemErrors).toBe(0);
    };

    await storage.queue.enqueue(
      ACCOUNT,
      [L, B].map(({ visitorId, sid, startTimeMs }) => ({ visitorId, sid, startTimeMs })),
    );
    await tick();
    capture(B, P0);

    clock.setMs(P1);
    await storage.queue.enqueue(
      ACCOUNT,
      [C, D, I].map(({ visitorId, sid, startTimeMs }) => ({ visitorId, sid, startTimeMs })),
    );
    await tick();
    capture(C, P1);
    capture(D, P1);

    outcomeL = outcome(L, {
      finalState: 'LOST',
      reason: 'session expired before any capture (404/12)',
      lastOutcome: '404/12',
      pollCount: 1,
      successCount: 0,
      enqueuedAtMs: P0,
      endedAtMs: P0,
      lastCapturedAtMs: null,
    });
    outcomeB = outcome(B, {
      finalState: 'CAPTURED',
      reason: 'session ended (404/12)',
      lastOutcome: '404/12',
      pollCount: 2,
      successCount: 1,
      enqueuedAtMs: P0,
      endedAtMs: P1,
      lastCapturedAtMs: P0,
    });
    outcomeI = outcome(I, {
      finalState: 'INVALID',
      reason: 'LivePerson does not know this visitor (404/37)',
      lastOutcome: '404/37',
      pollCount: 1,
      successCount: 0,
      enqueuedAtMs: P1,
      endedAtMs: P1,
      lastCapturedAtMs: null,
    });
  });

  afterAll(async () => {
    await simulator?.stop();
    storage?.documentClient.destroy();
    await dynamo?.close();
  });

  it('seeds what the scenario needs: events of several types on both days', () => {
    const events = [...captured.values()].flat().filter((r) => r.rowType === 'event');
    expect(new Set(events.map((e) => e.eventType)).size).toBeGreaterThan(4);
    expect(events.filter((e) => e.eventType === 'cartStatus').length).toBeGreaterThan(5);
  });

  describe('query session', () => {
    it('answers every row of a captured session, the outcome row included, with stable field order', async () => {
      const rows = await json(['query', 'session', B.sid]);
      const expected = [...(captured.get(B.sid) ?? []).map(analyst), outcomeB];
      expect(rows.map(sortedKeys).sort(byJson)).toEqual(expected.sort(byJson));
      // Every row starts with its identity, in this order.
      for (const row of rows)
        expect(Object.keys(row).slice(0, 4)).toEqual(['rowType', 'accountId', 'visitorId', 'sid']);
      for (const row of rows.filter((r) => r.rowType === 'event')) {
        expect(Object.keys(row).slice(4, 7)).toEqual(['appSessionId', 'eventType', 'serverTimeStamp']);
      }
    });

    it('orders the rows session, pages, engagements, events (by time, items after their event), outcome', async () => {
      const rows = await json(['query', 'session', B.sid]);
      const groups = rows.map((r) => (r.rowType === 'eventItem' ? 'event' : String(r.rowType)));
      const order = ['session', 'page', 'engagement', 'event', 'outcome'];
      expect(groups).toEqual([...groups].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
      expect(groups[groups.length - 1]).toBe('outcome');
      const times = rows.filter((r) => r.rowType === 'event').map((r) => r.serverTimeStamp as number);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      rows.forEach((row, i) => {
        if (row.rowType !== 'eventItem') return;
        const parent = rows
          .slice(0, i)
          .reverse()
          .find((r) => r.rowType === 'event');
        expect(parent?.eventKey).toBeDefined();
        expect(String(row.parentSk)).toContain(String(parent?.eventKey));
      });
    });

    it('answers a lost session with its outcome row and the reason', async () => {
      expect((await json(['query', 'session', L.sid])).map(sortedKeys)).toEqual([outcomeL]);
    });

    it('answers an invalid session with its outcome row and the reason', async () => {
      expect((await json(['query', 'session', I.sid])).map(sortedKeys)).toEqual([outcomeI]);
    });

    it('keeps the storage attributes with --raw', async () => {
      const [row] = await json(['query', 'session', L.sid, '--raw']);
      expect(row).toMatchObject({ pk: `S#${ACCOUNT}#${L.sid}`, sk: 'OUTCOME', gsi1pk: `V#${ACCOUNT}#${V1}` });
    });

    it('answers an unknown session with an empty result and exit 0', async () => {
      const result = await cli(['query', 'session', 'noSuchSession', '--format', 'json']);
      expect(settled(result)).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
      const csv = await cli(['query', 'session', 'noSuchSession', '--format', 'csv']);
      expect(settled(csv)).toEqual({ code: 0, stdout: 'rowType,accountId,visitorId,sid\r\n', stderr: '' });
    });

    it('writes CSV with a header and one record per row, the same values as JSON', async () => {
      const rows = await json(['query', 'session', B.sid]);
      const result = await cli(['query', 'session', B.sid, '--format', 'csv']);
      expect(result.code).toBe(0);
      const [header, ...records] = parseCsv(result.stdout);
      expect(header?.slice(0, 4)).toEqual(['rowType', 'accountId', 'visitorId', 'sid']);
      expect(records).toHaveLength(rows.length);
      records.forEach((record, i) => {
        const row = rows[i] as Row;
        header?.forEach((column, j) => {
          const value = row[column];
          expect(record[j]).toBe(value === undefined || value === null ? '' : String(value));
        });
      });
    });

    it('shows a table by default on a terminal, times as ISO 8601, and says what it left out', async () => {
      const result = await cli(['query', 'session', L.sid], { tty: true });
      expect(result.code).toBe(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^rowType\s+startTimeMs\s+finalState\s+reason$/);
      expect(lines[2]).toMatch(
        /^outcome\s+2024-03-10T17:00:00\.000Z\s+LOST\s+session expired before any capture/,
      );
      expect(withoutProgress(result.stderr)).toMatch(
        /^1 row; the table shows 4 of 17 columns \(--format json or csv for all\)\n$/,
      );
    });

    it('stops at --limit', async () => {
      const rows = await json(['query', 'session', B.sid, '--limit', '3']);
      expect(rows.map((r) => r.rowType)).toEqual(['session', 'page', 'page']);
    });
  });

  describe('query visitor', () => {
    it("lists the visitor's sessions newest first: session row before its outcome, a lost one by its outcome", async () => {
      const rows = await json(['query', 'visitor', V1]);
      const sessionB = (captured.get(B.sid) ?? []).find((r) => r.rowType === 'session') as StoredRow;
      expect(rows.map(sortedKeys)).toEqual([analyst(sessionB), outcomeB, outcomeL]);
    });

    it('answers an unknown visitor with an empty result', async () => {
      expect(await json(['query', 'visitor', 'nobody'])).toEqual([]);
    });
  });

  describe('query events', () => {
    const expectedEvents = (type: string, fromMs: number, toMs: number): Row[] =>
      [...captured.values()]
        .flat()
        .filter((r) => r.rowType === 'event' && r.eventType === type)
        .filter((r) => (r.serverTimeStamp as number) >= fromMs && (r.serverTimeStamp as number) < toMs)
        // The byEventType sort key: padded time, sid, row key.
        .sort((a, b) => (String(a.gsi2sk) < String(b.gsi2sk) ? -1 : 1))
        .map(analyst);

    it('lists one event type over two UTC days in time order, across sessions and shards', async () => {
      const rows = await json([
        'query',
        'events',
        '--type',
        'cartStatus',
        '--from',
        '2024-03-10',
        '--to',
        '2024-03-12',
      ]);
      const expected = expectedEvents('cartStatus', at('2024-03-10T00:00:00Z'), at('2024-03-12T00:00:00Z'));
      expect(new Set(expected.map((r) => r.sid)).size).toBeGreaterThan(1);
      expect(rows.map(sortedKeys)).toEqual(expected);
      for (const row of rows)
        expect(Object.keys(row).slice(0, 7)).toEqual([
          'rowType',
          'accountId',
          'visitorId',
          'sid',
          'appSessionId',
          'eventType',
          'serverTimeStamp',
        ]);
    });

    it('takes date-times with offsets; --from is inclusive and --to exclusive', async () => {
      const all = expectedEvents('cartStatus', 0, Number.MAX_SAFE_INTEGER);
      const pivot = all[Math.floor(all.length / 2)]?.serverTimeStamp as number;
      const iso = new Date(pivot).toISOString();
      const before = await json([
        'query',
        'events',
        '--type',
        'cartStatus',
        '--from',
        '2024-03-10T20:00+02:00',
        '--to',
        iso,
      ]);
      const after = await json([
        'query',
        'events',
        '--type',
        'cartStatus',
        '--from',
        iso,
        '--to',
        '2024-03-11T03:00:00.000+02:00',
      ]);
      expect(before.map(sortedKeys)).toEqual(expectedEvents('cartStatus', at('2024-03-10T18:00:00Z'), pivot));
      expect(after.map(sortedKeys)).toEqual(expectedEvents('cartStatus', pivot, at('2024-03-11T01:00:00Z')));
      expect(after[0]?.serverTimeStamp).toBe(pivot);
      expect(before.some((r) => r.serverTimeStamp === pivot)).toBe(false);
    });

    it("adds each event's item rows after it with --items", async () => {
      const rows = await json([
        'query',
        'events',
        '--type',
        'cartStatus',
        '--from',
        '2024-03-10',
        '--to',
        '2024-03-12',
        '--items',
      ]);
      const events = expectedEvents('cartStatus', 0, Number.MAX_SAFE_INTEGER);
      const all = [...captured.values()].flat();
      const expected = events.flatMap((e) => {
        const event = all.find(
          (r) =>
            r.rowType === 'event' &&
            r.sid === e.sid &&
            r.eventKey === e.eventKey &&
            r.occurrence === e.occurrence,
        ) as StoredRow;
        const items = all
          .filter((r) => r.rowType === 'eventItem' && r.sid === e.sid && r.parentSk === event.sk)
          .sort((a, b) => (String(a.sk) < String(b.sk) ? -1 : 1));
        return [e, ...items.map(analyst)];
      });
      expect(expected.some((r) => r.rowType === 'eventItem')).toBe(true);
      expect(rows.map(sortedKeys)).toEqual(expected);
    });

    it('answers a range without events with an empty result', async () => {
      expect(
        await json(['query', 'events', '--type', 'purchase', '--from', '2023-01-01', '--to', '2023-01-03']),
      ).toEqual([]);
      const csv = await cli([
        'query',
        'events',
        '--type',
        'nosuchtype',
        '--from',
        '2024-03-10',
        '--to',
        '2024-03-12',
        '--format',
        'csv',
      ]);
      expect(settled(csv)).toEqual({
        code: 0,
        stdout: 'rowType,accountId,visitorId,sid,eventType,serverTimeStamp\r\n',
        stderr: '',
      });
    });

    it('stops at --limit with the earliest events', async () => {
      const rows = await json([
        'query',
        'events',
        '--type',
        'cartStatus',
        '--from',
        '2024-03-10',
        '--to',
        '2024-03-12',
        '--limit',
        '2',
      ]);
      expect(rows.map(sortedKeys)).toEqual(
        expectedEvents('cartStatus', 0, Number.MAX_SAFE_INTEGER).slice(0, 2),
      );
    });
  });

  describe('query sessions', () => {
    it('lists session and outcome rows by start, filtered on the start time', async () => {
      const rows = await json(['query', 'sessions', '--from', '2024-03-10T18:00:00Z', '--to', '2024-03-11']);
      const session = (sid: string): Row =>
        analyst((captured.get(sid) ?? []).find((r) => r.rowType === 'session') as StoredRow);
      // Same start: OUTCOME sorts before SESSION#... in the byStartDay sort key.
      expect(rows.map(sortedKeys)).toEqual([outcomeB, session(B.sid), session(C.sid)]);
    });

    it('crosses days and includes the lost and invalid sessions by their outcome rows', async () => {
      const rows = await json(['query', 'sessions', '--from', '2024-03-10', '--to', '2024-03-12']);
      expect(rows.map((r) => [r.sid, r.rowType])).toEqual([
        [L.sid, 'outcome'],
        [B.sid, 'outcome'],
        [B.sid, 'session'],
        [C.sid, 'session'],
        [D.sid, 'session'],
        [I.sid, 'outcome'],
      ]);
    });
  });

  describe('bad arguments exit 2 with a one-line reason', () => {
    const cases: [string, string[], RegExp][] = [
      [
        'a date-time without a zone',
        ['query', 'events', '--type', 't', '--from', '2024-03-10T10:00', '--to', '2024-03-11'],
        /--from: a date-time needs a zone/,
      ],
      [
        'a word for a date',
        ['query', 'sessions', '--from', 'yesterday', '--to', '2024-03-11'],
        /--from: not an ISO 8601 date or date-time/,
      ],
      [
        'a date that does not exist',
        ['query', 'sessions', '--from', '2024-02-30', '--to', '2024-03-11'],
        /--from: no such date/,
      ],
      [
        'epoch milliseconds',
        ['query', 'sessions', '--from', '1710028800000', '--to', '2024-03-11'],
        /--from: not an ISO 8601/,
      ],
      [
        'an empty range',
        ['query', 'sessions', '--from', '2024-03-11', '--to', '2024-03-11'],
        /--to: must be later than --from/,
      ],
      ['a missing --to', ['query', 'sessions', '--from', '2024-03-11'], /--to is required/],
      [
        'a missing --type',
        ['query', 'events', '--from', '2024-03-10', '--to', '2024-03-11'],
        /--type <eventType> is required/,
      ],
      ['an invalid sid', ['query', 'session', 'a/b'], /sid contains '\/'/],
      ['no sid', ['query', 'session'], /missing sid/],
      ['two sids', ['query', 'session', 'a', 'b'], /expected one sid, got 2 arguments/],
      ['an invalid visitorId', ['query', 'visitor', 'a b'], /visitorId contains whitespace/],
      [
        'a bad --limit',
        ['query', 'session', 'abc', '--limit', '0'],
        /--limit must be a positive whole number/,
      ],
      [
        'a bad --format',
        ['query', 'session', 'abc', '--format', 'xml'],
        /--format must be one of table, json, csv/,
      ],
      ['an unknown option', ['query', 'sessions', '--since', '2024-03-10'], /Unknown option '--since'/],
      ['a stray argument', ['query', 'events', 'purchase'], /Unexpected argument 'purchase'/],
      ['export without --out', ['export'], /--out DIR is required/],
    ];
    it.each(cases)('%s', async (_name, argv, message) => {
      const result = await cli(argv);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      const [first] = result.stderr.split('\n');
      const command = argv[0] === 'query' ? `query ${argv[1]}` : argv[0];
      expect(first?.startsWith(`lpv ${command}: `)).toBe(true);
      expect(first).toMatch(message);
    });
  });

  describe('export', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'lpv-export-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const filesUnder = (root: string): string[] =>
      readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => relative(root, join(e.parentPath, e.name)))
        .sort();

    it('writes every row of the sessions started in the range, partitioned by rowType and capture day', async () => {
      const out = join(dir, 'rows');
      const result = await cli(['export', '--out', out, '--from', '2024-03-10', '--to', '2024-03-12']);
      expect(withoutProgress(result.stderr)).toBe('');
      expect(result.code).toBe(0);
      const all: Row[] = [...[...captured.values()].flat().map(analyst), outcomeL, outcomeB, outcomeI];
      const dayOf = (row: Row): string =>
        new Date((row.capturedAtMs ?? row.endedAtMs) as number).toISOString().slice(0, 10);
      const expectedFiles = [
        ...new Set(all.map((r) => `rowType=${String(r.rowType)}/dt=${dayOf(r)}/part-00000.ndjson`)),
      ].sort();
      expect(filesUnder(out)).toEqual(expectedFiles);
      const written: Row[] = [];
      for (const file of expectedFiles) {
        const [, rowType, dt] = /^rowType=(\w+)\/dt=([\d-]+)\//.exec(file) ?? [];
        for (const line of readFileSync(join(out, file), 'utf8')
          .split('\n')
          .filter((l) => l !== '')) {
          const row = JSON.parse(line) as Row;
          expect([row.rowType, dayOf(row)]).toEqual([rowType, dt]);
          written.push(sortedKeys(row));
        }
      }
      expect(written.sort(byJson)).toEqual(all.sort(byJson));
      const summary = JSON.parse(result.stdout) as Row;
      expect(summary).toMatchObject({ sessions: 5, rows: all.length, files: expectedFiles });
    });

    it('reads several sessions ahead, and writes exactly what a one-at-a-time export writes', async () => {
      const range = { fromMs: at('2024-03-10T00:00:00Z'), toMs: at('2024-03-12T00:00:00Z') };
      const exportWith = async (
        parallelSessions: number,
      ): Promise<{ files: Map<string, string>; maxReading: number; sessions: number[] }> => {
        const reader = new CaptureReader(storage.documentClient, {
          tableName: env.CAPTURE_TABLE as string,
          accountId: ACCOUNT,
        });
        let reading = 0;
        let maxReading = 0;
        const sessionRows = reader.sessionRows.bind(reader);
        // Slow reads, so that reading ahead shows.
        reader.sessionRows = async function* (sid: string) {
          reading++;
          maxReading = Math.max(maxReading, reading);
          await new Promise((resolve) => setTimeout(resolve, 30));
          try {
            yield* sessionRows(sid);
          } finally {
            reading--;
          }
        };
        const out = join(dir, `parallel-${parallelSessions}`);
        const sessions: number[] = [];
        await exportRange(reader, {
          outDir: out,
          range,
          parallelSessions,
          onSession: (done) => sessions.push(done),
        });
        const files = new Map(filesUnder(out).map((f) => [f, readFileSync(join(out, f), 'utf8')]));
        return { files, maxReading, sessions };
      };
      const oneAtATime = await exportWith(1);
      const ahead = await exportWith(8);
      expect(oneAtATime.maxReading).toBe(1);
      expect(ahead.maxReading).toBeGreaterThan(1);
      expect(ahead.files).toEqual(oneAtATime.files);
      expect(ahead.sessions).toEqual([1, 2, 3, 4, 5]);
      await expect(
        exportRange(new CaptureReader(storage.documentClient, { tableName: 'x', accountId: ACCOUNT }), {
          outDir: join(dir, 'never'),
          range,
          parallelSessions: 0,
        }),
      ).rejects.toThrow(/parallelSessions must be a positive integer/);
    });

    it('defaults to the 30 UTC days up to the end of today and refuses a non-empty directory', async () => {
      const first = await cli(['export', '--out', dir]);
      expect(first.code).toBe(0);
      // Progress lines may follow on a slow machine (30 days × 8 shards of Queries).
      expect(first.stderr.split('\n')[0]).toBe(
        'lpv export: sessions started from 2024-02-11T00:00:00.000Z to 2024-03-12T00:00:00.000Z (exclusive)',
      );
      expect(JSON.parse(first.stdout)).toMatchObject({ sessions: 5 });
      const again = await cli(['export', '--out', dir]);
      expect(again.code).toBe(2);
      expect(again.stderr.split('\n')[1]).toMatch(/is not empty; export into a new or empty directory/);
    });
  });
});
