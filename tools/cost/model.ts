/**
 * The dollar model of issue 16. Pure: what the capacity meter measured per captured session (figure 7,
 * test/bench/capacity.ts), the assumptions below and the price table (prices.ts) in; dollars per day, per month
 * and per 1,000 captured sessions out, by component, at a given volume. Fixed costs (alarms, metrics, secrets,
 * the poller's idle ticks, optimizer floors) are spread over the volume, which is why the price of 1,000
 * sessions falls as the volume grows.
 *
 * What is measured (per captured session, on the simulator's traffic): DynamoDB write and read units of every
 * step, capture items put (each a stream record, hence a Pipes request and a Firehose record), the bytes the
 * tables hold at the end, LivePerson calls, polls, the poller's DynamoDB calls per poll, and its CPU time per
 * poll (machine-dependent). Everything else is an assumption, named and defaulted in DEFAULT_ASSUMPTIONS and
 * printed by `npm run cost`.
 */
import type { CapacityMeasurement, ScenarioMeasurement } from '../../test/bench/capacity';
import { PRICES, type PriceTable } from './prices';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const SECONDS_PER_DAY = 86_400;

/** What one captured session costs in units and bytes, and what one tick costs regardless of traffic. */
export interface SessionProfile {
  /** DynamoDB write / read request units of the session's own steps (enqueue, claim, ack, rows, outcome). */
  writeUnits: number;
  readUnits: number;
  /** Units of a tick whatever the traffic (the `other` step: the tick summary). */
  tickWriteUnits: number;
  tickReadUnits: number;
  polls: number;
  livePersonCalls: number;
  /** The poller's DynamoDB calls per poll (claim, ack, row batches, outcome; not the due-index queries). */
  dynamoCallsPerPoll: number;
  /** Capture items put (changed: each a stream record). */
  captureItemsPut: number;
  /** Write units on the capture table itself (its indexes excluded): about the KB written, item by item. */
  captureTableWriteKb: number;
  /** Bytes the session leaves in the capture table, table and indexes, and in the table alone. */
  captureStoredBytes: number;
  captureTableStoredBytes: number;
  /** Bytes of its queue item (table and due index) until the queue's TTL removes it. */
  queueStoredBytes: number;
  /** CPU of the process that ran the poller, per poll, in the measuring run (ms; machine-dependent). */
  cpuMsPerPoll: number;
  /** Median wall time of a tick that claimed nothing, in the measuring run (ms; machine-dependent). */
  idleTickMs: number;
}

export interface Assumptions {
  daysPerMonth: number;
  /** The poller's schedule, rate(1 minute). */
  ticksPerDay: number;
  /** infra/config.ts pollerMemoryMiB (default 512). */
  pollerMemoryMiB: number;
  /** infra/config.ts pollConcurrency (default 32). */
  pollConcurrency: number;
  /**
   * Lambda's CPU share grows with memory: one vCPU at 1,769 MB. The measuring run had a core of its own, so its
   * CPU time per poll is multiplied by 1,769 / memory (at least 1) for the Lambda's.
   */
  lambdaMbPerVcpu: number;
  /** LivePerson's answer time (not measured: the simulator answers at once). */
  livePersonLatencyMs: number;
  /** One DynamoDB call's latency from the Lambda (same region). */
  dynamoLatencyMs: number;
  /** Capture rows are kept this long (CAPTURE_RETENTION_DAYS; the deployment default `keep` grows forever). */
  captureRetentionDays: number;
  /** The queue item's life: the session (≤ 6 h) plus QUEUE_ITEM_RETENTION_AFTER_DEADLINE_MS (7 days). */
  queueItemDays: number;
  /** Point-in-time recovery on both tables (infra/data.ts enables it). */
  pointInTimeRecovery: boolean;
  /** Enqueue: (visitorId, sid) pairs per HTTP request, and the enqueue Lambda's duration per request. */
  pairsPerEnqueueRequest: number;
  enqueueLambdaMs: number;
  enqueueMemoryMiB: number;
  /** Stream shards (about one per capture-table partition) and GetRecords calls per shard per second (Pipes). */
  streamWriteUnitsPerShardPerSec: number;
  streamPollsPerShardPerSec: number;
  /** A stream record (NEW_AND_OLD_IMAGES, DynamoDB JSON) against the item's size: what Firehose ingests. */
  streamRecordToItemRatio: number;
  /** Firehose's record transformation (functions/analytics-route.ts): per MB, per invocation, memory. */
  routeLambdaMsPerMb: number;
  routeLambdaMiB: number;
  /** Iceberg tables (one per row type), Firehose's buffer interval, Parquet bytes against DynamoDB's. */
  icebergTables: number;
  firehoseBufferSec: number;
  parquetToItemRatio: number;
  /** S3 objects written per table per commit (data file, manifest, metadata), doubled by compaction. */
  s3PutsPerCommit: number;
  /** Glue optimizers: runs per table per day (compaction, retention, orphan deletion) at 1 DPU, 1 minute each, and compaction DPU-hours per GB ingested. */
  optimizerRunsPerTablePerDay: number;
  compactionDpuHoursPerGb: number;
  /** Athena: analyst queries per day, each scanning one table's day (at least 10 MB). */
  athenaQueriesPerDay: number;
  /** Secrets (LivePerson credentials, enqueue token, privacy hash key), each read every 5 min by a warm container. */
  secrets: number;
  secretReadsPerDay: number;
  /** CloudWatch: custom metrics (EMF), alarm metrics (an anomaly detection alarm is 3), dashboards. */
  customMetrics: number;
  alarmMetrics: number;
  dashboards: number;
  /** Log bytes per tick (two log lines, the EMF blob, Lambda's START/END/REPORT) and per enqueue request. */
  logKbPerTick: number;
  logKbPerEnqueueRequest: number;
  logRetentionDays: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  daysPerMonth: 30.4,
  ticksPerDay: 1440,
  pollerMemoryMiB: 512,
  pollConcurrency: 32,
  lambdaMbPerVcpu: 1769,
  livePersonLatencyMs: 300,
  dynamoLatencyMs: 8,
  captureRetentionDays: 90,
  queueItemDays: 7.25,
  pointInTimeRecovery: true,
  pairsPerEnqueueRequest: 1,
  enqueueLambdaMs: 40,
  enqueueMemoryMiB: 256,
  streamWriteUnitsPerShardPerSec: 1000,
  streamPollsPerShardPerSec: 4,
  streamRecordToItemRatio: 2.5,
  routeLambdaMsPerMb: 200,
  routeLambdaMiB: 256,
  icebergTables: 6,
  firehoseBufferSec: 300,
  parquetToItemRatio: 0.25,
  s3PutsPerCommit: 6,
  optimizerRunsPerTablePerDay: 26,
  compactionDpuHoursPerGb: 0.05,
  athenaQueriesPerDay: 20,
  secrets: 3,
  secretReadsPerDay: 3 * (SECONDS_PER_DAY / 300),
  customMetrics: 35,
  alarmMetrics: 36,
  dashboards: 1,
  logKbPerTick: 5,
  logKbPerEnqueueRequest: 1,
  logRetentionDays: 30,
};

export type Service =
  | 'DynamoDB'
  | 'Lambda'
  | 'EventBridge Pipes'
  | 'Firehose'
  | 'S3'
  | 'Athena'
  | 'Glue'
  | 'Secrets Manager'
  | 'CloudWatch'
  | 'API Gateway';

export interface CostLine {
  service: Service;
  item: string;
  usdPerDay: number;
  /** True when it does not grow with the sessions (spread over them). */
  fixed: boolean;
}

export interface CostAtVolume {
  sessionsPerDay: number;
  lines: CostLine[];
  usdPerDay: number;
  usdPerMonth: number;
  usdPer1000Sessions: number;
}

/** The profile of one scenario of a measurement (per captured session; `other` per tick). */
export function profileOf(s: ScenarioMeasurement): SessionProfile {
  const captured = Math.max(1, s.outcomes.CAPTURED);
  let writeUnits = 0;
  let readUnits = 0;
  let tickWriteUnits = 0;
  let tickReadUnits = 0;
  let captureTableWriteKb = 0;
  for (const [key, units] of Object.entries(s.units)) {
    const [step, table, index] = key.split('|');
    if (step === 'other') {
      tickWriteUnits += units.write;
      tickReadUnits += units.read;
    } else {
      writeUnits += units.write;
      readUnits += units.read;
    }
    if (table === 'capture' && index === 'table' && (step === 'rows' || step === 'outcome'))
      captureTableWriteKb += units.write;
  }
  const sum = (bytes: Record<string, number>): number => Object.values(bytes).reduce((a, b) => a + b, 0);
  const pollCalls = s.requests.ack + s.requests.rows + s.requests.outcome + s.polls;
  return {
    writeUnits: writeUnits / captured,
    readUnits: readUnits / captured,
    tickWriteUnits: tickWriteUnits / Math.max(1, s.ticks),
    tickReadUnits: tickReadUnits / Math.max(1, s.ticks),
    polls: s.polls / captured,
    livePersonCalls: s.liveperson.calls / captured,
    dynamoCallsPerPoll: pollCalls / Math.max(1, s.polls),
    captureItemsPut: (s.captureItemsPut.rows + s.captureItemsPut.outcome) / captured,
    captureTableWriteKb: captureTableWriteKb / captured,
    captureStoredBytes: sum(s.storage.capture) / captured,
    captureTableStoredBytes: (s.storage.capture.table ?? 0) / captured,
    queueStoredBytes: sum(s.storage.queue) / captured,
    cpuMsPerPoll: s.timing.cpuMs / Math.max(1, s.timing.polls),
    idleTickMs: s.timing.idleTickMs,
  };
}

export function profileOfMeasurement(m: CapacityMeasurement): SessionProfile {
  return profileOf(m.scenarios.traffic);
}

/**
 * The poller Lambda's billed milliseconds per poll: its CPU at the configured memory, or the waits (LivePerson's
 * answer and its DynamoDB calls, `concurrency` at once), whichever is longer (work and waits overlap).
 */
export function pollerMsPerPoll(p: SessionProfile, a: Assumptions): number {
  const cpuScale = Math.max(1, a.lambdaMbPerVcpu / a.pollerMemoryMiB);
  const waits = (a.livePersonLatencyMs + p.dynamoCallsPerPoll * a.dynamoLatencyMs) / a.pollConcurrency;
  return Math.max(p.cpuMsPerPoll * cpuScale, waits);
}

/** Every cost line at `sessionsPerDay` captured sessions a day. */
export function costAt(
  p: SessionProfile,
  sessionsPerDay: number,
  a: Assumptions = DEFAULT_ASSUMPTIONS,
  prices: PriceTable = PRICES,
): CostAtVolume {
  const n = sessionsPerDay;
  const perMonthToDay = 1 / a.daysPerMonth;
  const lines: CostLine[] = [];
  const add = (service: Service, item: string, usdPerDay: number, fixed = false): void => {
    lines.push({ service, item, usdPerDay, fixed });
  };

  // DynamoDB
  add('DynamoDB', 'write request units (sessions)', n * p.writeUnits * prices.dynamoWriteRequestUnit.usd);
  add('DynamoDB', 'read request units (sessions)', n * p.readUnits * prices.dynamoReadRequestUnit.usd);
  add(
    'DynamoDB',
    'request units of the ticks (tick summary)',
    a.ticksPerDay *
      (p.tickWriteUnits * prices.dynamoWriteRequestUnit.usd +
        p.tickReadUnits * prices.dynamoReadRequestUnit.usd),
    true,
  );
  const captureGb = (n * a.captureRetentionDays * p.captureStoredBytes) / GIB;
  const queueGb = (n * a.queueItemDays * p.queueStoredBytes) / GIB;
  add(
    'DynamoDB',
    `storage (capture ${a.captureRetentionDays} days, queue)`,
    (captureGb + queueGb) * prices.dynamoStorageGbMonth.usd * perMonthToDay,
  );
  if (a.pointInTimeRecovery) {
    const tableGb = (n * a.captureRetentionDays * p.captureTableStoredBytes) / GIB + queueGb;
    add('DynamoDB', 'point-in-time recovery', tableGb * prices.dynamoPitrGbMonth.usd * perMonthToDay);
  }
  const captureWriteUnitsPerSec = (n * p.captureTableWriteKb) / SECONDS_PER_DAY;
  const shards = Math.max(1, Math.ceil(captureWriteUnitsPerSec / a.streamWriteUnitsPerShardPerSec));
  add(
    'DynamoDB',
    `stream reads by Pipes (${shards} shard${shards > 1 ? 's' : ''})`,
    shards * a.streamPollsPerShardPerSec * SECONDS_PER_DAY * prices.dynamoStreamsReadRequest.usd,
    true,
  );

  // Lambda: the poller
  const gbPoller = a.pollerMemoryMiB / 1024;
  const pollerSeconds = (a.ticksPerDay * p.idleTickMs + n * p.polls * pollerMsPerPoll(p, a)) / 1000;
  add(
    'Lambda',
    'poller ticks, idle part (GB-s)',
    ((a.ticksPerDay * p.idleTickMs) / 1000) * gbPoller * prices.lambdaGbSecondArm.usd,
    true,
  );
  add(
    'Lambda',
    'poller polls (GB-s)',
    (pollerSeconds - (a.ticksPerDay * p.idleTickMs) / 1000) * gbPoller * prices.lambdaGbSecondArm.usd,
  );
  add('Lambda', 'poller invocations', a.ticksPerDay * prices.lambdaRequest.usd, true);
  // The enqueue endpoint
  const enqueueRequests = n / a.pairsPerEnqueueRequest;
  add('API Gateway', 'enqueue HTTP API requests', enqueueRequests * prices.httpApiRequest.usd);
  add(
    'Lambda',
    'enqueue function',
    enqueueRequests *
      (prices.lambdaRequest.usd +
        (a.enqueueLambdaMs / 1000) * (a.enqueueMemoryMiB / 1024) * prices.lambdaGbSecondArm.usd),
  );

  // Analytics: stream → Pipes → Firehose (Iceberg) → S3, Glue optimizers, Athena
  const records = n * p.captureItemsPut;
  add('EventBridge Pipes', 'requests (one per stream record)', records * prices.pipesRequest.usd);
  const ingestedBytes = n * p.captureTableWriteKb * 1024 * a.streamRecordToItemRatio;
  add('Firehose', 'Iceberg delivery (GB ingested)', (ingestedBytes / GIB) * prices.firehoseIcebergGb.usd);
  const ingestedMb = ingestedBytes / MIB;
  const routeInvocations = Math.max(a.ticksPerDay, ingestedMb);
  add(
    'Lambda',
    'Firehose record transformation',
    routeInvocations * prices.lambdaRequest.usd +
      ((ingestedMb * a.routeLambdaMsPerMb) / 1000) * (a.routeLambdaMiB / 1024) * prices.lambdaGbSecondArm.usd,
  );
  const parquetBytesPerDay = n * p.captureTableStoredBytes * a.parquetToItemRatio;
  add(
    'S3',
    `Iceberg storage (${a.captureRetentionDays} days)`,
    ((parquetBytesPerDay * a.captureRetentionDays) / GIB) * prices.s3StorageGbMonth.usd * perMonthToDay,
  );
  const commitsPerDay = SECONDS_PER_DAY / a.firehoseBufferSec;
  add(
    'S3',
    'PUT requests (commits, compaction)',
    a.icebergTables * commitsPerDay * a.s3PutsPerCommit * prices.s3PutRequest.usd,
    true,
  );
  add(
    'Glue',
    'table optimizer runs (1-minute minimum)',
    ((a.icebergTables * a.optimizerRunsPerTablePerDay) / 60) * prices.glueOptimizerDpuHour.usd,
    true,
  );
  add(
    'Glue',
    'compaction of what arrives (DPU-hours)',
    (ingestedBytes / GIB) * a.compactionDpuHoursPerGb * prices.glueOptimizerDpuHour.usd,
  );
  const scanBytes = Math.max(10 * MIB, parquetBytesPerDay / a.icebergTables);
  add(
    'Athena',
    `${a.athenaQueriesPerDay} queries a day, one table-day each`,
    ((a.athenaQueriesPerDay * scanBytes) / 1024 ** 4) * prices.athenaTbScanned.usd,
  );

  // Secrets Manager, CloudWatch
  add('Secrets Manager', `${a.secrets} secrets`, a.secrets * prices.secretMonth.usd * perMonthToDay, true);
  add('Secrets Manager', 'API calls', a.secretReadsPerDay * prices.secretsApiCall.usd, true);
  add(
    'CloudWatch',
    `${a.customMetrics} custom metrics`,
    a.customMetrics * prices.cloudWatchCustomMetricMonth.usd * perMonthToDay,
    true,
  );
  add(
    'CloudWatch',
    `${a.alarmMetrics} alarm metrics`,
    a.alarmMetrics * prices.cloudWatchAlarmMetricMonth.usd * perMonthToDay,
    true,
  );
  add('CloudWatch', 'dashboard', a.dashboards * prices.cloudWatchDashboardMonth.usd * perMonthToDay, true);
  const logGbPerDay =
    (a.ticksPerDay * a.logKbPerTick + enqueueRequests * a.logKbPerEnqueueRequest) / (1024 * 1024);
  add(
    'CloudWatch',
    'logs (ingestion, storage)',
    logGbPerDay * prices.cloudWatchLogsIngestGb.usd +
      logGbPerDay * a.logRetentionDays * prices.cloudWatchLogsStorageGbMonth.usd * perMonthToDay,
  );

  const usdPerDay = lines.reduce((sum, l) => sum + l.usdPerDay, 0);
  return {
    sessionsPerDay: n,
    lines,
    usdPerDay,
    usdPerMonth: usdPerDay * a.daysPerMonth,
    usdPer1000Sessions: n > 0 ? (usdPerDay / n) * 1000 : Number.POSITIVE_INFINITY,
  };
}

/** Dollars per day by service, largest first. */
export function byService(cost: CostAtVolume): Array<[Service, number]> {
  const totals = new Map<Service, number>();
  for (const line of cost.lines) totals.set(line.service, (totals.get(line.service) ?? 0) + line.usdPerDay);
  return [...totals].sort((x, y) => y[1] - x[1]);
}
