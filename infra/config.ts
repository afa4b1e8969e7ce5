import { captureRetentionProblem, KEEP } from '../lib/capture-retention';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../lib/config';
import { ACCOUNT_ID_PATTERN } from '../lib/ids';
import { cadenceProblems, DEFAULT_POLL_INTERVAL_SEC, type CadenceSettingNames } from '../lib/poll-cadence';
import {
  CATEGORY_DEFINITIONS,
  PRIVACY_CATEGORIES,
  parsePrivacyMode,
  privacyModeRule,
  type PrivacyCategory,
  type PrivacyMode,
} from '../lib/privacy/categories';
import { checkTimingRule, finalWindowMsFor, type TimingSettingNames } from '../lib/poll-timing';
import {
  CAPTURE_INDEX_MIGRATION_STEPS,
  QUEUE_DUE_INDEX_MIGRATION_STEPS,
  type CaptureIndexMigration,
  type QueueDueIndexMigration,
} from '../lib/store/schema';
import { analyticsErasureDays, type AnalyticsRetentionSettings } from './analytics-retention';

/**
 * Deployment settings, read once from the CDK context (`cdk.json` "context", or `cdk deploy -c key=value`).
 * Every key carries the `lpv:` prefix; an unknown `lpv:` key or a bad value fails synthesis with a message that
 * names the key and shows the value it got. Units are in the names.
 */
export interface DeploymentConfig {
  /** LivePerson account (site) id. Required. */
  readonly lpAccountId: string;
  /**
   * Name, or complete ARN (with its 6-character suffix), of the Secrets Manager secret holding the LivePerson
   * credentials as JSON {consumerKey, consumerSecret, token, tokenSecret}. Created by the operator, never by the
   * stack. @default 'lp-visit-capture/liveperson'
   */
  readonly lpCredentialsSecret: string;
  /** Explicit Visit Information API base URL (skips the Domain API). @default - resolved via the Domain API */
  readonly lpBaseUrl?: string;
  /** LivePerson Domain API. @default - the poller's own default (https://api.liveperson.net) */
  readonly lpDomainApiUrl?: string;
  /** EventBridge schedule of the poller: `rate(N minute[s])`, N from 1 to 5. @default 'rate(1 minute)' */
  readonly pollSchedule: string;
  /** Minutes between two scheduled ticks, parsed from pollSchedule. */
  readonly pollPeriodMin: number;
  /** @default 512 */
  readonly pollerMemoryMiB: number;
  /**
   * Lambda timeout of one tick. @default 300: a tick that outlasts the schedule period overlaps the next ones, up
   * to ceil(timeout / period) at once (maxOverlappingInvocations). Not bound by the lease: each claimed item's
   * work ends within its own lease, whatever the tick's length (lib/poll-timing.ts, condition 2).
   */
  readonly pollerTimeoutSec: number;
  /** Reserved concurrency of the poller; new accounts cannot reserve any. @default - none (off) */
  readonly pollerReservedConcurrency?: number;
  /** Concurrent fetches per tick (POLL_CONCURRENCY). @default 32 */
  readonly pollConcurrency: number;
  /**
   * Re-poll interval of a live session without new events, and the least one after a quiet answer
   * (POLL_INTERVAL_SECONDS; the cadence: lib/poll-cadence.ts). @default 840 (14 min)
   */
  readonly pollIntervalSec: number;
  /** Interval after an answer with new events (POLL_INTERVAL_AFTER_EVENTS_SECONDS). @default pollIntervalSec */
  readonly pollIntervalAfterEventsSec?: number;
  /**
   * Longest interval a quiet session gets (POLL_QUIET_MAX_INTERVAL_SECONDS). @default 1200 (20 min), or
   * pollIntervalSec when longer; = pollIntervalSec: a fixed interval
   */
  readonly pollQuietMaxIntervalSec?: number;
  /** One more poll at the retry-safe deadline after the final-window poll (POLL_LAST_LOOK). @default true */
  readonly pollLastLook: boolean;
  /**
   * Lease of a claimed item (LEASE_SECONDS). @default 45: at least three request timeouts and 4 s (one item's
   * wait, requests, rows and ack), at most the final window less two schedule periods and a request timeout
   * (checked at synth, lib/poll-timing.ts).
   */
  readonly leaseSec: number;
  /**
   * Cap on LivePerson requests per second per poller invocation (LP_MAX_REQUESTS_PER_SECOND); 0 = none.
   * Times the most invocations that can overlap, it bounds the load on LivePerson. @default 10
   */
  readonly lpMaxRequestsPerSecond: number;
  /** E-mail address subscribed to the alarm topic. @default - no subscription */
  readonly alarmEmail?: string;
  /**
   * expired_before_capture / sessions_ended over a 5-minute period above which the lost-session-rate alarm
   * counts a breach (a fraction, 0 < x <= 1). @default 0.02 (see docs/deploy.md for the simulator run)
   */
  readonly lostRatioThreshold: number;
  /** Periods (5 min each) the lost-rate alarm looks at. @default 3 */
  readonly lostRatioEvaluationPeriods: number;
  /** Breaching periods among them that raise it. @default 2 */
  readonly lostRatioDatapointsToAlarm: number;
  /** Width of the anomaly band of expired_12 / fetches, in standard deviations. @default 3 */
  readonly expiredRateAnomalyStdDevs: number;
  /** min_time_to_deadline_ms below which the falling-behind alarm fires. @default 60000 (1 min) */
  readonly minTimeToDeadlineThresholdMs: number;
  /**
   * Whether the falling-behind alarm notifies. The metric counts only items due for a fetch (not those due at
   * their deadline just to be closed); in normal operation the last fetch lands 2–3 min before the deadline.
   * @default true
   */
  readonly fallingBehindAlarmActions: boolean;
  /** Duration alarm: Maximum duration above this share of the timeout. @default 0.8 */
  readonly durationAlarmTimeoutRatio: number;
  /**
   * Capture-row retention: 'keep' (no TTL), or days from 1 to 36500 after which every row of a session expires,
   * counted from the session's start (rule: lib/capture-retention.ts; the poller's CAPTURE_RETENTION_DAYS).
   * @default 'keep'
   */
  readonly captureRetentionDays: 'keep' | number;
  /**
   * Days of point-in-time recovery of the capture and queue tables (1 to 35): how far back a table can be
   * restored, and so how long a deleted or expired row survives in backups. @default 35 (DynamoDB's maximum)
   */
  readonly pointInTimeRecoveryDays: number;
  /**
   * The step of an existing stack's move from the queue's `due` index to `dueV2` (lib/store/schema.ts
   * queueTableDefinition; docs/deploy.md, "Migrating the queue's due index"): `add`, then `switch`, then unset
   * (`done`). New stacks leave it unset. @default 'done'
   */
  readonly queueDueIndexMigration: QueueDueIndexMigration;
  /**
   * The step of an existing stack's move from the capture table's ALL-projected indexes to their KEYS_ONLY
   * successors (lib/store/schema.ts captureTableDefinition; docs/deploy.md, "Migrating the capture indexes"):
   * `add-visitor`, `add-start-day`, `add-event-type`, `drop-visitor`, `drop-start-day`, then unset (`done`). New
   * stacks leave it unset. @default 'done'
   */
  readonly captureIndexMigration: CaptureIndexMigration;
  /** Steady-state and burst request rates of the enqueue HTTP API stage. @default 50 / 100 */
  readonly enqueueRateLimitPerSec: number;
  readonly enqueueBurstLimit: number;
  /** Most pairs in one enqueue request. @default 500 */
  readonly enqueueMaxBatchItems: number;
  /** Largest enqueue request body. @default 262144 (256 KiB) */
  readonly enqueueMaxBodyBytes: number;
  /** Retention of the functions' and the API's log groups. @default 30 */
  readonly logRetentionDays: number;
  /**
   * The analytics copy's retention clocks, in days (infra/analytics-retention.ts explains each): Iceberg snapshot
   * retention @default 5, orphan-file age @default 3, noncurrent object versions @default 1, errors/ @default 7,
   * Athena results @default 7, the NDJSON copy of before Iceberg (rows/) @default 1. Together they must fit in
   * analyticsErasureBoundDays.
   */
  readonly analyticsRetention: AnalyticsRetentionSettings;
  /**
   * The most days an erased or expired row may stay in the analytics buckets (docs/privacy.md states it); synth
   * fails when the clocks above allow longer. @default 10
   */
  readonly analyticsErasureBoundDays: number;
  /**
   * The privacy mode of each category set by `lpv:privacy<Category>` (privacyContextKey), passed to the poller as
   * LPV_PRIVACY_<CATEGORY>. @default - none set: every category keeps its default (docs/privacy.md)
   */
  readonly privacyModes: Readonly<Partial<Record<PrivacyCategory, PrivacyMode>>>;
}

export const CONTEXT_PREFIX = 'lpv:';

/** The context keys and their defaults (`undefined`: no default). */
export const CONTEXT_DEFAULTS = {
  accountId: undefined,
  credentialsSecret: 'lp-visit-capture/liveperson',
  baseUrl: undefined,
  domainApiUrl: undefined,
  pollSchedule: 'rate(1 minute)',
  pollerMemoryMiB: 512,
  pollerTimeoutSec: 300,
  pollerReservedConcurrency: undefined,
  pollConcurrency: 32,
  pollIntervalSec: DEFAULT_POLL_INTERVAL_SEC,
  pollIntervalAfterEventsSec: undefined,
  pollQuietMaxIntervalSec: undefined,
  pollLastLook: 'true',
  leaseSec: 45,
  maxRequestsPerSecond: 10,
  alarmEmail: undefined,
  lostRatioThreshold: 0.02,
  lostRatioEvaluationPeriods: 3,
  lostRatioDatapointsToAlarm: 2,
  expiredRateAnomalyStdDevs: 3,
  minTimeToDeadlineThresholdMs: 60_000,
  fallingBehindAlarmActions: 'true',
  durationAlarmTimeoutRatio: 0.8,
  captureRetentionDays: 'keep',
  pointInTimeRecoveryDays: 35,
  queueDueIndexMigration: 'done',
  captureIndexMigration: 'done',
  enqueueRateLimitPerSec: 50,
  enqueueBurstLimit: 100,
  enqueueMaxBatchItems: 500,
  enqueueMaxBodyBytes: 262_144,
  logRetentionDays: 30,
  analyticsSnapshotRetentionDays: 5,
  analyticsOrphanFileRetentionDays: 3,
  analyticsNoncurrentVersionDays: 1,
  analyticsErrorsRetentionDays: 7,
  athenaResultsRetentionDays: 7,
  analyticsLegacyRowsExpiryDays: 1,
  analyticsErasureBoundDays: 10,
} as const satisfies Record<string, string | number | undefined>;

export type ContextKey = keyof typeof CONTEXT_DEFAULTS;

/**
 * The context key of a privacy category's mode, one rule for every category: `privacy` + the category's name in
 * camel case (`customer-id` → `lpv:privacyCustomerId`). Unset: the category's default.
 */
export function privacyContextKey(category: PrivacyCategory): string {
  const words = category.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1));
  return `${CONTEXT_PREFIX}privacy${words.join('')}`;
}

/**
 * The privacy modes set in the context, each checked with the rule of the environment's LPV_PRIVACY_<CATEGORY>
 * (lib/privacy/categories.ts parsePrivacyMode): the same values are accepted in both places.
 */
function loadPrivacyModes(lookup: Lookup): Partial<Record<PrivacyCategory, PrivacyMode>> {
  const modes: Partial<Record<PrivacyCategory, PrivacyMode>> = {};
  const networkKey = privacyContextKey(CATEGORY_DEFINITIONS.network.category);
  for (const definition of PRIVACY_CATEGORIES) {
    const key = privacyContextKey(definition.category);
    const value = lookup(key);
    if (!present(value)) continue;
    if (typeof value !== 'string') throw new ContextError(key, 'must be a string', value);
    const mode = parsePrivacyMode(definition, value);
    if (mode === undefined)
      throw new ContextError(key, privacyModeRule(definition, value, networkKey), value);
    modes[definition.category] = mode;
  }
  return modes;
}

/** Log group retentions CloudWatch accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** A bad context value: the message names the key (or the keys, for settings that must agree) and the value. */
export class ContextError extends Error {
  constructor(key: ContextKey | string | readonly string[], problem: string, value?: unknown) {
    const shown = value === undefined ? '' : `, got ${JSON.stringify(value)}`;
    const keys = (typeof key === 'string' ? [key] : key).map(
      (k) => `"${k.startsWith(CONTEXT_PREFIX) ? k : CONTEXT_PREFIX + k}"`,
    );
    super(`cdk context ${keys.join(', ')}: ${problem}${shown}`);
    this.name = 'ContextError';
  }
}

/** The timing settings as the operator knows them at synth (the request timeout is the poller's default). */
const CONTEXT_TIMING_SETTING_NAMES: TimingSettingNames = {
  lease: `${CONTEXT_PREFIX}leaseSec`,
  schedulePeriod: `${CONTEXT_PREFIX}pollSchedule`,
  requestTimeout: "the poller's request timeout",
  pollInterval: `${CONTEXT_PREFIX}pollIntervalSec`,
};

/** The cadence settings as the operator knows them at synth. */
const CONTEXT_CADENCE_SETTING_NAMES: CadenceSettingNames = {
  pollInterval: `${CONTEXT_PREFIX}pollIntervalSec`,
  afterEventsInterval: `${CONTEXT_PREFIX}pollIntervalAfterEventsSec`,
  quietMaxInterval: `${CONTEXT_PREFIX}pollQuietMaxIntervalSec`,
};

type Lookup = (key: string) => unknown;

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

class Reader {
  constructor(private readonly lookup: Lookup) {}

  raw(key: ContextKey): unknown {
    const value = this.lookup(CONTEXT_PREFIX + key);
    return present(value) ? value : CONTEXT_DEFAULTS[key];
  }

  string(key: ContextKey, test: (s: string) => string | undefined): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new ContextError(key, 'must be a string', value);
    const trimmed = value.trim();
    const problem = test(trimmed);
    if (problem !== undefined) throw new ContextError(key, problem, value);
    return trimmed;
  }

  requiredString(key: ContextKey, test: (s: string) => string | undefined, hint: string): string {
    const value = this.string(key, test);
    if (value === undefined) throw new ContextError(key, `required: ${hint}`);
    return value;
  }

  boolean(key: ContextKey): boolean {
    const value = this.raw(key);
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new ContextError(key, 'must be true or false', value);
  }

  /** A number from cdk.json (a number) or from `-c key=value` (a string). */
  number(key: ContextKey, min: number, max: number, { integer = true } = {}): number {
    const value = this.raw(key);
    return this.checkNumber(key, value, min, max, integer);
  }

  optionalInteger(key: ContextKey, min: number, max: number): number | undefined {
    const value = this.raw(key);
    return value === undefined ? undefined : this.checkNumber(key, value, min, max, true);
  }

  checkNumber(key: ContextKey, value: unknown, min: number, max: number, integer: boolean): number {
    const n =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())
          ? Number(value.trim())
          : NaN;
    const kind = integer ? 'an integer' : 'a number';
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
      throw new ContextError(key, `must be ${kind} from ${min} to ${max}`, value);
    }
    return n;
  }
}

const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const RATE = /^rate\((\d+) (minute|minutes)\)$/;

function httpsUrl(s: string): string | undefined {
  try {
    const url = new URL(s);
    return url.protocol === 'https:' ? undefined : 'must be an https URL';
  } catch {
    return 'must be an https URL';
  }
}

/**
 * Reads and validates the deployment settings. `lookup` is `node.tryGetContext`; `allKeys` the keys of the
 * whole context, to catch a misspelt `lpv:` key that would otherwise be ignored silently.
 */
export function loadDeploymentConfig(lookup: Lookup, allKeys: readonly string[] = []): DeploymentConfig {
  const known = new Set([
    ...Object.keys(CONTEXT_DEFAULTS).map((k) => CONTEXT_PREFIX + k),
    ...PRIVACY_CATEGORIES.map((c) => privacyContextKey(c.category)),
  ]);
  for (const key of allKeys) {
    if (key.startsWith(CONTEXT_PREFIX) && !known.has(key)) {
      throw new ContextError(key, `unknown key; known keys: ${[...known].join(', ')}`);
    }
  }
  const r = new Reader(lookup);

  const lpAccountId = r.requiredString(
    'accountId',
    (s) => (ACCOUNT_ID_PATTERN.test(s) ? undefined : 'may only hold letters, digits, _ and - (1 to 64)'),
    'the LivePerson account (site) id, e.g. -c lpv:accountId=12345678',
  );
  const lpCredentialsSecret = r.requiredString(
    'credentialsSecret',
    (s) =>
      s.startsWith('arn:')
        ? SECRET_ARN.test(s)
          ? undefined
          : 'an ARN must be the complete secret ARN, with its 6-character suffix'
        : SECRET_NAME.test(s)
          ? undefined
          : 'not a valid secret name (letters, digits, /_+=.@-)',
    'name or ARN of the LivePerson credentials secret',
  );
  const lpBaseUrl = r.string('baseUrl', httpsUrl);
  const lpDomainApiUrl = r.string('domainApiUrl', httpsUrl);

  const pollSchedule = r.requiredString(
    'pollSchedule',
    (s) => {
      const m = RATE.exec(s);
      if (!m) return 'must be "rate(N minute)" or "rate(N minutes)"';
      const n = Number(m[1]);
      if (n < 1 || n > 5) return 'N must be from 1 to 5 (the heartbeat alarm expects a tick every 5 minutes)';
      if ((n === 1) !== (m[2] === 'minute'))
        return 'EventBridge wants "rate(1 minute)" but "rate(N minutes)"';
      return undefined;
    },
    'the poller schedule',
  );
  const pollPeriodMin = Number(RATE.exec(pollSchedule)?.[1]);

  const pollerTimeoutSec = r.number('pollerTimeoutSec', 30, 900);
  const pollConcurrency = r.number('pollConcurrency', 1, 256);
  const leaseSec = r.number('leaseSec', 30, 3600);
  // `keep`, or whole days: a number from cdk.json, or its text from `-c key=value`.
  const captureRaw = r.raw('captureRetentionDays');
  const captureText = typeof captureRaw === 'string' ? captureRaw.trim() : captureRaw;
  const captureProblem = captureRetentionProblem(captureText);
  if (captureProblem !== undefined)
    throw new ContextError('captureRetentionDays', captureProblem, captureRaw);
  const captureRetentionDays = captureText === KEEP ? KEEP : Number(captureText);
  const lostRatioEvaluationPeriods = r.number('lostRatioEvaluationPeriods', 1, 288);
  const lostRatioDatapointsToAlarm = r.number('lostRatioDatapointsToAlarm', 1, 288);
  if (lostRatioDatapointsToAlarm > lostRatioEvaluationPeriods) {
    throw new ContextError(
      'lostRatioDatapointsToAlarm',
      `must not exceed lpv:lostRatioEvaluationPeriods (${lostRatioEvaluationPeriods})`,
      lostRatioDatapointsToAlarm,
    );
  }
  const pollIntervalSec = r.number('pollIntervalSec', 60, 3600);
  // The rest of the cadence (lib/poll-cadence.ts), checked by the rule the poller's environment is checked by.
  const pollIntervalAfterEventsSec = r.optionalInteger('pollIntervalAfterEventsSec', 60, 3600);
  const pollQuietMaxIntervalSec = r.optionalInteger('pollQuietMaxIntervalSec', 60, 6 * 3600);
  const cadenceErrors = cadenceProblems(
    {
      pollIntervalSec,
      ...(pollIntervalAfterEventsSec !== undefined
        ? { afterEventsIntervalSec: pollIntervalAfterEventsSec }
        : {}),
      ...(pollQuietMaxIntervalSec !== undefined ? { quietMaxIntervalSec: pollQuietMaxIntervalSec } : {}),
    },
    CONTEXT_CADENCE_SETTING_NAMES,
  );
  if (cadenceErrors.length > 0) {
    throw new ContextError(['pollQuietMaxIntervalSec', 'pollIntervalSec'], cadenceErrors.join('; '));
  }
  // The lease, the schedule, the request timeout and the final window must agree, or a crash at the final poll
  // loses the session, or no claimed item has the time to be fetched (the conditions: lib/poll-timing.ts). The
  // Lambda runs with the default request timeout (the stack sets no LP_REQUEST_TIMEOUT_MS). Its timeout is free:
  // items are bounded by their own leases, not by the tick.
  const timingViolations = checkTimingRule(
    {
      leaseMs: leaseSec * 1000,
      schedulePeriodMs: pollPeriodMin * 60_000,
      requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      finalWindowMs: finalWindowMsFor(pollIntervalSec * 1000),
    },
    CONTEXT_TIMING_SETTING_NAMES,
  );
  if (timingViolations.length > 0) {
    const keys = [
      ...new Set(timingViolations.flatMap((v) => v.settings).filter((k) => k.startsWith(CONTEXT_PREFIX))),
    ];
    throw new ContextError(keys, timingViolations.map((v) => v.message).join('; '));
  }
  const logRetentionDays = r.number('logRetentionDays', 1, 3653);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    throw new ContextError(
      'logRetentionDays',
      `must be one of CloudWatch's retentions (${LOG_RETENTION_DAYS.join(', ')})`,
      logRetentionDays,
    );
  }
  const enqueueRateLimitPerSec = r.number('enqueueRateLimitPerSec', 1, 10_000);
  const enqueueBurstLimit = r.number('enqueueBurstLimit', 1, 5_000);
  const alarmEmail = r.string('alarmEmail', (s) => (EMAIL.test(s) ? undefined : 'not an e-mail address'));
  const pollerReservedConcurrency = r.optionalInteger('pollerReservedConcurrency', 1, 1000);

  return {
    lpAccountId,
    lpCredentialsSecret,
    ...(lpBaseUrl !== undefined ? { lpBaseUrl } : {}),
    ...(lpDomainApiUrl !== undefined ? { lpDomainApiUrl } : {}),
    pollSchedule,
    pollPeriodMin,
    pollerMemoryMiB: r.number('pollerMemoryMiB', 128, 10_240),
    pollerTimeoutSec,
    ...(pollerReservedConcurrency !== undefined ? { pollerReservedConcurrency } : {}),
    pollConcurrency,
    pollIntervalSec,
    ...(pollIntervalAfterEventsSec !== undefined ? { pollIntervalAfterEventsSec } : {}),
    ...(pollQuietMaxIntervalSec !== undefined ? { pollQuietMaxIntervalSec } : {}),
    pollLastLook: r.boolean('pollLastLook'),
    leaseSec,
    lpMaxRequestsPerSecond: r.number('maxRequestsPerSecond', 0, 10_000),
    ...(alarmEmail !== undefined ? { alarmEmail } : {}),
    lostRatioThreshold: r.number('lostRatioThreshold', 0.0001, 1, { integer: false }),
    lostRatioEvaluationPeriods,
    lostRatioDatapointsToAlarm,
    expiredRateAnomalyStdDevs: r.number('expiredRateAnomalyStdDevs', 0.5, 10, { integer: false }),
    minTimeToDeadlineThresholdMs: r.number('minTimeToDeadlineThresholdMs', 0, 6 * 3_600_000),
    fallingBehindAlarmActions: r.boolean('fallingBehindAlarmActions'),
    durationAlarmTimeoutRatio: r.number('durationAlarmTimeoutRatio', 0.1, 1, { integer: false }),
    captureRetentionDays,
    pointInTimeRecoveryDays: r.number('pointInTimeRecoveryDays', 1, 35),
    queueDueIndexMigration: r.string('queueDueIndexMigration', (s) =>
      (QUEUE_DUE_INDEX_MIGRATION_STEPS as readonly string[]).includes(s)
        ? undefined
        : `must be one of ${QUEUE_DUE_INDEX_MIGRATION_STEPS.join(', ')}`,
    ) as QueueDueIndexMigration,
    captureIndexMigration: r.string('captureIndexMigration', (s) =>
      (CAPTURE_INDEX_MIGRATION_STEPS as readonly string[]).includes(s)
        ? undefined
        : `must be one of ${CAPTURE_INDEX_MIGRATION_STEPS.join(', ')}`,
    ) as CaptureIndexMigration,
    enqueueRateLimitPerSec,
    enqueueBurstLimit,
    enqueueMaxBatchItems: r.number('enqueueMaxBatchItems', 1, 1000),
    enqueueMaxBodyBytes: r.number('enqueueMaxBodyBytes', 1024, 6_000_000),
    logRetentionDays,
    privacyModes: loadPrivacyModes(lookup),
    ...loadAnalyticsRetention(r),
  };
}

/** The analytics copy's retention clocks, checked against the erasure bound (infra/analytics-retention.ts). */
function loadAnalyticsRetention(
  r: Reader,
): Pick<DeploymentConfig, 'analyticsRetention' | 'analyticsErasureBoundDays'> {
  const analyticsRetention: AnalyticsRetentionSettings = {
    // Glue's optimizers take whole days from 1; a snapshot kept 0 days would make time travel useless.
    snapshotRetentionDays: r.number('analyticsSnapshotRetentionDays', 1, 3650),
    orphanFileRetentionDays: r.number('analyticsOrphanFileRetentionDays', 1, 3650),
    noncurrentVersionDays: r.number('analyticsNoncurrentVersionDays', 1, 3650),
    errorsRetentionDays: r.number('analyticsErrorsRetentionDays', 1, 3650),
    resultsRetentionDays: r.number('athenaResultsRetentionDays', 1, 3650),
    legacyRowsExpiryDays: r.number('analyticsLegacyRowsExpiryDays', 1, 3650),
  };
  const analyticsErasureBoundDays = r.number('analyticsErasureBoundDays', 1, 3650);
  const days = analyticsErasureDays(analyticsRetention);
  if (days > analyticsErasureBoundDays) {
    throw new ContextError(
      [
        'analyticsErasureBoundDays',
        'analyticsSnapshotRetentionDays',
        'analyticsOrphanFileRetentionDays',
        'analyticsNoncurrentVersionDays',
        'analyticsErrorsRetentionDays',
        'athenaResultsRetentionDays',
        'analyticsLegacyRowsExpiryDays',
      ],
      `the analytics retention settings let an erased row stay up to ${days} days in S3, more than the bound`,
      analyticsErasureBoundDays,
    );
  }
  return { analyticsRetention, analyticsErasureBoundDays };
}

/**
 * The most poller invocations that can run at once: a tick lasts at most the timeout and one starts every
 * period (async retries are off), so ceil(timeout / period); reserved concurrency, when set, caps it.
 */
export function maxOverlappingInvocations(config: DeploymentConfig): number {
  const bySchedule = Math.ceil(config.pollerTimeoutSec / (config.pollPeriodMin * 60));
  return config.pollerReservedConcurrency !== undefined
    ? Math.min(bySchedule, config.pollerReservedConcurrency)
    : bySchedule;
}

/** Upper bound on LivePerson requests per second from the whole deployment (undefined: uncapped). */
export function livePersonRequestBoundPerSec(config: DeploymentConfig): number | undefined {
  return config.lpMaxRequestsPerSecond === 0
    ? undefined
    : config.lpMaxRequestsPerSecond * maxOverlappingInvocations(config);
}
