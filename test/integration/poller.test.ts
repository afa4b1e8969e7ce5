import { HOUR_MS, MINUTE_MS, SESSION_MAX_AGE_MS } from '../../lib/clock';
import type { LivePersonCredentials } from '../../lib/liveperson/oauth';
import type { CredentialsProvider } from '../../lib/liveperson/credentials';
import { flattenVisitState } from '../../lib/capture/flatten';
import { queueCaptureStateKey } from '../../lib/keys';
import { ITEMS_PER_FETCH_SLOT } from '../../lib/poller/poller';
import { NO_FAULTS } from '../../lib/simulator/server';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';
import { buildPipeline } from '../support/pipeline';
import { startSimulator, TEST_ACCOUNT, type SimulatorFixture } from '../support/simulator';

describe.each(storageBackends())('on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  let sim: SimulatorFixture;

  beforeAll(async () => {
    dynamo = await start();
  }, 60_000);
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(async () => {
    sim = await startSimulator({ earlyEndProbability: 0 });
  });
  afterEach(async () => {
    await sim.stop();
  });

  const BUDGET = { budgetMs: 60_000 };

  describe('Poller (simulator, one manual clock)', () => {
    it('captures a session, re-polls on schedule, writes only new rows, and ends it CAPTURED at 404/12', async () => {
      const p = await buildPipeline(dynamo, sim);
      const session = sim.world.startSession({ eventRatePerHour: 20, durationMs: 2 * HOUR_MS });
      await p.storage.queue.enqueue(TEST_ACCOUNT, [
        { visitorId: session.visitorId, sid: session.sid, startTimeMs: session.startTimeMs },
      ]);
      sim.clock.advanceMs(30 * MINUTE_MS);

      const first = await p.poller.tick(BUDGET);
      expect(first.fetches.ok).toBe(1);
      const expected = flattenVisitState({
        accountId: TEST_ACCOUNT,
        visitorId: session.visitorId,
        sid: session.sid,
        state: sim.world.stateAt(session.visitorId, session.sid, sim.clock.nowMs()),
      });
      expect(first.rowsWritten).toBe(expected.rows.length);
      let item = await p.item(session.sid);
      expect(item).toMatchObject({
        state: 'ACTIVE',
        pollCount: 1,
        successCount: 1,
        lastOutcome: '200',
        attempts: 0,
      });
      expect(item.nextPollAtMs).toBe(sim.clock.nowMs() + 200_000); // changed on its first poll: a third of the interval

      // Not due yet: nothing happens.
      const idle = await p.poller.tick(BUDGET);
      expect(idle.fetchAttempts).toBe(0);

      // Unchanged re-poll (forced, a millisecond later): no new row; at most the current page's row is
      // updated, because its timeOnPage grows while the visitor stays on it.
      const rowsBefore = await p.sessionRows(session.sid);
      sim.clock.advanceMs(1);
      const unchanged = await p.poller.tick({ ...BUDGET, force: true });
      expect(unchanged.fetches.ok).toBe(1);
      expect(unchanged.rowsWritten).toBeLessThanOrEqual(1);
      const rowsAfter = await p.sessionRows(session.sid);
      expect(rowsAfter.map((r) => r.sk)).toEqual(rowsBefore.map((r) => r.sk));
      const rewritten = rowsAfter.filter(
        (r) => r.capturedAtMs !== rowsBefore.find((b) => b.sk === r.sk)?.capturedAtMs,
      );
      expect(rewritten.every((r) => r.rowType === 'page' || r.rowType === 'session')).toBe(true);
      item = await p.item(session.sid);
      expect(item.nextPollAtMs).toBe(sim.clock.nowMs() + 600_000);

      // Later: only new or changed rows are written; the table holds exactly the flattened rows, no duplicates.
      sim.clock.advanceMs(45 * MINUTE_MS);
      const second = await p.poller.tick(BUDGET);
      const now = flattenVisitState({
        accountId: TEST_ACCOUNT,
        visitorId: session.visitorId,
        sid: session.sid,
        state: sim.world.stateAt(session.visitorId, session.sid, sim.clock.nowMs()),
      });
      expect(second.rowsWritten).toBeLessThan(now.rows.length);
      const stored = await p.sessionRows(session.sid);
      expect(stored.map((r) => r.sk).sort()).toEqual(now.rows.map((r) => r.sk).sort());

      // The session ends; the next poll answers 404/12 → CAPTURED with an outcome row.
      sim.clock.advanceMs(2 * HOUR_MS);
      const last = await p.poller.tick(BUDGET);
      expect(last.fetches.expired_12).toBe(1);
      expect(last.expiredAfterCapture).toBe(1);
      expect(last.sessions.CAPTURED).toBe(1);
      expect(await p.item(session.sid)).toMatchObject({ state: 'CAPTURED', lastOutcome: '404/12' });
      const outcome = (await p.sessionRows(session.sid)).find((r) => r.rowType === 'outcome');
      expect(outcome).toMatchObject({
        finalState: 'CAPTURED',
        lastOutcome: '404/12',
        accountId: TEST_ACCOUNT,
        visitorId: session.visitorId,
        sid: session.sid,
      });
      // Terminal items are never polled again.
      sim.clock.advanceMs(HOUR_MS);
      expect((await p.poller.tick({ ...BUDGET, force: true })).fetchAttempts).toBe(0);
    });

    it('stores the same rows when the same answer is polled twice (idempotent)', async () => {
      const p = await buildPipeline(dynamo, sim);
      const session = sim.world.startSession({ eventRatePerHour: 30 });
      sim.clock.advanceMs(HOUR_MS);
      await p.storage.queue.enqueue(TEST_ACCOUNT, [{ visitorId: session.visitorId, sid: session.sid }]);
      await p.poller.tick(BUDGET);
      const once = await p.sessionRows(session.sid);
      // Forget the digests (the item's side item) and the claim: the same poller, at the same instant (same
      // answer), writes every row again; the table must not grow and must hold the same rows.
      const { DeleteCommand, UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
      const queueTable = (p.storage.queue as unknown as { tableName: string }).tableName;
      await p.storage.documentClient.send(
        new DeleteCommand({
          TableName: queueTable,
          Key: { pk: queueCaptureStateKey(TEST_ACCOUNT, session.visitorId, session.sid) },
        }),
      );
      await p.storage.documentClient.send(
        new UpdateCommand({
          TableName: queueTable,
          Key: { pk: `${TEST_ACCOUNT}#${session.visitorId}#${session.sid}` },
          UpdateExpression: 'REMOVE lastClaimedAtMs',
        }),
      );
      const again = await p.poller.tick({ ...BUDGET, force: true });
      expect(again.rowsWritten).toBe(once.length);
      const twice = await p.sessionRows(session.sid);
      expect(twice.length).toBe(once.length);
      const strip = (rows: typeof once) =>
        rows
          .map(({ capturedAtMs: _c, ...rest }) => rest)
          .sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
      expect(strip(twice)).toEqual(strip(once));
    });

    it('marks a session LOST when LivePerson forgot it before any capture', async () => {
      const p = await buildPipeline(dynamo, sim);
      const session = sim.world.startSession({ durationMs: 10 * MINUTE_MS });
      sim.clock.advanceMs(20 * MINUTE_MS);
      await p.storage.queue.enqueue(TEST_ACCOUNT, [
        { visitorId: session.visitorId, sid: session.sid, startTimeMs: session.startTimeMs },
      ]);
      const summary = await p.poller.tick(BUDGET);
      expect(summary.expiredBeforeCapture).toBe(1);
      expect(summary.sessions.LOST).toBe(1);
      expect(await p.item(session.sid)).toMatchObject({ state: 'LOST', lastOutcome: '404/12' });
      const rows = await p.sessionRows(session.sid);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        rowType: 'outcome',
        finalState: 'LOST',
        reason: expect.stringContaining('before any capture'),
      });
    });

    it.each([
      ['an unknown visitor', '404/37'],
      ['a sid of another visitor', '404/39'],
    ])('marks %s INVALID with the reason', async (_name, code) => {
      const p = await buildPipeline(dynamo, sim);
      const a = sim.world.startSession();
      const b = sim.world.startSession();
      const pair =
        code === '404/37'
          ? { visitorId: 'neverSeenVisitor', sid: a.sid }
          : { visitorId: a.visitorId, sid: b.sid };
      await p.storage.queue.enqueue(TEST_ACCOUNT, [pair]);
      const summary = await p.poller.tick(BUDGET);
      expect(summary.sessions.INVALID).toBe(1);
      expect(await p.item(pair.sid)).toMatchObject({ state: 'INVALID', lastOutcome: code });
      const outcome = (await p.sessionRows(pair.sid)).find(
        (r) => r.rowType === 'outcome' && r.visitorId === pair.visitorId,
      );
      expect(outcome).toMatchObject({ finalState: 'INVALID', lastOutcome: code });
    });

    it('reschedules transient failures with backoff, never ending an item before its deadline', async () => {
      const p = await buildPipeline(dynamo, sim);
      const session = sim.world.startSession({ eventRatePerHour: 20 });
      await p.storage.queue.enqueue(TEST_ACCOUNT, [{ visitorId: session.visitorId, sid: session.sid }]);
      sim.simulator.setFaults({ serverErrorRate: 1 });
      for (const expectedAttempts of [1, 2, 3]) {
        const summary = await p.poller.tick(BUDGET);
        expect(summary.fetches.retryable).toBe(1);
        const item = await p.item(session.sid);
        expect(item).toMatchObject({ state: 'ACTIVE', attempts: expectedAttempts });
        expect(item.nextPollAtMs! - sim.clock.nowMs()).toBe([5000, 10000, 15000][expectedAttempts - 1]);
        sim.clock.advanceMs(item.nextPollAtMs! - sim.clock.nowMs());
      }
      sim.simulator.setFaults({ ...NO_FAULTS, malformedRate: 1 });
      await p.poller.tick(BUDGET);
      const malformed = await p.item(session.sid);
      expect(malformed).toMatchObject({ state: 'ACTIVE', attempts: 4, lastOutcome: '200/malformed' });
      // The diagnosis is on the item's side item, off the item every claim and ack rewrites.
      expect(malformed.lastBadBody).toBeUndefined();
      const side = await p.storage.documentClient.send(
        new (await import('@aws-sdk/lib-dynamodb')).GetCommand({
          TableName: (p.storage.queue as unknown as { tableName: string }).tableName,
          Key: { pk: queueCaptureStateKey(TEST_ACCOUNT, session.visitorId, session.sid) },
          ConsistentRead: true,
        }),
      );
      expect(String(side.Item?.lastBadBody ?? '').length).toBeGreaterThan(0);
      // The outage ends: the session is captured and the backoff resets.
      sim.simulator.setFaults({ ...NO_FAULTS });
      sim.clock.advanceMs(malformed.nextPollAtMs! - sim.clock.nowMs());
      const ok = await p.poller.tick(BUDGET);
      expect(ok.fetches.ok).toBe(1);
      expect(await p.item(session.sid)).toMatchObject({ state: 'ACTIVE', attempts: 0, successCount: 1 });
    });

    it('ends an item FAILED at its deadline when no poll ever succeeded', async () => {
      const p = await buildPipeline(dynamo, sim);
      const session = sim.world.startSession();
      await p.storage.queue.enqueue(TEST_ACCOUNT, [{ visitorId: session.visitorId, sid: session.sid }]);
      sim.simulator.setFaults({ throttleRate: 1, retryAfterSec: 1 });
      await p.poller.tick(BUDGET);
      sim.clock.advanceMs(SESSION_MAX_AGE_MS);
      const summary = await p.poller.tick(BUDGET);
      expect(summary.fetchAttempts).toBe(0);
      expect(summary.sessions.FAILED).toBe(1);
      expect(await p.item(session.sid)).toMatchObject({ state: 'FAILED', reason: 'deadline passed' });
    });

    it('stops the whole tick on persistent 401/10, leaving every item as it was', async () => {
      const wrong: LivePersonCredentials = { ...sim.credentials, tokenSecret: 'revoked' };
      let refreshes = 0;
      const credentials: CredentialsProvider = {
        get: async () => wrong,
        refresh: async () => {
          refreshes++;
          return wrong;
        },
      };
      const p = await buildPipeline(dynamo, sim, { clock: sim.clock, credentials });
      const sessions = Array.from({ length: 20 }, () => sim.world.startSession());
      await p.storage.queue.enqueue(
        TEST_ACCOUNT,
        sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid })),
      );
      const before = await p.items();
      const summary = await p.poller.tick(BUDGET);
      expect(summary.stoppedBy).toBe('configuration_fault');
      expect(summary.configurationFault).toMatch(/401\/10/);
      expect(refreshes).toBe(1);
      const after = await p.items();
      const essentials = (items: typeof before) =>
        items
          .map((i) => ({
            sid: i.sid,
            state: i.state,
            nextPollAtMs: i.nextPollAtMs,
            attempts: i.attempts,
            pollCount: i.pollCount,
            leaseOwner: i.leaseOwner,
          }))
          .sort((a, b) => a.sid.localeCompare(b.sid));
      expect(essentials(after)).toEqual(essentials(before));
      expect(await p.captureRows()).toHaveLength(0);
    });

    it('survives a rotated secret: one refresh after a 401, then the tick goes on', async () => {
      let current: LivePersonCredentials = { ...sim.credentials, consumerSecret: 'old-rotated-out' };
      const credentials: CredentialsProvider = {
        get: async () => current,
        refresh: async () => {
          current = { ...sim.credentials };
          return current;
        },
      };
      const p = await buildPipeline(dynamo, sim, { clock: sim.clock, credentials });
      const sessions = Array.from({ length: 5 }, () => sim.world.startSession());
      await p.storage.queue.enqueue(
        TEST_ACCOUNT,
        sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid })),
      );
      const summary = await p.poller.tick(BUDGET);
      expect(summary.stoppedBy).toBe('done');
      expect(summary.fetches.ok).toBe(5);
    });

    it('stops claiming when its budget ends and leaves the rest due, unclaimed', async () => {
      const p = await buildPipeline(dynamo, sim, {
        clock: sim.clock,
        poller: { concurrency: 2, safetyMarginMs: 0 },
      });
      sim.simulator.setFaults({ latencyMs: 100 });
      const sessions = Array.from({ length: 30 }, () => sim.world.startSession());
      await p.storage.queue.enqueue(
        TEST_ACCOUNT,
        sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid })),
      );
      const summary = await p.poller.tick({ budgetMs: 350 });
      expect(summary.stoppedBy).toBe('budget');
      expect(summary.fetches.ok).toBeGreaterThan(0);
      expect(summary.fetches.ok + summary.itemsDeferred).toBe(30);
      const items = await p.items();
      expect(items.filter((i) => i.leaseOwner !== undefined)).toHaveLength(0);
      expect(items.filter((i) => i.pollCount === 0 && i.nextPollAtMs! <= sim.clock.nowMs())).toHaveLength(
        summary.itemsDeferred,
      );
    });

    it('fetches at most `concurrency` at once, and claims and stores other items meanwhile', async () => {
      const concurrency = 3;
      let fetching = 0;
      let storing = 0;
      let maxFetching = 0;
      let maxBusy = 0;
      const watch = (): void => {
        maxFetching = Math.max(maxFetching, fetching);
        maxBusy = Math.max(maxBusy, fetching + storing);
      };
      const p = await buildPipeline(dynamo, sim, {
        clock: sim.clock,
        poller: { concurrency },
        wrapSource: (client) => ({
          refreshCredentials: () => client.refreshCredentials(),
          async fetchState(visitorId, sid, options) {
            fetching++;
            watch();
            try {
              return await client.fetchState(visitorId, sid, options);
            } finally {
              fetching--;
            }
          },
        }),
        // Slow writes: with one item per fetch slot, fetch slots would sit idle through them.
        wrapStore: (store) => ({
          sessionRows: (accountId, sid) => store.sessionRows(accountId, sid),
          updateRows: (updates, options) => store.updateRows(updates, options),
          async putRows(rows) {
            storing++;
            watch();
            try {
              await new Promise((resolve) => setTimeout(resolve, 40));
              return await store.putRows(rows);
            } finally {
              storing--;
            }
          },
        }),
      });
      sim.simulator.setFaults({ latencyMs: 40 });
      const sessions = Array.from({ length: 24 }, () => sim.world.startSession());
      await p.storage.queue.enqueue(
        TEST_ACCOUNT,
        sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid })),
      );
      const summary = await p.poller.tick(BUDGET);
      expect(summary.fetches.ok).toBe(24);
      expect(maxFetching).toBe(concurrency);
      expect(maxBusy).toBeGreaterThan(concurrency);
      expect(maxBusy).toBeLessThanOrEqual(ITEMS_PER_FETCH_SLOT * concurrency);
      expect((await p.items()).every((i) => i.pollCount === 1 && i.leaseOwner === undefined)).toBe(true);
    });

    it('hands back a claimed item that reaches a fetch slot after the budget ended', async () => {
      const p = await buildPipeline(dynamo, sim, {
        clock: sim.clock,
        poller: { concurrency: 1, pageSize: 10 },
      });
      sim.simulator.setFaults({ latencyMs: 400 });
      const sessions = Array.from({ length: 3 }, () => sim.world.startSession());
      await p.storage.queue.enqueue(
        TEST_ACCOUNT,
        sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid })),
      );
      // The first item fetches at once; the second is claimed beside it and waits for the one fetch slot,
      // which frees after the budget (200 ms) ended; the third is never claimed.
      const summary = await p.poller.tick({ budgetMs: 200, safetyMarginMs: 0 });
      expect(summary.fetchAttempts).toBe(1);
      expect(summary.itemsClaimed).toBe(2);
      expect(summary.itemsDeferred).toBe(2);
      expect(summary.stoppedBy).toBe('budget');
      const items = await p.items();
      expect(items.filter((i) => i.leaseOwner !== undefined)).toHaveLength(0);
      // Handed back as it was: due now, never polled.
      expect(items.filter((i) => i.pollCount === 0 && i.nextPollAtMs! <= sim.clock.nowMs())).toHaveLength(2);
    });

    it('keeps unknown event types and counts them', async () => {
      const p = await buildPipeline(dynamo, sim);
      // A long, busy session is all but sure to produce one of the simulator's rare extra event types.
      const session = sim.world.startSession({ eventRatePerHour: 200 });
      sim.clock.advanceMs(5 * HOUR_MS);
      const truth = sim.world.eventsProducedBetween(session.sid, session.startTimeMs, sim.clock.nowMs());
      const unknown = truth.filter((e) => e.eventType === 'loyaltyStatus').length;
      await p.storage.queue.enqueue(TEST_ACCOUNT, [
        { visitorId: session.visitorId, sid: session.sid, startTimeMs: session.startTimeMs },
      ]);
      const summary = await p.poller.tick(BUDGET);
      expect(summary.unknownEventTypes).toBe(unknown);
      const rows = await p.sessionRows(session.sid);
      expect(rows.filter((r) => r.rowType === 'event').length).toBe(truth.length);
    });

    it('captures every session alive before and after a 5xx outage', async () => {
      const p = await buildPipeline(dynamo, sim);
      const sessions = Array.from({ length: 12 }, () =>
        sim.world.startSession({ eventRatePerHour: 20, durationMs: 2 * HOUR_MS }),
      );
      await p.storage.queue.enqueue(
        TEST_ACCOUNT,
        sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
      );
      // Ticks every 5 simulated minutes; LivePerson answers 5xx (and resets) from minute 10 to minute 70.
      for (let minute = 0; minute < 2.5 * 60; minute += 5) {
        if (minute === 10) sim.simulator.setFaults({ serverErrorRate: 0.9, resetRate: 0.1 });
        if (minute === 70) sim.simulator.setFaults({ ...NO_FAULTS });
        await p.poller.tick(BUDGET);
        sim.clock.advanceMs(5 * MINUTE_MS);
      }
      const items = await p.items();
      expect(items.map((i) => i.state)).toEqual(sessions.map(() => 'CAPTURED'));
      for (const session of sessions) {
        const item = items.find((i) => i.sid === session.sid)!;
        // Polled successfully both before the outage and after it.
        expect(item.successCount).toBeGreaterThanOrEqual(2);
        const stored = (await p.sessionRows(session.sid)).filter((r) => r.rowType === 'event');
        const truthBeforeLastPoll = sim.world.eventsProducedBetween(
          session.sid,
          session.startTimeMs,
          item.lastCapturedAtMs!,
        );
        expect(stored.length).toBe(truthBeforeLastPoll.length);
      }
    }, 90_000);

    it('ends a hand-edited, malformed queue item INVALID and goes on with the others', async () => {
      const p = await buildPipeline(dynamo, sim);
      const good = sim.world.startSession();
      await p.storage.queue.enqueue(TEST_ACCOUNT, [{ visitorId: good.visitorId, sid: good.sid }]);
      const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
      const { dueShardOf } = await import('../../lib/keys');
      const tableName = (p.storage.queue as unknown as { tableName: string }).tableName;
      // An item someone wrote by hand: a visitor id with a slash, no deadline, no counters.
      await p.storage.documentClient.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            pk: `${TEST_ACCOUNT}#bad/visitor#sid1`,
            accountId: TEST_ACCOUNT,
            visitorId: 'bad/visitor',
            sid: 'sid1',
            state: 'ACTIVE',
            nextPollAtMs: sim.clock.nowMs(),
            dueShard: dueShardOf(TEST_ACCOUNT, 'bad/visitor', 'sid1'),
          },
        }),
      );
      const summary = await p.poller.tick(BUDGET);
      expect(summary.fetches.ok).toBe(1);
      expect(summary.sessions.INVALID).toBe(1);
      expect(summary.itemErrors).toBe(0);
      const bad = (await p.items()).find((i) => i.visitorId === 'bad/visitor');
      expect(bad).toMatchObject({ state: 'INVALID', lastOutcome: 'malformed_item' });
      expect(bad?.reason).toMatch(/^malformed queue item: visitorId contains '\/'/);
    });
  });
});
