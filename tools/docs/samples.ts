/**
 * The sample answers the data dictionary is built from (the spec's example, test/fixtures/example-state.json,
 * and a seeded simulator sample), and their trip through the real write path: each goes through the Poller
 * (flattenVisitState, then the outcome row written by `finish()`) into the in-memory queue and store of
 * test/support, so the columns the poller adds (capturedAtMs, the outcome columns) are observed, not listed
 * by hand.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOUR_MS, ManualClock } from '../../lib/clock';
import type { VisitStateSource } from '../../lib/liveperson/client';
import type { FetchOutcome } from '../../lib/liveperson/outcome';
import type { VisitState } from '../../lib/liveperson/types';
import { JsonLineLog } from '../../lib/log';
import { Poller } from '../../lib/poller/poller';
import { defaultPollPolicy } from '../../lib/poller/policy';
import { SimulatedWorld } from '../../lib/simulator/world';
import type { StoredRow } from '../../lib/store/capture-store';
import { MemoryCaptureStore } from '../../test/support/memory-capture-store';
import { MemoryQueue } from '../../test/support/memory-queue';

export interface DictionarySample {
  visitorId: string;
  sid: string;
  startTimeMs: number;
  /** The answer of the one successful poll; undefined: the session expired before any poll (LOST). */
  state?: VisitState;
}

/** The account of every sampled row: it shows in the dictionary's examples of accountId and the index keys. */
export const SAMPLE_ACCOUNT = '12345678';

/**
 * Runs the samples through two Poller ticks: the first stores each state (or finds it expired: LOST), the
 * second finds it ended (404/12: CAPTURED). Returns every row the poller wrote, by sid.
 */
export async function rowsThroughPoller(
  samples: readonly DictionarySample[],
): Promise<Map<string, StoredRow[]>> {
  const first = Math.min(...samples.map((s) => s.startTimeMs));
  const clock = new ManualClock(first + HOUR_MS);
  const queue = new MemoryQueue();
  const store = new MemoryCaptureStore();
  const polled = new Set<string>();
  const bySid = new Map(samples.map((s) => [s.sid, s]));
  const source: VisitStateSource = {
    async fetchState(_visitorId, sid): Promise<FetchOutcome> {
      const sample = bySid.get(sid);
      if (sample?.state === undefined || polled.has(sid)) return { kind: 'expired_12', httpStatus: 404 };
      polled.add(sid);
      return { kind: 'ok', httpStatus: 200, state: sample.state, bodyBytes: 0 };
    },
    async refreshCredentials(): Promise<void> {},
  };
  const poller = new Poller(
    { queue, store, source, clock, log: new JsonLineLog(() => undefined, 'silent'), random: () => 0.5 },
    { accountId: SAMPLE_ACCOUNT, concurrency: 1, policy: defaultPollPolicy(600), leaseMs: 300_000 },
  );
  await queue.enqueue(
    SAMPLE_ACCOUNT,
    samples.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
  );
  for (let tick = 0; tick < 2; tick++) {
    await poller.tick({ budgetMs: 600_000, force: true, safetyMarginMs: 0 });
    clock.advanceMs(HOUR_MS);
  }
  const out = new Map<string, StoredRow[]>();
  for (const row of store.rows) {
    const sid = String(row.sid);
    out.set(sid, [...(out.get(sid) ?? []), row]);
  }
  return out;
}

/** The spec's example answer and a seeded simulator sample (every event type, ipv4 and lpv4), plus a lost session. */
export function defaultSamples(repoRoot: string): DictionarySample[] {
  const example = JSON.parse(
    readFileSync(join(repoRoot, 'test', 'fixtures', 'example-state.json'), 'utf8'),
  ) as VisitState;
  const exampleStart = example.appSessions[0]?.startTime;
  const samples: DictionarySample[] = [
    {
      visitorId: 'cyNGViYjc4MmU2MzEzZThm',
      sid: 'qCsUrTldTh0UEWLjLCGqkQ',
      startTimeMs: typeof exampleStart === 'number' ? exampleStart : 0,
      state: example,
    },
  ];
  const clock = new ManualClock(Date.UTC(2024, 0, 15, 8, 0, 0));
  const world = new SimulatedWorld({
    seed: 20240115,
    accountId: SAMPLE_ACCOUNT,
    clock,
    earlyEndProbability: 0,
    eventRatePerHour: { min: 20, max: 20 },
    lpv4Probability: 0.5,
  });
  for (let i = 0; i < 10; i++) {
    const info = world.startSession({ startTimeMs: clock.nowMs() + i * 60_000 });
    samples.push({ ...info, state: world.stateAt(info.visitorId, info.sid, info.endTimeMs - 1) });
  }
  samples.push({ visitorId: 'lostVisitor', sid: 'lostSession', startTimeMs: clock.nowMs() });
  return samples;
}
