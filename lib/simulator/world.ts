/**
 * The simulated side of LivePerson: visitors, their sessions, and what the Visit Information API would answer
 * about a session at any moment. Pure (no I/O, no wall clock, no Math.random): given the same seed and the same
 * calls, it produces the same ids, timelines and states, so a failing run can be replayed.
 *
 * Model: every session's whole life is generated when it starts (a sorted timeline of page views, engagements,
 * impressions and engagement-attribute events). The API's answer at time t is the fold of the timeline entries
 * with time <= t, so states only grow, and the ground truth (everything a session ever produced) is known up
 * front, which is what lets tests measure exactly what a poller missed.
 *
 * This class composes the parts: population.ts (account, visitors), registry.ts (sessions by id, expiry),
 * timeline.ts (a session's life), event-payloads.ts (each event type's payload) and answer.ts (the answer).
 */
import { SESSION_MAX_AGE_MS, MINUTE_MS, type Clock } from '../clock';
import { assertValidId } from '../ids';
import type { VisitState } from '../liveperson/types';
import { buildAnswer } from './answer';
import * as catalog from './catalog';
import {
  deepFreeze,
  type GroundTruthEvent,
  type SessionGroundTruth,
  type SessionInfo,
  type SessionRecord,
} from './model';
import { generateAccount, revisionMap, type SimulatedAccount } from './population';
import { Random } from './random';
import { SessionRegistry } from './registry';
import { eventsBetween, TimelineBuilder } from './timeline';

export { EXAMPLE_EVENT_TYPES, EXTRA_EVENT_TYPES } from './event-payloads';
export type { GroundTruthEvent, SessionGroundTruth, SessionInfo } from './model';

export interface SimulatedWorldOptions {
  seed: number;
  accountId: string;
  clock: Clock;
  /** How long LivePerson keeps a session at most (default SESSION_MAX_AGE_MS, six hours). */
  sessionMaxAgeMs?: number;
  /** Share of sessions that vanish before the six-hour wall ("maybe less", notes.md). Default 0.3. */
  earlyEndProbability?: number;
  /**
   * Engagement-attribute events per hour when startSession does not say, drawn per session from this range.
   * Default 3.5–10, i.e. about 20–60 events over a six-hour session.
   */
  eventRatePerHour?: { min: number; max: number };
  /** Share of sessions whose IP is reported under `lpv4` (the spec's table) instead of `ipv4` (its example). */
  lpv4Probability?: number;
}

export interface StartSessionOptions {
  /** Reuse an existing visitor (a second session of the same visitor) or create one with this id. */
  visitorId?: string;
  sid?: string;
  /** Defaults to the world clock's now. */
  startTimeMs?: number;
  /** Session length; capped at sessionMaxAgeMs. Default: the six-hour wall, or earlier with earlyEndProbability. */
  durationMs?: number;
  /** Engagement-attribute events per hour (a Poisson rate); 0 gives a session without events. */
  eventRatePerHour?: number;
}

export type LookupResult =
  | { kind: 'ok'; state: VisitState }
  | { kind: 'unknown_account' }
  | { kind: 'unknown_visitor' }
  | { kind: 'sid_not_visitors' }
  | { kind: 'expired' };

export class SimulatedWorld {
  readonly accountId: string;
  readonly clock: Clock;
  readonly sessionMaxAgeMs: number;
  readonly earlyEndProbability: number;
  private readonly eventRateRange: { min: number; max: number };
  private readonly lpv4Probability: number;
  private readonly rng: Random;
  private readonly account: SimulatedAccount;
  private readonly registry: SessionRegistry;

  constructor(options: SimulatedWorldOptions) {
    assertValidId('accountId', options.accountId);
    this.accountId = options.accountId;
    this.clock = options.clock;
    this.sessionMaxAgeMs = options.sessionMaxAgeMs ?? SESSION_MAX_AGE_MS;
    this.earlyEndProbability = options.earlyEndProbability ?? 0.3;
    this.eventRateRange = options.eventRatePerHour ?? { min: 3.5, max: 10 };
    this.lpv4Probability = options.lpv4Probability ?? 0.2;
    if (!(this.sessionMaxAgeMs > 0)) throw new RangeError('sessionMaxAgeMs must be > 0');
    if (!(this.earlyEndProbability >= 0 && this.earlyEndProbability <= 1)) {
      throw new RangeError('earlyEndProbability must be in [0, 1]');
    }
    if (!(this.eventRateRange.min >= 0 && this.eventRateRange.max >= this.eventRateRange.min)) {
      throw new RangeError('eventRatePerHour needs 0 <= min <= max');
    }
    this.rng = new Random(options.seed);
    // The account's site and campaigns come from their own stream, drawn first, so they do not depend on
    // how many sessions are created later.
    this.account = generateAccount(this.rng.fork());
    this.registry = new SessionRegistry(this.sessionMaxAgeMs);
  }

  /** Creates a session (and its visitor when new) and generates its whole timeline. */
  startSession(opts: StartSessionOptions = {}): SessionInfo {
    const startTimeMs = opts.startTimeMs ?? this.clock.nowMs();
    if (!Number.isFinite(startTimeMs)) throw new RangeError('startTimeMs must be finite');
    const visitor = this.registry.visitorFor(opts.visitorId, this.rng);
    const sid = this.registry.claimSid(opts.sid, this.rng);

    // Every session gets its own stream, forked once from the world's: a session's size never shifts
    // the ids and timelines of the sessions created after it.
    const rng = this.rng.fork();
    let durationMs: number;
    if (opts.durationMs !== undefined) {
      if (!(opts.durationMs > 0)) throw new RangeError('durationMs must be > 0');
      durationMs = Math.min(Math.floor(opts.durationMs), this.sessionMaxAgeMs);
    } else if (rng.chance(this.earlyEndProbability)) {
      // "After a maximum of 6 hours (maybe less)": an early end anywhere from a minute to the wall.
      const minMs = Math.min(MINUTE_MS, this.sessionMaxAgeMs / 2);
      durationMs = Math.floor(rng.float(minMs, this.sessionMaxAgeMs));
    } else {
      durationMs = this.sessionMaxAgeMs;
    }
    durationMs = Math.max(1, durationMs);
    const rate = opts.eventRatePerHour ?? rng.float(this.eventRateRange.min, this.eventRateRange.max);
    if (!(rate >= 0) || !Number.isFinite(rate)) throw new RangeError('eventRatePerHour must be >= 0');

    const info: SessionInfo = {
      visitorId: visitor.visitorId,
      sid,
      startTimeMs,
      endTimeMs: startTimeMs + durationMs,
    };
    const { site, campaigns } = this.account;
    const active = campaigns.filter(() => rng.chance(0.6));
    if (active.length === 0) active.push(rng.pick(campaigns));
    const referrer = rng.pick(catalog.REFERRERS);
    const record: SessionRecord = {
      info,
      visitor,
      ipKey: rng.chance(this.lpv4Probability) ? 'lpv4' : 'ipv4',
      pages: [],
      entries: [],
      fixed: deepFreeze({
        revActiveVPs: revisionMap(active, 'vpId', 'vpRevision'),
        revAllVPs: revisionMap(campaigns, 'vpId', 'vpRevision'),
        revActiveVBs: revisionMap(active, 'vbId', 'vbRevision'),
        revAllVBs: revisionMap(campaigns, 'vbId', 'vbRevision'),
        revAllOSLs: revisionMap(active, 'oslId', 'oslRevision'),
        searchEngine: { searchEngine: referrer.searchEngine, keywords: referrer.keywords },
        externalReferrer: referrer.externalReferrer,
        mobileDeviceInfo: { mobile: visitor.device.mobile, detected: true },
      }),
    };
    new TimelineBuilder(rng, record, site, active, rate).build();
    this.registry.add(record);
    return { ...info };
  }

  /**
   * What the API answers for (account, visitor, sid) at `atMs`. Order of checks: account (404/6), visitor
   * (404/37), sid belongs to that visitor (404/39), session alive (404/12). A session that has not started yet
   * does not exist: the visitor is unknown at that time.
   */
  lookup(accountId: string, visitorId: string, sid: string, atMs: number): LookupResult {
    if (accountId !== this.accountId) return { kind: 'unknown_account' };
    const resolved = this.registry.resolve(visitorId, sid, atMs);
    if (resolved.kind !== 'ok') return resolved;
    return { kind: 'ok', state: buildAnswer(resolved.record, atMs) };
  }

  /**
   * The state the API answers at `atMs`. Throws when the API would not answer 200 then (see lookup).
   * Nested objects are frozen and shared with the world's history: copy before changing anything.
   */
  stateAt(visitorId: string, sid: string, atMs: number): VisitState {
    const result = this.lookup(this.accountId, visitorId, sid, atMs);
    if (result.kind !== 'ok') throw new RangeError(`no state for this session at ${atMs}: ${result.kind}`);
    return result.state;
  }

  /** Every event the session ever produced, in the order the API lists them. */
  groundTruth(sid: string): SessionGroundTruth {
    const record = this.registry.recordOf(sid);
    return { ...record.info, events: eventsBetween(record.entries, -Infinity, Infinity) };
  }

  /** Events the session produced with fromMs <= serverTimeStamp <= toMs (both ends inclusive). */
  eventsProducedBetween(sid: string, fromMs: number, toMs: number): GroundTruthEvent[] {
    return eventsBetween(this.registry.recordOf(sid).entries, fromMs, toMs);
  }

  /** All sessions, in creation order. */
  sessions(): SessionInfo[] {
    return this.registry.all().map((r) => ({ ...r.info }));
  }

  session(sid: string): SessionInfo | undefined {
    const record = this.registry.get(sid);
    return record === undefined ? undefined : { ...record.info };
  }

  /**
   * Ends a session early at `atMs` (default now), as LivePerson may at any time. What the timeline held from
   * `atMs` on is dropped: it was never produced, so it leaves the ground truth too.
   */
  endSession(sid: string, atMs: number = this.clock.nowMs()): SessionInfo {
    return this.registry.end(sid, atMs);
  }
}
