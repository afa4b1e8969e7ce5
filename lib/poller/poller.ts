import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import pLimit, { type LimitFunction } from 'p-limit';
import { flattenVisitState } from '../capture/flatten';
import { buildOutcomeRow } from '../capture/outcome-row';
import { systemClock, type Clock } from '../clock';
import { RequestCancelledError } from '../errors';
import { InvalidIdError } from '../ids';
import type { VisitStateSource } from '../liveperson/client';
import type { FetchOutcome } from '../liveperson/outcome';
import { idRef, type Log } from '../log';
import { FETCH_OUTCOMES, type FetchOutcomeMetric } from '../metrics';
import type { AckUpdate, Queue, QueueItem } from '../queue/model';
import type { CaptureStore, StoredRow } from '../store/capture-store';
import { parseDigests, rowDigest, serializeDigestsCapped } from './digests';
import {
  decide,
  normalizeCounters,
  type ActiveAck,
  type Decision,
  type DecisionRules,
  type FinalState,
  type Observation,
  type StoreAnswer,
  type TerminalAck,
  type TickCounts,
} from './decide';
import type { PollPolicy } from './policy';
import { RateLimiter } from './rate-limiter';

export interface PollerDeps {
  queue: Queue;
  store: CaptureStore;
  source: VisitStateSource;
  /** Session time: deadlines, leases, schedules (compressed in `npm start`). */
  clock: Clock;
  /** Wall time: the tick's budget (a Lambda's remaining time is wall time). @default systemClock */
  wallClock?: Clock;
  log: Log;
  random?: () => number;
}

export interface PollerOptions {
  accountId: string;
  concurrency: number;
  policy: PollPolicy;
  leaseMs: number;
  /** Due items read per query. @default 100 */
  pageSize?: number;
  /** 0: no cap. */
  maxRequestsPerSec?: number;
  /** Stop claiming this long before the budget ends: one fetch (timeout) plus its writes. @default 15000 */
  safetyMarginMs?: number;
  /** How much of a malformed or unexpected body the queue item keeps. @default 2048 */
  badBodyBytes?: number;
}

export interface TickOptions {
  /** Wall-clock milliseconds this tick may run (a Lambda's remaining time, or `--max-seconds`). */
  budgetMs: number;
  /** Ignore nextPollAtMs and backoff: take every ACTIVE item not yet polled by this tick. */
  force?: boolean;
  /** Overrides the poller's safetyMarginMs for this tick (short CLI budgets). */
  safetyMarginMs?: number;
}

export type { FinalState } from './decide';

export interface TickSummary {
  tickId: string;
  startedAtMs: number;
  finishedAtMs: number;
  /** done: no due item left; budget: time ran out; configuration_fault: 401/10 or 404/6, the run failed. */
  stoppedBy: 'done' | 'budget' | 'configuration_fault';
  configurationFault?: string;
  fetches: Record<FetchOutcomeMetric, number>;
  fetchAttempts: number;
  expiredBeforeCapture: number;
  expiredAfterCapture: number;
  sessions: Record<FinalState, number>;
  rowsWritten: number;
  rowsTruncated: number;
  batchCalls: number;
  itemsClaimed: number;
  /** Claims lost to another poller (or to an item polled since this tick started). */
  claimConflicts: number;
  /** Due items not handled this tick: budget ran out, or handed back on a fault. */
  itemsDeferred: number;
  /** Items whose poll failed on our side (storage) and were handed back for a later tick. */
  itemErrors: number;
  /** Leases lost before the ack (a slow poll); the rows were written, the next owner redoes the rest. */
  leasesLost: number;
  unknownEventTypes: number;
  minTimeToDeadlineMs?: number;
}

function emptySummary(tickId: string, startedAtMs: number): TickSummary {
  return {
    tickId,
    startedAtMs,
    finishedAtMs: startedAtMs,
    stoppedBy: 'done',
    fetches: Object.fromEntries(FETCH_OUTCOMES.map((o) => [o, 0])) as Record<FetchOutcomeMetric, number>,
    fetchAttempts: 0,
    expiredBeforeCapture: 0,
    expiredAfterCapture: 0,
    sessions: { CAPTURED: 0, LOST: 0, INVALID: 0, FAILED: 0 },
    rowsWritten: 0,
    rowsTruncated: 0,
    batchCalls: 0,
    itemsClaimed: 0,
    claimConflicts: 0,
    itemsDeferred: 0,
    itemErrors: 0,
    leasesLost: 0,
    unknownEventTypes: 0,
  };
}

class TickStopped extends Error {}

/** A claimed item reached a fetch slot after the tick's budget for starting fetches ended. */
class BudgetSpent extends Error {}

/** Items in flight per fetch slot (see tick). */
export const ITEMS_PER_FETCH_SLOT = 2;

/**
 * One tick: pages through every due item, claims each with a conditional update (so concurrent pollers never
 * fetch the same item), fetches (at most `concurrency` at once, p-limit), flattens, writes the new rows, records
 * the outcome.
 */
export class Poller {
  private readonly wallClock: Clock;
  private readonly random: () => number;
  private readonly pageSize: number;
  private readonly safetyMarginMs: number;
  private readonly rules: DecisionRules;

  constructor(
    private readonly deps: PollerDeps,
    private readonly options: PollerOptions,
  ) {
    if (!(options.concurrency >= 1))
      throw new TypeError(`concurrency must be >= 1, got ${options.concurrency}`);
    this.wallClock = deps.wallClock ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.pageSize = options.pageSize ?? 100;
    this.safetyMarginMs = options.safetyMarginMs ?? 15_000;
    this.rules = { policy: options.policy, badBodyBytes: options.badBodyBytes ?? 2048 };
  }

  async tick(tickOptions: TickOptions): Promise<TickSummary> {
    const { queue, clock, log } = this.deps;
    const { accountId } = this.options;
    const tickId = randomUUID();
    const tickStartMs = clock.nowMs();
    const claimUntilWallMs =
      this.wallClock.nowMs() + tickOptions.budgetMs - (tickOptions.safetyMarginMs ?? this.safetyMarginMs);
    const force = tickOptions.force ?? false;
    const summary = emptySummary(tickId, tickStartMs);
    // `concurrency` bounds fetches (LivePerson's load). An item also spends time in DynamoDB calls (claim before
    // its fetch, rows and ack after): with one item per fetch slot, every slot sat idle through those. Twice as
    // many items as fetch slots keeps the slots busy while bounding what a tick holds in memory.
    const limit = pLimit(ITEMS_PER_FETCH_SLOT * this.options.concurrency);
    const fetchLimit = pLimit(this.options.concurrency);
    const rateLimiter = new RateLimiter(this.options.maxRequestsPerSec ?? 0, this.wallClock);
    const stop = new AbortController();
    // Every task in flight hooks on this signal while it waits for a rate slot or a fetch, and unhooks after:
    // up to `concurrency` listeners at once is normal, not the leak Node warns about past 10.
    setMaxListeners(2 * this.options.concurrency + 10, stop.signal);
    let credentialsRefresh: Promise<void> | undefined;
    const inFlight = new Set<Promise<void>>();

    const context: ItemContext = {
      tickId,
      tickStartMs,
      force,
      summary,
      stop,
      rateLimiter,
      fetchLimit,
      claimUntilWallMs,
      refreshCredentialsOnce: () => {
        credentialsRefresh ??= this.deps.source.refreshCredentials();
        return credentialsRefresh;
      },
      fault: (reason: string) => {
        if (stop.signal.aborted) return;
        summary.stoppedBy = 'configuration_fault';
        summary.configurationFault = reason;
        log.error('tick stopped on a configuration fault; every item left as it was', { tickId, reason });
        // Queued tasks see the aborted signal and return at once (clearQueue would leave their promises
        // pending forever).
        stop.abort(new TickStopped(reason));
      },
    };

    log.info('tick started', { tickId, force, budgetMs: tickOptions.budgetMs });
    try {
      for await (const page of queue.duePages(accountId, tickStartMs, { pageSize: this.pageSize, force })) {
        if (stop.signal.aborted) break;
        for (const item of page) {
          // Only items due for a fetch: one due at its deadline is only waiting to be closed, not late.
          const toDeadline = item.deadlineMs - tickStartMs;
          const dueForFetch = (item.nextPollAtMs ?? 0) < item.deadlineMs;
          if (
            dueForFetch &&
            (summary.minTimeToDeadlineMs === undefined || toDeadline < summary.minTimeToDeadlineMs)
          ) {
            summary.minTimeToDeadlineMs = toDeadline;
          }
          if (this.wallClock.nowMs() >= claimUntilWallMs) {
            countDeferred(summary, 'budget');
            continue;
          }
          const task = limit(() => this.handle(item, context)).finally(() => inFlight.delete(task));
          inFlight.add(task);
        }
        // Keep the limiter fed, but read the next page only when this one is mostly under way.
        while (limit.pendingCount > this.options.concurrency && !stop.signal.aborted) {
          await Promise.race(inFlight);
        }
      }
      await Promise.all(inFlight);
    } finally {
      summary.finishedAtMs = clock.nowMs();
      await queue.saveTickSummary(accountId, summary).catch((error: unknown) => {
        log.warn('could not save the tick summary', { tickId, error });
      });
    }
    log.info('tick finished', { ...summary });
    return summary;
  }

  private async handle(item: QueueItem, ctx: ItemContext): Promise<void> {
    const { summary } = ctx;
    if (ctx.stop.signal.aborted) return;
    if (this.wallClock.nowMs() >= ctx.claimUntilWallMs) {
      countDeferred(summary, 'budget');
      return;
    }
    const nowMs = this.deps.clock.nowMs();
    const claimed = await this.deps.queue.claim(item, {
      owner: ctx.tickId,
      nowMs,
      tickStartMs: ctx.tickStartMs,
      leaseUntilMs: nowMs + this.options.leaseMs,
      force: ctx.force,
    });
    if (!claimed) {
      summary.claimConflicts++;
      return;
    }
    summary.itemsClaimed++;
    try {
      await this.poll(claimed, ctx);
    } catch (error) {
      // Leave the item as it was: its lease goes, it is due again at its previous time.
      await this.deps.queue.release(claimed, ctx.tickId).catch(() => undefined);
      if (error instanceof BudgetSpent) {
        countDeferred(summary, 'budget');
        return;
      }
      if (error instanceof RequestCancelledError || ctx.stop.signal.aborted) {
        countDeferred(summary, 'tick_stopped');
        return;
      }
      summary.itemErrors++;
      this.deps.log.error('poll failed on our side; item handed back', {
        tickId: ctx.tickId,
        session: idRef(claimed.sid),
        error,
      });
    }
  }

  /** One claimed item: fetch → decide → store → ack (handle claimed it). */
  private async poll(claimed: QueueItem, ctx: ItemContext): Promise<void> {
    // The item as the fetch, the rows and the ack see it: a hand-edited one gets its missing counters as 0.
    const item = normalizeCounters(claimed);
    let decision: Decision = decide(
      claimed,
      { kind: 'claimed' },
      this.deps.clock.nowMs(),
      this.rules,
      this.random,
    );
    let afterCredentialRefresh = false;
    // At most two fetches: decide asks for one refetch after a 401/10, and stops the tick if it persists.
    // Inline rather than in a function of its own: a 404/6 or a persisting 401/10 must stop the tick before
    // the next queued fetch takes the freed fetch slot (an extra async layer would let that fetch start).
    while (decision.kind === 'fetch' || decision.kind === 'refetch_after_credential_refresh') {
      if (decision.kind === 'refetch_after_credential_refresh') {
        await ctx.refreshCredentialsOnce();
        afterCredentialRefresh = true;
      }
      let observation: Observation;
      try {
        observation = { kind: 'fetched', outcome: await this.fetch(item, ctx), afterCredentialRefresh };
      } catch (error) {
        if (!(error instanceof InvalidIdError)) throw error;
        observation = { kind: 'invalid_id', message: error.message };
      }
      decision = decide(claimed, observation, this.deps.clock.nowMs(), this.rules, this.random);
    }
    if ('warning' in decision && decision.warning !== undefined) {
      this.deps.log.warn(decision.warning.message, { tickId: ctx.tickId, ...decision.warning.fields });
    }
    countDecided(ctx.summary, decision.counts);
    let acked: boolean;
    switch (decision.kind) {
      case 'stop_tick':
        ctx.fault(decision.fault);
        throw new RequestCancelledError('tick stopped');
      case 'store_answer':
        acked = await this.ack(item, ctx, await this.storeAnswer(item, decision, ctx));
        break;
      case 'retry_later':
        acked = await this.ack(item, ctx, decision.ack);
        break;
      case 'end':
        // The outcome row first, so a crash in between only repeats it.
        if (decision.writesOutcomeRow) await this.storeOutcomeRow(item, decision.ack, ctx);
        acked = await this.ack(item, ctx, decision.ack);
        break;
    }
    if (acked) countAcked(ctx.summary, decision.counts);
  }

  private fetch(item: QueueItem, ctx: ItemContext): Promise<FetchOutcome> {
    return ctx.fetchLimit(async () => {
      // A claimed item may wait for a fetch slot: one that gets it after the budget's end hands its item
      // back, so the safety margin still only has to cover one fetch and its writes.
      if (this.wallClock.nowMs() >= ctx.claimUntilWallMs) throw new BudgetSpent();
      await ctx.rateLimiter.take(ctx.stop.signal);
      if (ctx.stop.signal.aborted) throw new RequestCancelledError('tick stopped');
      ctx.summary.fetchAttempts++;
      return this.deps.source.fetchState(item.visitorId, item.sid, { signal: ctx.stop.signal });
    });
  }

  /** Writes the answer's new or changed rows; returns the ack, completed from what was stored. */
  private async storeAnswer(item: QueueItem, decision: StoreAnswer, ctx: ItemContext): Promise<ActiveAck> {
    const flat = flattenVisitState({
      accountId: item.accountId,
      visitorId: item.visitorId,
      sid: item.sid,
      state: decision.answer,
    });
    const stored = parseDigests(item.rowDigests);
    const digests = new Set<string>();
    const changed: StoredRow[] = [];
    for (const row of flat.rows) {
      const digest = rowDigest(row);
      digests.add(digest);
      if (stored.has(digest)) continue;
      // The flattener's rows are fresh objects of this poll: stamped in place rather than copied.
      const storedRow: StoredRow = row;
      storedRow.capturedAtMs = decision.capturedAtMs;
      changed.push(storedRow);
    }
    const stats = await this.deps.store.putRows(changed);
    ctx.summary.rowsWritten += stats.rowsWritten;
    ctx.summary.rowsTruncated += stats.rowsTruncated;
    ctx.summary.batchCalls += stats.batchCalls;
    ctx.summary.unknownEventTypes += flat.unknownEventTypes.reduce(
      (n, t) => n + (flat.eventsByType[t] ?? 0),
      0,
    );
    // "Changed" for scheduling means new events: the visitor is active. A page row updated only because the
    // current page's timeOnPage grew is stored, but is not activity.
    const newEvents = flat.counts.event !== (item.eventsSeen ?? 0);
    // Rows stored earlier and not in this answer stay stored (nothing captured is ever removed).
    for (const digest of stored) digests.add(digest);
    return {
      ...decision.ack,
      nextPollAtMs: newEvents ? decision.nextPollAtMs.afterNewEvents : decision.nextPollAtMs.withoutNewEvents,
      rowDigests: serializeDigestsCapped(digests),
      rowsStored: digests.size,
      eventsSeen: flat.counts.event,
    };
  }

  /** An ended session's outcome row. */
  private async storeOutcomeRow(item: QueueItem, end: TerminalAck, ctx: ItemContext): Promise<void> {
    const stats = await this.deps.store.putRows([buildOutcomeRow(item, end)]);
    ctx.summary.rowsWritten += stats.rowsWritten;
    ctx.summary.batchCalls += stats.batchCalls;
  }

  private async ack(item: QueueItem, ctx: ItemContext, update: AckUpdate): Promise<boolean> {
    const acked = await this.deps.queue.ack(item, ctx.tickId, update);
    if (!acked) {
      ctx.summary.leasesLost++;
      this.deps.log.warn('lease lost before the ack; the next owner will poll again', {
        tickId: ctx.tickId,
        session: idRef(item.sid),
      });
    }
    return acked;
  }
}

interface ItemContext {
  tickId: string;
  tickStartMs: number;
  force: boolean;
  summary: TickSummary;
  stop: AbortController;
  rateLimiter: RateLimiter;
  /** At most `concurrency` fetches at once, whatever the number of items in flight. */
  fetchLimit: LimitFunction;
  /** Past this wall time, no item is claimed and no claimed item starts a fetch. */
  claimUntilWallMs: number;
  refreshCredentialsOnce(): Promise<void>;
  fault(reason: string): void;
}

/**
 * A due item this tick leaves for a later one (never claimed, or claimed and handed back). Running out of budget
 * also says why the tick stopped, unless a configuration fault already did.
 */
function countDeferred(summary: TickSummary, cause: 'budget' | 'tick_stopped'): void {
  summary.itemsDeferred++;
  if (cause === 'budget' && summary.stoppedBy === 'done') summary.stoppedBy = 'budget';
}

/** A decision's counters, as soon as it is made (a later failure to store or ack does not take them back). */
function countDecided(summary: TickSummary, counts: TickCounts): void {
  if (counts.fetch !== undefined) summary.fetches[counts.fetch]++;
  if (counts.expired !== undefined) summary[counts.expired]++;
}

/** A decision's counters that only count once its ack has landed. */
function countAcked(summary: TickSummary, counts: TickCounts): void {
  if (counts.sessionEnded !== undefined) summary.sessions[counts.sessionEnded]++;
}
