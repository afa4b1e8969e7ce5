import {
  FETCH_OUTCOMES,
  MemoryMetrics,
  METRIC,
  TICK_COUNTER_METRIC,
  fetchMetricName,
  publishTickMetrics,
  type FetchOutcomeMetric,
  type TickFigures,
} from '../../lib/metrics';

/**
 * publishTickMetrics: every figure of a tick summary becomes its metric, with its own value. Each field gets a
 * distinct number, so a figure published under another's name, or not at all, shows.
 */
function distinctSummary(): { summary: Required<TickFigures>; next: number } {
  let next = 1;
  const take = (): number => next++;
  const fetches = Object.fromEntries(FETCH_OUTCOMES.map((o) => [o, take()])) as Record<
    FetchOutcomeMetric,
    number
  >;
  const summary: Required<TickFigures> = {
    fetches,
    expiredBeforeCapture: take(),
    expiredAfterCapture: take(),
    sessions: { CAPTURED: take(), LOST: take(), FAILED: take(), INVALID: take() },
    rowsWritten: take(),
    itemsDeferred: take(),
    unknownEventTypes: take(),
    stoppedBy: 'configuration_fault',
    minTimeToDeadlineMs: 120_000,
    itemErrors: take(),
    leasesLost: take(),
    rowsTruncated: take(),
    rowsFitted: take(),
    rowsRejected: take(),
    rowsUnwritten: take(),
    claimConflicts: take(),
    sessionsPartial: take(),
    badRequest33Sessions: take(),
    domainApiFailures: take(),
  };
  return { summary, next };
}

describe('publishTickMetrics', () => {
  it('publishes every figure of the summary as its own metric, with its value', () => {
    const { summary } = distinctSummary();
    const sink = new MemoryMetrics();
    publishTickMetrics(summary, sink);
    const { sessions } = summary;
    const expected: Record<string, number> = {
      ...Object.fromEntries(FETCH_OUTCOMES.map((o) => [fetchMetricName(o), summary.fetches[o]])),
      fetches_total: FETCH_OUTCOMES.reduce((sum, o) => sum + summary.fetches[o], 0),
      expired_before_capture: summary.expiredBeforeCapture,
      expired_after_capture: summary.expiredAfterCapture,
      sessions_captured: sessions.CAPTURED,
      sessions_lost: sessions.LOST,
      sessions_failed: sessions.FAILED,
      sessions_invalid: sessions.INVALID,
      sessions_ended: sessions.CAPTURED + sessions.LOST + sessions.FAILED + sessions.INVALID,
      rows_written: summary.rowsWritten,
      items_deferred: summary.itemsDeferred,
      unknown_event_types: summary.unknownEventTypes,
      configuration_faults: 1,
      ticks: 1,
      // Issue 13: our side's failures and what became of the rows (names spelt out: dashboards and alarms
      // outside this repository may use them).
      item_errors: summary.itemErrors,
      leases_lost: summary.leasesLost,
      rows_truncated: summary.rowsTruncated,
      rows_fitted: summary.rowsFitted,
      rows_rejected: summary.rowsRejected,
      rows_unwritten: summary.rowsUnwritten,
      claim_conflicts: summary.claimConflicts,
      sessions_partial: summary.sessionsPartial,
      bad_request_33_sessions: summary.badRequest33Sessions,
      domain_api_failures: summary.domainApiFailures,
    };
    expect(Object.fromEntries(sink.counts)).toEqual(expected);
    expect(Object.fromEntries(sink.gauges)).toEqual({ min_time_to_deadline_ms: 120_000 });
    // Every count metric the module names is published (the bundle test holds the poller to the same set).
    const countNames = Object.values(METRIC).filter((n) => n !== METRIC.minTimeToDeadlineMs);
    expect(new Set(sink.counts.keys())).toEqual(
      new Set([...countNames, ...FETCH_OUTCOMES.map(fetchMetricName)]),
    );
    expect(Object.keys(TICK_COUNTER_METRIC)).toHaveLength(10);
  });

  it('counts no configuration fault when the tick ended otherwise, and clamps a negative time to deadline', () => {
    const { summary } = distinctSummary();
    const sink = new MemoryMetrics();
    publishTickMetrics({ ...summary, stoppedBy: 'done', minTimeToDeadlineMs: -5 }, sink);
    expect(sink.counts.get(METRIC.configurationFaults)).toBe(0);
    expect(sink.gauges.get(METRIC.minTimeToDeadlineMs)).toBe(0);
  });

  it('publishes a pending counter the summary does not carry yet as 0 (until TickSummary has them all)', () => {
    const { summary } = distinctSummary();
    const partial: TickFigures = { ...summary };
    delete partial.rowsRejected;
    delete partial.domainApiFailures;
    const sink = new MemoryMetrics();
    publishTickMetrics(partial, sink);
    expect(sink.counts.get(METRIC.rowsRejected)).toBe(0);
    expect(sink.counts.get(METRIC.domainApiFailures)).toBe(0);
    expect(sink.counts.get(METRIC.rowsUnwritten)).toBe(summary.rowsUnwritten);
  });

  it('flushes once per tick, after every value', () => {
    const calls: string[] = [];
    publishTickMetrics(distinctSummary().summary, {
      count: (name) => calls.push(name),
      milliseconds: (name) => calls.push(name),
      flush: () => calls.push('flush'),
    });
    expect(calls.filter((c) => c === 'flush')).toHaveLength(1);
    expect(calls.at(-1)).toBe('flush');
  });
});
