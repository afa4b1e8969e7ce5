import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BOOKKEEPING_COLUMNS } from '../../lib/capture/naming';
import { CAPTURE_KEY_ATTRIBUTES, CAPTURE_TTL_ATTRIBUTE } from '../../lib/keys';
import { createDocumentClient } from '../../lib/store/dynamo';
import {
  captureItem,
  DynamoCaptureStore,
  NUMBERS_AS_TEXT_COLUMN,
  MAX_ITEM_BYTES,
  TRUNCATION_MARKER,
} from '../../lib/store/dynamo-capture-store';
import type { StoredRow } from '../../lib/store/capture-store';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';

const KEYS = new Set(CAPTURE_KEY_ATTRIBUTES);
// Spelled out rather than imported, so that these tests also run (and fail) against a store without them.
const OVERFLOW = 'overflowJson';
const MARKER = 'overflowCut';

function row(i: number, extra: Partial<StoredRow> = {}): StoredRow {
  return {
    pk: 'S#acct#sid1',
    sk: `EVENT#x#${String(i).padStart(4, '0')}`,
    rowType: 'event',
    accountId: 'acct',
    visitorId: 'v',
    sid: 'sid1',
    ...extra,
  };
}

/** An event body with 30,000 numeric keys, flattened: about 550 KB as DynamoDB counts it. */
function numericColumns(count: number): StoredRow {
  const columns: StoredRow = {};
  for (let i = 0; i < count; i++) {
    const name = `metric_${String(i).padStart(5, '0')}`;
    columns[name] = i % 3 === 0 ? -(123456.789 + i) : i % 3 === 1 ? i * 1000 + 7 : 0.5 + i;
  }
  return columns;
}

interface Marker {
  cut: number;
  cutColumns: string[];
  limitBytes: number;
  moved: number;
  pass: number;
  rowBytes: number;
}

/** Every payload column of `original` is kept, whole in the overflow, or counted as cut; our columns untouched. */
function expectAccountedFor(original: StoredRow, stored: StoredRow): Marker {
  const marker = JSON.parse(stored[MARKER] as string) as Marker;
  const overflow = JSON.parse(stored[OVERFLOW] as string) as StoredRow;
  let kept = 0;
  let whole = 0;
  for (const name of Object.keys(original)) {
    if (name in stored) {
      expect(stored[name]).toBe(original[name]);
      kept++;
    } else if (overflow[name] === original[name]) whole++;
  }
  for (const name of [...KEYS, ...BOOKKEEPING_COLUMNS]) expect(stored[name]).toBe(original[name]);
  expect(kept + marker.moved).toBe(Object.keys(original).length);
  expect(marker.cut).toBe(marker.moved - whole);
  return marker;
}

describe.each(storageBackends())('DynamoCaptureStore on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await start();
  }, 60_000);
  afterAll(async () => {
    await dynamo.close();
  });

  async function freshStore(
    options: ConstructorParameters<typeof DynamoCaptureStore>[3] = {},
  ): Promise<{ store: DynamoCaptureStore; client: DynamoDBDocumentClient }> {
    const settings = dynamo.settings('store');
    await dynamo.createTables(settings);
    const client = createDocumentClient(settings);
    return { store: new DynamoCaptureStore(client, settings.captureTable, KEYS, options), client };
  }

  it('writes in BatchWriteItem chunks of 25 and reads a session back', async () => {
    const { store, client } = await freshStore();
    const rows = Array.from({ length: 60 }, (_, i) => row(i, { value: i }));
    const stats = await store.putRows(rows);
    expect(stats).toEqual({
      rowsWritten: 60,
      batchCalls: 3,
      rowsTruncated: 0,
      rowsFitted: 0,
      rowsRejected: 0,
      rowsUnwritten: 0,
    });
    expect(await store.sessionRows('acct', 'sid1')).toHaveLength(60);
    // Idempotent: the same rows again leave the same table.
    await store.putRows(rows);
    expect(await store.sessionRows('acct', 'sid1')).toHaveLength(60);
    client.destroy();
  });

  it('updates columns of stored rows only, never making a row that is not there (erased, expired)', async () => {
    const { store, client } = await freshStore();
    await store.putRows([row(1, { timeOnPage: 10, title: 'kept' })]);
    const stats = await store.updateRows([
      { pk: String(row(1).pk), sk: String(row(1).sk), set: { timeOnPage: 25, capturedAtMs: 7 } },
      { pk: String(row(2).pk), sk: String(row(2).sk), set: { timeOnPage: 99 } },
    ]);
    expect(stats).toEqual({ rowsUpdated: 1, rowsMissing: 1, rowsUnwritten: 0 });
    const stored = await store.sessionRows('acct', 'sid1');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ sk: row(1).sk, timeOnPage: 25, capturedAtMs: 7, title: 'kept' });
    client.destroy();
  });

  it('stores a row of 400 KB+ of strings fitted: its largest column moved, cut, into the overflow', async () => {
    const { store, client } = await freshStore();
    const huge = row(1, { payload: 'é'.repeat(300_000), other: 'x'.repeat(100_000) });
    const stats = await store.putRows([huge, row(2)]);
    expect(stats).toMatchObject({ rowsWritten: 2, rowsTruncated: 1, rowsFitted: 1, batchCalls: 1 });
    const stored = await store.sessionRows('acct', 'sid1');
    expect(stored).toHaveLength(2);
    const big = stored.find((r) => r.sk === huge.sk)!;
    expect(big.other).toBe(huge.other);
    const overflow = JSON.parse(big[OVERFLOW] as string) as StoredRow;
    expect(String(overflow.payload).endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(expectAccountedFor(huge, big)).toMatchObject({ moved: 1, cut: 1, cutColumns: ['payload'] });
    client.destroy();
  });

  it('stores a batch of 24 rows and one of 30,000 numeric columns: all 25, the big one fitted and marked', async () => {
    const { store, client } = await freshStore();
    const big = row(0, { eventType: 'metrics', ...numericColumns(30_000) });
    const rows = [big, ...Array.from({ length: 24 }, (_, i) => row(i + 1, { value: i }))];
    const stats = await store.putRows(rows);
    // Fitted in the first pass: one BatchWriteItem, nothing retried alone.
    expect(stats).toEqual({
      rowsWritten: 25,
      batchCalls: 1,
      rowsTruncated: 1,
      rowsFitted: 1,
      rowsRejected: 0,
      rowsUnwritten: 0,
    });
    const stored = await store.sessionRows('acct', 'sid1');
    expect(stored).toHaveLength(25);
    const fitted = stored.find((r) => r.sk === big.sk)!;
    const marker = expectAccountedFor(big, fitted);
    expect(marker).toMatchObject({ pass: 1, limitBytes: MAX_ITEM_BYTES });
    expect(marker.moved).toBeGreaterThan(0);
    expect(marker.rowBytes).toBeGreaterThan(400 * 1024);
    client.destroy();
  });

  it('never moves the TTL into the overflow, even when it is the largest column (the row must still expire)', async () => {
    const { store, client } = await freshStore();
    // 70,000 columns of 7 bytes (`cNNNNN` = true): the TTL's 19 bytes are the largest, so fitting, which moves
    // the largest columns first, would take it first.
    const columns: StoredRow = {};
    for (let i = 0; i < 70_000; i++) columns[`c${String(i).padStart(5, '0')}`] = true;
    const big = row(0, { ...columns, [CAPTURE_TTL_ATTRIBUTE]: 1_800_000_000 });
    const stats = await store.putRows([big]);
    expect(stats).toMatchObject({ rowsWritten: 1, rowsFitted: 1, rowsRejected: 0 });
    const [stored] = await store.sessionRows('acct', 'sid1');
    expect(stored?.[CAPTURE_TTL_ATTRIBUTE]).toBe(1_800_000_000);
    expect(JSON.parse(stored?.[OVERFLOW] as string)).not.toHaveProperty(CAPTURE_TTL_ATTRIBUTE);
    client.destroy();
  }, 60_000);

  it('counts a row DynamoDB refuses even after fitting as rejected, and stores its 24 batch-mates', async () => {
    const { store, client } = await freshStore();
    // A sort key over DynamoDB's 1,024 bytes: keys are never changed by fitting, so no pass can save it.
    const refused = row(0, { sk: `EVENT#${'x'.repeat(1100)}` });
    const rows = [
      ...Array.from({ length: 12 }, (_, i) => row(i + 1)),
      refused,
      ...Array.from({ length: 12 }, (_, i) => row(i + 13)),
    ];
    const stats = await store.putRows(rows);
    // One BatchWriteItem refused, then 25 PutItems; the culprit, small, is unchanged by the second pass: not resent.
    expect(stats).toEqual({
      rowsWritten: 24,
      batchCalls: 26,
      rowsTruncated: 0,
      rowsFitted: 0,
      rowsRejected: 1,
      rowsUnwritten: 0,
    });
    const stored = await store.sessionRows('acct', 'sid1');
    expect(stored.map((r) => r.sk).sort()).toEqual(
      rows
        .filter((r) => r !== refused)
        .map((r) => r.sk)
        .sort(),
    );
    client.destroy();
  });

  it('fits a row DynamoDB refused after the first pass further (the second pass), alone', async () => {
    // The first pass's limit injected above DynamoDB's: the 30,000-column row goes out unfitted and is refused;
    // retried alone, it gets the stricter second pass (half of 600 KiB), and is stored.
    const { store, client } = await freshStore({ maxItemBytes: 600 * 1024 });
    const big = row(0, numericColumns(30_000));
    const rows = [big, ...Array.from({ length: 24 }, (_, i) => row(i + 1, { value: i }))];
    const stats = await store.putRows(rows);
    expect(stats).toEqual({
      rowsWritten: 25,
      batchCalls: 1 + 25 + 1,
      rowsTruncated: 1,
      rowsFitted: 1,
      rowsRejected: 0,
      rowsUnwritten: 0,
    });
    const stored = await store.sessionRows('acct', 'sid1');
    expect(stored).toHaveLength(25);
    const fitted = stored.find((r) => r.sk === big.sk)!;
    expect(expectAccountedFor(big, fitted)).toMatchObject({ pass: 2, limitBytes: 300 * 1024 });
    // Only the culprit was fitted: its batch-mates are stored as they were.
    for (const r of rows.slice(1)) expect(stored.find((s) => s.sk === r.sk)).toEqual(r);
    client.destroy();
  });

  it('starts no write after the deadline: what is left is counted unwritten, never thrown', async () => {
    // A wall clock already past the deadline after the first write call.
    let reads = 0;
    const { store, client } = await freshStore({ clock: { nowMs: () => (reads++ === 0 ? 1_000 : 5_000) } });
    const rows = Array.from({ length: 60 }, (_, i) => row(i));
    const stats = await store.putRows(rows, { deadlineMs: 2_000 });
    expect(stats).toEqual({
      rowsWritten: 25,
      batchCalls: 1,
      rowsTruncated: 0,
      rowsFitted: 0,
      rowsRejected: 0,
      rowsUnwritten: 35,
    });
    expect(await store.sessionRows('acct', 'sid1')).toHaveLength(25);
    client.destroy();
  });

  it("stores every JSON number: past ±2^53 as numbers, beyond DynamoDB's range as text, listed", async () => {
    const { store, client } = await freshStore();
    // What JSON.parse makes of big numbers in an answer (an order number of 20 digits, say): doubles, some
    // beyond what DynamoDB can hold.
    const odd = row(1, {
      orderNumber: 12345678901234567e3,
      big: 1e21,
      negative: -(2 ** 60),
      tiny: 1.5e-7,
      huge: 1e300,
      minute: -1e-200,
      zero: -0,
      fine: 42,
    });
    const stats = await store.putRows([odd, row(2)]);
    expect(stats).toMatchObject({ rowsWritten: 2, batchCalls: 1 });
    const stored = (await store.sessionRows('acct', 'sid1')).find((r) => r.sk === odd.sk)!;
    expect(stored).toMatchObject({
      orderNumber: 12345678901234567e3,
      big: 1e21,
      negative: -(2 ** 60),
      tiny: 1.5e-7,
      huge: '1e+300',
      minute: '-1e-200',
      zero: 0,
      fine: 42,
    });
    expect(stored[NUMBERS_AS_TEXT_COLUMN]).toBe('huge,minute');
    expect(stored[NUMBERS_AS_TEXT_COLUMN]).toBe(captureItem(odd)[NUMBERS_AS_TEXT_COLUMN]?.S);
    client.destroy();
  });
});

describe('DynamoCaptureStore retries (a scripted client)', () => {
  type Sent = { input: { RequestItems?: Record<string, unknown[]>; Item?: unknown } };
  const requestsOf = (command: Sent): unknown[] => command.input.RequestItems?.t ?? [command.input.Item];

  it('resends UnprocessedItems with backoff until they are written', async () => {
    const sent: number[] = [];
    let unprocessedRounds = 2;
    const fake = {
      send: async (command: Sent) => {
        const requests = requestsOf(command);
        sent.push(requests.length);
        if (unprocessedRounds-- > 0) return { UnprocessedItems: { t: requests.slice(0, 3) } };
        return { UnprocessedItems: {} };
      },
    } as unknown as DynamoDBDocumentClient;
    const sleeps: number[] = [];
    const store = new DynamoCaptureStore(fake, 't', KEYS, {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 1,
    });
    const stats = await store.putRows(Array.from({ length: 10 }, (_, i) => row(i)));
    expect(sent).toEqual([10, 3, 3]);
    expect(stats).toMatchObject({ rowsWritten: 10, batchCalls: 3, rowsUnwritten: 0 });
    expect(sleeps).toEqual([50, 100]);
  });

  it('counts rows still unprocessed when the attempts run out as unwritten, without throwing', async () => {
    const stuck = {
      send: async (command: Sent) => ({ UnprocessedItems: { t: requestsOf(command).slice(1) } }),
    } as unknown as DynamoDBDocumentClient;
    const store = new DynamoCaptureStore(stuck, 't', KEYS, {
      sleep: async () => undefined,
      maxBatchAttempts: 4,
    });
    // Each call writes the first row it is sent and leaves the rest unprocessed.
    const stats = await store.putRows([row(1), row(2), row(3), row(4), row(5), row(6)]);
    expect(stats).toMatchObject({ rowsWritten: 4, batchCalls: 4, rowsUnwritten: 2, rowsRejected: 0 });
  });

  it('stops resending unprocessed or throttled writes at the deadline, waiting for no backoff past it', async () => {
    let nowMs = 0;
    const calls: string[] = [];
    const throttled = Object.assign(new Error('throttled'), {
      name: 'ProvisionedThroughputExceededException',
    });
    let round = 0;
    const flaky = {
      send: async (command: Sent) => {
        calls.push(`${nowMs}`);
        // Throttled, then unprocessed, for ever.
        if (round++ % 2 === 0) throw throttled;
        return { UnprocessedItems: { t: requestsOf(command) } };
      },
    } as unknown as DynamoDBDocumentClient;
    const sleeps: number[] = [];
    const store = new DynamoCaptureStore(flaky, 't', KEYS, {
      clock: { nowMs: () => nowMs },
      random: () => 1,
      baseDelayMs: 100,
      maxBatchAttempts: 100,
      sleep: async (ms) => {
        sleeps.push(ms);
        nowMs += ms;
      },
    });
    const stats = await store.putRows(
      Array.from({ length: 25 }, (_, i) => row(i)),
      { deadlineMs: 1_000 },
    );
    // Waits of 100, 200, 400 (ending at 700); the next, 800, would end past 1,000: not waited for.
    expect(sleeps).toEqual([100, 200, 400]);
    expect(calls).toEqual(['0', '100', '300', '700']);
    expect(stats).toMatchObject({ rowsWritten: 0, batchCalls: 4, rowsUnwritten: 25 });
  });

  it('throws a whole-request failure that is not throttling (a network error after the SDK retries)', async () => {
    const broken = {
      send: async () => {
        throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      },
    } as unknown as DynamoDBDocumentClient;
    const store = new DynamoCaptureStore(broken, 't', KEYS, { sleep: async () => undefined });
    await expect(store.putRows([row(1)])).rejects.toThrow('socket hang up');
  });
});
