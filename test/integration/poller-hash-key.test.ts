import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { newFlattenPlans } from '../../lib/capture/flatten';
import { ManualClock, MINUTE_MS } from '../../lib/clock';
import { FixedBaseUrl } from '../../lib/liveperson/base-url';
import { StaticCredentialsProvider } from '../../lib/liveperson/credentials';
import { VisitInformationClient } from '../../lib/liveperson/client';
import { createAgents } from '../../lib/liveperson/http';
import { JsonLineLog } from '../../lib/log';
import { MemoryMetrics, METRIC, publishTickMetrics } from '../../lib/metrics';
import { Poller } from '../../lib/poller/poller';
import { defaultPollPolicy } from '../../lib/poller/policy';
import { KeyedPrivacyPlans, type PrivacyPlans } from '../../lib/poller/privacy-plans';
import { loadPrivacySettings } from '../../lib/privacy/config';
import { SecretsManagerHashKeyProvider } from '../../lib/privacy/key-provider';
import type { QueueItem } from '../../lib/queue/model';
import { DEFAULT_SIMULATOR_CREDENTIALS, NO_FAULTS, VisitSimulator } from '../../lib/simulator/server';
import type { StoredRow } from '../../lib/store/capture-store';
import { createPrivacyPlans, createStorage, type Storage } from '../../lib/wiring';
import { DistinctiveWorld } from '../support/distinctive-world';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';
import { T0_MS, TEST_ACCOUNT } from '../support/simulator';

/**
 * The deployed poller's hash key (issue 14, "The key"): read from the stack's Secrets Manager secret when each
 * tick starts, before anything is claimed. An unreadable or invalid secret stops the tick as a configuration
 * fault with every item untouched; a new key version gives new hash prefixes under the same row keys. The real
 * queue and capture store (dynalite, DynamoDB Local when java is there), the real client against the simulator;
 * only the Secrets Manager client is mocked (aws-sdk-client-mock): there is no local Secrets Manager server.
 */

const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:PrivacyHashKeySecret-AbC123';
/** A key as CloudFormation generates it (64 letters and digits: base64 of 48 bytes). */
const KEY_V1 = 'Kq7ZyPMa3Wn0cR5tLhUv8XbE2dGj4SfN6oQiYk1TwVx9AeCrBs7HuIgDl3FpOm5z';
const KEY_V2 = 'Rt2HvL9xQwE6yUi1OpAs4DfG8hJk3LzXc7VbN5mQwErTyUi0OpAs2DfGhJkL4zXc';
const BUDGET = { budgetMs: 60_000, safetyMarginMs: 0 };

const secretsManager = mockClient(SecretsManagerClient);

function secretReads(): number {
  return secretsManager.commandCalls(GetSecretValueCommand).length;
}

describe.each(storageBackends())('on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  let world: DistinctiveWorld;
  let clock: ManualClock;
  let simulator: VisitSimulator;
  let storage: Storage;
  let client: VisitInformationClient;
  let lines: string[];

  beforeAll(async () => {
    dynamo = await start();
  }, 60_000);
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(async () => {
    secretsManager.reset();
    clock = new ManualClock(T0_MS);
    world = new DistinctiveWorld({ seed: 14, accountId: TEST_ACCOUNT, clock, earlyEndProbability: 0 });
    simulator = new VisitSimulator({
      world,
      credentials: { ...DEFAULT_SIMULATOR_CREDENTIALS },
      faults: NO_FAULTS,
    });
    await simulator.start();
    const settings = dynamo.settings('key');
    await dynamo.createTables(settings);
    storage = createStorage(settings, clock);
    client = new VisitInformationClient({
      accountId: TEST_ACCOUNT,
      baseUrl: new FixedBaseUrl(simulator.baseUrl),
      credentials: new StaticCredentialsProvider(DEFAULT_SIMULATOR_CREDENTIALS),
      agents: createAgents(),
      requestTimeoutMs: 2000,
    });
    lines = [];
  });
  afterEach(async () => {
    storage.documentClient.destroy();
    await simulator.stop();
  });

  function poller(privacyPlans: PrivacyPlans): Poller {
    return new Poller(
      {
        queue: storage.queue,
        store: storage.store,
        source: client,
        clock,
        log: new JsonLineLog((l) => lines.push(l), 'debug'),
        random: () => 0.5,
        privacyPlans,
      },
      {
        accountId: TEST_ACCOUNT,
        concurrency: 4,
        policy: defaultPollPolicy(600),
        leaseMs: 300_000,
        pageSize: 10,
      },
    );
  }

  async function enqueueSessions(n: number) {
    const sessions = Array.from({ length: n }, () => world.startSession({ eventRatePerHour: 30 }));
    clock.advanceMs(20 * MINUTE_MS);
    await storage.queue.enqueue(
      TEST_ACCOUNT,
      sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
    );
    return sessions;
  }

  async function items(): Promise<QueueItem[]> {
    const all: QueueItem[] = [];
    for await (const page of storage.queue.list(TEST_ACCOUNT)) all.push(...page);
    return all.sort((a, b) => a.sid.localeCompare(b.sid));
  }

  async function rows(sids: readonly string[]): Promise<StoredRow[]> {
    const all: StoredRow[] = [];
    for (const sid of sids) all.push(...(await storage.store.sessionRows(TEST_ACCOUNT, sid)));
    return all;
  }

  /** The poller as functions/poller.ts builds it: the secret id from the environment, through lib/wiring.ts. */
  function deployedPlans(): PrivacyPlans {
    return createPrivacyPlans(
      loadPrivacySettings({ LPV_HASH_KEY_SECRET_ID: SECRET_ID }),
      new JsonLineLog((l) => lines.push(l), 'debug'),
      new SecretsManagerClient({ region: 'eu-west-1' }),
    );
  }

  it.each<[string, () => void, RegExp]>([
    [
      'missing',
      () =>
        secretsManager
          .on(GetSecretValueCommand)
          .rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} })),
      /cannot read hash key secret .* \((ResourceNotFound\w*|GetParameterError)\)/,
    ],
    [
      'not readable by the poller',
      () =>
        secretsManager
          .on(GetSecretValueCommand)
          .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' })),
      /cannot read hash key secret .* \((AccessDenied\w*|GetParameterError)\)/,
    ],
    [
      'not JSON',
      () => secretsManager.on(GetSecretValueCommand).resolves({ SecretString: `${KEY_V1} 1` }),
      /cannot read hash key secret .* \(\w+\)/,
    ],
    [
      'holding a key too short',
      () =>
        secretsManager
          .on(GetSecretValueCommand)
          .resolves({ SecretString: JSON.stringify({ key: KEY_V1.slice(0, 20), version: 1 }) }),
      /field "key" must hold at least 32 bytes, got 15/,
    ],
    [
      'without a version',
      () =>
        secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ key: KEY_V1 }) }),
      /field "version" is missing/,
    ],
  ])('a key secret %s stops the tick before any claim, every item untouched', async (_, arrange, reason) => {
    arrange();
    const sessions = await enqueueSessions(4);
    const before = await items();
    const summary = await poller(deployedPlans()).tick(BUDGET);

    expect(summary.stoppedBy).toBe('configuration_fault');
    expect(summary.configurationFault).toMatch(/^hash key unusable: /);
    expect(summary.configurationFault).toMatch(reason);
    expect(summary.itemsClaimed).toBe(0);
    expect(summary.fetchAttempts).toBe(0);
    expect(simulator.stats().requests).toBe(0);
    expect(await items()).toEqual(before);
    expect(await rows(sessions.map((s) => s.sid))).toEqual([]);
    // The configuration-fault metric the ConfigurationFault alarm watches.
    const metrics = new MemoryMetrics();
    publishTickMetrics(summary, metrics);
    expect(metrics.counts.get(METRIC.configurationFaults)).toBe(1);
    // Logged with its reason, never with the key.
    expect(lines.some((l) => l.includes('tick stopped on a configuration fault'))).toBe(true);
    for (const line of lines) {
      expect(line).not.toContain(KEY_V1.slice(0, 20));
    }
  });

  it('a new key version gives new hash prefixes under the same row keys; plans are made once per key', async () => {
    let current = { key: KEY_V1, version: 1 };
    secretsManager.on(GetSecretValueCommand).callsFake(() => ({ SecretString: JSON.stringify(current) }));
    let plansMade = 0;
    const plans = new KeyedPrivacyPlans({
      modes: {},
      // maxAgeSec 0: read at every tick start, as after each refresh period in AWS.
      keys: new SecretsManagerHashKeyProvider(
        new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({ region: 'eu-west-1' }) }),
        SECRET_ID,
        { maxAgeSec: 0 },
      ),
      log: new JsonLineLog((l) => lines.push(l), 'debug'),
      newPlans: (options) => {
        plansMade += 1;
        return newFlattenPlans(options);
      },
    });
    const sessions = await enqueueSessions(3);
    const sids = sessions.map((s) => s.sid);
    const p = poller(plans);
    const hashedValues = (all: StoredRow[]) =>
      all
        .flatMap((row) => Object.values(row))
        .filter((v): v is string => typeof v === 'string' && /^h\d+:/.test(v));
    const keysOf = (all: StoredRow[]) => all.map((r) => `${String(r.pk)}|${String(r.sk)}`).sort();

    const first = await p.tick({ ...BUDGET, force: true });
    expect(first.stoppedBy).toBe('done');
    const underV1 = await rows(sids);
    expect(hashedValues(underV1).length).toBeGreaterThan(0);
    expect(hashedValues(underV1).every((v) => v.startsWith('h1:'))).toBe(true);

    // The same key again: the plans of the first tick are reused. The clock moves by 1 ms only (a tick polls an
    // item once; 1 ms brings no new event): the answers stay the same but for the key.
    clock.advanceMs(1);
    expect((await p.tick({ ...BUDGET, force: true })).fetchAttempts).toBe(sids.length);
    expect(plansMade).toBe(1);

    current = { key: KEY_V2, version: 2 };
    clock.advanceMs(1);
    const third = await p.tick({ ...BUDGET, force: true });
    expect(third).toMatchObject({ stoppedBy: 'done', fetchAttempts: sids.length });
    expect(plansMade).toBe(2);
    expect(secretReads()).toBe(3);
    const underV2 = await rows(sids);
    // Event identity was computed over the raw body: the same rows (pk, sk), no duplicate event.
    expect(keysOf(underV2)).toEqual(keysOf(underV1));
    const ofType = (all: StoredRow[], type: string) => all.filter((r) => r.rowType === type);
    expect(ofType(underV2, 'event').length).toBeGreaterThan(0);
    // Rows rewritten from the new key on carry its prefix: the session rows (their content is digested).
    expect(hashedValues(ofType(underV2, 'session')).length).toBe(
      hashedValues(ofType(underV1, 'session')).length,
    );
    expect(hashedValues(ofType(underV2, 'session')).every((v) => v.startsWith('h2:'))).toBe(true);
    // An event row stored before keeps its hashes (an event is written once, by its key): the prefix says which
    // key made each hash (docs/privacy.md, "Rotating the key").
    expect(hashedValues(ofType(underV2, 'event'))).toEqual(hashedValues(ofType(underV1, 'event')));
    // The personal values themselves are in no row, under either key.
    const stored = JSON.stringify(underV2);
    for (const value of world.allValues()) expect(stored).not.toContain(value);
    expect(lines.filter((l) => l.includes('flatten plans made for a hash key')).length).toBe(2);
  });
});
