import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { POLLER_SERVICE_NAME } from '../functions/commons/constants';
import { FETCH_OUTCOMES, METRIC, METRICS_NAMESPACE, fetchMetricName, type MetricName } from '../lib/metrics';

/**
 * CloudWatch views of the metrics the poller emits (lib/metrics.ts names them, once). Powertools Metrics
 * publishes each EMF document with one dimension set, `[service]`, where service is the `serviceName` given to
 * `new Metrics(...)`: functions/poller.ts passes 'poller'. CloudWatch matches dimensions exactly, so every
 * metric here carries exactly `{ service: 'poller' }`, no more, no less. The bundle test reads the EMF the
 * bundled poller prints and checks namespace, dimension set and names against these definitions.
 */
export const POLLER_METRIC_DIMENSIONS: Readonly<Record<string, string>> = Object.freeze({
  service: POLLER_SERVICE_NAME,
});

export const FIVE_MINUTES = Duration.minutes(5);

export function pollerMetric(
  name: MetricName,
  statistic: string = cloudwatch.Stats.SUM,
  period: Duration = FIVE_MINUTES,
  label?: string,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { ...POLLER_METRIC_DIMENSIONS },
    statistic,
    period,
    ...(label !== undefined ? { label } : {}),
  });
}

/** Metric-math ids must start with a lowercase letter: `fetches_ok` and friends qualify as they are. */
function fetchMetrics(period: Duration): Record<string, cloudwatch.IMetric> {
  return Object.fromEntries(
    FETCH_OUTCOMES.map((outcome) => [
      fetchMetricName(outcome),
      pollerMetric(fetchMetricName(outcome), 'Sum', period),
    ]),
  );
}

/** Every fetch, whatever its outcome: the sum of the ten fetches_* metrics (an alarm may use ten at most). */
export function totalFetchesExpression(): string {
  return FETCH_OUTCOMES.map((outcome) => fetchMetricName(outcome)).join(' + ');
}

/** expired_12 / all fetches: the overall 404-code-12 rate (0 when there were no fetches). */
export function expired12Rate(period: Duration = FIVE_MINUTES): cloudwatch.MathExpression {
  const total = `(${totalFetchesExpression()})`;
  return new cloudwatch.MathExpression({
    expression: `IF(${total} > 0, ${fetchMetricName('expired_12')} / ${total}, 0)`,
    usingMetrics: fetchMetrics(period),
    period,
    label: '404/12 share of fetches',
  });
}

/**
 * expired_before_capture / sessions_ended: the share of the sessions that ended in the period whose 404/12
 * came before any capture, i.e. lost data (0 when no session ended).
 */
export function lostBeforeCaptureRatio(period: Duration = FIVE_MINUTES): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'IF(ended > 0, lost / ended, 0)',
    usingMetrics: {
      lost: pollerMetric(METRIC.expiredBeforeCapture, 'Sum', period),
      ended: pollerMetric(METRIC.sessionsEnded, 'Sum', period),
    },
    period,
    label: 'expired before capture / sessions ended',
  });
}

export function fetchesByOutcome(period: Duration = FIVE_MINUTES): cloudwatch.IMetric[] {
  return FETCH_OUTCOMES.map((outcome) => pollerMetric(fetchMetricName(outcome), 'Sum', period, outcome));
}
