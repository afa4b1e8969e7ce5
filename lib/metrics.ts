import type { FetchOutcome } from './liveperson/outcome';

/**
 * Metric names, defined once: the poller emits them and the CDK alarms and dashboard (infra/) read them.
 * Namespace `LpVisitCapture`, CloudWatch Embedded Metric Format.
 */
export const METRICS_NAMESPACE = 'LpVisitCapture';

/** Fetch outcomes as counted, one metric each (`fetches_<outcome>`). */
export const FETCH_OUTCOMES = [
  'ok',
  /** A 200 without any app session: never a success (see FetchOutcome `empty`). */
  'empty',
  'expired_12',
  'invalid_visitor_37',
  'invalid_session_39',
  'invalid_account_6',
  'unauthorized_10',
  'bad_request_33',
  'retryable',
  'malformed',
  'unexpected',
] as const;
export type FetchOutcomeMetric = (typeof FETCH_OUTCOMES)[number];

export function fetchMetricName(outcome: FetchOutcomeMetric): `fetches_${FetchOutcomeMetric}` {
  return `fetches_${outcome}`;
}

/**
 * Tick counters published one to one, tick summary field → metric: our side's failures and what became of
 * the rows (LivePerson's answers are counted by the fetches_* metrics).
 */
export const TICK_COUNTER_METRIC = {
  /** Items whose poll failed on our side (storage, Domain API) and were handed back for a later tick. */
  itemErrors: 'item_errors',
  /** Leases lost before the ack (a slow poll). */
  leasesLost: 'leases_lost',
  /** Rows changed in any way to fit DynamoDB's item size. */
  rowsTruncated: 'rows_truncated',
  /** Rows made to fit by the overflow rule: still stored completely (their marker column says what was cut). */
  rowsFitted: 'rows_fitted',
  /** Rows DynamoDB refused even after fitting: data not stored. */
  rowsRejected: 'rows_rejected',
  /** Rows not written before the tick's or the item's deadline, or after retries ran out: data not stored (yet). */
  rowsUnwritten: 'rows_unwritten',
  /** Claims lost to another poller (or to an item polled since the tick started). */
  claimConflicts: 'claim_conflicts',
  /** Sessions that ended CAPTURED with complete=false (their last answer was not stored completely). */
  sessionsPartial: 'sessions_partial',
  /** Distinct sessions that answered 400/33 in the tick. */
  badRequest33Sessions: 'bad_request_33_sessions',
  /** Domain API (smt) lookups that failed for lack of an answer (not a configuration fault). */
  domainApiFailures: 'domain_api_failures',
} as const;
export type TickCounter = keyof typeof TICK_COUNTER_METRIC;

export const METRIC = {
  /** A 404/12 before any successful poll: the session's data is lost. */
  expiredBeforeCapture: 'expired_before_capture',
  /** A 404/12 after at least one capture: the session's normal end. */
  expiredAfterCapture: 'expired_after_capture',
  sessionsCaptured: 'sessions_captured',
  sessionsLost: 'sessions_lost',
  sessionsFailed: 'sessions_failed',
  sessionsInvalid: 'sessions_invalid',
  /** Sessions that reached a terminal state in the period (captured + lost + failed + invalid). */
  sessionsEnded: 'sessions_ended',
  rowsWritten: 'rows_written',
  /** Due items a tick did not reach (budget ran out) or handed back. */
  itemsDeferred: 'items_deferred',
  /** Smallest (deadline - now) among due items seen by a tick: the leading sign of falling behind. */
  minTimeToDeadlineMs: 'min_time_to_deadline_ms',
  unknownEventTypes: 'unknown_event_types',
  /** A tick stopped on a credential (401/10) or account (404/6) fault. */
  configurationFaults: 'configuration_faults',
  /** One per tick: the heartbeat alarm watches it. */
  ticks: 'ticks',
  /**
   * Every fetch, whatever its outcome (the sum of the fetches_* metrics). Published on its own so that a
   * share of fetches is one metric-math term: an alarm may use at most ten metrics, and the outcomes alone
   * number ten or more.
   */
  fetchesTotal: 'fetches_total',
  ...TICK_COUNTER_METRIC,
} as const;
/**
 * Metrics of the enqueue function (functions/enqueue.ts, dimension service=lpv-enqueue), one value per request:
 * 1 when the request got that answer, else 0.
 */
export const ENQUEUE_METRIC = {
  /** 401: no, a malformed or a wrong bearer token (also a token past its rotation window). */
  unauthorized: 'enqueue_unauthorized',
  /** 5xx: the queue or the token secret could not be reached (503), or the request failed unexpectedly. */
  serverErrors: 'enqueue_server_errors',
} as const;

/**
 * Metrics of the eraser (functions/eraser.ts, dimension service=lpv-eraser), one EMF document per run (every
 * minute, also when nothing is pending: a missing value means the eraser did not run).
 */
export const ERASURE_METRIC = {
  /** Age of the oldest POST /forget request not done yet (0 when none): the ErasureOverdue alarm. */
  oldestPendingAgeMs: 'erasure_oldest_pending_age_ms',
  /** Requests not done yet. */
  pending: 'erasure_pending',
  /** Erasures this run completed. */
  done: 'erasure_done',
  /** Erasure attempts this run that failed (handed back with backoff; retried). */
  failures: 'erasure_failures',
  /** Erasures begun without the audit's visitor hash: the hash key's secret could not be read. */
  visitorHashUnavailable: 'erasure_visitor_hash_unavailable',
  /** Deletes re-sent to the analytics copy's delivery stream after its buffer (docs/erasure.md). */
  analyticsDeletesResent: 'erasure_analytics_deletes_resent',
  /** Re-sent deletes the delivery stream never accepted: their erasures failed and are run again. */
  analyticsDeletesUnsent: 'erasure_analytics_deletes_unsent',
} as const;

export type PollerMetricName = (typeof METRIC)[keyof typeof METRIC] | `fetches_${FetchOutcomeMetric}`;
export type EnqueueMetricName = (typeof ENQUEUE_METRIC)[keyof typeof ENQUEUE_METRIC];
export type ErasureMetricName = (typeof ERASURE_METRIC)[keyof typeof ERASURE_METRIC];
export type MetricName = PollerMetricName | EnqueueMetricName | ErasureMetricName;

export function fetchOutcomeMetric(outcome: FetchOutcome): FetchOutcomeMetric {
  return outcome.kind === 'server_error_500' ? 'retryable' : outcome.kind;
}

/** Port for metric output. */
export interface MetricsSink {
  count(name: MetricName, value: number): void;
  milliseconds(name: MetricName, value: number): void;
  flush(): void;
}

/** Keeps values in memory (CLI, tests). */
export class MemoryMetrics implements MetricsSink {
  readonly counts = new Map<MetricName, number>();
  readonly gauges = new Map<MetricName, number>();
  count(name: MetricName, value: number): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
  milliseconds(name: MetricName, value: number): void {
    this.gauges.set(name, value);
  }
  flush(): void {}
}

/** Counters lib/poller/poller.ts's TickSummary carried before issue 13. */
type CarriedTickCounter = 'itemErrors' | 'leasesLost' | 'rowsTruncated' | 'claimConflicts';
/**
 * Counters TickSummary gains with issue 13 (contract point 4, engineer P). Optional until it carries them, and
 * published as 0 when absent. Once it does: in TickFigures below, replace both `Record<CarriedTickCounter, ...>`
 * and `Partial<Record<PendingTickCounter, ...>>` by `Record<TickCounter, number>`, and drop the `?? 0` in
 * publishTickMetrics (the compiler then checks every counter is passed).
 */
type PendingTickCounter = Exclude<TickCounter, CarriedTickCounter>;

/** The tick summary's figures, as metrics (one EMF document per tick). */
export interface TickFigures
  extends Record<CarriedTickCounter, number>, Partial<Record<PendingTickCounter, number>> {
  fetches: Record<FetchOutcomeMetric, number>;
  expiredBeforeCapture: number;
  expiredAfterCapture: number;
  sessions: { CAPTURED: number; LOST: number; FAILED: number; INVALID: number };
  rowsWritten: number;
  itemsDeferred: number;
  unknownEventTypes: number;
  stoppedBy: string;
  minTimeToDeadlineMs?: number;
}

const TICK_COUNTERS = Object.entries(TICK_COUNTER_METRIC) as [TickCounter, MetricName][];

export function publishTickMetrics(summary: TickFigures, sink: MetricsSink): void {
  let fetchesTotal = 0;
  for (const outcome of FETCH_OUTCOMES) {
    sink.count(fetchMetricName(outcome), summary.fetches[outcome]);
    fetchesTotal += summary.fetches[outcome];
  }
  sink.count(METRIC.fetchesTotal, fetchesTotal);
  sink.count(METRIC.expiredBeforeCapture, summary.expiredBeforeCapture);
  sink.count(METRIC.expiredAfterCapture, summary.expiredAfterCapture);
  sink.count(METRIC.sessionsCaptured, summary.sessions.CAPTURED);
  sink.count(METRIC.sessionsLost, summary.sessions.LOST);
  sink.count(METRIC.sessionsFailed, summary.sessions.FAILED);
  sink.count(METRIC.sessionsInvalid, summary.sessions.INVALID);
  sink.count(
    METRIC.sessionsEnded,
    summary.sessions.CAPTURED + summary.sessions.LOST + summary.sessions.FAILED + summary.sessions.INVALID,
  );
  sink.count(METRIC.rowsWritten, summary.rowsWritten);
  sink.count(METRIC.itemsDeferred, summary.itemsDeferred);
  sink.count(METRIC.unknownEventTypes, summary.unknownEventTypes);
  // `?? 0` only for the pending counters (see PendingTickCounter).
  for (const [field, name] of TICK_COUNTERS) sink.count(name, summary[field] ?? 0);
  sink.count(METRIC.configurationFaults, summary.stoppedBy === 'configuration_fault' ? 1 : 0);
  sink.count(METRIC.ticks, 1);
  if (summary.minTimeToDeadlineMs !== undefined) {
    sink.milliseconds(METRIC.minTimeToDeadlineMs, Math.max(0, summary.minTimeToDeadlineMs));
  }
  sink.flush();
}
