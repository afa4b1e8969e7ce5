import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { MINUTE_MS, SECOND_MS, systemClock, type Clock } from '../clock';
import { CredentialsError } from '../errors';
import { FailureBackoff, type FailureBackoffPolicy } from './failure-backoff';
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
  private readonly failures: FailureBackoff<CredentialsError>;
  private inFlightGet?: Promise<LivePersonCredentials>;
  private inFlightRefresh?: Promise<LivePersonCredentials>;

  constructor(
    private readonly provider: SecretsProvider,
    private readonly secretId: string,
    private readonly maxAgeSec: number,
    options: SecretsManagerCredentialsOptions = {},
  ) {
    this.failures = new FailureBackoff(
      options.failureBackoff ?? CREDENTIALS_FAILURE_BACKOFF,
      options.clock ?? systemClock,
      options.random ?? Math.random,
    );
  }

  async get(): Promise<LivePersonCredentials> {
    this.failures.throwIfWaiting();
    if (this.inFlightRefresh) return this.inFlightRefresh;
    this.inFlightGet ??= this.loadAndRemember(false).finally(() => {
      this.inFlightGet = undefined;
    });
    return this.inFlightGet;
  }

  async refresh(): Promise<LivePersonCredentials> {
    this.failures.throwIfWaiting();
    this.inFlightRefresh ??= this.loadAndRemember(true).finally(() => {
      this.inFlightRefresh = undefined;
    });
    return this.inFlightRefresh;
  }

  private async loadAndRemember(forceFetch: boolean): Promise<LivePersonCredentials> {
    try {
      const credentials = await this.load(forceFetch || this.failures.failing);
      this.failures.succeeded();
      return credentials;
    } catch (error) {
      const failure =
        error instanceof CredentialsError
          ? error
          : new CredentialsError(
              `cannot read LivePerson credentials secret "${this.secretId}" (${(error as Error).name})`,
            );
      this.failures.failed(failure);
      throw failure;
    }
  }

  private async load(forceFetch: boolean): Promise<LivePersonCredentials> {
    let value: unknown;
    try {
      value = await this.provider.get(this.secretId, {
        maxAge: this.maxAgeSec,
        transform: 'json',
        forceFetch,
      });
    } catch (error) {
      // Only error names, no messages and no cause: a JSON transform error quotes the start of the secret's value.
      throw new CredentialsError(
        `cannot read LivePerson credentials secret "${this.secretId}" (${errorKind(error)})`,
      );
    }
    if (value === undefined)
      throw new CredentialsError(`LivePerson credentials secret "${this.secretId}" is empty`);
    try {
      return parseCredentials(value, `secret "${this.secretId}"`);
    } catch (error) {
      throw new CredentialsError((error as Error).message);
    }
  }
}

/**
 * The most specific name in an error's cause chain: Powertools wraps the SDK's ResourceNotFoundException or
 * AccessDeniedException in a GetParameterError, and the inner name is what tells an operator what to fix. Names
 * only, never messages: a JSON transform error quotes the start of the secret's value. Shared with the hash
 * key's secret (lib/privacy/key-provider.ts).
 */
export function errorKind(error: unknown): string {
  let kind = error instanceof Error ? error.name : typeof error;
  let current: unknown = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; current instanceof Error && depth < 5; depth += 1) {
    if (current.name !== 'Error') kind = current.name;
    current = current.cause;
  }
  return kind;
}
