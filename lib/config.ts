import {
  captureRetentionProblem,
  toCaptureRetentionDays,
  type CaptureRetentionDays,
} from './capture-retention';
import { ConfigError } from './errors';
import { ACCOUNT_ID_PATTERN } from './ids';
import {
  cadenceProblems,
  DEFAULT_POLL_INTERVAL_SEC,
  DEFAULT_QUIET_MAX_INTERVAL_SEC,
  type PollCadence,
} from './poll-cadence';
import { checkTimingRule, finalWindowMsFor } from './poll-timing';

/**
 * Settings, read once per entry point from the environment (Lambda module scope, CLI main) and passed down.
 * No other module reads process.env. Units are in the names.
 */
export interface LivePersonSettings {
  accountId: string;
  /** Explicit base URL of the Visit Information API (skips the Domain API). */
  baseUrl?: string;
  /** Host of LivePerson's Domain API, used when baseUrl is not set. @default https://api.liveperson.net */
  domainApiUrl: string;
  credentials:
    | { source: 'env'; consumerKey: string; consumerSecret: string; token: string; tokenSecret: string }
    | { source: 'secretsManager'; secretId: string };
  /** @default 10000 (10 s): longer than LivePerson's normal answers, short enough to keep a tick moving. */
  requestTimeoutMs: number;
  /** How long credentials read from Secrets Manager are cached. @default 300 (5 min) */
  credentialsRefreshSec: number;
}

export interface StorageSettings {
  /** Endpoint of a DynamoDB-compatible server (dynalite locally); AWS's when unset. */
  dynamoDbEndpoint?: string;
  region: string;
  queueTable: string;
  captureTable: string;
  /**
   * QUEUE_DUE_INDEX: the queue index that readers of due items query. Set by the stack only while its due index
   * is migrated (docs/deploy.md, "Migrating the queue's due index"). @default QUEUE_DUE_INDEX (lib/keys.ts)
   */
  queueDueIndex?: string;
  /**
   * CAPTURE_BY_VISITOR_INDEX: the capture index the eraser lists a visitor's sessions from. Set by the stack
   * only while the capture indexes are migrated (docs/deploy.md, "Migrating the capture indexes").
   * @default CAPTURE_BY_VISITOR (lib/keys.ts)
   */
  captureByVisitorIndex?: string;
}

export interface PollerSettings {
  /** Concurrent fetches per tick (twice as many sessions in flight: see Poller.tick). @default 32 */
  concurrency: number;
  /**
   * Re-poll interval of a live session without new events, and the least one after a quiet answer
   * (lib/poll-cadence.ts). @default 840 (14 min)
   */
  pollIntervalSec: number;
  /** POLL_INTERVAL_AFTER_EVENTS_SECONDS: the interval after an answer with new events. @default pollIntervalSec */
  pollIntervalAfterEventsSec?: number;
  /**
   * POLL_QUIET_MAX_INTERVAL_SECONDS: the longest interval a quiet session gets (it waits as long again as it has
   * been quiet, up to this). @default 1200 (20 min), or pollIntervalSec when longer; = pollIntervalSec: fixed
   */
  pollQuietMaxIntervalSec?: number;
  /** POLL_LAST_LOOK: one more poll at the retry-safe deadline after the final-window poll. @default true */
  pollLastLook?: boolean;
  /**
   * How long a claimed item stays leased to one poller; a dead poller's items are due again when it ends.
   * @default 45: short enough that a crash at the final poll still leaves a poll before the deadline, long
   * enough for one item's wait for a fetch slot, its requests, rows and ack, which the poller bounds by the
   * lease (the conditions: lib/poll-timing.ts). The tick may run longer: the lease does not bound it.
   */
  leaseSec: number;
  /** Seconds between two scheduled ticks; must match the poller's EventBridge rate. @default 60 */
  schedulePeriodSec: number;
  /** Cap on requests per second per poller invocation; 0 means none. @default 0 */
  maxRequestsPerSec: number;
  /**
   * Days after its session's start at which every capture row of a session expires (DynamoDB TTL, rule in
   * lib/capture-retention.ts), from CAPTURE_RETENTION_DAYS. @default undefined (`keep`: rows never expire)
   */
  captureRetentionDays?: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

function positiveInt(env: Env, name: string, fallback: number, { allowZero = false } = {}): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || (value === 0 && !allowZero)) {
    throw new ConfigError(name, `must be ${allowZero ? '>= 0' : '> 0'}, got "${raw}"`);
  }
  return value;
}

function optionalString(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** HTTPS is required; plain HTTP only for loopback hosts (the local simulator). */
export function checkServiceUrl(setting: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(setting, `not a URL: "${raw}"`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  throw new ConfigError(
    setting,
    `must use https (plain http only for loopback hosts), got "${url.protocol}//${url.host}"`,
  );
}

export function loadAccountId(env: Env): string {
  const accountId = optionalString(env, 'LP_ACCOUNT_ID');
  if (accountId === undefined)
    throw new ConfigError('LP_ACCOUNT_ID', 'required: the LivePerson account (site) id');
  if (!ACCOUNT_ID_PATTERN.test(accountId)) {
    throw new ConfigError('LP_ACCOUNT_ID', 'may only hold letters, digits, _ and - (1 to 64 characters)');
  }
  return accountId;
}

export function loadLivePersonSettings(env: Env): LivePersonSettings {
  const accountId = loadAccountId(env);
  const baseUrl = optionalString(env, 'LP_BASE_URL');
  if (baseUrl !== undefined) checkServiceUrl('LP_BASE_URL', baseUrl);
  const domainApiUrl = optionalString(env, 'LP_DOMAIN_API_URL') ?? 'https://api.liveperson.net';
  checkServiceUrl('LP_DOMAIN_API_URL', domainApiUrl);

  const secretId = optionalString(env, 'LP_CREDENTIALS_SECRET_ID');
  const envNames = ['LP_CONSUMER_KEY', 'LP_CONSUMER_SECRET', 'LP_TOKEN', 'LP_TOKEN_SECRET'] as const;
  const present = envNames.filter((n) => optionalString(env, n) !== undefined);
  let credentials: LivePersonSettings['credentials'];
  if (secretId !== undefined) {
    credentials = { source: 'secretsManager', secretId };
  } else if (present.length === envNames.length) {
    credentials = {
      source: 'env',
      consumerKey: optionalString(env, 'LP_CONSUMER_KEY') as string,
      consumerSecret: optionalString(env, 'LP_CONSUMER_SECRET') as string,
      token: optionalString(env, 'LP_TOKEN') as string,
      tokenSecret: optionalString(env, 'LP_TOKEN_SECRET') as string,
    };
  } else {
    const missing = envNames.filter((n) => !present.includes(n));
    throw new ConfigError(
      present.length === 0 ? 'LP_CREDENTIALS_SECRET_ID' : (missing[0] as string),
      present.length === 0
        ? 'required (or all of LP_CONSUMER_KEY, LP_CONSUMER_SECRET, LP_TOKEN, LP_TOKEN_SECRET)'
        : `required with the other LivePerson credential variables (missing: ${missing.join(', ')})`,
    );
  }
  return {
    accountId,
    ...(baseUrl !== undefined ? { baseUrl } : {}),
    domainApiUrl,
    credentials,
    requestTimeoutMs: loadRequestTimeoutMs(env),
    credentialsRefreshSec: positiveInt(env, 'LP_CREDENTIALS_REFRESH_SECONDS', 300),
  };
}

/** LivePerson's per-request timeout when LP_REQUEST_TIMEOUT_MS is unset (also what `cdk synth` checks). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

function loadRequestTimeoutMs(env: Env): number {
  return positiveInt(env, 'LP_REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS);
}

export function loadStorageSettings(env: Env): StorageSettings {
  const endpoint = optionalString(env, 'DYNAMODB_ENDPOINT');
  if (endpoint !== undefined) checkServiceUrl('DYNAMODB_ENDPOINT', endpoint);
  const region = optionalString(env, 'AWS_REGION') ?? optionalString(env, 'AWS_DEFAULT_REGION');
  if (region === undefined && endpoint === undefined) {
    throw new ConfigError('AWS_REGION', 'required when DYNAMODB_ENDPOINT is not set');
  }
  const tableName = (name: string, fallback: string): string => {
    const value = optionalString(env, name) ?? fallback;
    if (!/^[A-Za-z0-9_.-]{3,255}$/.test(value))
      throw new ConfigError(name, `not a valid DynamoDB table name: "${value}"`);
    return value;
  };
  const dueIndex = optionalString(env, 'QUEUE_DUE_INDEX');
  if (dueIndex !== undefined && !/^[A-Za-z0-9_.-]{3,255}$/.test(dueIndex)) {
    throw new ConfigError('QUEUE_DUE_INDEX', `not a valid DynamoDB index name: "${dueIndex}"`);
  }
  const byVisitorIndex = optionalString(env, 'CAPTURE_BY_VISITOR_INDEX');
  if (byVisitorIndex !== undefined && !/^[A-Za-z0-9_.-]{3,255}$/.test(byVisitorIndex)) {
    throw new ConfigError('CAPTURE_BY_VISITOR_INDEX', `not a valid DynamoDB index name: "${byVisitorIndex}"`);
  }
  return {
    ...(endpoint !== undefined ? { dynamoDbEndpoint: endpoint } : {}),
    region: region ?? 'local',
    queueTable: tableName('QUEUE_TABLE', 'lpv-queue'),
    captureTable: tableName('CAPTURE_TABLE', 'lpv-capture'),
    ...(dueIndex !== undefined ? { queueDueIndex: dueIndex } : {}),
    ...(byVisitorIndex !== undefined ? { captureByVisitorIndex: byVisitorIndex } : {}),
  };
}

/** CAPTURE_RETENTION_DAYS: `keep` or unset (no TTL), or whole days from 1 to 36500. */
export function loadCaptureRetentionDays(env: Env): CaptureRetentionDays {
  const raw = optionalString(env, 'CAPTURE_RETENTION_DAYS');
  if (raw === undefined) return undefined;
  const problem = captureRetentionProblem(raw);
  if (problem !== undefined) throw new ConfigError('CAPTURE_RETENTION_DAYS', `${problem}, got "${raw}"`);
  return toCaptureRetentionDays(raw);
}

/** The defaults of the timing settings (they meet the conditions of lib/poll-timing.ts). */
export { DEFAULT_POLL_INTERVAL_SEC, DEFAULT_QUIET_MAX_INTERVAL_SEC };
export const DEFAULT_LEASE_SEC = 45;
export const DEFAULT_SCHEDULE_PERIOD_SEC = 60;

/** POLL_LAST_LOOK: `true` or `false` (unset: undefined, the default). */
function optionalBoolean(env: Env, name: string): boolean | undefined {
  const raw = optionalString(env, name);
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

/**
 * The cadence settings beside POLL_INTERVAL_SECONDS (lib/poll-cadence.ts), only those set: the poller's
 * policy (lib/wiring.ts) fills in the defaults. A quiet cap below the interval is refused.
 */
function loadCadence(
  env: Env,
  pollIntervalSec: number,
): Pick<PollerSettings, 'pollIntervalAfterEventsSec' | 'pollQuietMaxIntervalSec' | 'pollLastLook'> {
  const optionalSeconds = (name: string): number | undefined =>
    optionalString(env, name) === undefined ? undefined : positiveInt(env, name, 0);
  const afterEvents = optionalSeconds('POLL_INTERVAL_AFTER_EVENTS_SECONDS');
  const quietMax = optionalSeconds('POLL_QUIET_MAX_INTERVAL_SECONDS');
  const lastLook = optionalBoolean(env, 'POLL_LAST_LOOK');
  const cadence: PollCadence = {
    pollIntervalSec,
    ...(afterEvents !== undefined ? { afterEventsIntervalSec: afterEvents } : {}),
    ...(quietMax !== undefined ? { quietMaxIntervalSec: quietMax } : {}),
  };
  const problems = cadenceProblems(cadence);
  if (problems.length > 0) {
    throw new ConfigError('POLL_QUIET_MAX_INTERVAL_SECONDS, POLL_INTERVAL_SECONDS', problems.join('; '));
  }
  return {
    ...(afterEvents !== undefined ? { pollIntervalAfterEventsSec: afterEvents } : {}),
    ...(quietMax !== undefined ? { pollQuietMaxIntervalSec: quietMax } : {}),
    ...(lastLook !== undefined ? { pollLastLook: lastLook } : {}),
  };
}

/**
 * The poller's settings. The lease, the schedule period, the request timeout (LP_REQUEST_TIMEOUT_MS, read here
 * too) and the final window (from the poll interval) are checked together (lib/poll-timing.ts): a violation
 * is a ConfigError naming the settings involved.
 */
export function loadPollerSettings(env: Env): PollerSettings {
  const settings: PollerSettings = {
    concurrency: positiveInt(env, 'POLL_CONCURRENCY', 32),
    pollIntervalSec: positiveInt(env, 'POLL_INTERVAL_SECONDS', DEFAULT_POLL_INTERVAL_SEC),
    leaseSec: positiveInt(env, 'LEASE_SECONDS', DEFAULT_LEASE_SEC),
    schedulePeriodSec: positiveInt(env, 'SCHEDULE_PERIOD_SECONDS', DEFAULT_SCHEDULE_PERIOD_SEC),
    maxRequestsPerSec: positiveInt(env, 'LP_MAX_REQUESTS_PER_SECOND', 0, { allowZero: true }),
  };
  const captureRetentionDays = loadCaptureRetentionDays(env);
  if (captureRetentionDays !== undefined) settings.captureRetentionDays = captureRetentionDays;
  Object.assign(settings, loadCadence(env, settings.pollIntervalSec));
  const violations = checkTimingRule({
    leaseMs: settings.leaseSec * 1000,
    schedulePeriodMs: settings.schedulePeriodSec * 1000,
    requestTimeoutMs: loadRequestTimeoutMs(env),
    finalWindowMs: finalWindowMsFor(settings.pollIntervalSec * 1000),
  });
  if (violations.length > 0) {
    const names = [...new Set(violations.flatMap((v) => v.settings))];
    throw new ConfigError(names.join(', '), violations.map((v) => v.message).join('; '));
  }
  return settings;
}
