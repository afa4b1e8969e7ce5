/**
 * Simulator run behind the default thresholds of the lost-rate and falling-behind alarms (docs/deploy.md).
 *
 *   npx tsx tools/calibrate-alarms.ts [--hours 7] [--per-minute 2] [--seed 7] [--outage-from-min M --outage-min N]
 *
 * Runs the real poller (lib/) against the LivePerson simulator (OAuth checked, faults injected) and dynalite,
 * one tick per simulated minute on a manual clock, with sessions arriving at a steady rate, each enqueued by the
 * "site" 0–30 s after it starts. Per 5-minute period it sums what the poller publishes (expired_before_capture,
 * sessions_ended, min_time_to_deadline_ms) exactly as the CloudWatch alarms would read them, and prints the
 * distribution. `--outage-*` skips ticks for a while (the poller down) to show what the alarms see then.
 * A build-time tool: nothing imports it; its printout is what the defaults in infra/config.ts were chosen from.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { ManualClock, MINUTE_MS, SECOND_MS } from '../lib/clock';
import { silentLog } from '../lib/log';
import { DEFAULT_SIMULATOR_CREDENTIALS, Random, SimulatedWorld, VisitSimulator } from '../lib/simulator';
import { createDocumentClient, ensureTables } from '../lib/store/dynamo';
import { createPoller, createStorage, createVisitClient } from '../lib/wiring';
import { createPrivacyPolicy } from '../lib/privacy/policy';
import { StaticCredentialsProvider } from '../lib/liveperson/credentials';

const ACCOUNT = '12345678';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      hours: { type: 'string', default: '7' },
      'per-minute': { type: 'string', default: '2' },
      seed: { type: 'string', default: '7' },
      'outage-from-min': { type: 'string' },
      'outage-min': { type: 'string', default: '0' },
      'server-error-rate': { type: 'string', default: '0.03' },
      'throttle-rate': { type: 'string', default: '0.01' },
      'reset-rate': { type: 'string', default: '0.005' },
    },
  });
  const minutes = Number(values.hours) * 60;
  const perMinute = Number(values['per-minute']);
  const seed = Number(values.seed);
  const outageFrom = values['outage-from-min'] !== undefined ? Number(values['outage-from-min']) : -1;
  const outageMin = Number(values['outage-min']);

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (o: object) => Server;
  const dynamoServer = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => dynamoServer.listen(0, '127.0.0.1', resolve));
  const storageSettings = {
    dynamoDbEndpoint: `http://127.0.0.1:${(dynamoServer.address() as AddressInfo).port}`,
    region: 'local',
    queueTable: 'calibrate-queue',
    captureTable: 'calibrate-capture',
  };
  await ensureTables(createDocumentClient(storageSettings), storageSettings);

  const clock = new ManualClock(Date.now());
  const world = new SimulatedWorld({ seed, accountId: ACCOUNT, clock });
  const simulator = new VisitSimulator({
    world,
    credentials: DEFAULT_SIMULATOR_CREDENTIALS,
    seed,
    faults: {
      latencyMs: { min: 20, max: 200 },
      serverErrorRate: Number(values['server-error-rate']),
      throttleRate: Number(values['throttle-rate']),
      resetRate: Number(values['reset-rate']),
    },
  });
  await simulator.start();
  const storage = createStorage(storageSettings, clock);
  const source = createVisitClient(
    {
      accountId: ACCOUNT,
      baseUrl: simulator.baseUrl,
      domainApiUrl: 'https://api.liveperson.net',
      credentials: { source: 'env', ...DEFAULT_SIMULATOR_CREDENTIALS },
      requestTimeoutMs: 10_000,
      credentialsRefreshSec: 300,
    },
    { clock, credentials: new StaticCredentialsProvider(DEFAULT_SIMULATOR_CREDENTIALS) },
  );
  const poller = createPoller(
    ACCOUNT,
    { concurrency: 32, pollIntervalSec: 600, leaseSec: 300, maxRequestsPerSec: 0 },
    { storage, source, clock, log: silentLog, privacy: createPrivacyPolicy() },
  );

  const rng = new Random(seed + 1);
  const pending: { atMs: number; visitorId: string; sid: string; startTimeMs: number }[] = [];
  type Period = { lost: number; ended: number; minToDeadlineMs: number[]; ticks: number };
  const periods: Period[] = [];
  const startedMs = Date.now();
  let sessions = 0;

  for (let minute = 0; minute < minutes; minute++) {
    // Arrivals during this minute (Poisson via exponential gaps), each enqueued 0–30 s after it starts.
    let arrivalMs = clock.nowMs();
    const end = arrivalMs + MINUTE_MS;
    for (;;) {
      arrivalMs += (-Math.log(1 - rng.float(0, 1)) / perMinute) * MINUTE_MS;
      if (arrivalMs >= end) break;
      const s = world.startSession({ startTimeMs: Math.floor(arrivalMs) });
      sessions++;
      pending.push({ atMs: Math.floor(arrivalMs + rng.float(0, 30 * SECOND_MS)), ...s });
    }
    clock.setMs(end);
    const due = pending.filter((p) => p.atMs <= end);
    pending.splice(0, pending.length, ...pending.filter((p) => p.atMs > end));
    if (due.length > 0) await storage.queue.enqueue(ACCOUNT, due);

    const periodIndex = Math.floor(minute / 5);
    const period = (periods[periodIndex] ??= { lost: 0, ended: 0, minToDeadlineMs: [], ticks: 0 });
    if (minute >= outageFrom && minute < outageFrom + outageMin) continue; // the poller is down
    const summary = await poller.tick({ budgetMs: 50_000 });
    period.ticks++;
    period.lost += summary.expiredBeforeCapture;
    period.ended += Object.values(summary.sessions).reduce((a, b) => a + b, 0);
    if (summary.minTimeToDeadlineMs !== undefined) {
      period.minToDeadlineMs.push(Math.max(0, summary.minTimeToDeadlineMs));
    }
    if (minute % 60 === 59) {
      process.stderr.write(
        `simulated ${(minute + 1) / 60} h, ${sessions} sessions, ${((Date.now() - startedMs) / 1000).toFixed(0)} s\n`,
      );
    }
  }

  const ratios = periods.map((p) => (p.ended > 0 ? p.lost / p.ended : 0));
  const sorted = [...ratios].sort((a, b) => a - b);
  const quantile = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? 0;
  const minDeadline = periods
    .filter((p) => p.minToDeadlineMs.length > 0)
    .map((p) => Math.min(...p.minToDeadlineMs));
  const belowMinute = minDeadline.filter((v) => v < 60_000).length;
  let longestRun = 0;
  for (let i = 0, run = 0; i < ratios.length; i++) {
    run = (ratios[i] ?? 0) > 0 ? run + 1 : 0;
    longestRun = Math.max(longestRun, run);
  }
  const totals = periods.reduce((a, p) => ({ lost: a.lost + p.lost, ended: a.ended + p.ended }), {
    lost: 0,
    ended: 0,
  });
  console.log(
    JSON.stringify(
      {
        simulatedHours: minutes / 60,
        sessionsPerMinute: perMinute,
        sessions,
        seed,
        faults: simulator.getFaults(),
        outage: outageFrom >= 0 ? { fromMinute: outageFrom, minutes: outageMin } : null,
        periods: periods.length,
        lostBeforeCapture: totals.lost,
        sessionsEnded: totals.ended,
        lostRatio: {
          overall: totals.ended > 0 ? totals.lost / totals.ended : 0,
          p50: quantile(0.5),
          p99: quantile(0.99),
          max: sorted[sorted.length - 1] ?? 0,
          periodsAboveZero: ratios.filter((r) => r > 0).length,
          longestRunOfPeriodsAboveZero: longestRun,
          worstPeriods: periods
            .map((p, i) => ({ period: i, lost: p.lost, ended: p.ended, ticks: p.ticks }))
            .filter((p) => p.lost > 0)
            .slice(0, 20),
        },
        minTimeToDeadlineMs: {
          periodsWithValue: minDeadline.length,
          periodsBelow60s: belowMinute,
          min: Math.min(...minDeadline),
          firstPeriodBelow60s: minDeadline.findIndex((v) => v < 60_000),
        },
        simulatorRequests: simulator.stats().requests,
        // LivePerson calls per hour of live session (the API-calls-per-day estimate in docs/deploy.md).
        requestsPerSessionHour:
          simulator.stats().requests /
          world
            .sessions()
            .reduce((sum, s) => sum + (Math.min(s.endTimeMs, clock.nowMs()) - s.startTimeMs) / 3_600_000, 0),
        wallSeconds: Math.round((Date.now() - startedMs) / 1000),
      },
      null,
      2,
    ),
  );
  await simulator.stop();
  dynamoServer.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
