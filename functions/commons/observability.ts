import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Log, LogFields } from '../../lib/log';
import { METRICS_NAMESPACE, type MetricName, type MetricsSink } from '../../lib/metrics';

/** Powertools Logger behind lib's Log port: structured JSON in CloudWatch Logs. */
export function powertoolsLog(logger: Logger): Log {
  return {
    debug: (message: string, fields?: LogFields) => logger.debug(message, fields ?? {}),
    info: (message: string, fields?: LogFields) => logger.info(message, fields ?? {}),
    warn: (message: string, fields?: LogFields) => logger.warn(message, fields ?? {}),
    error: (message: string, fields?: LogFields) => logger.error(message, fields ?? {}),
  };
}

/** Powertools Metrics behind lib's MetricsSink: CloudWatch Embedded Metric Format on stdout. */
export function powertoolsMetrics(serviceName: string): MetricsSink {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
  return {
    count: (name: MetricName, value: number) => metrics.addMetric(name, MetricUnit.Count, value),
    milliseconds: (name: MetricName, value: number) =>
      metrics.addMetric(name, MetricUnit.Milliseconds, value),
    flush: () => metrics.publishStoredMetrics(),
  };
}
