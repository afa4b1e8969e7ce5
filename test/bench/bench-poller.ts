import { systemClock } from '../../lib/clock';
import { StaticCredentialsProvider } from '../../lib/liveperson/credentials';
import { silentLog } from '../../lib/log';
import type { Poller } from '../../lib/poller/poller';
import { DEFAULT_SIMULATOR_CREDENTIALS } from '../../lib/simulator/server';
import { createPoller, createVisitClient, type Storage } from '../../lib/wiring';
import { benchPrivacyPolicy } from './privacy';

/**
 * The poller the bench measures: wired as the Lambda wires it (lib/wiring.ts), against a simulator at
 * `baseUrl`, on the system clock, with no request cap and silent logs.
 */
export function benchPoller(
  storage: Storage,
  accountId: string,
  baseUrl: string,
  concurrency: number,
): Poller {
  return createPoller(
    accountId,
    { concurrency, pollIntervalSec: 600, leaseSec: 300, maxRequestsPerSec: 0 },
    {
      storage,
      privacy: benchPrivacyPolicy(),
      source: createVisitClient(
        {
          accountId,
          baseUrl,
          domainApiUrl: baseUrl,
          credentials: { source: 'env', ...DEFAULT_SIMULATOR_CREDENTIALS },
          requestTimeoutMs: 10_000,
          credentialsRefreshSec: 300,
        },
        { clock: systemClock, credentials: new StaticCredentialsProvider(DEFAULT_SIMULATOR_CREDENTIALS) },
      ),
      clock: systemClock,
      log: silentLog,
    },
  );
}
