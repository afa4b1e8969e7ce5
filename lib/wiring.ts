import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { newFlattenPlans } from './capture/flatten';
import type { Clock } from './clock';
import {
  DEFAULT_SCHEDULE_PERIOD_SEC,
  type LivePersonSettings,
  type PollerSettings,
  type StorageSettings,
} from './config';
import { DomainApiBaseUrl, FixedBaseUrl, type BaseUrlResolver } from './liveperson/base-url';
import { VisitInformationClient } from './liveperson/client';
import {
  SecretsManagerCredentialsProvider,
  StaticCredentialsProvider,
  type CredentialsProvider,
} from './liveperson/credentials';
import { createAgents, type HttpAgents } from './liveperson/http';
import type { Log } from './log';
import { Poller, type PollerDeps } from './poller/poller';
import type { PrivacyPolicy } from './privacy/policy';
import { defaultPollPolicy } from './poller/policy';
import { CAPTURE_KEY_ATTRIBUTES } from './keys';
import { createDocumentClient } from './store/dynamo';
import { DynamoCaptureStore } from './store/dynamo-capture-store';
import { DynamoQueue } from './store/dynamo-queue';

/**
 * Builds the pipeline's parts from settings. Entry points (Lambda handlers, CLI, `npm start`) call these once
 * per container/process and reuse the result.
 */
export function createCredentialsProvider(
  settings: LivePersonSettings,
  secretsManager?: SecretsManagerClient,
): CredentialsProvider {
  if (settings.credentials.source === 'env') return new StaticCredentialsProvider(settings.credentials);
  const provider = new SecretsProvider({ awsSdkV3Client: secretsManager ?? new SecretsManagerClient({}) });
  return new SecretsManagerCredentialsProvider(
    provider,
    settings.credentials.secretId,
    settings.credentialsRefreshSec,
  );
}

export function createVisitClient(
  settings: LivePersonSettings,
  deps: { clock: Clock; credentials: CredentialsProvider; agents?: HttpAgents },
): VisitInformationClient {
  const agents = deps.agents ?? createAgents();
  const baseUrl: BaseUrlResolver =
    settings.baseUrl !== undefined
      ? new FixedBaseUrl(settings.baseUrl)
      : new DomainApiBaseUrl({
          accountId: settings.accountId,
          domainApiUrl: settings.domainApiUrl,
          agents,
          clock: deps.clock,
          requestTimeoutMs: settings.requestTimeoutMs,
        });
  return new VisitInformationClient({
    accountId: settings.accountId,
    baseUrl,
    credentials: deps.credentials,
    requestTimeoutMs: settings.requestTimeoutMs,
    agents,
  });
}

export interface Storage {
  documentClient: DynamoDBDocumentClient;
  queue: DynamoQueue;
  store: DynamoCaptureStore;
}

export function createStorage(
  settings: StorageSettings,
  clock: Clock,
  documentClient?: DynamoDBDocumentClient,
): Storage {
  const client = documentClient ?? createDocumentClient(settings);
  return {
    documentClient: client,
    queue: new DynamoQueue(client, settings.queueTable, () => clock.nowMs()),
    store: new DynamoCaptureStore(client, settings.captureTable, new Set(CAPTURE_KEY_ATTRIBUTES)),
  };
}

/**
 * The poller, timed as deployed: retries are scheduled for the next tick (`schedulePeriodSec`, the default when a
 * caller's settings predate it) and allow for one request of the client's timeout. Its answers are flattened
 * under `privacy` (the entry point's lib/privacy/config.ts policy), through flatten plans of its own.
 */
export function createPoller(
  accountId: string,
  settings: Omit<PollerSettings, 'schedulePeriodSec'> & { schedulePeriodSec?: number },
  deps: {
    storage: Storage;
    source: VisitInformationClient;
    clock: Clock;
    log: Log;
    wallClock?: Clock;
    privacy: PrivacyPolicy;
  },
): Poller {
  const pollerDeps: PollerDeps = {
    queue: deps.storage.queue,
    store: deps.storage.store,
    source: deps.source,
    clock: deps.clock,
    log: deps.log,
    ...(deps.wallClock ? { wallClock: deps.wallClock } : {}),
    flattenPlans: newFlattenPlans({ privacy: deps.privacy }),
  };
  return new Poller(pollerDeps, {
    accountId,
    concurrency: settings.concurrency,
    policy: defaultPollPolicy(settings.pollIntervalSec),
    leaseMs: settings.leaseSec * 1000,
    maxRequestsPerSec: settings.maxRequestsPerSec,
    schedulePeriodMs: (settings.schedulePeriodSec ?? DEFAULT_SCHEDULE_PERIOD_SEC) * 1000,
    requestTimeoutMs: deps.source.requestTimeoutMs,
  });
}
