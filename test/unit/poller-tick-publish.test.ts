import { MemoryMetrics, publishTickMetrics } from '../../lib/metrics';
import { TickFailedError, tickAndPublish, type TickSummary } from '../../lib/poller/poller';

/** A summary as a tick leaves it (only the fields the check reads matter). */
function summaryOf(okFetches: number): TickSummary {
  return {
    tickId: 't',
    startedAtMs: 0,
    finishedAtMs: 1,
    stoppedBy: 'done',
    fetches: {
      ok: okFetches,
      empty: 0,
      expired_12: 0,
      invalid_visitor_37: 0,
      invalid_session_39: 0,
      invalid_account_6: 0,
      unauthorized_10: 0,
      bad_request_33: 0,
      retryable: 0,
      malformed: 0,
      unexpected: 0,
    },
    fetchAttempts: okFetches,
    expiredBeforeCapture: 0,
    expiredAfterCapture: 0,
    sessions: { CAPTURED: 0, LOST: 0, INVALID: 0, FAILED: 0 },
    sessionsPartial: 0,
    rowsWritten: 0,
    rowsTruncated: 0,
    rowsFitted: 0,
    rowsRejected: 0,
    rowsUnwritten: 0,
    batchCalls: 0,
    itemsClaimed: okFetches,
    claimConflicts: 0,
    itemsDeferred: 0,
    itemsDeferredBy: { budget: 0, lease: 0, tick_stopped: 0 },
    itemErrors: 0,
    domainApiFailures: 0,
    badRequest33Sessions: 0,
    leasesLost: 0,
    unknownEventTypes: 0,
  };
}

describe('tickAndPublish (the poller Lambda publishes in a finally)', () => {
  it('publishes the summary of a tick that returns, and returns it', async () => {
    const summary = summaryOf(3);
    const published: TickSummary[] = [];
    const result = await tickAndPublish({ tick: async () => summary }, { budgetMs: 1000 }, (s) =>
      published.push(s),
    );
    expect(result).toBe(summary);
    expect(published).toEqual([summary]);
  });

  it('publishes what a failed tick counted, then rethrows its error', async () => {
    const summary = summaryOf(2);
    const failure = new TickFailedError(summary, { cause: new Error('defect') });
    const metrics = new MemoryMetrics();
    await expect(
      tickAndPublish(
        {
          tick: async () => {
            throw failure;
          },
        },
        { budgetMs: 1000 },
        (s) => publishTickMetrics(s, metrics),
      ),
    ).rejects.toBe(failure);
    expect(metrics.counts.get('fetches_ok')).toBe(2);
    expect(metrics.counts.get('ticks')).toBe(1);
  });

  it('rethrows an error without a summary, publishing nothing it does not have', async () => {
    const published: TickSummary[] = [];
    await expect(
      tickAndPublish(
        {
          tick: async () => {
            throw new Error('no summary');
          },
        },
        { budgetMs: 1000 },
        (s) => published.push(s),
      ),
    ).rejects.toThrow('no summary');
    expect(published).toEqual([]);
  });
});
