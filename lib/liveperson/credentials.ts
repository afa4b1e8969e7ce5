import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { CredentialsError } from '../errors';
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
 * A Secrets Manager secret holding JSON `{consumerKey, consumerSecret, token, tokenSecret}`, read through
 * Powertools Parameters, cached per container for `maxAgeSec`.
 */
export class SecretsManagerCredentialsProvider implements CredentialsProvider {
  constructor(
    private readonly provider: SecretsProvider,
    private readonly secretId: string,
    private readonly maxAgeSec: number,
  ) {}

  get(): Promise<LivePersonCredentials> {
    return this.load(false);
  }

  refresh(): Promise<LivePersonCredentials> {
    return this.load(true);
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
      // Only the error's name, no cause: a JSON transform error quotes the start of the secret's value.
      throw new CredentialsError(
        `cannot read LivePerson credentials secret "${this.secretId}" (${(error as Error).name})`,
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
