import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { MINUTE_MS, SECOND_MS, type Clock } from '../clock';
import { CredentialsError } from '../errors';
import { CachedSecretJson } from './cached-secret';
import type { FailureBackoffPolicy } from './failure-backoff';
import { parseCredentials, type LivePersonCredentials } from './oauth';

/** Where the client gets its four OAuth values. `refresh()` rereads them (after a 401: a rotated secret). */
export interface CredentialsProvider {
  get(): Promise<LivePersonCredentials>;
  refresh(): Promise<LivePersonCredentials>;
}

/** Credentials fixed at start (local runs: LP_CONSUMER_KEY, LP_CONSUMER_SECRET, LP_TOKEN, LP_TOKEN_SECRET). */
export class StaticCredentialsProvider implements CredentialsProvider {
  constructor(private readonly credentials: LivePersonCredentials) {}
  async get(): Promise<LivePersonCredentials> {
    return this.credentials;
  }
  async refresh(): Promise<LivePersonCredentials> {
    return this.credentials;
  }
}

/**
 * After a failed read, every get() and refresh() fails at once with the same error for 5 s, then 10, 20, … up to
 * 1 min (±20 %) while the failures go on: a tick of 500 items asks Secrets Manager once, and a fixed secret is
 * seen within a minute. Powertools caches values, not failures, so this is ours.
 */
export const CREDENTIALS_FAILURE_BACKOFF: FailureBackoffPolicy = {
  initialMs: 5 * SECOND_MS,
  maxMs: MINUTE_MS,
  jitterRatio: 0.2,
};

export interface SecretsManagerCredentialsOptions {
  /** Clock of the failure backoff. @default systemClock */
  clock?: Clock;
  /** Jitter source of the failure backoff. @default Math.random */
  random?: () => number;
  /** @default CREDENTIALS_FAILURE_BACKOFF */
  failureBackoff?: FailureBackoffPolicy;
}

/**
 * A Secrets Manager secret holding JSON `{consumerKey, consumerSecret, token, tokenSecret}`, read through
 * Powertools Parameters, cached per container for `maxAgeSec`.
 *
 * A secret that cannot be read (missing, access denied, any read error), is not JSON, or lacks a field throws
 * CredentialsError: a configuration fault (the poller stops the tick, items untouched, alarm). Its message names
 * the secret and the kind of problem, never the value. Failures are remembered with backoff
 * (CREDENTIALS_FAILURE_BACKOFF), and the first read after one bypasses Powertools' cache, which may still hold
 * the ill-shaped value. Concurrent calls share one read (a get() also joins a refresh() in progress).
 */
export class SecretsManagerCredentialsProvider implements CredentialsProvider {
  private readonly secret: CachedSecretJson<LivePersonCredentials, CredentialsError>;

  constructor(
    provider: SecretsProvider,
    secretId: string,
    maxAgeSec: number,
    options: SecretsManagerCredentialsOptions = {},
  ) {
    this.secret = new CachedSecretJson(provider, secretId, maxAgeSec, {
      label: 'LivePerson credentials secret',
      errorClass: CredentialsError,
      parse: (value) => {
        try {
          return parseCredentials(value, `secret "${secretId}"`);
        } catch (error) {
          throw new CredentialsError((error as Error).message);
        }
      },
      failureBackoff: options.failureBackoff ?? CREDENTIALS_FAILURE_BACKOFF,
      clock: options.clock,
      random: options.random,
    });
  }

  async get(): Promise<LivePersonCredentials> {
    return this.secret.read(false);
  }

  async refresh(): Promise<LivePersonCredentials> {
    return this.secret.read(true);
  }
}
