/**
 * Figure 6: what POLL_INTERVAL_SECONDS costs and buys. Full local runs (runLocal: dynalite, the simulator with
 * its default sprinkle of faults, the real poller, one compressed clock) at several intervals, each measured
 * against the simulator's ground truth of the same run:
 *   - API calls per captured session (every request the simulator received, retries included);
 *   - completeness of produced events (stored / produced: events after a session's last poll are the price of
 *     the interval) and of observable events (stored / what the simulator had served: must be 100%).
 */
import { MINUTE_MS } from '../../lib/clock';
import type { LocalRunReport } from '../../lib/local/run';
import type { IntervalRunArgs } from './interval-run';
import { runTsChild } from './processes';
import { fixed, type Figure, type Line } from './report';

export interface IntervalOptions {
  visitors: number;
  speed: number;
  arrivalWindowMin: number;
  intervalsSec: readonly number[];
  defaultIntervalSec: number;
  /** Runs side by side (each runLocal is one single-threaded process). */
  parallel: number;
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(2)}%`;
}

/**
 * Share of the simulated minutes that got their tick. Below ~95% the compressed clock ran ahead of the poller
 * (ticks back to back, polls late): calls per session are then understated and completeness overstated
 * as a measure of the interval alone.
 */
function scheduleKept(r: LocalRunReport): number {
  return Math.min(1, r.ticks / Math.max(1, Math.floor(r.simulatedMs / MINUTE_MS)));
}

export async function benchIntervals(options: IntervalOptions): Promise<Line[]> {
  const reports: Array<[number, LocalRunReport]> = [];
  const queue = [...options.intervalsSec];
  const runOne = async (intervalSec: number): Promise<void> => {
    const args: IntervalRunArgs = {
      visitors: options.visitors,
      speed: options.speed,
      // The same seed at every interval: the same visitors doing the same things.
      seed: 6,
      arrivalWindowMs: options.arrivalWindowMin * MINUTE_MS,
      pollIntervalSec: intervalSec,
    };
    const report = await runTsChild<LocalRunReport>(
      'test/bench/interval-run.ts',
      [JSON.stringify(args)],
      `runLocal at ${intervalSec} s`,
    );
    if (report.pipelineErrors.length > 0)
      throw new Error(`runLocal at ${intervalSec} s: ${report.pipelineErrors.join('; ')}`);
    reports.push([intervalSec, report]);
  };
  await Promise.all(
    Array.from({ length: Math.max(1, options.parallel) }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) await runOne(next);
    }),
  );
  reports.sort((a, b) => a[0] - b[0]);
  const setup =
    `${options.visitors} visitors, speed ${options.speed}, arrivals over ${options.arrivalWindowMin} min, ` +
    `default faults, seed 6, ${Math.min(options.parallel, options.intervalsSec.length)} runs side by side`;
  const figures = reports.map(([intervalSec, r]): Figure => {
    const c = r.completeness;
    const captured = Math.max(1, r.sessions.CAPTURED);
    const isDefault = intervalSec === options.defaultIntervalSec;
    return {
      id: `6${isDefault ? '' : '~'}`,
      title: `poll interval ${intervalSec} s${isDefault ? ' (default)' : ''}: observable events stored`,
      ratio: c.completeness,
      against: `of observable (ground truth)`,
      target: { op: '=', value: 1 },
      raw:
        `${fixed(r.apiCalls / captured, 1)} API calls per captured session (${r.apiCalls} calls, ` +
        `${r.sessions.CAPTURED} captured, ${r.sessions.LOST} lost, ${r.sessions.FAILED} failed); ` +
        `produced events stored ${pct(c.completenessOfProduced)} (${c.storedEvents}/${c.producedEvents}); ` +
        `observable ${c.storedObservableEvents}/${c.observableEvents}; duplicates ${c.duplicates}; ` +
        `schedule kept ${pct(scheduleKept(r))} (${r.ticks} ticks); ${fixed(r.wallMs / 1000, 0)} s wall; ${setup}`,
    };
  });
  const table = [
    `    interval → API calls per captured session → produced events stored → observable events stored (duplicates) → schedule kept`,
    ...reports.map(([intervalSec, r]) => {
      const c = r.completeness;
      return (
        `    ${String(intervalSec).padStart(5)} s → ${fixed(r.apiCalls / Math.max(1, r.sessions.CAPTURED), 1).padStart(5)} ` +
        `→ ${pct(c.completenessOfProduced).padStart(7)} → ${pct(c.completeness).padStart(7)} (${c.duplicates}) ` +
        `→ ${pct(scheduleKept(r))}`
      );
    }),
  ];
  return [...figures, ...table];
}
