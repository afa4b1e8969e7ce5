import { FirehoseClient } from '@aws-sdk/client-firehose';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from './clock';
import type { Log } from './log';
import type { MetricsSink } from './metrics';
import type { HashKeyProvider } from './privacy/key-provider';
import { FirehoseAnalyticsDeletes } from './query/analytics-deletes';
import { createDocumentClient } from './store/dynamo';
import {
  DynamoErasedRows,
  DynamoErasureCapture,
  DynamoErasureQueue,
  DynamoErasureRequests,
} from './store/dynamo-erasure';
import type { EraserSettings } from './erasure/config';
import { runEraser, type EraserRunSummary } from './erasure/eraser';
import { createHashKeyProvider } from './wiring';

const sleepTimer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The eraser with its clients built once (per Lambda container). Each call is one run: `owner` names its
 * lease (the invocation's request id), `remainingMs` is the invocation's time left.
 *
 * The audit's hash key comes through the poller's provider (createHashKeyProvider: the stack's secret,
 * LPV_HASH_KEY_SECRET_ID, cached per container and remembered with backoff when it fails); the analytics
 * re-send through a Firehose client when LPV_ANALYTICS_STREAM names the delivery stream.
 */
export function createEraser(
  settings: EraserSettings,
  deps: {
    clock: Clock;
    log: Log;
    metrics: MetricsSink;
    documentClient?: DynamoDBDocumentClient;
    sleep?: (ms: number) => Promise<void>;
    secretsManager?: SecretsManagerClient;
    /** Overrides the provider built from settings.hashKey (tests). */
    hashKeys?: HashKeyProvider;
    firehose?: FirehoseClient;
  },
): (run: { owner: string; remainingMs: () => number }) => Promise<EraserRunSummary> {
  const client = deps.documentClient ?? createDocumentClient(settings.storage);
  const { queueTable, captureTable } = settings.storage;
  // The index names come from the stack only while it migrates them (docs/deploy.md); else the constants.
  const requests = new DynamoErasureRequests(client, queueTable, settings.storage.queueDueIndex);
  const queue = new DynamoErasureQueue(client, queueTable);
  const capture = new DynamoErasureCapture(client, captureTable, {
    byVisitorIndex: settings.storage.captureByVisitorIndex,
  });
  const sleep = deps.sleep ?? sleepTimer;
  const hashKeys =
    deps.hashKeys ??
    (settings.hashKey !== undefined
      ? createHashKeyProvider({ modes: {}, ...settings.hashKey }, deps.secretsManager)
      : undefined);
  const analytics =
    settings.analytics === undefined
      ? undefined
      : {
          deletes: new FirehoseAnalyticsDeletes(
            deps.firehose ?? new FirehoseClient({}),
            settings.analytics.streamName,
            settings.analytics.waitMs,
            // Its backoff sleeps like the erasure's waits (tests move a clock instead).
            { sleep },
          ),
          erasedRows: new DynamoErasedRows(client, queueTable, () => deps.clock.nowMs()),
        };
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
        sleep,
        log: deps.log,
        metrics: deps.metrics,
        owner: run.owner,
        remainingMs: run.remainingMs,
        ...(hashKeys !== undefined ? { hashKeys } : {}),
        ...(analytics !== undefined ? { analytics } : {}),
      },
    );
}
