import { clearCaches } from '@aws-lambda-powertools/parameters';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { ManualClock, MINUTE_MS, SECOND_MS } from '../../lib/clock';
import { CredentialsError } from '../../lib/errors';
import { SecretsManagerCredentialsProvider } from '../../lib/liveperson/credentials';

/**
 * SecretsManagerCredentialsProvider's failures: each way a secret can be unusable is a CredentialsError naming
 * the secret and never its value, and a failure is remembered with backoff (5 s doubling to 1 min) so a tick of
 * 500 items reads the secret once. Secrets Manager has no local server: the SDK client under Powertools'
 * SecretsProvider is mocked with aws-sdk-client-mock (as in test/infra/poller-credentials-secret.test.ts). The
 * provider's backoff runs on a ManualClock with the jitter draw fixed at the middle (no jitter).
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
let clock: ManualClock;

beforeEach(() => {
  secretsManager.reset();
  clearCaches();
  clock = new ManualClock(1_700_000_000_000);
});

function provider(): SecretsManagerCredentialsProvider {
  const secrets = new SecretsProvider({
    awsSdkV3Client: new SecretsManagerClient({ region: 'eu-west-1' }),
  });
  return new SecretsManagerCredentialsProvider(secrets, SECRET_ID, 300, { clock, random: () => 0.5 });
}

function secretCalls(): number {
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

const accessDenied = () =>
  new SecretsManagerServiceException({
    name: 'AccessDeniedException',
    $fault: 'client',
    $metadata: {},
    message: `User: arn:aws:sts::123456789012:assumed-role/poller is not authorized to perform: secretsmanager:GetSecretValue`,
  });
const notFound = () =>
  new ResourceNotFoundException({
    message: 'Secrets Manager can’t find the specified secret.',
    $metadata: {},
  });

const UNUSABLE: Array<[string, () => void, RegExp]> = [
  [
    'missing',
    () => secretsManager.on(GetSecretValueCommand).rejects(notFound()),
    /^cannot read LivePerson credentials secret "[^"]+" \(ResourceNotFoundException\)$/,
  ],
  [
    'access denied',
    () => secretsManager.on(GetSecretValueCommand).rejects(accessDenied()),
    /^cannot read LivePerson credentials secret "[^"]+" \(AccessDeniedException\)$/,
  ],
  [
    'not JSON',
    () => secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'cs-SECRET-VALUE-1 not json' }),
    /^cannot read LivePerson credentials secret "[^"]+" \(TransformParameterError\)$/,
  ],
  [
    'missing fields',
    () =>
      secretsManager.on(GetSecretValueCommand).resolves({
        SecretString: JSON.stringify({ consumerKey: 'ck-5f1e', consumerSecret: 'cs-SECRET-VALUE-1' }),
      }),
    /missing or empty field\(s\) token, tokenSecret/,
  ],
  [
    'a JSON array',
    () =>
      secretsManager
        .on(GetSecretValueCommand)
        .resolves({ SecretString: JSON.stringify(['cs-SECRET-VALUE-1']) }),
    /expected a JSON object \{consumerKey, consumerSecret, token, tokenSecret\}/,
  ],
];

describe('SecretsManagerCredentialsProvider: an unusable secret', () => {
  it.each(UNUSABLE)(
    '%s: CredentialsError naming the secret, never its value; remembered for get() and refresh()',
    async (_, arrange, message) => {
      arrange();
      const credentials = provider();
      const first = await failure(credentials.get());
      expect(first).toBeInstanceOf(CredentialsError);
      expect(first.message).toMatch(message);
      expect(first.message).toContain(`"${SECRET_ID}"`);
      expect(shown(first)).not.toMatch(/SECRET-VALUE|ck-5f1e|arn:aws|123456789012/);
      const calls = secretCalls();
      expect(calls).toBe(1);

      // Until the backoff passes, every call throws the same error and Secrets Manager is not asked.
      expect(await failure(credentials.get())).toBe(first);
      expect(await failure(credentials.refresh())).toBe(first);
      clock.advanceMs(4_999);
      expect(await failure(credentials.get())).toBe(first);
      expect(secretCalls()).toBe(calls);
    },
  );
});

describe('SecretsManagerCredentialsProvider: failures remembered with backoff', () => {
  it('500 concurrent get() while the secret is unreadable make 1 Secrets Manager call', async () => {
    secretsManager.on(GetSecretValueCommand).rejects(accessDenied());
    const credentials = provider();
    const errors = await Promise.all(Array.from({ length: 500 }, () => failure(credentials.get())));
    expect(secretCalls()).toBe(1);
    expect(new Set(errors).size).toBe(1);
    expect(errors[0]).toBeInstanceOf(CredentialsError);
    // The next tick's 500 items, still inside the backoff: no call at all.
    clock.advanceMs(2 * SECOND_MS);
    await Promise.all(Array.from({ length: 500 }, () => failure(credentials.get())));
    expect(secretCalls()).toBe(1);
  });

  it('retried once the backoff passes, doubling up to 1 min; a success resets it', async () => {
    secretsManager.on(GetSecretValueCommand).rejects(notFound());
    const credentials = provider();
    await failure(credentials.get());
    for (const delayMs of [5, 10, 20, 40, 60, 60].map((s) => s * SECOND_MS)) {
      const calls = secretCalls();
      clock.advanceMs(delayMs - 1);
      await failure(credentials.get());
      expect(secretCalls()).toBe(calls);
      clock.advanceMs(1);
      await failure(credentials.get());
      expect(secretCalls()).toBe(calls + 1);
    }

    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(CREDENTIALS) });
    clock.advanceMs(MINUTE_MS);
    expect(await credentials.get()).toEqual(CREDENTIALS);

    // A forced reread (after a 401) that fails is remembered for 5 s again, not 2 min.
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand).rejects(notFound());
    const again = await failure(credentials.refresh());
    expect(again).toBeInstanceOf(CredentialsError);
    clock.advanceMs(4_999);
    expect(await failure(credentials.get())).toBe(again);
    expect(secretCalls()).toBe(1);
    clock.advanceMs(1);
    await failure(credentials.get());
    expect(secretCalls()).toBe(2);
  });

  it('the first read after a failure bypasses the value cache: a fixed secret is seen at the first retry', async () => {
    // Powertools caches the ill-shaped value (it parsed as JSON) for the 300 s maxAge.
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify({ consumerKey: 'ck-5f1e' }) })
      .resolves({ SecretString: JSON.stringify(CREDENTIALS) });
    const credentials = provider();
    expect(await failure(credentials.get())).toBeInstanceOf(CredentialsError);
    clock.advanceMs(5 * SECOND_MS);
    expect(await credentials.get()).toEqual(CREDENTIALS);
    expect(secretCalls()).toBe(2);
    // Healthy again: values come from the cache.
    expect(await credentials.get()).toEqual(CREDENTIALS);
    expect(secretCalls()).toBe(2);
  });
});

describe('SecretsManagerCredentialsProvider: concurrent reads share one call', () => {
  it('concurrent get() on a cold cache make 1 call', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(CREDENTIALS) });
    const credentials = provider();
    const all = await Promise.all(Array.from({ length: 50 }, () => credentials.get()));
    expect(all.every((value) => value.token === CREDENTIALS.token)).toBe(true);
    expect(secretCalls()).toBe(1);
  });

  it('concurrent refresh() (a burst of 401s) make 1 forced read; a get() meanwhile joins it', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify(CREDENTIALS) })
      .resolves({ SecretString: JSON.stringify(ROTATED) });
    const credentials = provider();
    expect(await credentials.get()).toEqual(CREDENTIALS);
    const refreshed = await Promise.all([
      ...Array.from({ length: 20 }, () => credentials.refresh()),
      credentials.get(),
    ]);
    expect(refreshed.every((value) => value.token === ROTATED.token)).toBe(true);
    expect(secretCalls()).toBe(2);
    // Once the refresh is done, a new refresh() reads again (a later 401 deserves a fresh look).
    await credentials.refresh();
    expect(secretCalls()).toBe(3);
  });
});
