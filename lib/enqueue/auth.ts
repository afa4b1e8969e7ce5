import { createHash, timingSafeEqual } from 'node:crypto';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Clock } from '../clock';
import { LpvError } from '../errors';

/** The bearer token could not be loaded (secret missing, unreadable or empty). The value is never shown. */
export class TokenUnavailableError extends LpvError {}

/** The token secret's current version: its value and when that version was created (undefined: not said). */
export interface CurrentToken {
  token: string;
  createdAtMs: number | undefined;
}

/**
 * Where the expected bearer token comes from: the secret's current version and the one before it (the token a
 * rotation replaced). `forceFetch` bypasses the cache (after a rotation).
 */
export interface TokenSource {
  /** The current version. Throws TokenUnavailableError when it cannot be read or is not a token. */
  current(forceFetch: boolean): Promise<CurrentToken>;
  /** The previous version's token; undefined when there is none (never rotated) or it is not a token. */
  previous(forceFetch: boolean): Promise<string | undefined>;
}

/** Secrets Manager's staging labels: the version in force, and the one a rotation moved aside. */
const STAGE = { current: 'AWSCURRENT', previous: 'AWSPREVIOUS' } as const;

/** Shortest token accepted: a generated one has 48 characters. */
const MIN_TOKEN_LENGTH = 16;

interface Cached<T> {
  value: T;
  fetchedAtMs: number;
}

/**
 * A Secrets Manager secret whose SecretString is the token, each version (AWSCURRENT, AWSPREVIOUS) cached per
 * container for `maxAgeSec`. Only GetSecretValue is used (the one action the function's role has): it returns
 * the version's CreatedDate beside its value.
 */
export class SecretsManagerTokenSource implements TokenSource {
  private currentCache: Cached<CurrentToken> | undefined;
  private previousCache: Cached<string | undefined> | undefined;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    private readonly maxAgeSec: number,
    private readonly clock: Clock,
    /** Names the secret in errors: which route's token it holds. */
    private readonly label = 'enqueue token',
  ) {}

  async current(forceFetch: boolean): Promise<CurrentToken> {
    if (!forceFetch && this.fresh(this.currentCache)) return this.currentCache.value;
    let answer;
    try {
      answer = await this.client.send(
        new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: STAGE.current }),
      );
    } catch (error) {
      throw new TokenUnavailableError(`cannot read the ${this.label} secret "${this.secretId}"`, {
        cause: error,
      });
    }
    const token = asToken(answer.SecretString);
    if (token === undefined) {
      throw new TokenUnavailableError(
        `the ${this.label} secret "${this.secretId}" must hold a string of at least ${MIN_TOKEN_LENGTH} characters`,
      );
    }
    const value = { token, createdAtMs: answer.CreatedDate?.getTime() };
    this.currentCache = { value, fetchedAtMs: this.clock.nowMs() };
    return value;
  }

  async previous(forceFetch: boolean): Promise<string | undefined> {
    if (!forceFetch && this.fresh(this.previousCache)) return this.previousCache.value;
    let value: string | undefined;
    try {
      const answer = await this.client.send(
        new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: STAGE.previous }),
      );
      value = asToken(answer.SecretString);
    } catch (error) {
      // A secret never rotated has no AWSPREVIOUS version: Secrets Manager answers ResourceNotFoundException.
      if ((error as { name?: unknown }).name !== 'ResourceNotFoundException') {
        throw new TokenUnavailableError(
          `cannot read the previous version of the ${this.label} secret "${this.secretId}"`,
          { cause: error },
        );
      }
    }
    this.previousCache = { value, fetchedAtMs: this.clock.nowMs() };
    return value;
  }

  private fresh<T>(cached: Cached<T> | undefined): cached is Cached<T> {
    return cached !== undefined && this.clock.nowMs() - cached.fetchedAtMs < this.maxAgeSec * 1000;
  }
}

function asToken(value: string | undefined): string | undefined {
  const token = value?.trim();
  return token !== undefined && token.length >= MIN_TOKEN_LENGTH ? token : undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time comparison: both sides are hashed first, so neither content nor length leaks through timing. */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

const BEARER = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i;

/** How long the token a rotation replaced stays valid, from the new version's creation. @default 60 minutes */
export const DEFAULT_PREVIOUS_TOKEN_WINDOW_MS = 60 * 60_000;

export interface BearerAuthOptions {
  /**
   * After a rotation, the previous token is still accepted until this long after the new version's creation
   * (its CreatedDate), so the site backend can switch without a lockout. 0: the old token stops at once.
   */
  previousTokenWindowMs?: number;
  /** Least time between two forced rereads of the secret on a mismatch. @default 60 s */
  refreshMinIntervalMs?: number;
}

/**
 * Checks `Authorization: Bearer <token>` against the token source: the current token, or the previous one while
 * the rotation window lasts. A mismatch rereads the secret (a rotation must not lock callers out for the
 * cache's lifetime), at most once per `refreshMinIntervalMs` so that a flood of bad tokens cannot turn into a
 * flood of Secrets Manager calls.
 */
export class BearerAuth {
  private lastRefreshMs = Number.NEGATIVE_INFINITY;
  private readonly previousTokenWindowMs: number;
  private readonly refreshMinIntervalMs: number;

  constructor(
    private readonly source: TokenSource,
    private readonly clock: Clock,
    options: BearerAuthOptions = {},
  ) {
    this.previousTokenWindowMs = options.previousTokenWindowMs ?? DEFAULT_PREVIOUS_TOKEN_WINDOW_MS;
    this.refreshMinIntervalMs = options.refreshMinIntervalMs ?? 60_000;
  }

  /** True when the header carries a valid token. Throws TokenUnavailableError when it cannot tell. */
  async check(authorization: string | undefined): Promise<boolean> {
    const match = authorization === undefined ? null : BEARER.exec(authorization);
    if (match === null) return false;
    const presented = match[1] as string;
    if (await this.accepts(presented, false)) return true;
    const nowMs = this.clock.nowMs();
    if (nowMs - this.lastRefreshMs < this.refreshMinIntervalMs) return false;
    this.lastRefreshMs = nowMs;
    return this.accepts(presented, true);
  }

  private async accepts(presented: string, forceFetch: boolean): Promise<boolean> {
    const current = await this.source.current(forceFetch);
    if (tokensEqual(presented, current.token)) return true;
    // The previous version is read only while it may still open the door.
    if (!previousTokenValid(current.createdAtMs, this.clock.nowMs(), this.previousTokenWindowMs))
      return false;
    const previous = await this.source.previous(forceFetch);
    return previous !== undefined && tokensEqual(presented, previous);
  }
}

/**
 * Whether the token a rotation replaced is still accepted: until `windowMs` after the current version was
 * created. A current version of unknown age never lets the previous one in.
 */
export function previousTokenValid(
  currentCreatedAtMs: number | undefined,
  nowMs: number,
  windowMs: number,
): boolean {
  return currentCreatedAtMs !== undefined && nowMs < currentCreatedAtMs + windowMs;
}
