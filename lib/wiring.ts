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
import type { PrivacySettings } from './privacy/config';
import {
  SecretsManagerHashKeyProvider,
  StaticHashKeyProvider,
  type HashKeyProvider,
} from './privacy/key-provider';
import type { PrivacyPolicy } from './privacy/policy';
import { pollPolicy } from './poller/policy';
import { KeyedPrivacyPlans, type PrivacyPlans } from './poller/privacy-plans';
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

/**
 * The hash key as the settings say: from the secret LPV_HASH_KEY_SECRET_ID (the deployed poller, read at tick
 * starts and cached like the credentials), else LPV_HASH_KEY, else none.
 */
export function createHashKeyProvider(
  settings: PrivacySettings,
  secretsManager?: SecretsManagerClient,
): HashKeyProvider {
  if (settings.hashKeySecretId === undefined) return new StaticHashKeyProvider(settings.hashKey);
  const provider = new SecretsProvider({ awsSdkV3Client: secretsManager ?? new SecretsManagerClient({}) });
  return new SecretsManagerHashKeyProvider(provider, settings.hashKeySecretId);
}

/**
 * The poller's flatten plans under the settings' modes and key, resolved when each tick starts (an unreadable
 * key secret stops the tick as a configuration fault) and made again only when the key changes.
 */
export function createPrivacyPlans(
  settings: PrivacySettings,
  log: Log,
  secretsManager?: SecretsManagerClient,
): PrivacyPlans {
  return new KeyedPrivacyPlans({
    modes: settings.modes,
    keys: createHashKeyProvider(settings, secretsManager),
    log,
  });
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
    queue: new DynamoQueue(client, settings.queueTable, () => clock.nowMs(), {
      ...(settings.queueDueIndex !== undefined ? { dueIndexName: settings.queueDueIndex } : {}),
    }),
    store: new DynamoCaptureStore(client, settings.captureTable, new Set(CAPTURE_KEY_ATTRIBUTES)),
  };
}

/**
 * The poller, timed as deployed: retries are scheduled for the next tick (`schedulePeriodSec`, the default when a
 * caller's settings predate it) and allow for one request of the client's timeout. Its answers are flattened
 * under `privacy`: a policy fixed at start (the CLI: lib/privacy/config.ts loadPrivacyPolicy), through flatten
 * plans of its own, or plans resolved at each tick's start (the deployed poller: createPrivacyPlans).
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
    privacy: PrivacyPolicy | PrivacyPlans;
  },
): Poller {
  const pollerDeps: PollerDeps = {
    queue: deps.storage.queue,
    store: deps.storage.store,
    source: deps.source,
    clock: deps.clock,
    log: deps.log,
    ...(deps.wallClock ? { wallClock: deps.wallClock } : {}),
    ...('current' in deps.privacy
      ? { privacyPlans: deps.privacy }
      : { flattenPlans: newFlattenPlans({ privacy: deps.privacy }) }),
  };
  return new Poller(pollerDeps, {
    accountId,
    concurrency: settings.concurrency,
    policy: pollPolicy({
      pollIntervalSec: settings.pollIntervalSec,
      ...(settings.pollIntervalAfterEventsSec !== undefined
        ? { afterEventsIntervalSec: settings.pollIntervalAfterEventsSec }
        : {}),
      ...(settings.pollQuietMaxIntervalSec !== undefined
        ? { quietMaxIntervalSec: settings.pollQuietMaxIntervalSec }
        : {}),
      ...(settings.pollLastLook !== undefined ? { lastLook: settings.pollLastLook } : {}),
    }),
    leaseMs: settings.leaseSec * 1000,
    maxRequestsPerSec: settings.maxRequestsPerSec,
    schedulePeriodMs: (settings.schedulePeriodSec ?? DEFAULT_SCHEDULE_PERIOD_SEC) * 1000,
    requestTimeoutMs: deps.source.requestTimeoutMs,
    captureRetentionDays: settings.captureRetentionDays,
  });
}
