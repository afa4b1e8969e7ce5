import { Logger } from '@aws-lambda-powertools/logger';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { MINUTE_MS, ManualClock } from '../../lib/clock';
import { loadPollerSettings } from '../../lib/config';
import { FixedBaseUrl } from '../../lib/liveperson/base-url';
import { VisitInformationClient } from '../../lib/liveperson/client';
import { StaticCredentialsProvider } from '../../lib/liveperson/credentials';
import { createAgents, type HttpAgents } from '../../lib/liveperson/http';
import { publishTickMetrics } from '../../lib/metrics';
import { tickAndPublish, type TickSummary } from '../../lib/poller/poller';
import { loadPrivacySettings } from '../../lib/privacy/config';
import { DEFAULT_SIMULATOR_CREDENTIALS, VisitSimulator } from '../../lib/simulator/server';
import { createPoller, createPrivacyPlans, createStorage, type Storage } from '../../lib/wiring';
import { POLLER_SERVICE_NAME } from '../../functions/commons/constants';
import { powertoolsLog, powertoolsMetrics } from '../../functions/commons/observability';
import { DistinctiveWorld } from '../support/distinctive-world';
import { startDynalite, type LocalDynamo } from '../support/local-dynamo';
import { T0_MS, TEST_ACCOUNT } from '../support/simulator';

/**
 * Issue 14, "Nothing raw anywhere else": no log line and no metric carries a personal value or an id. The
 * poller as the Lambda runs it (lib/wiring.ts createPoller, Powertools Logger at DEBUG and Powertools Metrics'
 * EMF on stdout, the hash key from its secret), polling the simulator over HTTP through its faults (malformed
 * bodies, 429s, 5xx, 404/12 for ended sessions, 404/37 for an unknown visitor), with a distinctive personal value
 * in every personal field of every answer (test/support/distinctive-world.ts). Everything the process prints is
 * searched for those values, every visitorId and sid, and the hash key. The key secret's failure path too: its
 * messages name the secret and the field, never the key.
 *
 * The flattener's own leak test (rows, queue items, lastBadBody, a scripted source): test/unit/privacy-flatten.test.ts.
 */

const KEY_SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:PrivacyHashKeySecret-AbC123';
const KEY = 'Kq7ZyPMa3Wn0cR5tLhUv8XbE2dGj4SfN6oQiYk1TwVx9AeCrBs7HuIgDl3FpOm5z';
const secretsManager = mockClient(SecretsManagerClient);

let dynamo: LocalDynamo;
let world: DistinctiveWorld;
let clock: ManualClock;
let simulator: VisitSimulator;
let storage: Storage;
let agents: HttpAgents;
let printed: string[];
let restoreStdout: () => void;

beforeAll(async () => {
  dynamo = await startDynalite();
}, 60_000);
afterAll(async () => {
  await dynamo.close();
});
beforeEach(async () => {
  secretsManager.reset();
  clock = new ManualClock(T0_MS);
  world = new DistinctiveWorld({ seed: 1414, accountId: TEST_ACCOUNT, clock, earlyEndProbability: 0 });
  simulator = new VisitSimulator({
    world,
    credentials: { ...DEFAULT_SIMULATOR_CREDENTIALS },
    faults: {
      latencyMs: 0,
      malformedRate: 0.2,
      throttleRate: 0.15,
      retryAfterSec: 1,
      serverErrorRate: 0.1,
      resetRate: 0.05,
      hangRate: 0,
    },
  });
  await simulator.start();
  const settings = dynamo.settings('leak');
  await dynamo.createTables(settings);
  storage = createStorage(settings, clock);
  agents = createAgents();
  // Powertools Logger and Metrics write through a Console on process.stdout and stderr, as in Lambda (INFO,
  // DEBUG and EMF to stdout, WARN and ERROR to stderr): keep every line.
  printed = [];
  const keep = (chunk: string | Uint8Array): boolean => {
    printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation(keep),
    jest.spyOn(process.stderr, 'write').mockImplementation(keep),
  ];
  restoreStdout = () => spies.forEach((spy) => spy.mockRestore());
});
afterEach(async () => {
  restoreStdout();
  agents.http.destroy();
  storage.documentClient.destroy();
  await simulator.stop();
});

/** The poller as functions/poller.ts builds it, over the simulator and dynalite. */
function deployedPoller() {
  const logger = new Logger({ serviceName: 'lpv-poller', logLevel: 'DEBUG' });
  const log = powertoolsLog(logger);
  const client = new VisitInformationClient({
    accountId: TEST_ACCOUNT,
    baseUrl: new FixedBaseUrl(simulator.baseUrl),
    credentials: new StaticCredentialsProvider(DEFAULT_SIMULATOR_CREDENTIALS),
    agents,
    requestTimeoutMs: 1000,
  });
  return createPoller(TEST_ACCOUNT, loadPollerSettings({ POLL_CONCURRENCY: '4' }), {
    storage,
    source: client,
    clock,
    log,
    privacy: createPrivacyPlans(
      loadPrivacySettings({ LPV_HASH_KEY_SECRET_ID: KEY_SECRET_ID }),
      log,
      new SecretsManagerClient({ region: 'eu-west-1' }),
    ),
  });
}

/** One scheduled invocation: a tick, its EMF document, and the error the handler would throw on a fault. */
async function invocation(poller: ReturnType<typeof deployedPoller>): Promise<TickSummary> {
  const metrics = powertoolsMetrics(POLLER_SERVICE_NAME);
  const summary = await tickAndPublish(
    poller,
    { budgetMs: 60_000, force: true, safetyMarginMs: 0 },
    (figures) => publishTickMetrics(figures, metrics),
  );
  if (summary.stoppedBy === 'configuration_fault') {
    // What functions/poller.ts throws, and Lambda prints.
    printed.push(`tick stopped on a configuration fault: ${summary.configurationFault ?? 'unknown'}`);
  }
  return summary;
}

/** Every place `text` shows in what was printed (JSON-escaped too: a log field is JSON text). */
function showings(text: string): string[] {
  const escaped = JSON.stringify(text).slice(1, -1);
  return printed
    .filter((line) => line.includes(text) || line.includes(escaped))
    .map((line) => line.slice(0, 300));
}

function emfDocuments(): unknown[] {
  return printed
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as unknown);
}

describe('what the deployed poller prints (logs and EMF metrics)', () => {
  it('never shows a personal value, a visitorId, a sid or the hash key, through faults of every kind', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ version: 1, key: KEY }) });
    const live = Array.from({ length: 8 }, () => world.startSession({ eventRatePerHour: 40 }));
    const ending = Array.from({ length: 2 }, () => world.startSession({ durationMs: 30 * MINUTE_MS }));
    clock.advanceMs(20 * MINUTE_MS);
    const pairs = [
      ...live,
      ...ending,
      // LivePerson does not know this visitor: 404/37.
      { visitorId: 'ZZunknownVisitor0414', sid: 'ZZunknownSid00000414', startTimeMs: clock.nowMs() },
    ];
    await storage.queue.enqueue(
      TEST_ACCOUNT,
      pairs.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
    );
    const poller = deployedPoller();
    for (let tick = 0; tick < 6; tick++) {
      await invocation(poller);
      // The two short sessions end after the first tick: their next polls answer 404/12.
      clock.advanceMs(tick === 0 ? 15 * MINUTE_MS : MINUTE_MS);
    }

    // The faults happened, and the answers carried the values (the rows hold them hashed, not raw).
    const stats = simulator.stats();
    expect(stats.byFault.malformed).toBeGreaterThan(0);
    expect(stats.byFault.throttle).toBeGreaterThan(0);
    expect(stats.byFault.server_error).toBeGreaterThan(0);
    expect(stats.byCode['404/12']).toBeGreaterThan(0);
    expect(stats.byCode['404/37']).toBeGreaterThan(0);
    expect(Object.values(stats.okBySid).reduce((a, b) => a + b, 0)).toBeGreaterThan(live.length);
    expect(world.allValues().length).toBeGreaterThanOrEqual(7 * live.length);
    expect(printed.join('').length).toBeGreaterThan(0);
    expect(emfDocuments().length).toBe(6);
    // Logs of every level the poller writes on these paths.
    for (const level of ['INFO', 'WARN'])
      expect(printed.some((l) => l.includes(`"level":"${level}"`))).toBe(true);

    // The search finds what is there (it is not vacuous).
    expect(showings('tick started').length).toBeGreaterThanOrEqual(6);
    const secrets = [
      ...Array.from({ length: KEY.length - 7 }, (_, i) => KEY.slice(i, i + 8)),
      Buffer.from(KEY, 'base64').toString('base64url').slice(0, 8),
    ];
    const forbidden = [...world.allValues(), ...pairs.flatMap((s) => [s.visitorId, s.sid]), ...secrets];
    expect(forbidden.flatMap((value) => showings(value).map((line) => `${value} in ${line}`))).toEqual([]);
  });

  it('never shows the key when its secret is unusable, however it is wrong', async () => {
    const sessions = Array.from({ length: 3 }, () => world.startSession());
    clock.advanceMs(MINUTE_MS);
    await storage.queue.enqueue(
      TEST_ACCOUNT,
      sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
    );
    const shortKey = KEY.slice(0, 24);
    const badValues = [
      `${KEY}`, // not JSON: the key alone
      `{"key": "${KEY}", "version": 1`, // cut JSON: a parse error quotes its input
      JSON.stringify({ key: shortKey, version: 1 }), // too short
      JSON.stringify({ key: `${KEY}%%`, version: 1 }), // not base64
      JSON.stringify({ key: KEY, version: KEY }), // the key pasted into the version
      JSON.stringify({ version: KEY }),
      JSON.stringify([KEY]),
    ];
    for (const value of badValues) {
      secretsManager.reset();
      secretsManager.on(GetSecretValueCommand).resolves({ SecretString: value });
      // A new container each time: the failure backoff of one would answer the next at once.
      const summary = await invocation(deployedPoller());
      expect(summary.stoppedBy).toBe('configuration_fault');
      expect(summary.itemsClaimed).toBe(0);
    }
    expect(emfDocuments().length).toBe(badValues.length);
    expect(printed.filter((l) => l.includes('hash key unusable')).length).toBeGreaterThanOrEqual(
      badValues.length,
    );
    // Not even a piece: a JSON parse error quotes the first 10 characters of its input.
    for (let i = 0; i + 8 <= KEY.length; i++) expect(showings(KEY.slice(i, i + 8))).toEqual([]);
    for (const s of sessions) {
      expect(showings(s.visitorId)).toEqual([]);
      expect(showings(s.sid)).toEqual([]);
    }
  });
});
