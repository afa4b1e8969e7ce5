import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import {
  ENQUEUE_SERVICE_NAME,
  ERASER_SERVICE_NAME,
  POLLER_SERVICE_NAME,
} from '../functions/commons/constants';
import {
  FETCH_OUTCOMES,
  METRIC,
  METRICS_NAMESPACE,
  fetchMetricName,
  type FetchOutcomeMetric,
  type EnqueueMetricName,
  type ErasureMetricName,
  type PollerMetricName,
} from '../lib/metrics';

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

/** The enqueue function's metrics (functions/enqueue.ts) carry exactly `{ service: 'lpv-enqueue' }`. */
export const ENQUEUE_METRIC_DIMENSIONS: Readonly<Record<string, string>> = Object.freeze({
  service: ENQUEUE_SERVICE_NAME,
});

/** The eraser's metrics (functions/eraser.ts) carry exactly `{ service: 'lpv-eraser' }`. */
export const ERASURE_METRIC_DIMENSIONS: Readonly<Record<string, string>> = Object.freeze({
  service: ERASER_SERVICE_NAME,
});

export const FIVE_MINUTES = Duration.minutes(5);

/** One of our EMF metrics, under the dimensions its emitter publishes it with. */
function ourMetric(
  name: string,
  dimensions: Readonly<Record<string, string>>,
  statistic: string,
  period: Duration,
  label: string | undefined,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { ...dimensions },
    statistic,
    period,
    ...(label !== undefined ? { label } : {}),
  });
}

export function pollerMetric(
  name: PollerMetricName,
  statistic: string = cloudwatch.Stats.SUM,
  period: Duration = FIVE_MINUTES,
  label?: string,
): cloudwatch.Metric {
  return ourMetric(name, POLLER_METRIC_DIMENSIONS, statistic, period, label);
}

/**
 * A share of all fetches: the named outcomes over fetches_total (0 when there were no fetches). The denominator
 * is the one fetches_total metric, not the sum of the outcomes: an alarm may use at most ten metrics and the
 * outcomes alone are more. Metric-math ids must start with a lowercase letter: `fetches_ok` and friends
 * qualify as they are.
 */
export function fetchShare(
  outcomes: readonly FetchOutcomeMetric[],
  label: string,
  period: Duration = FIVE_MINUTES,
): cloudwatch.MathExpression {
  const numerator = outcomes.map((outcome) => fetchMetricName(outcome)).join(' + ');
  return new cloudwatch.MathExpression({
    expression: `IF(${METRIC.fetchesTotal} > 0, (${numerator}) / ${METRIC.fetchesTotal}, 0)`,
    usingMetrics: {
      [METRIC.fetchesTotal]: pollerMetric(METRIC.fetchesTotal, 'Sum', period),
      ...Object.fromEntries(
        outcomes.map((outcome) => [
          fetchMetricName(outcome),
          pollerMetric(fetchMetricName(outcome), 'Sum', period),
        ]),
      ),
    },
    period,
    label,
  });
}

/** expired_12 / all fetches: the overall 404-code-12 rate (0 when there were no fetches). */
export function expired12Rate(period: Duration = FIVE_MINUTES): cloudwatch.MathExpression {
  return fetchShare(['expired_12'], '404/12 share of fetches', period);
}

/** (malformed + unexpected) / all fetches: answers the client could not read or did not expect. */
export function malformedOrUnexpectedShare(period: Duration = FIVE_MINUTES): cloudwatch.MathExpression {
  return fetchShare(['malformed', 'unexpected'], 'malformed or unexpected share of fetches', period);
}

/**
 * A sum of counts, each term read as 0 in a period where it has no data (AWS metrics often emit nothing when
 * nothing happened). A period where no term has data gives 0 or no value: either is not breaching.
 */
export function sumOfCounts(
  terms: Record<string, cloudwatch.IMetric>,
  label: string,
  period: Duration = FIVE_MINUTES,
): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: Object.keys(terms)
      .map((id) => `FILL(${id}, 0)`)
      .join(' + '),
    usingMetrics: terms,
    period,
    label,
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

/** A metric the enqueue function emits (ENQUEUE_METRIC), per request: 1 when the request got that answer. */
export function enqueueMetric(
  name: EnqueueMetricName,
  statistic: string = cloudwatch.Stats.SUM,
  period: Duration = FIVE_MINUTES,
  label?: string,
): cloudwatch.Metric {
  return ourMetric(name, ENQUEUE_METRIC_DIMENSIONS, statistic, period, label);
}

export function erasureMetric(
  name: ErasureMetricName,
  statistic: string = cloudwatch.Stats.SUM,
  period: Duration = FIVE_MINUTES,
): cloudwatch.Metric {
  return ourMetric(name, ERASURE_METRIC_DIMENSIONS, statistic, period, undefined);
}
