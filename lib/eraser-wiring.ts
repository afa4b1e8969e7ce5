import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from './clock';
import type { Log } from './log';
import type { MetricsSink } from './metrics';
import { createDocumentClient } from './store/dynamo';
import { DynamoErasureCapture, DynamoErasureQueue, DynamoErasureRequests } from './store/dynamo-erasure';
import type { EraserSettings } from './erasure/config';
import { runEraser, type EraserRunSummary } from './erasure/eraser';

const sleepTimer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The eraser with its clients built once (per Lambda container). Each call is one run: `owner` names its
 * lease (the invocation's request id), `remainingMs` is the invocation's time left.
 */
export function createEraser(
  settings: EraserSettings,
  deps: {
    clock: Clock;
    log: Log;
    metrics: MetricsSink;
    documentClient?: DynamoDBDocumentClient;
    sleep?: (ms: number) => Promise<void>;
  },
): (run: { owner: string; remainingMs: () => number }) => Promise<EraserRunSummary> {
  const client = deps.documentClient ?? createDocumentClient(settings.storage);
  const { queueTable, captureTable } = settings.storage;
  const requests = new DynamoErasureRequests(client, queueTable);
  const queue = new DynamoErasureQueue(client, queueTable);
  const capture = new DynamoErasureCapture(client, captureTable);
  return (run) =>
    runEraser(
      {
        accountId: settings.accountId,
        leaseMs: settings.leaseSec * 1000,
        maxRequestsPerRun: settings.maxRequestsPerRun,
      },
      {
        requests,
        queue,
        capture,
        clock: deps.clock,
        sleep: deps.sleep ?? sleepTimer,
        log: deps.log,
        metrics: deps.metrics,
        owner: run.owner,
        remainingMs: run.remainingMs,
      },
    );
}
