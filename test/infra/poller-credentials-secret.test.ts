import { clearCaches } from '@aws-lambda-powertools/parameters';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { loadLivePersonSettings } from '../../lib/config';
import { CredentialsError } from '../../lib/errors';
import { createCredentialsProvider } from '../../lib/wiring';
import { fakeDateOnly } from '../support/fake-date';

/**
 * The deployed poller reads its LivePerson credentials from Secrets Manager (LP_CREDENTIALS_SECRET_ID, as the
 * stack sets it). Source-level test of that path: lib/wiring.ts → SecretsManagerCredentialsProvider →
 * Powertools SecretsProvider → the SDK client, mocked with aws-sdk-client-mock.
 */
const SECRET_ID = 'lp-visit-capture/liveperson';
const CREDENTIALS = {
  consumerKey: 'ck-5f1e',
  consumerSecret: 'cs-SECRET-VALUE-1',
  token: 'tk-7a2b',
  tokenSecret: 'ts-SECRET-VALUE-2',
};
const ROTATED = { ...CREDENTIALS, token: 'tk-rotated', tokenSecret: 'ts-SECRET-ROTATED' };

const secretsManager = mockClient(SecretsManagerClient);

function provider(refreshSec = '300') {
  const settings = loadLivePersonSettings({
    LP_ACCOUNT_ID: '12345678',
    LP_CREDENTIALS_SECRET_ID: SECRET_ID,
    LP_CREDENTIALS_REFRESH_SECONDS: refreshSec,
  });
  expect(settings.credentials).toEqual({ source: 'secretsManager', secretId: SECRET_ID });
  return createCredentialsProvider(settings, new SecretsManagerClient({ region: 'eu-west-1' }));
}

function secretCalls() {
  return secretsManager.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/** Everything an error would show in a log: message, name, and the messages of its causes. */
function shown(error: Error): string {
  const parts: string[] = [];
  let current: unknown = error;
  while (current instanceof Error) {
    parts.push(current.name, current.message);
    current = current.cause;
  }
  return parts.join(' | ');
}

beforeEach(() => {
  secretsManager.reset();
  clearCaches();
});

describe('LivePerson credentials from Secrets Manager (the deployed poller path)', () => {
  it('reads the secret by its id and caches it per container', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(CREDENTIALS) });
    const credentials = provider();
    expect(await credentials.get()).toEqual(CREDENTIALS);
    expect(await credentials.get()).toEqual(CREDENTIALS);
    expect(secretCalls()).toEqual([SECRET_ID]);
  });

  it('rereads after the refresh period', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify(CREDENTIALS) })
      .resolves({ SecretString: JSON.stringify(ROTATED) });
    fakeDateOnly(1_700_000_000_000);
    try {
      const credentials = provider('60');
      expect(await credentials.get()).toEqual(CREDENTIALS);
      jest.setSystemTime(1_700_000_000_000 + 59_000);
      expect(await credentials.get()).toEqual(CREDENTIALS);
      jest.setSystemTime(1_700_000_000_000 + 61_000);
      expect(await credentials.get()).toEqual(ROTATED);
      expect(secretCalls()).toHaveLength(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('refresh() forces a new read (after a 401: the secret was rotated) and later gets see the new value', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify(CREDENTIALS) })
      .resolves({ SecretString: JSON.stringify(ROTATED) });
    const credentials = provider();
    expect(await credentials.get()).toEqual(CREDENTIALS);
    expect(await credentials.refresh()).toEqual(ROTATED);
    expect(await credentials.get()).toEqual(ROTATED);
    expect(secretCalls()).toEqual([SECRET_ID, SECRET_ID]);
  });

  it('rejects a JSON object of the wrong shape with the missing fields named, no value shown', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        consumerKey: 'ck-5f1e',
        consumerSecret: 'cs-SECRET-VALUE-1',
        token: '',
      }),
    });
    const error = await failure(provider().get());
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain(`secret "${SECRET_ID}"`);
    expect(error.message).toMatch(/missing or empty field\(s\) token, tokenSecret/);
    expect(shown(error)).not.toMatch(/SECRET-VALUE|ck-5f1e/);
  });

  it('rejects a JSON array or scalar with the expected shape', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify(['cs-SECRET-VALUE-1']) });
    const error = await failure(provider().get());
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toMatch(
      /expected a JSON object \{consumerKey, consumerSecret, token, tokenSecret\}/,
    );
    expect(shown(error)).not.toContain('SECRET-VALUE');
  });

  it('reports a secret that is not JSON as unreadable, naming the secret, never quoting it', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'cs-SECRET-VALUE-1 not json' });
    const error = await failure(provider().get());
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toMatch(
      new RegExp(`^cannot read LivePerson credentials secret "${SECRET_ID}" \\(\\w+\\)$`),
    );
    expect(shown(error)).not.toContain('SECRET-VALUE');
  });

  it('reports a missing secret (or one it may not read) with the secret id', async () => {
    secretsManager.on(GetSecretValueCommand).rejects(
      new ResourceNotFoundException({
        message: 'Secrets Manager can’t find the specified secret.',
        $metadata: {},
      }),
    );
    const error = await failure(provider().get());
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toMatch(
      new RegExp(
        `^cannot read LivePerson credentials secret "${SECRET_ID}" \\((ResourceNotFound\\w*|GetParameterError)\\)$`,
      ),
    );
  });
});
