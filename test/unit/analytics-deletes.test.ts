/**
 * The analytics re-send on Firehose (lib/query/analytics-deletes.ts) against aws-sdk-client-mock (there is no
 * local Firehose): the records are the route function's deletes, batches keep PutRecordBatch's limits, refused
 * records and throttled calls are sent again with backoff, and what never goes fails the erasure.
 */
import {
  FirehoseClient,
  PutRecordBatchCommand,
  ResourceNotFoundException,
  ServiceUnavailableException,
  type PutRecordBatchCommandInput,
} from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import { AnalyticsResendError } from '../../lib/erasure/errors';
import type { ErasedRow } from '../../lib/erasure/plan';
import {
  ERASED_ROW_ATTRIBUTES,
  FirehoseAnalyticsDeletes,
  PUT_RECORD_BATCH_MAX_BYTES,
  PUT_RECORD_BATCH_MAX_RECORDS,
} from '../../lib/query/analytics-deletes';
import { ROW_DAY_SOURCES, routeStreamRecord } from '../../lib/query/analytics-route';
import type { AnalyticsSchema } from '../../lib/query/analytics-schema';
import schema from '../../lib/query/analytics-schema.json';

const firehose = mockClient(FirehoseClient);
const STREAM = 'lpv-analytics-feed';
const DAY_MS = Date.UTC(2026, 2, 10, 13, 0, 0);

afterEach(() => firehose.reset());
afterAll(() => firehose.restore());

const sleeps: number[] = [];
const deletes = (maxAttempts = 4): FirehoseAnalyticsDeletes =>
  new FirehoseAnalyticsDeletes(new FirehoseClient({ region: 'eu-west-1' }), STREAM, 450_000, {
    maxAttempts,
    baseDelayMs: 100,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
beforeEach(() => {
  sleeps.length = 0;
});

const sent = (): PutRecordBatchCommandInput[] =>
  firehose.commandCalls(PutRecordBatchCommand).map((call) => call.args[0].input);
const decoded = (input: PutRecordBatchCommandInput): unknown[] =>
  (input.Records ?? []).map((r) => JSON.parse(Buffer.from(r.Data as Uint8Array).toString('utf8')));

function rows(n: number, skPadding = 0): ErasedRow[] {
  return Array.from({ length: n }, (_, i) => ({
    pk: `S#acct#sid${Math.floor(i / 100)}`,
    sk: `EVENT#purchase#${String(DAY_MS + i).padStart(13, '0')}#${'x'.repeat(skPadding)}#${i}`,
    rowType: 'event',
    serverTimeStamp: DAY_MS + i,
  }));
}

describe('FirehoseAnalyticsDeletes', () => {
  it('reads the row type and every partition time column, nothing else', () => {
    expect(ERASED_ROW_ATTRIBUTES).toEqual(['rowType', 'serverTimeStamp', 'startTime', 'startTimeMs']);
    for (const columns of Object.values(ROW_DAY_SOURCES)) {
      for (const column of columns) expect(ERASED_ROW_ATTRIBUTES).toContain(column);
    }
  });

  it("sends one record per row that the route function turns into a delete in the row's partition", async () => {
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [] });
    const erased: ErasedRow[] = [
      { pk: 'S#acct#s1', sk: 'SESSION#app1', rowType: 'session', startTime: DAY_MS },
      { pk: 'S#acct#s1', sk: 'OUTCOME', rowType: 'outcome', startTimeMs: DAY_MS },
      { pk: 'S#acct#s1', sk: 'ENG#app1#e1', rowType: 'engagement' },
      { pk: 'S#acct#s1', sk: 'PAGE#app1#p1#x', rowType: 'page' },
    ];
    expect(await deletes().send(erased)).toBe(4);
    const [call] = sent();
    expect(call?.DeliveryStreamName).toBe(STREAM);
    const routed = decoded(call!).map((record) => routeStreamRecord(record, schema as AnalyticsSchema));
    expect(routed.map((d) => (d.kind === 'route' ? [d.operation, d.row] : d))).toEqual([
      ['delete', { pk: 'S#acct#s1', sk: 'SESSION#app1', rowday: '2026-03-10' }],
      ['delete', { pk: 'S#acct#s1', sk: 'OUTCOME', rowday: '2026-03-10' }],
      ['delete', { pk: 'S#acct#s1', sk: 'ENG#app1#e1', rowday: 'undated' }],
      // A page row without its time: undated, as the stream's own REMOVE of that row would be.
      ['delete', { pk: 'S#acct#s1', sk: 'PAGE#app1#p1#x', rowday: 'undated' }],
    ]);
    expect(sleeps).toEqual([]);
  });

  it('keeps each call within 500 records and 4 MiB', async () => {
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [] });
    expect(await deletes().send(rows(1203))).toBe(1203);
    expect(sent().map((c) => c.Records?.length)).toEqual([500, 500, 203]);

    firehose.reset();
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [] });
    // ~20 KB records: 4 MiB holds about 200 of them, far fewer than 500.
    await deletes().send(rows(450, 20_000));
    const calls = sent();
    expect(calls.length).toBeGreaterThan(2);
    for (const call of calls) {
      const bytes = (call.Records ?? []).reduce((a, r) => a + (r.Data as Uint8Array).length, 0);
      expect(bytes).toBeLessThanOrEqual(PUT_RECORD_BATCH_MAX_BYTES);
      expect(call.Records?.length).toBeLessThanOrEqual(PUT_RECORD_BATCH_MAX_RECORDS);
    }
    expect(calls.reduce((a, c) => a + (c.Records?.length ?? 0), 0)).toBe(450);
  });

  it('sends refused records again, only those, with growing backoff', async () => {
    firehose
      .on(PutRecordBatchCommand)
      .resolvesOnce({
        FailedPutCount: 2,
        RequestResponses: [
          { RecordId: 'r0' },
          { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' },
          { RecordId: 'r2' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'x' },
        ],
      })
      .rejectsOnce(new ServiceUnavailableException({ message: 'Slow down.', $metadata: {} }))
      .resolves({ FailedPutCount: 0, RequestResponses: [] });
    const erased = rows(4);
    expect(await deletes().send(erased)).toBe(4);
    const calls = sent();
    expect(calls.map((c) => c.Records?.length)).toEqual([4, 2, 2]);
    const second = decoded(calls[1]!) as { dynamodb: { OldImage: { sk: { S: string } } } }[];
    expect(second.map((r) => r.dynamodb.OldImage.sk.S)).toEqual([erased[1]!.sk, erased[3]!.sk]);
    expect(sleeps).toEqual([50, 100]);
  });

  it('sends everything again when the answer does not say which records were refused', async () => {
    firehose
      .on(PutRecordBatchCommand)
      .resolvesOnce({ FailedPutCount: 1, RequestResponses: [] })
      .resolves({ FailedPutCount: 0, RequestResponses: [] });
    await deletes().send(rows(3));
    expect(sent().map((c) => c.Records?.length)).toEqual([3, 3]);
  });

  it('fails the erasure, counting what never went, after the last attempt', async () => {
    firehose.on(PutRecordBatchCommand).callsFake((input: PutRecordBatchCommandInput) => ({
      FailedPutCount: 1,
      RequestResponses: (input.Records ?? []).map((_, i) =>
        i === 0 ? { ErrorCode: 'ServiceUnavailableException' } : { RecordId: `r${i}` },
      ),
    }));
    const error = await deletes(3)
      .send(rows(5))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnalyticsResendError);
    expect(error).toMatchObject({ unsent: 1, attempts: 3 });
    expect((error as Error).message).toMatch(
      /1 analytics delete\(s\) still not accepted.*run the erasure again/,
    );
    expect(sent()).toHaveLength(3);
  });

  it('does not retry what cannot change (a missing stream), and sends nothing for no rows', async () => {
    firehose
      .on(PutRecordBatchCommand)
      .rejects(new ResourceNotFoundException({ message: 'Firehose lpv not found', $metadata: {} }));
    await expect(deletes().send(rows(2))).rejects.toThrow(ResourceNotFoundException);
    expect(sent()).toHaveLength(1);
    firehose.reset();
    expect(await deletes().send([])).toBe(0);
    expect(sent()).toHaveLength(0);
  });
});
