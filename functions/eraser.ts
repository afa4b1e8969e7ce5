import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { systemClock } from '../lib/clock';
import { loadEraserSettings } from '../lib/erasure/config';
import type { EraserRunSummary } from '../lib/erasure/eraser';
import { createEraser } from '../lib/eraser-wiring';
import { powertoolsLog, powertoolsMetrics } from './commons/observability';
import { ERASER_SERVICE_NAME } from './commons/constants';

// Built once per container: settings and the DynamoDB client.
const logger = new Logger({ serviceName: ERASER_SERVICE_NAME });
const eraser = createEraser(loadEraserSettings(process.env), {
  clock: systemClock,
  log: powertoolsLog(logger),
  // Namespace LpVisitCapture, dimension service=lpv-eraser: the ErasureOverdue alarm reads it.
  metrics: powertoolsMetrics(ERASER_SERVICE_NAME),
});

/**
 * One eraser run per scheduled event (every minute): carries out the pending POST /forget requests. The
 * invocation's request id owns the leases; its remaining time bounds which erasures it begins.
 */
export async function handler(_event: ScheduledEvent, context: Context): Promise<EraserRunSummary> {
  return eraser({
    owner: context.awsRequestId,
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
}
