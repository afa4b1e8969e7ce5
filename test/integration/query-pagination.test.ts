/**
 * Reads that span many DynamoDB pages (1 MB each, as AWS; dynalite applies the same limit), shard merging,
 * early stop, and CSV escaping of awkward values. Rows are seeded through the flattener and the capture store
 * (the poller's write path) with states made for the purpose: large values to force pagination, commas,
 * quotes and newlines for CSV.
 */
import { flattenVisitState } from '../../lib/capture/flatten';
import { CAPTURE_DAY_SHARDS, captureShardOf, utcDay } from '../../lib/keys';
import { ManualClock } from '../../lib/clock';
import type { Env } from '../../lib/config';
import type { Json, VisitState } from '../../lib/liveperson/types';
import { CaptureReader, DAYS_READ_AHEAD } from '../../lib/query/reader';
import type { StoredRow } from '../../lib/store/capture-store';
import { createStorage, type Storage } from '../../lib/wiring';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';
import { parseCsv, runCli } from '../support/query-cli';

const ACCOUNT = '12345678';
const DAY = Date.parse('2024-05-01T00:00:00Z');
const BIG = 100_000;

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

describe.each(storageBackends())('CaptureReader over more than one page, on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  let storage: Storage;
  let env: Env;
  let tableName: string;
  const clock = new ManualClock(DAY);
  const BIG_SID = 'bigSession';

  const store = async (
    visitorId: string,
    sid: string,
    state: VisitState,
    capturedAtMs = DAY,
  ): Promise<StoredRow[]> => {
    const rows = flattenVisitState({ accountId: ACCOUNT, visitorId, sid, state }).rows.map((r) => ({
      ...r,
      capturedAtMs,
    }));
    const stats = await storage.store.putRows(rows);
    expect(stats.rowsTruncated).toBe(0);
    return rows;
  };
  const reader = (options: { pageSize?: number } = {}): CaptureReader =>
    new CaptureReader(storage.documentClient, { tableName, accountId: ACCOUNT, ...options });

  beforeAll(async () => {
    dynamo = await start();
    const settings = dynamo.settings('paging');
    await dynamo.createTables(settings);
    tableName = settings.captureTable;
    storage = createStorage(settings, clock);
    env = {
      LP_ACCOUNT_ID: ACCOUNT,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      QUEUE_TABLE: settings.queueTable,
      CAPTURE_TABLE: tableName,
    };
    // 30 app sessions of one sid, each about 100 KB, each with one 100 KB lead event: about 6 MB in one
    // partition of the table, 3 MB in one partition of each index.
    const appSessions = Array.from({ length: 30 }, (_, i) => ({
      id: `app${String(i).padStart(2, '0')}`,
      startTime: DAY + 3_600_000 + i * 1000,
      padding: 'p'.repeat(BIG),
      events: [
        {
          lead: {
            serverTimeStamp: DAY + 7_200_000 + i * 1000,
            contexts: { page: { id: 'p1' } },
            lead: { topic: 't'.repeat(BIG), value: i },
          },
        },
      ],
    }));
    await store('bigVisitor', BIG_SID, { id: 'visit', appSessions });
  });

  afterAll(async () => {
    storage?.documentClient.destroy();
    await dynamo?.close();
  });

  it('reads every row of a session partition larger than 1 MB, page after page', async () => {
    const r = reader();
    const rows = await all(r.sessionRows(BIG_SID));
    expect(rows).toHaveLength(60);
    expect(r.stats().queries).toBeGreaterThanOrEqual(6);
    expect(rows.slice(0, 30).map((x) => x.appSessionId)).toEqual(appIds());
  });

  // The indexes copy keys only: a 3 MB visitor is a few KB of index items, one page unless the page is made
  // small; the rows come whole from BatchGetItem, page after page, in index order.
  it('reads a visitor with 3 MB of sessions, newest first, index page after page, rows fetched by key', async () => {
    const r = reader({ pageSize: 7 });
    const rows = await all(r.visitorSessions('bigVisitor'));
    expect(rows.map((x) => x.appSessionId)).toEqual(appIds().reverse());
    expect(rows.every((x) => typeof x.padding === 'string' && x.padding.length === BIG)).toBe(true);
    expect(r.stats().queries).toBeGreaterThanOrEqual(5);
    expect(r.stats()).toMatchObject({ batchGets: r.stats().queries, itemsFetched: 30 });
  });

  it('reads a byEventType partition of 3 MB in time order, and the other shards once each', async () => {
    const r = reader({ pageSize: 7 });
    const rows = await all(r.eventsInRange('lead', { fromMs: DAY, toMs: DAY + 86_400_000 }));
    expect(rows.map((x) => x.serverTimeStamp)).toEqual(
      Array.from({ length: 30 }, (_, i) => DAY + 7_200_000 + i * 1000),
    );
    // Whole rows (each holds its 100 KB topic), not the index's keys.
    expect(rows.every((x) => JSON.stringify(x).length > BIG)).toBe(true);
    expect(r.stats().queries).toBeGreaterThanOrEqual(5 + CAPTURE_DAY_SHARDS - 1);
    expect(r.stats()).toMatchObject({
      partitionsDone: CAPTURE_DAY_SHARDS,
      partitionsTotal: CAPTURE_DAY_SHARDS,
    });
  });

  it('reads a byStartDay partition of 3 MB; the range bounds cut inside it', async () => {
    const r = reader();
    const from = DAY + 3_600_000 + 5000;
    const rows = await all(r.sessionsInRange({ fromMs: from, toMs: from + 10_000 }));
    expect(rows.map((x) => x.startTime)).toEqual(Array.from({ length: 10 }, (_, i) => from + i * 1000));
  });

  it('stops reading when the consumer stops (--limit)', async () => {
    const r = reader({ pageSize: 2 });
    const first: StoredRow[] = [];
    for await (const row of r.eventsInRange('lead', { fromMs: DAY, toMs: DAY + 86_400_000 })) {
      first.push(row);
      if (first.length === 3) break;
    }
    expect(first.map((x) => x.serverTimeStamp)).toEqual([0, 1, 2].map((i) => DAY + 7_200_000 + i * 1000));
    // One first page per shard, then one more page of the busy shard: not the 15 pages it holds.
    expect(r.stats().queries).toBe(CAPTURE_DAY_SHARDS + 1);
  });

  it('merges the shards of several days page by page into one time order', async () => {
    // Sessions whose sids fall into different shards, with interleaved events on two days.
    const sids = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'];
    expect(new Set(sids.map(captureShardOf)).size).toBeGreaterThan(3);
    const expected: { ts: number; sid: string }[] = [];
    for (const [n, sid] of sids.entries()) {
      const events: Json[] = [];
      for (let k = 0; k < 6; k++) {
        const ts = DAY + 86_400_000 + 12 * 3_600_000 + (k * 10 + n) * 1_000_007; // 12:00 to 04:23 next day
        events.push({
          viewedProduct: { serverTimeStamp: Math.round(ts), contexts: { page: { id: 'p' } }, products: [] },
        });
        expected.push({ ts: Math.round(ts), sid });
      }
      await store(`visitor${n}`, sid, {
        appSessions: [{ id: `a${n}`, startTime: DAY + 86_400_000, events }],
      });
    }
    expected.sort((a, b) => a.ts - b.ts || (a.sid < b.sid ? -1 : 1));
    const from = DAY + 86_400_000;
    const to = from + 3 * 86_400_000;
    expect(new Set(expected.map((e) => utcDay(e.ts))).size).toBe(2);
    const r = reader({ pageSize: 2 });
    const rows = await all(r.eventsInRange('viewedProduct', { fromMs: from, toMs: to }));
    expect(rows.map((x) => ({ ts: x.serverTimeStamp, sid: x.sid }))).toEqual(expected);
    expect(r.stats().partitionsTotal).toBe(3 * CAPTURE_DAY_SHARDS);
  });

  it('reads the first pages of the next days ahead, at most DAYS_READ_AHEAD of them, and the same rows', async () => {
    const range = { fromMs: DAY, toMs: DAY + 10 * 86_400_000 };
    const read = async (
      daysReadAhead?: number,
    ): Promise<{ rows: StoredRow[]; maxInFlight: number; queries: number }> => {
      const r = new CaptureReader(storage.documentClient, {
        tableName,
        accountId: ACCOUNT,
        ...(daysReadAhead !== undefined ? { daysReadAhead } : {}),
      });
      let inFlight = 0;
      let maxInFlight = 0;
      const page = r.page.bind(r);
      r.page = async (input, startKey) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          return await page(input, startKey);
        } finally {
          inFlight--;
        }
      };
      const rows = await all(r.eventsInRange('lead', range));
      return { rows, maxInFlight, queries: r.stats().queries };
    };
    const whole = await read();
    expect(whole.rows.map((x) => x.serverTimeStamp)).toEqual(
      Array.from({ length: 30 }, (_, i) => DAY + 7_200_000 + i * 1000),
    );
    expect(DAYS_READ_AHEAD).toBeGreaterThan(0);
    expect(whole.maxInFlight).toBe((1 + DAYS_READ_AHEAD) * CAPTURE_DAY_SHARDS);
    // Day by day: the same rows from the same pages, one day's shards at a time.
    const dayByDay = await read(0);
    expect(dayByDay.rows).toEqual(whole.rows);
    expect(dayByDay.maxInFlight).toBe(CAPTURE_DAY_SHARDS);
    expect(whole.queries).toBe(dayByDay.queries);
  });

  it('pages through the CLI too: query events returns all 30 large rows', async () => {
    const result = await runCli(
      ['query', 'events', '--type', 'lead', '--from', '2024-05-01', '--to', '2024-05-02'],
      env,
      { clock },
    );
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as StoredRow[];
    expect(rows).toHaveLength(30);
    expect(rows.every((row) => String(row.topic).length === BIG)).toBe(true);
  });

  it('escapes commas, quotes and newlines in CSV cells, and JSON-encodes nested values in their cell', async () => {
    const title = 'Sale, today: "50%" off\nsecond line\r\nthird';
    await store('csvVisitor', 'csvSession', {
      id: 'v',
      appSessions: [
        {
          id: 'app',
          startTime: DAY,
          pages: [{ id: 'p1', startTime: DAY, pageTitle: title, plain: 'x', tags: ['a,b', 'c"d'] }],
        },
      ],
    });
    const result = await runCli(['query', 'session', 'csvSession', '--format', 'csv', '--limit', '2'], env, {
      clock,
    });
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\r\n');
    const header = lines[0]?.split(',') ?? [];
    expect(header.slice(0, 4)).toEqual(['rowType', 'accountId', 'visitorId', 'sid']);
    expect(result.stdout).toContain('"Sale, today: ""50%"" off\nsecond line\r\nthird"');
    expect(result.stdout).toContain('"[""a,b"",""c\\""d""]"');
    const records = parseCsv(result.stdout);
    expect(records).toHaveLength(3);
    const page = records.find((r) => r[0] === 'page') as string[];
    const cell = (name: string): string | undefined => page[header.indexOf(name)];
    expect(cell('pageTitle')).toBe(title);
    expect(cell('plain')).toBe('x');
    expect(JSON.parse(cell('tags') as string)).toEqual(['a,b', 'c"d']);
    expect(cell('capturedAtMs')).toBe(String(DAY));
    expect(cell('appSessionId')).toBe('app');
  });
});

function appIds(): string[] {
  return Array.from({ length: 30 }, (_, i) => `app${String(i).padStart(2, '0')}`);
}
