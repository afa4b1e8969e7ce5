/**
 * The rewrite rule end to end (lib/poller/rewrite-rule.ts): the real poller, queue and capture store, the
 * simulator over HTTP. A page's growing timeOnPage is deferred between rewrite polls, kept on the queue item,
 * and written into the row when the session ends, so the capture holds the last successful answer in full.
 */
import { HOUR_MS, MINUTE_MS } from '../../lib/clock';
import { flattenVisitState } from '../../lib/capture/flatten';
import { parseDeferred, REWRITE_EVERY_POLLS } from '../../lib/poller/rewrite-rule';
import type { StoredRow } from '../../lib/store/capture-store';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';
import { buildPipeline } from '../support/pipeline';
import { startSimulator, TEST_ACCOUNT, type SimulatorFixture } from '../support/simulator';

const BUDGET = { budgetMs: 60_000 };

describe.each(storageBackends())('the rewrite rule on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  let sim: SimulatorFixture;

  beforeAll(async () => {
    dynamo = await start();
    sim = await startSimulator({ earlyEndProbability: 0 });
  }, 60_000);
  afterAll(async () => {
    await sim?.stop();
    await dynamo?.close();
  });

  const pageRows = (rows: StoredRow[]): Map<string, StoredRow> =>
    new Map(rows.filter((r) => r.rowType === 'page').map((r) => [String(r.sk), r]));

  it('defers a growing timeOnPage between rewrite polls and writes the last answer’s when the session ends', async () => {
    const p = await buildPipeline(dynamo, sim);
    // No events: pages change only by their timeOnPage (and new pages), the case the rule defers.
    const session = sim.world.startSession({ eventRatePerHour: 0, durationMs: 2 * HOUR_MS });
    await p.storage.queue.enqueue(TEST_ACCOUNT, [
      { visitorId: session.visitorId, sid: session.sid, startTimeMs: session.startTimeMs },
    ]);
    let lastAnswerAtMs = 0;
    let deferredSeen = false;
    // Polls 1 .. REWRITE_EVERY_POLLS - 1: the first writes every row, the next ones defer timeOnPage.
    for (let poll = 1; poll < REWRITE_EVERY_POLLS; poll++) {
      sim.clock.advanceMs(10 * MINUTE_MS);
      const summary = await p.poller.tick({ ...BUDGET, force: true });
      expect(summary.fetches.ok).toBe(1);
      lastAnswerAtMs = sim.clock.nowMs();
      const item = await p.item(session.sid);
      if (poll > 1 && parseDeferred(item.deferredColumns) !== undefined) deferredSeen = true;
    }
    expect(deferredSeen).toBe(true);
    const answer = flattenVisitState({
      accountId: TEST_ACCOUNT,
      visitorId: session.visitorId,
      sid: session.sid,
      state: sim.world.stateAt(session.visitorId, session.sid, lastAnswerAtMs),
    });
    const expected = pageRows(answer.rows as StoredRow[]);
    // While the session is polled, some stored page lags behind the last answer (by at most the rule's polls).
    const live = pageRows(await p.sessionRows(session.sid));
    expect([...expected].some(([sk, row]) => live.get(sk)?.timeOnPage !== row.timeOnPage)).toBe(true);

    // The visitor leaves; the next poll answers 404/12 and ends the session.
    sim.world.endSession(session.sid, lastAnswerAtMs + 1);
    sim.clock.advanceMs(10 * MINUTE_MS);
    const ending = await p.poller.tick({ ...BUDGET, force: true });
    expect(ending.sessions.CAPTURED).toBe(1);

    const stored = pageRows(await p.sessionRows(session.sid));
    expect([...stored.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [sk, row] of expected) {
      expect({ sk, timeOnPage: stored.get(sk)?.timeOnPage }).toEqual({ sk, timeOnPage: row.timeOnPage });
    }
  });
});
