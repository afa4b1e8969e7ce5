import { ManualClock } from '../../lib/clock';
import { QueryArgumentError } from '../../lib/query/errors';
import { partitionOf, partitionPath } from '../../lib/query/partition';
import { ProgressReporter } from '../../lib/query/progress';
import { toAnalystRow } from '../../lib/query/rows';
import { parseInstant, utcDaysOf } from '../../lib/query/time';

describe('parseInstant accepts ISO 8601 dates and zoned date-times only', () => {
  it.each([
    ['2024-03-10', '2024-03-10T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2024-03-10T14:05Z', '2024-03-10T14:05:00.000Z'],
    ['2024-03-10T14:05:06Z', '2024-03-10T14:05:06.000Z'],
    ['2024-03-10T14:05:06.789Z', '2024-03-10T14:05:06.789Z'],
    ['2024-03-10T14:05:06,5Z', '2024-03-10T14:05:06.500Z'],
    ['2024-03-10T16:00+02:00', '2024-03-10T14:00:00.000Z'],
    ['2024-03-10T00:30:00-05:30', '2024-03-10T06:00:00.000Z'],
    // Finer than a millisecond rounds up: stored times are whole ms, so >= and < keep their meaning.
    ['2024-03-10T14:05:06.0001Z', '2024-03-10T14:05:06.001Z'],
    ['2024-03-10T14:05:06.000000000Z', '2024-03-10T14:05:06.000Z'],
  ])('%s → %s', (text, iso) => {
    expect(new Date(parseInstant(text, '--from')).toISOString()).toBe(iso);
  });

  it.each([
    ['2024-03-10T14:05', /needs a zone/],
    ['2024-03-10 14:05Z', /not an ISO 8601/],
    ['2024-3-10', /not an ISO 8601/],
    ['20240310', /not an ISO 8601/],
    ['2024-W10', /not an ISO 8601/],
    ['1710028800000', /not an ISO 8601/],
    ['now', /not an ISO 8601/],
    ['', /not an ISO 8601/],
    ['2023-02-29', /no such date/],
    ['2024-13-01', /no such date/],
    ['2024-03-10T24:00Z', /no such time/],
    ['2024-03-10T12:00:60Z', /no such time/],
    ['2024-03-10T12:00+24:00', /no such offset/],
    ['2024-03-10T12:00+0200', /not an ISO 8601/],
    ['1969-12-31', /outside the times/],
  ])('rejects %j', (text, problem) => {
    expect(() => parseInstant(text, '--to')).toThrow(QueryArgumentError);
    expect(() => parseInstant(text, '--to')).toThrow(problem);
    expect(() => parseInstant(text, '--to')).toThrow(/^--to: /);
  });
});

describe('utcDaysOf', () => {
  const at = (iso: string): number => Date.parse(iso);
  it('lists the UTC days a half-open range touches, each with its part', () => {
    expect(utcDaysOf({ fromMs: at('2024-03-10T22:00:00Z'), toMs: at('2024-03-12T00:00:00Z') })).toEqual([
      { day: '2024-03-10', fromMs: at('2024-03-10T22:00:00Z'), toMs: at('2024-03-11T00:00:00Z') },
      { day: '2024-03-11', fromMs: at('2024-03-11T00:00:00Z'), toMs: at('2024-03-12T00:00:00Z') },
    ]);
  });
  it('rejects an empty range', () => {
    expect(() => utcDaysOf({ fromMs: 5, toMs: 5 })).toThrow(/must be later than --from/);
  });
});

describe('analyst rows and partitions', () => {
  it('drops the storage attributes, keeps identity first and the rest sorted', () => {
    const row = toAnalystRow({
      zeta: 1,
      gsi2sk: 'k',
      sk: 's',
      pk: 'p',
      serverTimeStamp: 5,
      sid: 'S',
      alpha: 'a',
      rowType: 'event',
      eventType: 'lead',
      visitorId: 'V',
      accountId: 'A',
    });
    expect(Object.keys(row)).toEqual([
      'rowType',
      'accountId',
      'visitorId',
      'sid',
      'eventType',
      'serverTimeStamp',
      'alpha',
      'zeta',
    ]);
    expect(Object.keys(toAnalystRow({ pk: 'p', rowType: 'x' }, true))).toEqual(['rowType', 'pk']);
  });

  it('partitions a row by rowType and the UTC day it was written', () => {
    expect(
      partitionPath(partitionOf({ rowType: 'event', capturedAtMs: Date.parse('2024-03-10T23:59:59Z') })),
    ).toBe('rowType=event/dt=2024-03-10');
    expect(partitionOf({ rowType: 'outcome', endedAtMs: Date.parse('2024-03-11T00:00:00Z') })).toEqual({
      rowType: 'outcome',
      dt: '2024-03-11',
    });
    expect(partitionOf({ rowType: '../x' })).toEqual({ rowType: 'unknown', dt: 'unknown' });
  });
});

describe('ProgressReporter', () => {
  const progress = {
    queries: 3,
    itemsRead: 40,
    partitionsDone: 2,
    partitionsTotal: 16,
    batchGets: 0,
    itemsFetched: 0,
  };

  it('stays quiet on quick reads', () => {
    const lines: string[] = [];
    const clock = new ManualClock(0);
    const reporter = new ProgressReporter('lpv query events', (l) => lines.push(l), { clock });
    clock.setMs(999);
    reporter.onProgress(progress);
    reporter.finish();
    expect(lines).toEqual([]);
  });

  it('reports at most once per interval after the delay, and closes with a summary', () => {
    const lines: string[] = [];
    const clock = new ManualClock(0);
    const reporter = new ProgressReporter('lpv query events', (l) => lines.push(l), { clock });
    clock.setMs(1000);
    reporter.onProgress(progress);
    clock.setMs(1500);
    reporter.onProgress({ ...progress, queries: 4 });
    reporter.rowsEmitted(12);
    clock.setMs(2500);
    reporter.onProgress({ ...progress, queries: 5 });
    reporter.finish();
    expect(lines).toEqual([
      'lpv query events: 2/16 partitions, 3 queries, 40 items read, 0 rows out\n',
      'lpv query events: 2/16 partitions, 5 queries, 40 items read, 12 rows out\n',
      'lpv query events: done in 2.5 s, 2/16 partitions, 5 queries, 40 items read, 12 rows out\n',
    ]);
  });
});
