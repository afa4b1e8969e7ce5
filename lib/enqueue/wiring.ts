import { randomUUID } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../clock';
import type { Log } from '../log';
import type { MetricsSink } from '../metrics';
import { createDocumentClient } from '../store/dynamo';
import { DynamoQueue } from '../store/dynamo-queue';
import { DynamoErasureRequests } from '../store/dynamo-erasure';
import { BearerAuth, SecretsManagerTokenSource } from './auth';
import type { EnqueueSettings, ForgetSettings } from './config';
import { handleEnqueueRequest } from './endpoint';
import { FORGET_MAX_BODY_BYTES, handleForgetRequest } from './forget-endpoint';
import type { HttpRequest, HttpResponse } from './http';

/** The endpoint with its dependencies built once (per Lambda container): clients, token cache. */
export function createEnqueueEndpoint(
  settings: EnqueueSettings,
  deps: {
    clock: Clock;
    log: Log;
    metrics: MetricsSink;
    secretsManager?: SecretsManagerClient;
    documentClient?: DynamoDBDocumentClient;
  },
): (request: HttpRequest) => Promise<HttpResponse> {
  const documentClient = deps.documentClient ?? createDocumentClient(settings.storage);
  const queue = new DynamoQueue(documentClient, settings.storage.queueTable, () => deps.clock.nowMs());
  const auth = new BearerAuth(
    new SecretsManagerTokenSource(
      deps.secretsManager ?? new SecretsManagerClient({}),
      settings.tokenSecretId,
      settings.tokenCacheSec,
      deps.clock,
    ),
    deps.clock,
    { previousTokenWindowMs: settings.previousTokenValidSec * 1000 },
  );
  const limits = { maxBatchItems: settings.maxBatchItems, maxBodyBytes: settings.maxBodyBytes };
  return (request) =>
    handleEnqueueRequest(request, {
      accountId: settings.accountId,
      queue,
      auth,
      clock: deps.clock,
      log: deps.log,
      metrics: deps.metrics,
      limits,
    });
}

/**
 * POST /forget with its dependencies built once per container. The token source is the same code as the
 * enqueue endpoint's, over the /forget token's own secret.
 */
export function createForgetEndpoint(
  settings: ForgetSettings,
  deps: {
    clock: Clock;
    log: Log;
    metrics: MetricsSink;
    secretsManager?: SecretsManagerClient;
    documentClient?: DynamoDBDocumentClient;
    newRequestId?: () => string;
  },
): (request: HttpRequest) => Promise<HttpResponse> {
  const documentClient = deps.documentClient ?? createDocumentClient(settings.storage);
  // Its pending() queries the due index: the stack names it (QUEUE_DUE_INDEX) while the index is migrated.
  const requests = new DynamoErasureRequests(
    documentClient,
    settings.storage.queueTable,
    settings.storage.queueDueIndex,
  );
  const auth = new BearerAuth(
    new SecretsManagerTokenSource(
      deps.secretsManager ?? new SecretsManagerClient({}),
      settings.tokenSecretId,
      settings.tokenCacheSec,
      deps.clock,
      'forget token',
    ),
    deps.clock,
    { previousTokenWindowMs: settings.previousTokenValidSec * 1000 },
  );
  return (request) =>
    handleForgetRequest(request, {
      accountId: settings.accountId,
      requests,
      auth,
      clock: deps.clock,
      log: deps.log,
      metrics: deps.metrics,
      maxBodyBytes: FORGET_MAX_BODY_BYTES,
      newRequestId: deps.newRequestId ?? randomUUID,
    });
}
