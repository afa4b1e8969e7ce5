/**
 * `npm run bench` (not part of `npm test`): the figures of issue 4, each printed on ONE line as a ratio against
 * a floor or baseline measured in the same run, with its target, PASS/MISS and the raw numbers.
 *
 *   npm run bench                 full sizes (about 4½ minutes on 2 idle cores)
 *   npm run bench -- --quick      smaller sizes (about 2 minutes), for a quick look
 *   npm run bench -- --only 1,3   some figures only
 *
 * Figure 7 (capacity units per captured session, against the committed baseline) runs alone as
 * `npm run capacity`; it needs java (DynamoDB Local).
 *
 * BENCH_CHILD_NODE_OPTIONS adds node options to the bench's child processes (the simulator, dynalite, the
 * figure-5 tick), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where each one spends its time;
 * BENCH_PROFILE_TICK=file.cpuprofile profiles figure 2's last tick alone (end-to-end.ts).
 *
 * The simulator and dynalite run in processes of their own (lib/simulator/process.ts, dynalite-process.ts),
 * so the code under measurement does not share its process with them. Exit 0 whatever was measured (a MISS
 * is a result); 1 only when the bench itself failed.
 */
import './env';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { benchCapacity } from './capacity';
import { benchDynamoCalls } from './dynamo-calls';
import { runBundledChild } from './bundle';
import type { EndToEndOptions } from './end-to-end';
import type { FetchPathOptions } from './fetch-path';
import { benchCadence, DEFAULT_CADENCE_OPTIONS } from './cadence';
import { benchPeakRss } from './peak-rss';
import { cpuAccount, killRunningChildren, machineBusyShare, runTsChild } from './processes';
import { formatFigure, type Line } from './report';

interface Sizes {
  fetches: number;
  warmupFetches: number;
  e2eSessions: number;
  e2eRounds: number;
  referenceSessions: number;
  referenceWarmupPasses: number;
  rssSessions: number;
  flattenRounds: number;
  cadenceVisitors: number;
}

const FULL: Sizes = {
  fetches: 6400,
  warmupFetches: 3000,
  e2eSessions: 600,
  e2eRounds: 5,
  referenceSessions: 300,
  referenceWarmupPasses: 5,
  rssSessions: 10_000,
  flattenRounds: 15,
  // Figure 7's traffic (about 75 s for the seven cadence settings).
  cadenceVisitors: 120,
};

const QUICK: Sizes = {
  fetches: 3200,
  warmupFetches: 2000,
  e2eSessions: 300,
  e2eRounds: 3,
  referenceSessions: 150,
  referenceWarmupPasses: 4,
  rssSessions: 2000,
  flattenRounds: 7,
  cadenceVisitors: 40,
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } },
    strict: true,
  });
  const quick = values.quick === true;
  const sizes = quick ? QUICK : FULL;
  const only = values.only === undefined ? undefined : new Set(values.only.split(',').map((s) => s.trim()));
  const cores = os.availableParallelism();
  const startMs = Date.now();
  const busy = await machineBusyShare();
  console.log(
    `lp-visit-capture bench${quick ? ' (--quick)' : ''}: ${cores} cores (os.availableParallelism), ` +
      `node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'}; ` +
      `machine ${busy === undefined ? 'load unknown' : `${(busy * 100).toFixed(0)}% busy`} before the bench`,
  );
  if (busy !== undefined && busy > 0.1) {
    console.log(`  note: other work is using the CPU; every figure below shares the machine with it`);
  }
  const cpuAtStart = cpuAccount();

  const figures: Array<[string, string, () => Promise<Line[]>]> = [
    [
      '1',
      'fetch path',
      () =>
        runBundledChild<Line[]>(
          'test/bench/fetch-path-run.ts',
          [
            JSON.stringify({
              concurrency: 64,
              latencyMs: 50,
              fetches: sizes.fetches,
              warmupFetches: sizes.warmupFetches,
              sessions: 2000,
            } satisfies FetchPathOptions),
          ],
          'fetch path',
        ),
    ],
    [
      '2',
      'end to end',
      () =>
        runBundledChild<Line[]>(
          'test/bench/end-to-end-run.ts',
          [
            JSON.stringify({
              concurrency: 32,
              latencyMs: 50,
              sessions: sizes.e2eSessions,
              rounds: sizes.e2eRounds,
              referenceSessions: sizes.referenceSessions,
              warmupPasses: sizes.referenceWarmupPasses,
            } satisfies EndToEndOptions),
          ],
          'end to end',
        ),
    ],
    [
      '3',
      'flatten cost',
      () =>
        runTsChild<Line[]>(
          'test/bench/flatten-cost-run.ts',
          [JSON.stringify({ rounds: sizes.flattenRounds })],
          'flatten cost',
        ),
    ],
    ['4', 'DynamoDB calls per poll', () => benchDynamoCalls({ sessions: 40 })],
    [
      '5',
      'peak RSS',
      () =>
        benchPeakRss({
          sessions: sizes.rssSessions,
          fullSessions: FULL.rssSessions,
          concurrency: 32,
          latencyMs: 50,
        }),
    ],
    [
      '6',
      'poll cadence trade-off',
      () => benchCadence({ ...DEFAULT_CADENCE_OPTIONS, visitors: sizes.cadenceVisitors }),
    ],
    // The same size in --quick: its units are compared with the committed baseline's, measured at this size.
    ['7', 'capacity units per captured session', () => benchCapacity()],
  ];

  let failed = 0;
  for (const [id, name, bench] of figures) {
    if (only !== undefined && !only.has(id)) continue;
    const figureStartMs = Date.now();
    try {
      for (const line of await bench()) console.log(typeof line === 'string' ? line : formatFigure(line));
    } catch (error) {
      failed++;
      console.log(
        `[${id}] ${name}: ERROR ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      killRunningChildren();
    }
    process.stderr.write(`  (figure ${id} took ${((Date.now() - figureStartMs) / 1000).toFixed(1)} s)\n`);
  }
  const wallMs = Date.now() - startMs;
  const cpuAtEnd = cpuAccount();
  let others = '';
  if (cpuAtStart !== undefined && cpuAtEnd !== undefined) {
    const othersMs = Math.max(
      0,
      cpuAtEnd.machineBusyMs - cpuAtStart.machineBusyMs - (cpuAtEnd.ownTreeMs - cpuAtStart.ownTreeMs),
    );
    // Ratios measured while others used the CPU are low by up to that share: rerun on a quiet machine.
    others = `; other work on the machine used ${(othersMs / wallMs).toFixed(2)} core on average meanwhile`;
  }
  console.log(
    `bench finished in ${(wallMs / 1000).toFixed(0)} s${failed > 0 ? `; ${failed} figure(s) crashed` : ''}${others}`,
  );
  return failed > 0 ? 1 : 0;
}

process.once('SIGINT', () => {
  killRunningChildren();
  process.exit(130);
});

main().then(
  (code) => {
    killRunningChildren();
    process.exit(code);
  },
  (error: unknown) => {
    console.error(error);
    killRunningChildren();
    process.exit(1);
  },
);
