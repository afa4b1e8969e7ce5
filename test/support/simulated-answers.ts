import { HOUR_MS, ManualClock, MINUTE_MS } from '../../lib/clock';
import type { VisitState } from '../../lib/liveperson/types';
import { SimulatedWorld } from '../../lib/simulator/world';

export interface SimulatedAnswer {
  visitorId: string;
  sid: string;
  state: VisitState;
}

/** When the simulated sessions start (any fixed instant: answers depend only on the seed and the ages). */
const START_MS = Date.UTC(2026, 0, 5, 8);

/**
 * The answers of `count` six-hour simulator sessions of one seed, all started at once, session `i` read when it
 * is `ageMsOf(i)` old. Each session is started and read before the next is started: the seeded world draws in
 * that order, so the same arguments always give the same answers.
 */
export function simulatedAnswers(
  seed: number,
  count: number,
  ageMsOf: (index: number) => number,
  accountId = '12345678',
): SimulatedAnswer[] {
  const world = new SimulatedWorld({
    seed,
    accountId,
    clock: new ManualClock(START_MS),
    earlyEndProbability: 0,
  });
  return Array.from({ length: count }, (_, i) => {
    const session = world.startSession({ startTimeMs: START_MS, durationMs: 6 * HOUR_MS });
    const state = world.stateAt(session.visitorId, session.sid, START_MS + ageMsOf(i));
    return { visitorId: session.visitorId, sid: session.sid, state };
  });
}

/** Ages spread evenly from 10 minutes to the six-hour wall over `count` sessions: what a tick sees. */
export function agesUpToSixHours(count: number): (index: number) => number {
  return (i) => 10 * MINUTE_MS + ((6 * HOUR_MS - 11 * MINUTE_MS) * i) / Math.max(1, count - 1);
}
