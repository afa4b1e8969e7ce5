import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import pLimit, { type LimitFunction } from 'p-limit';
import { flattenVisitState, type FlattenPlans } from '../capture/flatten';
import { buildOutcomeRow } from '../capture/outcome-row';
import { captureExpiresAtSec } from '../capture-retention';
import { systemClock, type Clock } from '../clock';
import { BaseUriResolutionError, CredentialsError, HashKeyError, RequestCancelledError } from '../errors';
import { InvalidIdError } from '../ids';
import type { VisitStateSource } from '../liveperson/client';
import type { FetchOutcome } from '../liveperson/outcome';
import { CAPTURE_TTL_ATTRIBUTE, capturePk } from '../keys';
import { idRef, type Log } from '../log';
import { FETCH_OUTCOMES, type FetchOutcomeMetric } from '../metrics';
import type { AckUpdate, DueItem, Queue, QueueItem } from '../queue/model';
import { fetchReserveMs, ITEM_ACK_MARGIN_MS, REQUESTS_PER_POLL } from '../poll-timing';
import type { CaptureStore, StoredRow, WriteStats } from '../store/capture-store';
import { isRewritePoll, parseDeferred } from './rewrite-rule';
import { planRowWrites } from './row-writes';
import {
  badRequest33Fault,
  decide,
  normalizeCounters,
  storedCompletely,
  type ActiveAck,
  type Decision,
  type DecisionRules,
  type End,
  type FinalState,
  type Observation,
  type StoreAnswer,
  type TerminalAck,
  type TickCounts,
} from './decide';
import type { PollPolicy } from './policy';
import { FixedPrivacyPlans, type PrivacyPlans } from './privacy-plans';
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
  /**
   * The flatten plans to use: they carry the personal-data policy (and its key) every row is stored under.
   * Give these (fixed plans) or privacyPlans, not both.
   * @default the shared plans of lib/capture/flatten.ts (default policy, no key: hashed categories dropped)
   */
  flattenPlans?: FlattenPlans;
  /**
   * Where each tick gets its flatten plans when it starts, before claiming anything (the deployed poller: the
   * hash key read from its secret, privacy-plans.ts). A key that cannot be had stops the tick as a
   * configuration fault, every item left as it was. @default fixed plans: flattenPlans
   */
  privacyPlans?: PrivacyPlans;
}

export interface PollerOptions {
  accountId: string;
  concurrency: number;
  policy: PollPolicy;
  /**
   * How long a claim holds an item (session time, as every queue time). Each claimed item's own work is bounded
   * by it: its item deadline is the claim's wall time + leaseMs − ITEM_ACK_MARGIN_MS (see Poller.handle).
   */
  leaseMs: number;
  /** Due items read per query. @default 100 */
  pageSize?: number;
  /** 0: no cap. */
  maxRequestsPerSec?: number;
  /** Stop claiming this long before the budget ends: one fetch (timeout) plus its writes. @default 15000 */
  safetyMarginMs?: number;
  /** How many characters of a malformed or unexpected body's structure the queue item keeps. @default 2048 */
  badBodyBytes?: number;
  /** The poller's schedule period (EventBridge rate): retries are timed for the next tick. @default 60000 */
  schedulePeriodMs?: number;
  /** LivePerson's per-request timeout (the client's): retries allow for one. @default 10000 */
  requestTimeoutMs?: number;
  /**
   * Days after its session's start at which each capture row expires: every row of a session carries the same
   * TTL (lib/capture-retention.ts). @default undefined (`keep`: no TTL)
   */
  captureRetentionDays?: number;
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
  /**
   * done: no due item left (or the due index could not be read further: see itemErrors); budget: time ran
   * out; configuration_fault: 401/10, 404/6, 400/33 from 3+ sessions, an unknown account at the Domain API or
   * an unreadable secret: the run failed.
   */
  stoppedBy: 'done' | 'budget' | 'configuration_fault';
  configurationFault?: string;
  fetches: Record<FetchOutcomeMetric, number>;
  fetchAttempts: number;
  expiredBeforeCapture: number;
  expiredAfterCapture: number;
  sessions: Record<FinalState, number>;
  /** CAPTURED sessions whose last successful answer was not stored completely (`complete: false`). */
  sessionsPartial: number;
  rowsWritten: number;
  /** Rows changed in any way to fit DynamoDB's item limits (see rowsFitted). */
  rowsTruncated: number;
  /** Rows made to fit by the overflow rule: stored completely, their marker says what was cut. */
  rowsFitted: number;
  /** Rows DynamoDB refused even after fitting: their session's capture is partial. */
  rowsRejected: number;
  /**
   * Rows left unwritten (the write deadline passed: the tick's budget end or the item's own deadline; retries
   * ran out): their session's capture is partial.
   */
  rowsUnwritten: number;
  batchCalls: number;
  itemsClaimed: number;
  /** Claims lost to another poller (or to an item polled since this tick started). */
  claimConflicts: number;
  /** Due items not handled this tick: budget ran out, a lease ran short, or a fault (see itemsDeferredBy). */
  itemsDeferred: number;
  /** itemsDeferred by reason (see DeferralReason). */
  itemsDeferredBy: Record<DeferralReason, number>;
  /**
   * Polls that failed on our side (a claim, due-index query, write or ack error; the Domain API unavailable),
   * the item handed back with backoff for a later tick.
   */
  itemErrors: number;
  /** Polls that could not look up the base URI (Domain API unavailable); also in itemErrors. */
  domainApiFailures: number;
  /** Distinct sessions that answered 400/33 in this tick (3 or more stop it as a configuration fault). */
  badRequest33Sessions: number;
  /** Leases lost before the ack (a slow poll); the rows were written, the next owner redoes the rest. */
  leasesLost: number;
  unknownEventTypes: number;
  minTimeToDeadlineMs?: number;
}

/**
 * Why a due item was left for a later tick. `budget`: the tick's time for starting fetches ran out (before its
 * claim, or while it waited for a fetch slot). `lease`: claimed, but it reached its fetch slot too late for its
 * requests to end within its own lease (handed back untouched), or, held for a 400/33, the tick had not settled
 * it when its lease was about to end. `tick_stopped`: a configuration fault stopped the tick.
 */
export type DeferralReason = 'budget' | 'lease' | 'tick_stopped';

/** The summary of a tick that has done nothing yet: every counter at 0. */
export function emptySummary(tickId: string, startedAtMs: number): TickSummary {
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
    sessionsPartial: 0,
    rowsWritten: 0,
    rowsTruncated: 0,
    rowsFitted: 0,
    rowsRejected: 0,
    rowsUnwritten: 0,
    batchCalls: 0,
    itemsClaimed: 0,
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

class TickStopped extends Error {}

/**
 * A tick failed in a way it could not contain (a defect, not a fault of storage or LivePerson: those are
 * counted and the tick goes on). Carries the summary so far, so the caller still publishes its metrics.
 */
export class TickFailedError extends Error {
  constructor(
    readonly summary: TickSummary,
    options: { cause: unknown },
  ) {
    super('tick failed', options);
    this.name = 'TickFailedError';
  }
}

/**
 * Runs one tick and publishes its summary whatever happens (`finally`): a tick that throws still publishes
 * what it counted, and the error is rethrown for the caller (the Lambda's invocation fails).
 */
export async function tickAndPublish(
  poller: Pick<Poller, 'tick'>,
  tickOptions: TickOptions,
  publish: (summary: TickSummary) => void,
): Promise<TickSummary> {
  let summary: TickSummary | undefined;
  try {
    summary = await poller.tick(tickOptions);
    return summary;
  } catch (error) {
    if (error instanceof TickFailedError) summary = error.summary;
    throw error;
  } finally {
    if (summary !== undefined) publish(summary);
  }
}

/** A claimed item reached a fetch slot after the tick's budget for starting fetches ended. */
class BudgetSpent extends Error {}

/** A claimed item reached a fetch slot too late for its requests to end before its item deadline. */
class LeaseTooShortForFetch extends Error {}

/** Items in flight per fetch slot (see tick). */
export const ITEMS_PER_FETCH_SLOT = 2;

/**
 * One tick: pages through every due item, claims each with a conditional update (so concurrent pollers never
 * fetch the same item), fetches (at most `concurrency` at once, p-limit), flattens, writes the new rows, records
 * the outcome. Each claimed item's work is bounded by its own lease (its item deadline, see handle), never by the
 * tick's length: ticks may run longer than a lease, and overlap.
 */
export class Poller {
  private readonly wallClock: Clock;
  private readonly random: () => number;
  private readonly pageSize: number;
  private readonly safetyMarginMs: number;
  private readonly rules: DecisionRules;
  private readonly privacyPlans: PrivacyPlans | undefined;

  constructor(
    private readonly deps: PollerDeps,
    private readonly options: PollerOptions,
  ) {
    if (!(options.concurrency >= 1))
      throw new TypeError(`concurrency must be >= 1, got ${options.concurrency}`);
    if (deps.flattenPlans !== undefined && deps.privacyPlans !== undefined) {
      throw new TypeError('give the poller flattenPlans or privacyPlans, not both');
    }
    this.privacyPlans =
      deps.privacyPlans ??
      (deps.flattenPlans !== undefined ? new FixedPrivacyPlans(deps.flattenPlans) : undefined);
    this.wallClock = deps.wallClock ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.pageSize = options.pageSize ?? 100;
    this.safetyMarginMs = options.safetyMarginMs ?? 15_000;
    this.rules = {
      policy: options.policy,
      badBodyBytes: options.badBodyBytes ?? 2048,
      schedulePeriodMs: options.schedulePeriodMs ?? 60_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    };
  }

  async tick(tickOptions: TickOptions): Promise<TickSummary> {
    const { queue, clock, log } = this.deps;
    const { accountId } = this.options;
    const tickId = randomUUID();
    const tickStartMs = clock.nowMs();
    // Row writes share the tick's budget: a BatchWrite retry loop must not outlive the invocation.
    const budgetEndWallMs = this.wallClock.nowMs() + tickOptions.budgetMs;
    const claimUntilWallMs = budgetEndWallMs - (tickOptions.safetyMarginMs ?? this.safetyMarginMs);
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
      budgetEndWallMs,
      badRequest33Sessions: new Set(),
      held: [],
      heldReleases: [],
      flattenPlans: undefined,
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
      // The policy and its key first: an item is claimed only when its rows can be stored under them.
      await this.resolvePlans(context);
      // After a fault there (the key), the due index is not even read: nothing claimed, nothing touched.
      const pages: AsyncIterable<DueItem[]> | DueItem[][] = stop.signal.aborted
        ? []
        : queue.duePages(accountId, tickStartMs, { pageSize: this.pageSize, force });
      try {
        for await (const page of pages) {
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
      } catch (error) {
        // The due index could not be read further (after the SDK's retries): the tick finishes what it claimed;
        // the items not reached stay due for the next tick.
        summary.itemErrors++;
        log.error('due-index query failed; the tick ends its claiming with what it has', { tickId, error });
      }
      // handle() contains every failure of its item: these never reject.
      await Promise.all(inFlight);
      await this.settleHeld(context);
    } catch (error) {
      throw new TickFailedError(summary, { cause: error });
    } finally {
      // A tick that failed before settling its held items: their lease timers must not outlive it (the items
      // are due again when their leases end).
      for (const entry of context.held) clearTimeout(entry.timer);
      summary.finishedAtMs = clock.nowMs();
      await queue.saveTickSummary(accountId, summary).catch((error: unknown) => {
        log.warn('could not save the tick summary', { tickId, error });
      });
    }
    log.info('tick finished', { ...summary });
    return summary;
  }

  /**
   * The flatten plans of this tick (PollerDeps.privacyPlans). A hash key that cannot be had (HashKeyError: its
   * secret unreadable or invalid) stops the tick before any claim: a configuration fault, as for the
   * credentials. Anything else is a defect, and fails the tick.
   */
  private async resolvePlans(ctx: ItemContext): Promise<void> {
    if (this.privacyPlans === undefined) return;
    try {
      ctx.flattenPlans = await this.privacyPlans.current();
    } catch (error) {
      if (!(error instanceof HashKeyError)) throw error;
      ctx.fault(`hash key unusable: ${error.message}`);
    }
  }

  /**
   * The tick's 400/33 items, once its other work is done: left as they were when the tick stopped (3+ distinct
   * sessions answered 400/33, or another configuration fault), ended INVALID otherwise. An item whose lease was
   * about to end before this was released at its item deadline (holdUntilSettled).
   */
  private async settleHeld(ctx: ItemContext): Promise<void> {
    const { summary, held } = ctx;
    await Promise.all(
      held.map(async (entry) => {
        clearTimeout(entry.timer);
        if (entry.state !== 'held') return;
        entry.state = 'settled';
        const { item, end, deadlineMs } = entry;
        if (ctx.stop.signal.aborted) {
          await this.releaseQuietly(item, ctx);
          countDeferred(summary, 'tick_stopped');
          return;
        }
        if (this.wallClock.nowMs() >= deadlineMs) {
          // Its timer has not run yet (the event loop was busy): the same hand-back.
          await this.releaseQuietly(item, ctx);
          countDeferred(summary, 'lease');
          return;
        }
        try {
          await this.endSession(item, end, ctx, deadlineMs);
        } catch (error) {
          await this.handBackAfterOurError(item, ctx, error);
        }
      }),
    );
    await Promise.all(ctx.heldReleases);
  }

  /**
   * Holds a 400/33 item until the tick settles it (settleHeld), but not past its item deadline: then it is
   * released untouched (due again at its previous time) and counted deferred (`lease`), so that no ack of this
   * tick lands after its lease, however long the tick runs.
   */
  private holdUntilSettled(item: QueueItem, end: End, deadlineMs: number, ctx: ItemContext): void {
    const entry: HeldItem = { item, end, deadlineMs, state: 'held', timer: undefined };
    entry.timer = setTimeout(
      () => {
        if (entry.state !== 'held') return;
        entry.state = 'released';
        ctx.heldReleases.push(
          this.releaseQuietly(item, ctx).then(() => {
            countDeferred(ctx.summary, 'lease');
            this.deps.log.info('held 400/33 item released at its item deadline, before the tick settled it', {
              tickId: ctx.tickId,
              session: idRef(item.sid),
            });
          }),
        );
      },
      Math.max(0, deadlineMs - this.wallClock.nowMs()),
    );
    // Never keeps a process alive: settleHeld, or the tick's end, clears it.
    entry.timer.unref();
    ctx.held.push(entry);
  }

  private async handle(item: DueItem, ctx: ItemContext): Promise<void> {
    const { summary } = ctx;
    if (ctx.stop.signal.aborted) return;
    if (this.wallClock.nowMs() >= ctx.claimUntilWallMs) {
      countDeferred(summary, 'budget');
      return;
    }
    const nowMs = this.deps.clock.nowMs();
    // The item's own deadline, read with nowMs (the lease ends at nowMs + leaseMs): its fetches, its row writes
    // and the start of its ack all fall before it, ITEM_ACK_MARGIN_MS before the lease ends (the conditions:
    // lib/poll-timing.ts).
    // Wall clock, as the tick's budget: session time runs at wall speed wherever leases matter (the Lambda, the
    // CLI); under `npm start`'s compressed clock a lease lasts leaseMs / speed of wall time, which lib/local/run.ts
    // sizes for on its own.
    const itemDeadlineMs = this.wallClock.nowMs() + this.options.leaseMs - ITEM_ACK_MARGIN_MS;
    let claimed: QueueItem | undefined;
    try {
      claimed = await this.deps.queue.claim(item, {
        owner: ctx.tickId,
        nowMs,
        tickStartMs: ctx.tickStartMs,
        leaseUntilMs: nowMs + this.options.leaseMs,
        force: ctx.force,
      });
    } catch (error) {
      // Not known to be ours: if the claim did land, the item is due again when its lease ends.
      summary.itemErrors++;
      this.deps.log.error('claim failed on our side; the item is left to its lease', {
        tickId: ctx.tickId,
        session: idRef(item.sid),
        error,
      });
      return;
    }
    if (!claimed) {
      summary.claimConflicts++;
      return;
    }
    summary.itemsClaimed++;
    try {
      await this.poll(claimed, ctx, itemDeadlineMs);
    } catch (error) {
      if (error instanceof BudgetSpent || error instanceof LeaseTooShortForFetch) {
        // Leave the item as it was: its lease goes, it is due again at its previous time.
        await this.releaseQuietly(claimed, ctx);
        if (error instanceof LeaseTooShortForFetch) {
          countDeferred(summary, 'lease');
          this.deps.log.info('claimed item handed back: its lease would end before its fetch could', {
            tickId: ctx.tickId,
            session: idRef(claimed.sid),
          });
        } else {
          countDeferred(summary, 'budget');
        }
        return;
      }
      if (error instanceof RequestCancelledError || ctx.stop.signal.aborted) {
        await this.releaseQuietly(claimed, ctx);
        countDeferred(summary, 'tick_stopped');
        return;
      }
      await this.handBackAfterOurError(claimed, ctx, error);
    }
  }

  /**
   * A storage call of this poll failed (after the SDK's retries): counted in itemErrors, and the item handed
   * back with a jittered backoff (its answers so far stand). Should the hand-back fail too, the lease runs out
   * and the item is due again then.
   */
  private async handBackAfterOurError(claimed: QueueItem, ctx: ItemContext, error: unknown): Promise<void> {
    const decision = decide(
      claimed,
      { kind: 'storage_failed' },
      this.deps.clock.nowMs(),
      this.rules,
      this.random,
    );
    countDecided(ctx.summary, decision.counts);
    this.deps.log.error('poll failed on our side; item handed back with backoff', {
      tickId: ctx.tickId,
      session: idRef(claimed.sid),
      error,
    });
    try {
      if (decision.kind === 'retry_later') {
        // False when the lease is gone (an ack that landed before failing, or a slow poll): nothing to hand back.
        await this.deps.queue.ack(normalizeCounters(claimed), ctx.tickId, decision.ack);
        return;
      }
    } catch {
      // Fall through: at least take the lease off.
    }
    await this.releaseQuietly(claimed, ctx);
  }

  private async releaseQuietly(item: QueueItem, ctx: ItemContext): Promise<void> {
    await this.deps.queue.release(item, ctx.tickId).catch(() => undefined);
  }

  /** One claimed item: fetch → decide → store → ack (handle claimed it), all before `itemDeadlineMs`. */
  private async poll(claimed: QueueItem, ctx: ItemContext, itemDeadlineMs: number): Promise<void> {
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
      let observation: Observation;
      try {
        if (decision.kind === 'refetch_after_credential_refresh') {
          countDecided(ctx.summary, decision.counts);
          await ctx.refreshCredentialsOnce();
          afterCredentialRefresh = true;
        }
        // The first fetch keeps time for every request of the poll; the refetch for a lookup and itself.
        const requestsLeft = afterCredentialRefresh ? REQUESTS_PER_POLL - 1 : REQUESTS_PER_POLL;
        const outcome = await this.fetch(item, ctx, itemDeadlineMs, requestsLeft);
        observation = { kind: 'fetched', outcome, afterCredentialRefresh };
      } catch (error) {
        observation = lookupObservation(error);
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
      case 'hold_until_tick_ends': {
        ctx.badRequest33Sessions.add(`${item.visitorId}\u0000${item.sid}`);
        ctx.summary.badRequest33Sessions = ctx.badRequest33Sessions.size;
        const fault = badRequest33Fault(ctx.badRequest33Sessions.size);
        if (fault !== undefined) {
          ctx.fault(fault);
          throw new RequestCancelledError('tick stopped');
        }
        // Still claimed: settleHeld ends it, or leaves it as it was; released at its item deadline if sooner.
        this.holdUntilSettled(item, decision.end, itemDeadlineMs, ctx);
        return;
      }
      case 'store_answer':
        acked = await this.ack(item, ctx, await this.storeAnswer(item, decision, ctx, itemDeadlineMs));
        break;
      case 'retry_later':
        acked = await this.ack(item, ctx, decision.ack);
        break;
      case 'end':
        await this.endSession(item, decision, ctx, itemDeadlineMs);
        return;
    }
    if (acked) countAcked(ctx.summary, decision.counts);
  }

  /**
   * Ends a session: the deferred lagging columns into their rows and its outcome row first (so a crash in
   * between only repeats them), then the final ack.
   */
  private async endSession(
    item: QueueItem,
    end: End,
    ctx: ItemContext,
    itemDeadlineMs: number,
  ): Promise<void> {
    if (end.writesOutcomeRow) {
      await this.storeDeferredColumns(item, ctx, itemDeadlineMs);
      await this.storeOutcomeRow(item, end.ack, ctx, itemDeadlineMs);
    }
    if (await this.ack(item, ctx, end.ack)) countAcked(ctx.summary, end.counts);
  }

  /**
   * One fetch, in a fetch slot. `requestsLeft`: the requests the poll may still make from here, each up to one
   * request timeout; the fetch starts only if they and the row-write reserve fit before the item deadline.
   */
  private fetch(
    item: QueueItem,
    ctx: ItemContext,
    itemDeadlineMs: number,
    requestsLeft: number,
  ): Promise<FetchOutcome> {
    const latestStartMs = itemDeadlineMs - fetchReserveMs(requestsLeft, this.rules.requestTimeoutMs);
    return ctx.fetchLimit(async () => {
      // A claimed item may wait for a fetch slot: one that gets it after the budget's end hands its item
      // back, so the safety margin still only has to cover one fetch and its writes.
      if (this.wallClock.nowMs() >= ctx.claimUntilWallMs) throw new BudgetSpent();
      // Likewise one that gets it too late for its own lease (checked before the rate wait, so as not to spend
      // a token on it, and after, the last moment before the request).
      if (this.wallClock.nowMs() > latestStartMs) throw new LeaseTooShortForFetch();
      await ctx.rateLimiter.take(ctx.stop.signal);
      if (ctx.stop.signal.aborted) throw new RequestCancelledError('tick stopped');
      if (this.wallClock.nowMs() > latestStartMs) throw new LeaseTooShortForFetch();
      ctx.summary.fetchAttempts++;
      return this.deps.source.fetchState(item.visitorId, item.sid, { signal: ctx.stop.signal });
    });
  }

  /**
   * Writes the answer's new or changed rows; returns the ack, completed from what was stored. When not every
   * row was stored (rejected, unwritten, or the flatten failed), the item goes on as usual with
   * `complete: false`, and none of this answer's new rows counts as stored: the next poll writes them again.
   */
  private async storeAnswer(
    item: QueueItem,
    decision: StoreAnswer,
    ctx: ItemContext,
    itemDeadlineMs: number,
  ): Promise<ActiveAck> {
    let flat: ReturnType<typeof flattenVisitState>;
    try {
      flat = flattenVisitState(
        {
          accountId: item.accountId,
          visitorId: item.visitorId,
          sid: item.sid,
          state: decision.answer,
        },
        ctx.flattenPlans,
      );
    } catch (error) {
      // The answer is kept by nobody: the capture is partial until a later answer flattens.
      this.deps.log.warn('answer could not be flattened; the capture is partial', {
        tickId: ctx.tickId,
        session: idRef(item.sid),
        error: error instanceof Error ? error.name : typeof error,
      });
      return {
        ...decision.ack,
        nextPollAtMs: decision.nextPollAtMs.withoutNewEvents,
        complete: storedCompletely(undefined),
      };
    }
    // Read only now that there is an answer to store (the side item: lib/store/dynamo-queue.ts).
    const storedDigests = await this.deps.queue.loadRowDigests(item);
    // The rewrite rule (rewrite-rule.ts): events once, mutable rows when more than their lagging columns
    // changed, those on a rewrite poll; the last poll before the deadline is one (no answer comes after it).
    const lastPollBeforeDeadline =
      decision.nextPollAtMs.afterNewEvents >= item.deadlineMs &&
      decision.nextPollAtMs.withoutNewEvents >= item.deadlineMs;
    const plan = planRowWrites({
      rows: flat.rows,
      storedDigests,
      storedDeferred: item.deferredColumns,
      capturedAtMs: decision.capturedAtMs,
      expiresAtSec: this.expiresAtSec(item),
      rewritePoll: isRewritePoll(decision.ack.successCount, lastPollBeforeDeadline),
    });
    const changed = plan.rows;
    const stats = await this.deps.store.putRows(changed, {
      deadlineMs: writeDeadlineMs(ctx, itemDeadlineMs),
    });
    addWriteStats(ctx.summary, stats);
    ctx.summary.unknownEventTypes += flat.unknownEventTypes.reduce(
      (n, t) => n + (flat.eventsByType[t] ?? 0),
      0,
    );
    const complete = storedCompletely(stats);
    if (!complete) {
      this.deps.log.warn('answer stored partially; the next poll writes its rows again', {
        tickId: ctx.tickId,
        session: idRef(item.sid),
        rows: changed.length,
        rowsRejected: stats.rowsRejected,
        rowsUnwritten: stats.rowsUnwritten,
      });
    }
    // "Changed" for scheduling means new events: the visitor is active. A page row updated only because the
    // current page's timeOnPage grew is stored, but is not activity.
    const newEvents = flat.counts.event !== (item.eventsSeen ?? 0);
    // Rows stored earlier and not in this answer stay stored (nothing captured is ever removed): their digests
    // stay too (row-writes.ts).
    const kept = plan.after(complete);
    const serializedDigests = kept.rowDigests;
    return {
      ...decision.ack,
      nextPollAtMs: newEvents ? decision.nextPollAtMs.afterNewEvents : decision.nextPollAtMs.withoutNewEvents,
      complete,
      // Written (to the side item) only when they changed: most polls of a quiet session change no row.
      ...(serializedDigests !== (storedDigests ?? '') ? { rowDigests: serializedDigests } : {}),
      ...(kept.deferredColumns !== undefined ? { deferredColumns: kept.deferredColumns } : {}),
      rowsStored: kept.rowsStored,
      eventsSeen: flat.counts.event,
    };
  }

  /**
   * The lagging values the rewrite rule deferred (rewrite-rule.ts), written into their rows when the session
   * ends: every row then holds the last successful answer's values. A row no longer there (erased, expired) is
   * not made again. Throws when not all were written: the end is then not acked, and done again later.
   */
  private async storeDeferredColumns(
    item: QueueItem,
    ctx: ItemContext,
    itemDeadlineMs: number,
  ): Promise<void> {
    const deferred = parseDeferred(item.deferredColumns);
    if (deferred === undefined) return;
    const pk = capturePk(item.accountId, item.sid);
    const stats = await this.deps.store.updateRows(
      [...deferred.rows].map(([sk, values]) => ({
        pk,
        sk,
        set: { ...values, capturedAtMs: deferred.capturedAtMs },
      })),
      { deadlineMs: writeDeadlineMs(ctx, itemDeadlineMs) },
    );
    ctx.summary.rowsWritten += stats.rowsUpdated;
    if (stats.rowsUnwritten > 0) throw new Error('deferred columns not stored');
  }

  /**
   * An ended session's outcome row. Throws when it was not stored (the store's deadline passed): the end is
   * then not acked, and the item is handed back to be ended again.
   */
  private async storeOutcomeRow(
    item: QueueItem,
    end: TerminalAck,
    ctx: ItemContext,
    itemDeadlineMs: number,
  ): Promise<void> {
    const row: StoredRow = buildOutcomeRow(item, end);
    const expiresAtSec = this.expiresAtSec(item);
    if (expiresAtSec !== undefined) row[CAPTURE_TTL_ATTRIBUTE] = expiresAtSec;
    const stats = await this.deps.store.putRows([row], {
      deadlineMs: writeDeadlineMs(ctx, itemDeadlineMs),
    });
    addWriteStats(ctx.summary, stats);
    if (!storedCompletely(stats)) throw new Error('outcome row not stored');
  }

  /** The TTL of every capture row of the item's session, from its queue start time (lib/capture-retention.ts). */
  private expiresAtSec(item: QueueItem): number | undefined {
    return captureExpiresAtSec(item.startTimeMs, this.options.captureRetentionDays);
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
  /** The tick's budget end, wall clock: row writes stop retrying then. */
  budgetEndWallMs: number;
  /** Sessions (visitor and sid) that answered 400/33 in this tick. */
  badRequest33Sessions: Set<string>;
  /** Items that answered 400/33, claimed and not acked until the tick's other work is done. */
  held: HeldItem[];
  /** Releases of held items whose item deadline came before the tick settled them (settleHeld awaits them). */
  heldReleases: Array<Promise<void>>;
  /** The plans this tick flattens under (resolvePlans); undefined: lib/capture/flatten.ts's shared plans. */
  flattenPlans: FlattenPlans | undefined;
  refreshCredentialsOnce(): Promise<void>;
  fault(reason: string): void;
}

/** A 400/33 item held until the tick settles it, or released at its item deadline, whichever comes first. */
interface HeldItem {
  item: QueueItem;
  end: End;
  /** The item deadline, wall clock (Poller.handle). */
  deadlineMs: number;
  state: 'held' | 'settled' | 'released';
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * An item's row writes stop at the tick's budget end or at its own item deadline, whichever comes first: no
 * BatchWrite retry loop outlives the invocation or the item's lease.
 */
function writeDeadlineMs(ctx: ItemContext, itemDeadlineMs: number): number {
  return Math.min(ctx.budgetEndWallMs, itemDeadlineMs);
}

/**
 * What a failure to fetch says: ids refused by the client, or a base URI or credentials that could not be had
 * (nothing sent). Anything else is rethrown: a storage or programming error, handled by handle().
 */
function lookupObservation(error: unknown): Observation {
  if (error instanceof InvalidIdError) return { kind: 'invalid_id', message: error.message };
  if (error instanceof CredentialsError) {
    return {
      kind: 'lookup_failed',
      fault: 'configuration',
      problem: `LivePerson credentials unusable: ${error.message}`,
    };
  }
  if (error instanceof BaseUriResolutionError) {
    return { kind: 'lookup_failed', fault: error.fault, problem: `LivePerson base URI: ${error.message}` };
  }
  throw error;
}

/**
 * A due item this tick leaves for a later one (never claimed, or claimed and handed back). Running out of budget
 * also says why the tick stopped, unless a configuration fault already did.
 */
function countDeferred(summary: TickSummary, cause: DeferralReason): void {
  summary.itemsDeferred++;
  summary.itemsDeferredBy[cause]++;
  if (cause === 'budget' && summary.stoppedBy === 'done') summary.stoppedBy = 'budget';
}

function addWriteStats(summary: TickSummary, stats: WriteStats): void {
  summary.rowsWritten += stats.rowsWritten;
  summary.rowsTruncated += stats.rowsTruncated;
  summary.rowsFitted += stats.rowsFitted;
  summary.rowsRejected += stats.rowsRejected;
  summary.rowsUnwritten += stats.rowsUnwritten;
  summary.batchCalls += stats.batchCalls;
}

/** A decision's counters, as soon as it is made (a later failure to store or ack does not take them back). */
function countDecided(summary: TickSummary, counts: TickCounts): void {
  if (counts.fetch !== undefined) summary.fetches[counts.fetch]++;
  if (counts.itemError) summary.itemErrors++;
  if (counts.domainApiFailure) summary.domainApiFailures++;
}

/**
 * A decision's counters that only count once its ack has landed: a lost lease lets the next owner count them,
 * so no session is counted twice (and the lost share stays within 1).
 */
function countAcked(summary: TickSummary, counts: TickCounts): void {
  if (counts.sessionEnded !== undefined) summary.sessions[counts.sessionEnded]++;
  if (counts.expired !== undefined) summary[counts.expired]++;
  if (counts.partial) summary.sessionsPartial++;
}
