import { randomInt } from 'node:crypto';
import { clearCaches } from '@aws-lambda-powertools/parameters';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { ManualClock } from '../../lib/clock';
import { ConfigError, HashKeyError } from '../../lib/errors';
import { loadPrivacyPolicy, loadPrivacySettings } from '../../lib/privacy/config';
import { KeyedHasher } from '../../lib/privacy/hash';
import { SecretsManagerHashKeyProvider } from '../../lib/privacy/key-provider';
import { createHashKeyProvider } from '../../lib/wiring';
import { fakeDateOnly } from '../support/fake-date';

/**
 * The deployed poller reads the privacy hash key from the stack's secret (LPV_HASH_KEY_SECRET_ID, as the stack
 * sets it): lib/wiring.ts → SecretsManagerHashKeyProvider → Powertools SecretsProvider → the SDK client, mocked
 * with aws-sdk-client-mock. The secret is checked with LPV_HASH_KEY's rules; no message shows the key.
 */
const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:PrivacyHashKeySecret-AbC123';
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** What CloudFormation's generateSecretString makes of infra/privacy-key.ts: 64 letters and digits. */
function generatedKey(): string {
  return Array.from({ length: 64 }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join('');
}
const KEY = 'Kq7ZyPMa3Wn0cR5tLhUv8XbE2dGj4SfN6oQiYk1TwVx9AeCrBs7HuIgDl3FpOm5z';
const ROTATED = 'Rt2HvL9xQwE6yUi1OpAs4DfG8hJk3LzXc7VbN5mQwErTyUi0OpAs2DfGhJkL4zXc';

const secretsManager = mockClient(SecretsManagerClient);

function provider() {
  const settings = loadPrivacySettings({ LPV_HASH_KEY_SECRET_ID: SECRET_ID });
  expect(settings).toEqual({ modes: {}, hashKeySecretId: SECRET_ID });
  return createHashKeyProvider(settings, new SecretsManagerClient({ region: 'eu-west-1' }));
}

function reads(): number {
  return secretsManager.commandCalls(GetSecretValueCommand).length;
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

describe('the privacy hash key from Secrets Manager (the deployed poller path)', () => {
  it('accepts the value CloudFormation generates (64 letters and digits: 48 bytes), as LPV_HASH_KEY would', async () => {
    for (let i = 0; i < 20; i++) {
      const key = generatedKey();
      // The exact string the stack's secretStringTemplate and generateStringKey give.
      secretsManager.on(GetSecretValueCommand).resolves({ SecretString: `{"version":1,"key":"${key}"}` });
      clearCaches();
      const got = await provider().get();
      expect(got?.version).toBe(1);
      expect(got?.bytes).toHaveLength(48);
      expect(Buffer.from(got!.bytes).equals(Buffer.from(key, 'base64'))).toBe(true);
      // The same rules locally: the same text as LPV_HASH_KEY gives the same bytes, so the same hashes.
      const local = loadPrivacySettings({ LPV_HASH_KEY: key }).hashKey!;
      expect(new KeyedHasher(local).hash('x@example.org')).toBe(new KeyedHasher(got!).hash('x@example.org'));
    }
  });

  it('reads the secret by its id and caches it per container', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ key: KEY, version: 3 }) });
    const keys = provider();
    expect((await keys.get())?.version).toBe(3);
    expect((await keys.get())?.version).toBe(3);
    expect(secretsManager.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId)).toEqual([
      SECRET_ID,
    ]);
  });

  it('rereads after the refresh period (5 minutes): a rotated key is used from then on', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify({ key: KEY, version: 1 }) })
      .resolves({ SecretString: JSON.stringify({ key: ROTATED, version: 2 }) });
    fakeDateOnly(1_700_000_000_000);
    try {
      const keys = provider();
      expect((await keys.get())?.version).toBe(1);
      jest.setSystemTime(1_700_000_000_000 + 299_000);
      expect((await keys.get())?.version).toBe(1);
      jest.setSystemTime(1_700_000_000_000 + 301_000);
      expect((await keys.get())?.version).toBe(2);
      expect(reads()).toBe(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it.each<[string, string, RegExp]>([
    ['not JSON', `${KEY} 1`, /^cannot read hash key secret "[^"]+" \(\w+\)$/],
    ['a JSON array', JSON.stringify([KEY, 1]), /: expected a JSON object \{"key": "<base64/],
    ['without a key', JSON.stringify({ version: 1 }), /field "key" is missing or not a string/],
    [
      'a key that is not base64',
      JSON.stringify({ key: `${KEY}!!`, version: 1 }),
      /field "key" must be base64/,
    ],
    [
      'a key of 24 bytes',
      JSON.stringify({ key: KEY.slice(0, 32), version: 1 }),
      /field "key" must hold at least 32 bytes, got 24/,
    ],
    ['without a version', JSON.stringify({ key: KEY }), /field "version" is missing/],
    [
      'version 0',
      JSON.stringify({ key: KEY, version: 0 }),
      /field "version" must be a whole number from 1 to 9999$/,
    ],
    ['version 1.5', JSON.stringify({ key: KEY, version: 1.5 }), /field "version" must be a whole number/],
    // The key pasted into the version: the message must not show it.
    [
      'the key as its version',
      JSON.stringify({ key: KEY, version: KEY }),
      /field "version" must be a whole number/,
    ],
  ])(
    'refuses a secret %s, naming the secret and the field, never showing the key',
    async (_, value, message) => {
      secretsManager.on(GetSecretValueCommand).resolves({ SecretString: value });
      const error = await failure(provider().get());
      expect(error).toBeInstanceOf(HashKeyError);
      expect(error.message).toContain(SECRET_ID);
      expect(error.message).toMatch(message);
      expect(shown(error)).not.toContain(KEY.slice(0, 12));
    },
  );

  it('reports a missing secret with its id and the SDK error name', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .rejects(new ResourceNotFoundException({ message: 'Secrets Manager can’t find it.', $metadata: {} }));
    const error = await failure(provider().get());
    expect(error).toBeInstanceOf(HashKeyError);
    expect(error.message).toMatch(
      new RegExp(
        `^cannot read hash key secret "${SECRET_ID}" \\((ResourceNotFound\\w*|GetParameterError)\\)$`,
      ),
    );
  });

  it('remembers a failure with backoff, then rereads past the cache once the secret is fixed', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify({ key: KEY.slice(0, 8), version: 1 }) })
      .resolves({ SecretString: JSON.stringify({ key: KEY, version: 1 }) });
    const clock = new ManualClock(1_000_000);
    const keys = new SecretsManagerHashKeyProvider(
      new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({ region: 'eu-west-1' }) }),
      SECRET_ID,
      { clock, random: () => 0.5 },
    );
    const first = await failure(keys.get());
    expect(first).toBeInstanceOf(HashKeyError);
    // Within the first backoff (5 s): the same error, Secrets Manager not asked again.
    clock.advanceMs(4_000);
    expect(await failure(keys.get())).toBe(first);
    expect(reads()).toBe(1);
    clock.advanceMs(2_000);
    expect((await keys.get()).bytes).toHaveLength(48);
    expect(reads()).toBe(2);
  });

  it('takes the key from the secret or from LPV_HASH_KEY, never both', () => {
    expect(() => loadPrivacySettings({ LPV_HASH_KEY_SECRET_ID: SECRET_ID, LPV_HASH_KEY: KEY })).toThrow(
      /LPV_HASH_KEY: set together with LPV_HASH_KEY_SECRET_ID/,
    );
    expect(() =>
      loadPrivacySettings({ LPV_HASH_KEY_SECRET_ID: SECRET_ID, LPV_HASH_KEY_VERSION: '2' }),
    ).toThrow(/LPV_HASH_KEY_VERSION: set together with LPV_HASH_KEY_SECRET_ID/);
    expect(() => loadPrivacySettings({ LPV_HASH_KEY_SECRET_ID: 'not a secret id!' })).toThrow(ConfigError);
    // The CLI's policy is fixed at start: it says what to set rather than dropping the hashed categories.
    expect(() => loadPrivacyPolicy({ LPV_HASH_KEY_SECRET_ID: SECRET_ID }, () => undefined)).toThrow(
      /LPV_HASH_KEY_SECRET_ID: only the deployed poller reads the key from a secret/,
    );
  });
});
