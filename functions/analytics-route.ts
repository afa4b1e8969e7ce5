/**
 * Firehose record transformation of the analytics copy (infra/analytics.ts): each capture-table stream record
 * gets its Iceberg table and operation (`metadata.otfMetadata`), or is refused and counted. Thin: the decision
 * is lib/query/analytics-route.ts (pure).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import schema from '../lib/query/analytics-schema.json';
import type { AnalyticsSchema } from '../lib/query/analytics-schema';
import {
  ANALYTICS_ROUTE_SERVICE_NAME,
  loadAnalyticsRouteSettings,
  routeBatch,
  type FirehoseInputRecord,
  type FirehoseOutputRecord,
} from '../lib/query/analytics-route';
import { METRICS_NAMESPACE } from '../lib/metrics';

// Once per container: the setting, the schema the tables were generated from, the log and metric sinks.
const settings = loadAnalyticsRouteSettings(process.env);
const logger = new Logger({ serviceName: ANALYTICS_ROUTE_SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ANALYTICS_ROUTE_SERVICE_NAME });

export async function handler(event: {
  records: FirehoseInputRecord[];
}): Promise<{ records: FirehoseOutputRecord[] }> {
  const result = routeBatch(event.records, schema as AnalyticsSchema, settings.databaseName);
  for (const [name, value] of Object.entries(result.counts)) metrics.addMetric(name, MetricUnit.Count, value);
  metrics.publishStoredMetrics();
  // Reasons and column names only: never a value of a record.
  if (result.counts.analytics_records_unroutable > 0) {
    logger.error('records refused (written to errors/processing-failed/)', {
      byReason: result.unroutableByReason,
    });
  }
  if (result.counts.analytics_undeclared_columns > 0) {
    logger.warn('columns the tables do not declare (dropped from the analytics copy)', {
      byTable: result.undeclaredByTable,
    });
  }
  return { records: result.records };
}
