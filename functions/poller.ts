import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { systemClock } from '../lib/clock';
import { loadLivePersonSettings, loadPollerSettings, loadStorageSettings } from '../lib/config';
import { publishTickMetrics } from '../lib/metrics';
import { loadPrivacySettings } from '../lib/privacy/config';
import { tickAndPublish, type TickSummary } from '../lib/poller/poller';
import {
  createCredentialsProvider,
  createPoller,
  createPrivacyPlans,
  createStorage,
  createVisitClient,
} from '../lib/wiring';
import { POLLER_SERVICE_NAME } from './commons/constants';
import { powertoolsLog, powertoolsMetrics } from './commons/observability';

// Built once per container: settings, clients (keep-alive sockets), cached credentials and hash key.
const logger = new Logger({ serviceName: 'lpv-poller' });
const log = powertoolsLog(logger);
const metrics = powertoolsMetrics(POLLER_SERVICE_NAME);
const livePerson = loadLivePersonSettings(process.env);
const storage = createStorage(loadStorageSettings(process.env), systemClock);
const source = createVisitClient(livePerson, {
  clock: systemClock,
  credentials: createCredentialsProvider(livePerson),
});
const poller = createPoller(livePerson.accountId, loadPollerSettings(process.env), {
  storage,
  source,
  clock: systemClock,
  log,
  // The modes (LPV_PRIVACY_*, from the stack's lpv:privacy* context) are checked here, at cold start. The hash
  // key comes from the stack's secret (LPV_HASH_KEY_SECRET_ID), read when each tick starts and cached like the
  // credentials: an unreadable or invalid key stops the tick before it claims anything (a configuration fault).
  privacy: createPrivacyPlans(loadPrivacySettings(process.env), log),
});

/** getRemainingTimeInMillis can read near zero just before the kill: keep this much back. */
const SAFETY_MARGIN_MS = 5_000;

/**
 * EventBridge schedule → one tick. Its metrics are published whatever happens (even when the tick throws); a
 * configuration fault fails the invocation so alarms fire.
 */
export async function handler(_event: ScheduledEvent, context: Context): Promise<TickSummary> {
  const summary = await tickAndPublish(
    poller,
    { budgetMs: context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS },
    (figures) => publishTickMetrics(figures, metrics),
  );
  if (summary.stoppedBy === 'configuration_fault') {
    throw new Error(`tick stopped on a configuration fault: ${summary.configurationFault ?? 'unknown'}`);
  }
  return summary;
}
