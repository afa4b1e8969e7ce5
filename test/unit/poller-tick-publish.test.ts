import { MemoryMetrics, publishTickMetrics } from '../../lib/metrics';
import { emptySummary, TickFailedError, tickAndPublish, type TickSummary } from '../../lib/poller/poller';

/** A summary as a tick leaves it (only the fields the check reads matter). */
function summaryOf(okFetches: number): TickSummary {
  const empty = emptySummary('t', 0);
  return {
    ...empty,
    finishedAtMs: 1,
    fetches: { ...empty.fetches, ok: okFetches },
    fetchAttempts: okFetches,
    itemsClaimed: okFetches,
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
