import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { systemClock } from '../lib/clock';
import { loadForgetSettings } from '../lib/enqueue/config';
import { createForgetEndpoint } from '../lib/enqueue/wiring';
import { powertoolsLog, powertoolsMetrics } from './commons/observability';
import { ENQUEUE_SERVICE_NAME } from './commons/constants';

// Built once per container: settings, DynamoDB and Secrets Manager clients, the cached /forget token versions.
const logger = new Logger({ serviceName: 'lpv-forget' });
const endpoint = createForgetEndpoint(loadForgetSettings(process.env), {
  clock: systemClock,
  log: powertoolsLog(logger),
  // The enqueue API's metrics (service=lpv-enqueue): its 401 and 5xx alarms cover both of its routes.
  metrics: powertoolsMetrics(ENQUEUE_SERVICE_NAME),
});

/** POST /forget behind the enqueue API's HTTP API (payload 2.0): a site's privacy workflow asks for an erasure. */
export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  return endpoint({ headers: event.headers, body: event.body, isBase64Encoded: event.isBase64Encoded });
}
