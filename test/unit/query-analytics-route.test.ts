import {
  ANALYTICS_ROUTE_METRIC,
  erasureDeleteRecord,
  loadAnalyticsRouteSettings,
  PARTITION_COLUMN,
  routeBatch,
  routeStreamRecord,
  rowDay,
  UNDATED,
  type FirehoseInputRecord,
} from '../../lib/query/analytics-route';
import schemaJson from '../../lib/query/analytics-schema.json';
import type { AnalyticsSchema } from '../../lib/query/analytics-schema';
import type { StoredRow } from '../../lib/store/capture-store';

const SCHEMA = schemaJson as AnalyticsSchema;
const DAY_MS = 86_400_000;
const T = Date.UTC(2024, 2, 10, 23, 30); // 2024-03-10, late: a capture lands on the next day
const CAPTURED_V1 = T + 60_000 + DAY_MS / 24; // 2024-03-11
const CAPTURED_V2 = T + 3 * DAY_MS; // 2024-03-13

type Image = Record<string, Record<string, unknown>>;

/** A stored row as DynamoDB JSON (a stream image). */
function image(row: StoredRow): Image {
  const out: Image = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] =
      typeof v === 'string'
        ? { S: v }
        : typeof v === 'number'
          ? { N: String(v) }
          : typeof v === 'boolean'
            ? { BOOL: v }
            : { NULL: true };
  }
  return out;
}

function streamRecord(eventName: string, oldRow?: StoredRow, newRow?: StoredRow): unknown {
  return {
    eventName,
    eventSource: 'aws:dynamodb',
    dynamodb: {
      Keys: { pk: { S: (oldRow ?? newRow)?.pk }, sk: { S: (oldRow ?? newRow)?.sk } },
      ...(newRow ? { NewImage: image(newRow) } : {}),
      ...(oldRow ? { OldImage: image(oldRow) } : {}),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

const event = (capturedAtMs: number, extra: StoredRow = {}): StoredRow => ({
  pk: 'S#1#sid1',
  sk: `EVENT#purchase#${String(T)}#abc#0`,
  gsi2pk: 'E#1#purchase#2024-03-10#3',
  gsi2sk: 'x',
  rowType: 'event',
  accountId: '1',
  visitorId: 'v1',
  sid: 'sid1',
  eventType: 'purchase',
  serverTimeStamp: T,
  total: 11.7,
  orderId: 'DRV1534XC',
  customerId: 4711,
  capturedAtMs,
  ...extra,
});
const page = (capturedAtMs: number): StoredRow => ({
  pk: 'S#1#sid1',
  sk: `PAGE#a1#p1#${String(T)}`,
  rowType: 'page',
  visitorId: 'v1',
  sid: 'sid1',
  startTime: T,
  timeOnPage: capturedAtMs - T,
  capturedAtMs,
});
const session = (capturedAtMs: number): StoredRow => ({
  pk: 'S#1#sid1',
  sk: 'SESSION#a1',
  gsi1pk: 'V#1#v1',
  gsi1sk: `${String(T)}#sid1#SESSION#a1`,
  rowType: 'session',
  visitorId: 'v1',
  sid: 'sid1',
  startTime: T,
  capturedAtMs,
});
const engagement = (capturedAtMs: number): StoredRow => ({
  pk: 'S#1#sid1',
  sk: 'ENG#a1#e1',
  rowType: 'engagement',
  visitorId: 'v1',
  sid: 'sid1',
  capturedAtMs,
});
const outcome = (endedAtMs: number): StoredRow => ({
  pk: 'S#1#sid1',
  sk: 'OUTCOME',
  rowType: 'outcome',
  visitorId: 'v1',
  sid: 'sid1',
  startTimeMs: T,
  endedAtMs,
  finalState: 'CAPTURED',
});

describe('the routing decision of the analytics copy', () => {
  it.each([
    ['INSERT', 'event', 'update', undefined, event(CAPTURED_V1)],
    ['MODIFY', 'event', 'update', event(CAPTURED_V1), event(CAPTURED_V2)],
    ['REMOVE', 'event', 'delete', event(CAPTURED_V1), undefined],
    ['INSERT', 'page', 'update', undefined, page(CAPTURED_V1)],
    ['MODIFY', 'page', 'update', page(CAPTURED_V1), page(CAPTURED_V2)],
    ['REMOVE', 'page', 'delete', page(CAPTURED_V2), undefined],
    ['MODIFY', 'session', 'update', session(CAPTURED_V1), session(CAPTURED_V2)],
    ['REMOVE', 'session', 'delete', session(CAPTURED_V1), undefined],
    ['INSERT', 'engagement', 'update', undefined, engagement(CAPTURED_V1)],
    ['REMOVE', 'engagement', 'delete', engagement(CAPTURED_V1), undefined],
    ['INSERT', 'outcome', 'update', undefined, outcome(CAPTURED_V1)],
    ['REMOVE', 'outcome', 'delete', outcome(CAPTURED_V2), undefined],
  ] as const)('%s of a %s row → operation %s on its table', (eventName, table, operation, oldRow, newRow) => {
    const decision = routeStreamRecord(streamRecord(eventName, oldRow, newRow), SCHEMA);
    expect(decision).toMatchObject({ kind: 'route', table, operation });
    if (decision.kind !== 'route') return;
    const source = (newRow ?? oldRow) as StoredRow;
    expect(decision.row.pk).toBe(source.pk);
    expect(decision.row.sk).toBe(source.sk);
    // The partition never depends on the version: the insert, every update and the delete agree.
    expect(decision.row[PARTITION_COLUMN]).toBe(table === 'engagement' ? UNDATED : '2024-03-10');
  });

  it('a delete carries only the unique keys and the partition, from the OLD image', () => {
    const decision = routeStreamRecord(streamRecord('REMOVE', event(CAPTURED_V1)), SCHEMA);
    expect(decision.kind === 'route' && { ...decision.row }).toEqual({
      pk: 'S#1#sid1',
      sk: `EVENT#purchase#${String(T)}#abc#0`,
      rowday: '2024-03-10',
    });
  });

  it('an upsert carries the whole row in lower case, pk and sk included, index keys left out, typed as declared', () => {
    const decision = routeStreamRecord(streamRecord('INSERT', undefined, event(CAPTURED_V1)), SCHEMA);
    if (decision.kind !== 'route') throw new Error('not routed');
    expect(decision.row).toMatchObject({
      pk: 'S#1#sid1',
      rowtype: 'event',
      servertimestamp: T,
      total: 11.7,
      capturedatms: CAPTURED_V1,
      // customerId is personal data: declared string whatever the value (a hash is text).
      customerid: '4711',
    });
    expect(Object.keys(decision.row).filter((k) => k.startsWith('gsi'))).toEqual([]);
    expect(decision.undeclaredColumns).toEqual([]);
  });

  it('partitions on a fixed time of the row, never on the capture time', () => {
    const v1 = rowDay(event(CAPTURED_V1));
    const v2 = rowDay(event(CAPTURED_V2));
    expect([v1, v2]).toEqual(['2024-03-10', '2024-03-10']);
    expect(rowDay(outcome(CAPTURED_V2))).toBe('2024-03-10');
    expect(rowDay({ rowType: 'session', pk: 'S#1#s', sk: 'SESSION#a' })).toBe(UNDATED);
    expect(rowDay({ rowType: 'event', serverTimeStamp: 'not a time' })).toBe(UNDATED);
  });

  it('counts the columns the tables do not declare (Firehose would drop them) and leaves them out', () => {
    const row = event(CAPTURED_V1, { brandNewColumn: 'x', revActiveVPs_123_revision: 4 });
    const decision = routeStreamRecord(streamRecord('MODIFY', event(CAPTURED_V1), row), SCHEMA);
    if (decision.kind !== 'route') throw new Error('not routed');
    expect(decision.undeclaredColumns.sort()).toEqual(['brandnewcolumn', 'revactivevps_123_revision']);
    expect(decision.row.brandnewcolumn).toBeUndefined();
  });

  it.each([
    [
      'an unknown row type',
      streamRecord('INSERT', undefined, { ...event(1), rowType: 'coupon' }),
      'unknown row type',
    ],
    ['a REMOVE without an old image', streamRecord('REMOVE', undefined, event(1)), 'no image'],
    ['an INSERT without a new image', streamRecord('INSERT', event(1), undefined), 'no image'],
    ['a row without sk', streamRecord('INSERT', undefined, { ...event(1), sk: 5 }), 'no pk or sk'],
    ['an unknown event name', { eventName: 'TRUNCATE', dynamodb: {} }, 'unknown event name'],
    ['not a stream record', { hello: 'world' }, 'not a DynamoDB stream record'],
  ])('refuses %s', (_what, record, reason) => {
    expect(routeStreamRecord(record, SCHEMA)).toEqual({ kind: 'unroutable', reason });
  });
});

describe('a Firehose transformation batch', () => {
  const input = (id: string, record: unknown): FirehoseInputRecord => ({
    recordId: id,
    data: Buffer.from(typeof record === 'string' ? record : JSON.stringify(record)).toString('base64'),
  });

  it('answers every record: Ok with otfMetadata, or ProcessingFailed as received, and counts both', () => {
    const bad = input('3', streamRecord('INSERT', undefined, { ...event(1), rowType: 'coupon' }));
    const result = routeBatch(
      [
        input('1', streamRecord('INSERT', undefined, event(CAPTURED_V1, { brandNew: 1 }))),
        input('2', streamRecord('REMOVE', page(CAPTURED_V1))),
        bad,
        input('4', '{not json'),
      ],
      SCHEMA,
      'lp_visit_capture_iceberg',
    );
    expect(result.records.map((r) => [r.recordId, r.result, r.metadata?.otfMetadata])).toEqual([
      [
        '1',
        'Ok',
        {
          destinationDatabaseName: 'lp_visit_capture_iceberg',
          destinationTableName: 'event',
          operation: 'update',
        },
      ],
      [
        '2',
        'Ok',
        {
          destinationDatabaseName: 'lp_visit_capture_iceberg',
          destinationTableName: 'page',
          operation: 'delete',
        },
      ],
      ['3', 'ProcessingFailed', undefined],
      ['4', 'ProcessingFailed', undefined],
    ]);
    expect(result.records[2]?.data).toBe(bad.data);
    const sent = JSON.parse(Buffer.from(result.records[1]?.data ?? '', 'base64').toString('utf8')) as unknown;
    expect(sent).toEqual({ pk: 'S#1#sid1', sk: `PAGE#a1#p1#${String(T)}`, rowday: '2024-03-10' });
    expect(result.counts).toEqual({
      [ANALYTICS_ROUTE_METRIC.routed]: 2,
      [ANALYTICS_ROUTE_METRIC.unroutable]: 2,
      [ANALYTICS_ROUTE_METRIC.undeclaredColumns]: 1,
    });
    expect(result.unroutableByReason).toEqual({
      'unknown row type': 1,
      'not a DynamoDB stream record': 1,
    });
    expect(result.undeclaredByTable).toEqual({ event: ['brandnew'] });
    // Nothing of a record's values reaches what the function logs.
    expect(JSON.stringify([result.unroutableByReason, result.undeclaredByTable])).not.toMatch(/v1|sid1|DRV/);
  });
});

describe('the delete an erasure re-sends', () => {
  it('is routed like the stream REMOVE of the same row, and carries no other value of it', () => {
    for (const row of [
      event(CAPTURED_V2),
      page(CAPTURED_V1),
      session(CAPTURED_V1),
      engagement(1),
      outcome(9),
    ]) {
      const text = erasureDeleteRecord(row);
      expect(routeStreamRecord(JSON.parse(text), SCHEMA)).toEqual(
        routeStreamRecord(streamRecord('REMOVE', row), SCHEMA),
      );
      expect(text).not.toMatch(/v1|DRV|11\.7|4711/);
    }
  });
});

describe('the route function setting', () => {
  it('needs a Glue database name', () => {
    expect(loadAnalyticsRouteSettings({ ANALYTICS_DATABASE: 'lp_visit_capture_iceberg' })).toEqual({
      databaseName: 'lp_visit_capture_iceberg',
    });
    expect(() => loadAnalyticsRouteSettings({})).toThrow(/ANALYTICS_DATABASE/);
    expect(() => loadAnalyticsRouteSettings({ ANALYTICS_DATABASE: 'Bad-Name' })).toThrow(/Bad-Name/);
  });
});
