import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { Clock } from '../clock';
import { LpvError } from '../errors';

/** The bearer token could not be loaded (secret missing, unreadable or empty). The value is never shown. */
export class TokenUnavailableError extends LpvError {}

/** Where the expected bearer token comes from. `forceFetch` bypasses the cache (after a rotation). */
export interface TokenSource {
  get(forceFetch: boolean): Promise<string>;
}

/** A Secrets Manager secret whose SecretString is the token, cached per container for `maxAgeSec`. */
export class SecretsManagerTokenSource implements TokenSource {
  constructor(
    private readonly provider: SecretsProvider,
    private readonly secretId: string,
    private readonly maxAgeSec: number,
  ) {}

  async get(forceFetch: boolean): Promise<string> {
    let value: string | Uint8Array | undefined;
    try {
      value = await this.provider.get(this.secretId, { maxAge: this.maxAgeSec, forceFetch });
    } catch (error) {
      throw new TokenUnavailableError(`cannot read the enqueue token secret "${this.secretId}"`, {
        cause: error,
      });
    }
    const token = typeof value === 'string' ? value.trim() : undefined;
    if (token === undefined || token.length < 16) {
      throw new TokenUnavailableError(
        `the enqueue token secret "${this.secretId}" must hold a string of at least 16 characters`,
      );
    }
    return token;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time comparison: both sides are hashed first, so neither content nor length leaks through timing. */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

const BEARER = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i;

/**
 * Checks `Authorization: Bearer <token>` against the token source. A mismatch rereads the secret (a rotation
 * must not lock callers out for the cache's lifetime), at most once per `refreshMinIntervalMs` so that a flood
 * of bad tokens cannot turn into a flood of Secrets Manager calls.
 */
export class BearerAuth {
  private lastRefreshMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly source: TokenSource,
    private readonly clock: Clock,
    private readonly refreshMinIntervalMs = 60_000,
  ) {}

  /** True when the header carries the current token. Throws TokenUnavailableError when it cannot tell. */
  async check(authorization: string | undefined): Promise<boolean> {
    const match = authorization === undefined ? null : BEARER.exec(authorization);
    if (match === null) return false;
    const presented = match[1] as string;
    if (tokensEqual(presented, await this.source.get(false))) return true;
    const nowMs = this.clock.nowMs();
    if (nowMs - this.lastRefreshMs < this.refreshMinIntervalMs) return false;
    this.lastRefreshMs = nowMs;
    return tokensEqual(presented, await this.source.get(true));
  }
}
