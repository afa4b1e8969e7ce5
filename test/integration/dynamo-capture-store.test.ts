import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { rowByteSize } from '../../lib/capture/rows';
import { CAPTURE_KEY_ATTRIBUTES } from '../../lib/keys';
import { createDocumentClient } from '../../lib/store/dynamo';
import {
  captureItem,
  DynamoCaptureStore,
  fitRow,
  NUMBERS_AS_TEXT_COLUMN,
  MAX_ITEM_BYTES,
  TRUNCATION_MARKER,
} from '../../lib/store/dynamo-capture-store';
import type { StoredRow } from '../../lib/store/capture-store';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';

const KEYS = new Set(CAPTURE_KEY_ATTRIBUTES);

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

describe.each(storageBackends())('DynamoCaptureStore on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await start();
  }, 60_000);
  afterAll(async () => {
    await dynamo.close();
  });

  it('writes in BatchWriteItem chunks of 25 and reads a session back', async () => {
    const settings = dynamo.settings('store');
    await dynamo.createTables(settings);
    const client = createDocumentClient(settings);
    const store = new DynamoCaptureStore(client, settings.captureTable, KEYS);
    const rows = Array.from({ length: 60 }, (_, i) => row(i, { value: i }));
    const stats = await store.putRows(rows);
    expect(stats).toEqual({ rowsWritten: 60, batchCalls: 3, rowsTruncated: 0 });
    expect(await store.sessionRows('acct', 'sid1')).toHaveLength(60);
    // Idempotent: the same rows again leave the same table.
    await store.putRows(rows);
    expect(await store.sessionRows('acct', 'sid1')).toHaveLength(60);
    client.destroy();
  });

  it('stores a row that would pass 400 KB truncated with a marker, never failing the batch', async () => {
    const settings = dynamo.settings('store');
    await dynamo.createTables(settings);
    const client = createDocumentClient(settings);
    const store = new DynamoCaptureStore(client, settings.captureTable, KEYS);
    const huge = row(1, { payload: 'é'.repeat(300_000), other: 'x'.repeat(100_000) });
    const stats = await store.putRows([huge, row(2)]);
    expect(stats.rowsTruncated).toBe(1);
    const stored = await store.sessionRows('acct', 'sid1');
    expect(stored).toHaveLength(2);
    const big = stored.find((r) => r.sk === huge.sk)!;
    expect(String(big.payload).endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(big.truncatedColumns).toBe('payload');
    expect(big.other).toBe(huge.other);
    expect(rowByteSize(big)).toBeLessThanOrEqual(MAX_ITEM_BYTES);
    client.destroy();
  });

  it("stores every JSON number: past ±2^53 as numbers, beyond DynamoDB's range as text, listed", async () => {
    const settings = dynamo.settings('store');
    await dynamo.createTables(settings);
    const client = createDocumentClient(settings);
    const store = new DynamoCaptureStore(client, settings.captureTable, KEYS);
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

  it('never truncates key columns, and leaves small rows untouched', () => {
    const small = row(3, { note: 'short' });
    expect(fitRow(small, KEYS)).toEqual({ row: small, truncated: false });
    const fitted = fitRow(row(4, { a: 'y'.repeat(5000) }), KEYS, 2000);
    expect(fitted.row.pk).toBe('S#acct#sid1');
    expect(fitted.row.sk).toBe('EVENT#x#0004');
    expect(rowByteSize(fitted.row)).toBeLessThanOrEqual(2000);
  });

  it('measures exactly when the cheap bound is over the limit, and truncates only what really is', () => {
    // 1,500 ASCII characters: the bound (3 bytes per character) says 4,500+, the exact size about 1,550.
    const ascii = row(5, { a: 'y'.repeat(1500) });
    expect(fitRow(ascii, KEYS, 2000)).toEqual({ row: ascii, truncated: false });
    // 700 characters of 3 bytes each (2,100 bytes): the bound and the exact size both say it is too big.
    const wide = fitRow(row(6, { a: '€'.repeat(700) }), KEYS, 2000);
    expect(wide.truncated).toBe(true);
    expect(rowByteSize(wide.row)).toBeLessThanOrEqual(2000);
  });

  it('resends UnprocessedItems with backoff until they are written, and fails loudly when they never are', async () => {
    const sent: number[] = [];
    let unprocessedRounds = 2;
    const fake = {
      send: async (command: { input: { RequestItems: Record<string, unknown[]> } }) => {
        const requests = command.input.RequestItems.t as unknown[];
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
    expect(stats).toMatchObject({ rowsWritten: 10, batchCalls: 3 });
    expect(sleeps).toEqual([50, 100]);

    const stuck = {
      send: async (command: { input: { RequestItems: Record<string, unknown[]> } }) => ({
        UnprocessedItems: { t: command.input.RequestItems.t },
      }),
    } as unknown as DynamoDBDocumentClient;
    const failing = new DynamoCaptureStore(stuck, 't', KEYS, {
      sleep: async () => undefined,
      maxBatchAttempts: 4,
    });
    await expect(failing.putRows([row(1)])).rejects.toThrow(
      /1 capture rows still unprocessed after 4 BatchWriteItem attempts/,
    );
  });
});
