import type { FetchOutcome } from './liveperson/outcome';

/**
 * Metric names, defined once: the poller emits them and the CDK alarms and dashboard (infra/) read them.
 * Namespace `LpVisitCapture`, CloudWatch Embedded Metric Format.
 */
export const METRICS_NAMESPACE = 'LpVisitCapture';

/** Fetch outcomes as counted, one metric each (`fetches_<outcome>`). */
export const FETCH_OUTCOMES = [
  'ok',
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
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC] | `fetches_${FetchOutcomeMetric}`;

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

/** The tick summary's figures, as metrics (one EMF document per tick). */
export interface TickFigures {
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

export function publishTickMetrics(summary: TickFigures, sink: MetricsSink): void {
  for (const outcome of FETCH_OUTCOMES) sink.count(fetchMetricName(outcome), summary.fetches[outcome]);
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
  sink.count(METRIC.configurationFaults, summary.stoppedBy === 'configuration_fault' ? 1 : 0);
  sink.count(METRIC.ticks, 1);
  if (summary.minTimeToDeadlineMs !== undefined) {
    sink.milliseconds(METRIC.minTimeToDeadlineMs, Math.max(0, summary.minTimeToDeadlineMs));
  }
  sink.flush();
}
