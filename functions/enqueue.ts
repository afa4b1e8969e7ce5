import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { systemClock } from '../lib/clock';
import { loadEnqueueSettings } from '../lib/enqueue/config';
import { createEnqueueEndpoint } from '../lib/enqueue/wiring';
import { powertoolsLog, powertoolsMetrics } from './commons/observability';
import { ENQUEUE_SERVICE_NAME } from './commons/constants';

// Built once per container: settings, DynamoDB and Secrets Manager clients, the cached token versions.
const logger = new Logger({ serviceName: ENQUEUE_SERVICE_NAME });
const endpoint = createEnqueueEndpoint(loadEnqueueSettings(process.env), {
  clock: systemClock,
  log: powertoolsLog(logger),
  // Namespace LpVisitCapture, dimension service=lpv-enqueue: the enqueue alarms (infra/monitoring.ts) read it.
  metrics: powertoolsMetrics(ENQUEUE_SERVICE_NAME),
});

/** POST /enqueue behind an HTTP API (payload format 2.0): a site's backend hands over (visitorId, sid) pairs. */
export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  return endpoint({ headers: event.headers, body: event.body, isBase64Encoded: event.isBase64Encoded });
}
