import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { systemClock, type Clock } from '../clock';
import { FailureBackoff, type FailureBackoffPolicy } from './failure-backoff';

/**
 * A Secrets Manager secret whose value is JSON, read through Powertools Parameters (which caches values per
 * container for `maxAgeSec`) and turned into a T by `parse`. What the LivePerson credentials
 * (SecretsManagerCredentialsProvider) and the hash key (lib/privacy/key-provider.ts) share.
 */
export interface CachedSecretJsonOptions<T, E extends Error> {
  /** Names the secret in messages (`LivePerson credentials secret`): never its value. */
  label: string;
  /** The error of every failure: a configuration fault of the caller's kind. */
  errorClass: new (message: string) => E;
  /** The value read, or an E naming the secret and the problem, never a value. */
  parse: (value: unknown) => T;
  /** Backoff after a failed read. */
  failureBackoff: FailureBackoffPolicy;
  /** Clock of the failure backoff. @default systemClock */
  clock?: Clock;
  /** Jitter source of the failure backoff. @default Math.random */
  random?: () => number;
}

/**
 * A secret that cannot be read (missing, access denied, any read error), is not JSON, is empty or does not parse
 * throws an E whose message names the secret and the kind of problem, never the value. Failures are remembered
 * with backoff: until the retry time every read fails at once with the same error (Powertools caches values,
 * not failures), and the first read after one bypasses Powertools' cache, which may still hold the ill-shaped
 * value. Concurrent reads share one: a forced read (after a 401: a rotated secret) is joined by every read, a
 * plain one by plain ones.
 */
export class CachedSecretJson<T, E extends Error> {
  private readonly failures: FailureBackoff<E>;
  private inFlight?: Promise<T>;
  private inFlightForced?: Promise<T>;

  constructor(
    private readonly provider: SecretsProvider,
    private readonly secretId: string,
    private readonly maxAgeSec: number,
    private readonly options: CachedSecretJsonOptions<T, E>,
  ) {
    this.failures = new FailureBackoff(
      options.failureBackoff,
      options.clock ?? systemClock,
      options.random ?? Math.random,
    );
  }

  /** The value; `forceFetch` bypasses Powertools' cache. */
  async read(forceFetch: boolean): Promise<T> {
    this.failures.throwIfWaiting();
    if (forceFetch) {
      this.inFlightForced ??= this.loadAndRemember(true).finally(() => {
        this.inFlightForced = undefined;
      });
      return this.inFlightForced;
    }
    if (this.inFlightForced) return this.inFlightForced;
    this.inFlight ??= this.loadAndRemember(false).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async loadAndRemember(forceFetch: boolean): Promise<T> {
    try {
      const value = await this.load(forceFetch || this.failures.failing);
      this.failures.succeeded();
      return value;
    } catch (error) {
      const failure = error instanceof this.options.errorClass ? error : this.unreadable(error);
      this.failures.failed(failure);
      throw failure;
    }
  }

  private async load(forceFetch: boolean): Promise<T> {
    let value: unknown;
    try {
      value = await this.provider.get(this.secretId, {
        maxAge: this.maxAgeSec,
        transform: 'json',
        forceFetch,
      });
    } catch (error) {
      // Only error names, no messages and no cause: a JSON transform error quotes the start of the secret's value.
      throw this.unreadable(error);
    }
    if (value === undefined) {
      throw new this.options.errorClass(`${this.options.label} "${this.secretId}" is empty`);
    }
    return this.options.parse(value);
  }

  private unreadable(error: unknown): E {
    return new this.options.errorClass(
      `cannot read ${this.options.label} "${this.secretId}" (${errorKind(error)})`,
    );
  }
}

/**
 * The most specific name in an error's cause chain: Powertools wraps the SDK's ResourceNotFoundException or
 * AccessDeniedException in a GetParameterError, and the inner name is what tells an operator what to fix. Names
 * only, never messages: a JSON transform error quotes the start of the secret's value.
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
