/**
 * The fault matrix: the `lpv` CLI, run as separate processes on a schedule as the poller Lambda runs, through
 * the DynamoDB fault proxy (test/support/dynamo-fault-proxy.ts) in front of dynalite, against the LivePerson
 * simulator with scripted faults (lib/simulator/scripts.ts). Every scenario of issue 13 that can be met at the
 * wire, each asserting the outcome the issue requires, and over all of them:
 *
 *   - 0 sessions lost that were alive: a session that answered a non-empty 200 ends with that answer's rows
 *     stored, or says it did not (`complete: false`, reason `partial: ...`);
 *   - 0 duplicate rows: every stored event row is an event of the last answer served (states only grow);
 *   - 0 partial captures without `complete: false`.
 *
 * Time: the CLI runs on the wall clock, so the sessions are made to be near their six-hour deadline (their
 * start enqueued as deadline − 6 h), and the timing settings are compressed to seconds while meeting the
 * timing rule of lib/poll-timing.ts: poll interval 28 s (final window 14 s), schedule period 3 s, request
 * timeout 1 s, lease 7 s (14 ≥ 7 + 2 × 3 + 1, and 7 ≥ 3 × 1 + 4: one item's wait for a fetch slot, requests,
 * rows and ack). The schedule here starts a tick every 2 s (within one schedule period even counting the CLI's
 * start-up). Four groups run at once, each with its own tables and simulator: the scenarios that stop whole
 * ticks (400/33 from every session, the Domain API) or kill one (the crash) cannot share a tick with the others.
 * The whole file runs in about 35 s on dynalite (FAULT_MATRIX_BACKEND=dynamodb-local: against DynamoDB Local
 * instead).
 *
 * docs/reliability.md lists each fault, its expected outcome, and the test here that proves it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { flattenVisitState } from '../../lib/capture/flatten';
import { SESSION_MAX_AGE_MS, systemClock } from '../../lib/clock';
import type { StorageSettings } from '../../lib/config';
import { capturePk, dueShardOf, queueKey } from '../../lib/keys';
import type { VisitState } from '../../lib/liveperson/types';
import type { QueueItem } from '../../lib/queue/model';
import {
  OVERSIZED_EVENT_NUMERIC_FIELDS,
  oversizedAnswer,
  type ScriptStep,
} from '../../lib/simulator/scripts';
import { NO_FAULTS } from '../../lib/simulator/server';
import type { SessionInfo } from '../../lib/simulator/world';
import type { StoredRow } from '../../lib/store/capture-store';
import { createStorage, type Storage } from '../../lib/wiring';
import { runLpv, spawnLpv, type CliResult } from '../support/cli';
import { DynamoFaultProxy, type DynamoCall, type DynamoFaultRuleHandle } from '../support/dynamo-fault-proxy';
import { startDynalite, startDynamoDbLocal, type LocalDynamo } from '../support/local-dynamo';
import { startSimulator, TEST_ACCOUNT, type SimulatorFixture } from '../support/simulator';

jest.setTimeout(120_000);

/** The compressed timing (see the header): final window 14 s, retry-safe deadline D − (3 s + 1 s). */
const TIMING_ENV = {
  POLL_INTERVAL_SECONDS: '28',
  SCHEDULE_PERIOD_SECONDS: '3',
  LP_REQUEST_TIMEOUT_MS: '1000',
  LEASE_SECONDS: '7',
};
const FINAL_WINDOW_MS = 14_000;
/** How often the schedule here starts a tick (under SCHEDULE_PERIOD_SECONDS: the CLI takes ~0.5 s to start). */
const TICK_EVERY_MS = 2_000;
/** Every tick's budget (`lpv poll --max-seconds`): row writes must end within it (issue point 9). */
const TICK_BUDGET_SEC = 3;
/**
 * How far past its budget a tick may end: the acks and releases in flight at the deadline still complete (each
 * one DynamoDB call through the proxy), and on a loaded 2-core CI runner that takes up to about a second. A row
 * write that ignored the deadline would instead run on through its retry loop (many seconds of backoff).
 */
const TICK_OVERRUN_ALLOWANCE_MS = 1_500;

/** FAULT_MATRIX_BACKEND=dynamodb-local: Amazon's DynamoDB Local (java) instead of dynalite. */
const BACKEND = process.env.FAULT_MATRIX_BACKEND === 'dynamodb-local' ? 'DynamoDB Local' : 'dynalite';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A tick summary as `lpv poll` prints it; the fields issue 13 adds are optional here (read as 0 when absent). */
interface Summary {
  stoppedBy: string;
  startedAtMs: number;
  finishedAtMs: number;
  fetches: Record<string, number>;
  sessions: Record<string, number>;
  expiredBeforeCapture: number;
  itemErrors?: number;
  sessionsPartial?: number;
  rowsFitted?: number;
  rowsRejected?: number;
  rowsUnwritten?: number;
  domainApiFailures?: number;
  badRequest33Sessions?: number;
  [key: string]: unknown;
}

interface Tick {
  code: number | null;
  signal: NodeJS.Signals | null;
  summary?: Summary;
  stderr: string;
  wallMs: number;
}

function parseTick(result: CliResult, wallMs: number): Tick {
  let summary: Summary | undefined;
  try {
    summary = JSON.parse(result.stdout) as Summary;
  } catch {
    summary = undefined;
  }
  return {
    code: result.code,
    signal: result.signal,
    stderr: result.stderr,
    wallMs,
    ...(summary ? { summary } : {}),
  };
}

/** What the test knows about a session: its ids, deadline, and what the simulator answers it. */
interface Scenario {
  label: string;
  session: SessionInfo;
  deadlineMs: number;
  script?: ScriptStep[];
  /** How the session's 200s look: nested (the world's), flat (same rows expected) or with the oversized event. */
  shape: 'nested' | 'flat' | 'oversized';
}

/** One group: its own tables, simulator, optional fault proxy, sessions and ticks. */
class Group {
  readonly ticks: Tick[] = [];
  readonly scenarios = new Map<string, Scenario>();
  /** Scripts that take over once a session's first success has landed (see switchAfterSuccess). */
  private readonly switches: Array<{ label: string; steps: ScriptStep[]; done: boolean }> = [];
  readonly settings: StorageSettings;
  env: Record<string, string>;
  private readonly storage: Storage;

  constructor(
    readonly name: string,
    readonly dynamo: LocalDynamo,
    readonly sim: SimulatorFixture,
    readonly proxy: DynamoFaultProxy | undefined,
    baseUrlEnv: Record<string, string>,
  ) {
    this.settings = dynamo.settings(name);
    this.env = {
      LP_ACCOUNT_ID: TEST_ACCOUNT,
      ...baseUrlEnv,
      LP_CONSUMER_KEY: sim.credentials.consumerKey,
      LP_CONSUMER_SECRET: sim.credentials.consumerSecret,
      LP_TOKEN: sim.credentials.token,
      LP_TOKEN_SECRET: sim.credentials.tokenSecret,
      DYNAMODB_ENDPOINT: proxy?.endpoint ?? dynamo.endpoint,
      AWS_REGION: 'local',
      QUEUE_TABLE: this.settings.queueTable,
      CAPTURE_TABLE: this.settings.captureTable,
      LOG_LEVEL: 'error',
      ...TIMING_ENV,
    };
    // The checks read dynalite directly, never through the proxy's faults.
    this.storage = createStorage(this.settings, systemClock);
  }

  async createTables(): Promise<void> {
    const result = await runLpv(['tables', 'create'], this.env);
    if (result.code !== 0) throw new Error(`${this.name}: tables create failed: ${result.stderr}`);
  }

  /**
   * A session alive from 20 s ago until 5 s past its deadline (`deadlineInMs` from now), producing events all
   * along (about one every 2 s), enqueued with its start as deadline − 6 h.
   */
  addSession(
    label: string,
    deadlineMs: number,
    options: { script?: ScriptStep[]; shape?: Scenario['shape']; gone?: boolean } = {},
  ): Scenario {
    const nowMs = Date.now();
    const session = this.sim.world.startSession({
      startTimeMs: nowMs - 20_000,
      durationMs: options.gone === true ? 1_000 : deadlineMs - nowMs + 25_000,
      eventRatePerHour: 1800,
    });
    if (options.script) this.sim.simulator.scriptSession(session.sid, options.script);
    const scenario: Scenario = {
      label,
      session,
      deadlineMs,
      ...(options.script ? { script: options.script } : {}),
      shape: options.shape ?? 'nested',
    };
    this.scenarios.set(label, scenario);
    return scenario;
  }

  async enqueueAll(): Promise<void> {
    const lines = [...this.scenarios.values()].map((s) =>
      JSON.stringify({
        visitorId: s.session.visitorId,
        sid: s.session.sid,
        startTime: s.deadlineMs - SESSION_MAX_AGE_MS,
      }),
    );
    const result = await runLpv(['enqueue'], this.env, lines.join('\n') + '\n');
    if (result.code !== 0) throw new Error(`${this.name}: enqueue failed: ${result.stderr}`);
  }

  /**
   * Once the session's queue item shows a success, the simulator answers it `steps` from then on. Safer than
   * counting requests: an answer the client gave up on (timeout) would use up a counted step unseen.
   */
  switchAfterSuccess(label: string, steps: ScriptStep[]): void {
    this.switches.push({ label, steps, done: false });
  }

  private applySwitches(items: QueueItem[]): void {
    for (const s of this.switches) {
      if (s.done) continue;
      const { sid } = this.scenario(s.label).session;
      if ((items.find((i) => i.sid === sid)?.successCount ?? 0) > 0) {
        this.sim.simulator.scriptSession(sid, s.steps);
        s.done = true;
      }
    }
  }

  scenario(label: string): Scenario {
    const s = this.scenarios.get(label);
    if (s === undefined) throw new Error(`no scenario ${label}`);
    return s;
  }

  /** One `lpv poll`, recorded. */
  async tick(args: string[] = [], extraEnv: Record<string, string> = {}): Promise<Tick> {
    const startedMs = Date.now();
    const result = await runLpv(['poll', '--max-seconds', String(TICK_BUDGET_SEC), ...args], {
      ...this.env,
      ...extraEnv,
    });
    const tick = parseTick(result, Date.now() - startedMs);
    this.ticks.push(tick);
    return tick;
  }

  /**
   * The schedule: a tick every TICK_EVERY_MS (overlapping when one runs long, as EventBridge would start the
   * next Lambda, but at most two at once), until every item has ended or `untilMs`.
   */
  async schedule(untilMs: number): Promise<void> {
    const running = new Set<Promise<unknown>>();
    while (Date.now() < untilMs) {
      const items = await this.items();
      if (items.length > 0 && items.every((i) => i.state !== 'ACTIVE')) break;
      this.applySwitches(items);
      const startedMs = Date.now();
      const tick: Promise<unknown> = this.tick().finally(() => running.delete(tick));
      running.add(tick);
      while (running.size >= 2) await Promise.race(running);
      await sleep(Math.max(0, TICK_EVERY_MS - (Date.now() - startedMs)));
    }
    await Promise.all(running);
  }

  async items(): Promise<QueueItem[]> {
    const items: QueueItem[] = [];
    for await (const page of this.storage.queue.list(TEST_ACCOUNT)) items.push(...page);
    return items;
  }

  async item(label: string): Promise<QueueItem> {
    const { sid } = this.scenario(label).session;
    const item = (await this.items()).find((i) => i.sid === sid);
    if (item === undefined) throw new Error(`no queue item for ${label}`);
    return item;
  }

  rows(label: string): Promise<StoredRow[]> {
    return this.storage.store.sessionRows(TEST_ACCOUNT, this.scenario(label).session.sid);
  }

  /** A summary field summed over every tick that printed a summary (absent fields count 0). */
  sum(field: keyof Summary | ((s: Summary) => number)): number {
    return this.ticks.reduce((n, t) => {
      if (t.summary === undefined) return n;
      const value = typeof field === 'function' ? field(t.summary) : t.summary[field];
      return n + (typeof value === 'number' ? value : 0);
    }, 0);
  }

  /**
   * The event row keys of the last 200 the simulator served this session, rebuilt from the world (answers are
   * a pure function of the time) in the shape it was served. Undefined when no 200 with a state was served.
   */
  lastAnswerEventKeys(label: string): Set<string> | undefined {
    const { session, shape } = this.scenario(label);
    const atMs = this.sim.simulator.stats().lastOkAtMsBySid[session.sid];
    if (atMs === undefined) return undefined;
    const nested = this.sim.world.stateAt(session.visitorId, session.sid, atMs);
    // A flat 200 must give exactly the nested form's rows (the tolerant reader): the nested form is the oracle.
    const state: VisitState =
      shape === 'oversized' ? oversizedAnswer(nested, OVERSIZED_EVENT_NUMERIC_FIELDS) : nested;
    const flat = flattenVisitState({
      accountId: TEST_ACCOUNT,
      visitorId: session.visitorId,
      sid: session.sid,
      state,
    });
    return new Set(flat.rows.filter((r) => r.rowType === 'event').map((r) => r.sk as string));
  }

  /**
   * The three counts for one session: `lost` (alive, ended, its last answer's events not all stored,
   * not marked partial), `duplicates` (stored event rows no answer holds), `unmarkedPartial` (ended CAPTURED
   * without every event of the last answer stored, yet not `complete: false`).
   */
  async verdict(label: string): Promise<{
    item: QueueItem;
    alive: boolean;
    missing: number;
    duplicates: number;
    lost: boolean;
    unmarkedPartial: boolean;
    markedPartial: boolean;
  }> {
    const item = await this.item(label);
    const rows = await this.rows(label);
    const stored = rows.filter((r) => r.rowType === 'event').map((r) => r.sk as string);
    const expected = this.lastAnswerEventKeys(label);
    const alive = expected !== undefined;
    const missing = expected === undefined ? 0 : [...expected].filter((sk) => !stored.includes(sk)).length;
    const duplicates =
      expected === undefined ? stored.length : stored.filter((sk) => !expected.has(sk)).length;
    const markedPartial = item.complete === false && /^partial:/.test(item.reason ?? '');
    const ended = item.state !== 'ACTIVE';
    return {
      item,
      alive,
      missing,
      duplicates,
      lost: alive && ended && missing > 0 && !markedPartial,
      unmarkedPartial: item.state === 'CAPTURED' && missing > 0 && item.complete !== false,
      markedPartial,
    };
  }

  destroy(): void {
    this.storage.documentClient.destroy();
  }
}

/** Claims and acks are UpdateItem calls on the queue table; these tell them apart (lib/store/dynamo-queue.ts). */
function isClaimOf(pk: string): (call: DynamoCall) => boolean {
  return (call) =>
    call.body?.ReturnValues === 'ALL_NEW' &&
    JSON.stringify(call.body.Key) === JSON.stringify({ pk: { S: pk } });
}
function isAckOf(pk: string): (call: DynamoCall) => boolean {
  return (call) =>
    call.body?.ConditionExpression === 'leaseOwner = :owner' &&
    JSON.stringify(call.body.Key) === JSON.stringify({ pk: { S: pk } });
}
/** A BatchWriteItem holding rows of this session (each putRows writes one session's rows). */
function writesRowsOf(sid: string, options: { outcomeRows: boolean }): (call: DynamoCall) => boolean {
  const pk = JSON.stringify({ S: capturePk(TEST_ACCOUNT, sid) });
  const outcomeRow = JSON.stringify({ rowType: { S: 'outcome' } }).slice(1, -1);
  return (call) => call.text.includes(pk) && (options.outcomeRows || !call.text.includes(outcomeRow));
}

let dynamo: LocalDynamo;
let main: Group;
let badRequestAll: Group;
let domain: Group;
let crash: Group;
const groups: Group[] = [];
const proxyRules: Record<string, DynamoFaultRuleHandle> = {};
/** Ticks of the phases the scenarios look at one by one. */
const phase: Record<string, Tick> = {};
let configRefused: CliResult;
let crashAtMs = 0;
let wallMs = 0;

async function startGroup(
  name: string,
  options: { proxy?: boolean; viaDomainApi?: boolean } = {},
): Promise<Group> {
  const sim = await startSimulator({ clock: systemClock, earlyEndProbability: 0, seed: groups.length + 11 });
  const proxy =
    options.proxy === true ? await DynamoFaultProxy.start({ target: dynamo.endpoint, seed: 5 }) : undefined;
  const base: Record<string, string> =
    options.viaDomainApi === true
      ? { LP_DOMAIN_API_URL: sim.simulator.baseUrl }
      : { LP_BASE_URL: sim.simulator.baseUrl };
  const group = new Group(name, dynamo, sim, proxy, base);
  groups.push(group);
  await group.createTables();
  return group;
}

/**
 * Main group: the simulator's per-session faults and the storage faults that hit single sessions, all sharing
 * ticks as they would in production. Deadline 30 s from the start.
 */
async function runMain(): Promise<void> {
  main = await startGroup('fm-main', { proxy: true });
  const deadlineMs = Date.now() + 30_000;
  for (const label of ['control-1', 'control-2', 'control-3']) main.addSession(label, deadlineMs);
  main.addSession('empty-only', deadlineMs, { script: ['empty'] });
  main.addSession('empty-missing-only', deadlineMs, { script: ['empty_no_app_sessions'] });
  main.addSession('ok-then-empty', deadlineMs);
  main.switchAfterSuccess('ok-then-empty', ['empty']);
  main.addSession('empty-then-ok', deadlineMs, { script: ['empty', 'live'] });
  main.addSession('flat', deadlineMs, { script: ['flat'], shape: 'flat' });
  main.addSession('bad-request-33-one', deadlineMs, { script: ['bad_request_33'] });
  main.addSession('invalid-37-after-ok', deadlineMs);
  main.switchAfterSuccess('invalid-37-after-ok', ['invalid_visitor_37']);
  main.addSession('oversized', deadlineMs, { script: ['oversized'], shape: 'oversized' });
  main.addSession('retry-after-3600', deadlineMs, {
    script: [{ kind: 'throttle', retryAfterSec: 3600 }, 'live'],
  });
  main.addSession('throttled-writes-1', deadlineMs);
  main.addSession('throttled-writes-2', deadlineMs);
  main.addSession('claim-fails', deadlineMs);
  main.addSession('ack-fails', deadlineMs);
  main.addSession('expired-ack-fails', deadlineMs, { gone: true });
  main.addSession('partial', deadlineMs);
  await main.enqueueAll();

  const proxy = main.proxy as DynamoFaultProxy;
  const { queueTable, captureTable } = main.settings;
  const pkOf = (label: string): string => {
    const { visitorId, sid } = main.scenario(label).session;
    return queueKey(TEST_ACCOUNT, visitorId, sid);
  };
  // Point 8: the due-index Query of one shard fails past the SDK's 5 attempts (the first tick meets it).
  const shard = dueShardOf(
    TEST_ACCOUNT,
    main.scenario('control-1').session.visitorId,
    main.scenario('control-1').session.sid,
  );
  proxyRules.query = proxy.addRule({
    operations: ['Query'],
    tables: [queueTable],
    match: (call) =>
      JSON.stringify((call.body?.ExpressionAttributeValues as Record<string, unknown>)[':shard']) ===
      JSON.stringify({ S: shard }),
    fault: 'internal_error',
    times: 5,
  });
  // Point 8: one claim fails past the SDK's retries; point 7 and 8: two acks do.
  proxyRules.claim = proxy.addRule({
    operations: ['UpdateItem'],
    tables: [queueTable],
    match: isClaimOf(pkOf('claim-fails')),
    fault: 'internal_error',
    times: 5,
  });
  for (const label of ['ack-fails', 'expired-ack-fails']) {
    proxyRules[label] = proxy.addRule({
      operations: ['UpdateItem'],
      tables: [queueTable],
      match: isAckOf(pkOf(label)),
      fault: 'internal_error',
      times: 5,
    });
  }
  // Throttled batch writes, the three ways DynamoDB throttles or loses them, on two sessions' rows.
  for (const label of ['throttled-writes-1', 'throttled-writes-2']) {
    const match = writesRowsOf(main.scenario(label).session.sid, { outcomeRows: true });
    const common = { operations: ['BatchWriteItem'], tables: [captureTable], match };
    proxy.addRule({ ...common, fault: 'throughput_exceeded', rate: 0.25 });
    proxy.addRule({ ...common, fault: 'unprocessed', rate: 0.25 });
    proxy.addRule({ ...common, fault: 'reset_after_forward', rate: 0.1 });
  }
  // A partial capture: every write of this session's rows (but its outcome row) comes back unprocessed, slowly.
  proxyRules.partial = proxy.addRule({
    operations: ['BatchWriteItem'],
    tables: [captureTable],
    match: writesRowsOf(main.scenario('partial').session.sid, { outcomeRows: false }),
    fault: 'unprocessed',
    delayMs: 300,
  });

  phase.queryFails = await main.tick();
  await main.schedule(deadlineMs + 15_000);
}

/** 400/33 from every session: the tick stops as for 404/6, items untouched; then LivePerson recovers. */
async function runBadRequestAll(): Promise<void> {
  badRequestAll = await startGroup('fm-400all');
  const deadlineMs = Date.now() + 24_000;
  for (const label of ['s1', 's2', 's3', 's4']) badRequestAll.addSession(label, deadlineMs);
  await badRequestAll.enqueueAll();
  badRequestAll.sim.simulator.scriptEverySession(['bad_request_33']);
  phase.badRequestAll = await badRequestAll.tick();
  phase.badRequestAllItems = {
    code: 0,
    signal: null,
    stderr: JSON.stringify(await badRequestAll.items()),
    wallMs: 0,
  };
  badRequestAll.sim.simulator.clearScripts();
  await badRequestAll.schedule(deadlineMs + 15_000);
}

/**
 * The Domain API (LP_DOMAIN_API_URL, no LP_BASE_URL): 'account not found' stops the tick; unreachable and 5xx
 * hand the items back with backoff, one lookup per tick (failures cached); then it recovers.
 */
async function runDomain(): Promise<void> {
  domain = await startGroup('fm-domain', { viaDomainApi: true });
  const deadlineMs = Date.now() + 26_000;
  for (const label of ['d1', 'd2', 'd3', 'd4']) domain.addSession(label, deadlineMs);
  await domain.enqueueAll();
  const sim = domain.sim.simulator;
  const lookups = async (run: () => Promise<Tick>): Promise<Tick & { lookups: number }> => {
    const before = sim.stats().domainApiRequests;
    const tick = await run();
    return { ...tick, lookups: sim.stats().domainApiRequests - before };
  };
  sim.setDomainApiFault({ kind: 'account_not_found' });
  phase.domainNotFound = await lookups(() => domain.tick());
  phase.domainNotFoundItems = {
    code: 0,
    signal: null,
    stderr: JSON.stringify(await domain.items()),
    wallMs: 0,
  };
  // One fetch at a time: without a cached failure, every item would ask the Domain API again.
  sim.setDomainApiFault({ kind: 'reset' });
  phase.domainReset = await lookups(() => domain.tick(['--force'], { POLL_CONCURRENCY: '1' }));
  sim.setDomainApiFault({ kind: 'server_error', status: 503 });
  phase.domainServerError = await lookups(() => domain.tick(['--force'], { POLL_CONCURRENCY: '1' }));
  sim.setDomainApiFault(undefined);
  await domain.schedule(deadlineMs + 15_000);
}

/**
 * A tick killed (SIGKILL) inside the final window with its fetches in flight; the next ticks must still poll
 * every item before its deadline. Also: settings that break the timing rule are refused at config load.
 */
async function runCrash(): Promise<void> {
  crash = await startGroup('fm-crash');
  configRefused = await runLpv(['poll'], { ...crash.env, LEASE_SECONDS: '30' });
  const deadlineMs = Date.now() + 28_000;
  for (const label of ['c1', 'c2', 'c3', 'c4']) crash.addSession(label, deadlineMs);
  await crash.enqueueAll();
  // Ticks as usual until shortly before the final window opens (the final poll is due at D − 14 s), then none
  // until it has opened: the tick killed below is the one that takes the final poll.
  const finalPollAtMs = deadlineMs - FINAL_WINDOW_MS;
  await crash.schedule(finalPollAtMs - 2_500);
  await sleep(Math.max(0, finalPollAtMs + 300 - Date.now()));
  // Answers are held back, so the next tick claims every item and has all its fetches in flight.
  const sim = crash.sim.simulator;
  sim.setFaults({ ...NO_FAULTS, latencyMs: 5_000 });
  const before = sim.stats().requests;
  const victim = spawnLpv(['poll', '--max-seconds', String(TICK_BUDGET_SEC)], crash.env);
  const giveUpMs = Date.now() + 5_000;
  while (sim.stats().requests - before < 4 && Date.now() < giveUpMs) await sleep(10);
  victim.child.kill('SIGKILL');
  crashAtMs = Date.now();
  const killed = await victim.done;
  phase.crash = {
    code: killed.code,
    signal: killed.signal,
    stderr: String(sim.stats().requests - before),
    wallMs: 0,
  };
  sim.setFaults(NO_FAULTS);
  await crash.schedule(deadlineMs + 15_000);
}

beforeAll(async () => {
  const startedMs = Date.now();
  // FAULT_MATRIX_BACKEND=dynamodb-local runs the matrix against Amazon's DynamoDB Local (needs java; slower to
  // start): a separate CI step, `npm test` uses dynalite.
  dynamo =
    process.env.FAULT_MATRIX_BACKEND === 'dynamodb-local'
      ? await startDynamoDbLocal()
      : await startDynalite();
  const results = await Promise.allSettled([runMain(), runBadRequestAll(), runDomain(), runCrash()]);
  wallMs = Date.now() - startedMs;
  // FAULT_MATRIX_DUMP=DIR: every group's ticks and final queue items as JSON, to diagnose a failure.
  const dumpDir = process.env.FAULT_MATRIX_DUMP;
  if (dumpDir !== undefined && dumpDir !== '') {
    mkdirSync(dumpDir, { recursive: true });
    for (const g of groups) {
      const labels = Object.fromEntries([...g.scenarios].map(([label, s]) => [s.session.sid, label]));
      const items = (await g.items()).map((i) => ({ label: labels[i.sid], ...i, rowDigests: undefined }));
      writeFileSync(
        path.join(dumpDir, `${g.name}.json`),
        JSON.stringify(
          { ticks: g.ticks, items, simulator: g.sim.simulator.stats(), proxy: g.proxy?.stats() },
          null,
          2,
        ),
      );
    }
  }
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}, 120_000);

afterAll(async () => {
  for (const g of groups) {
    g.destroy();
    await g.proxy?.close();
    await g.sim.stop();
  }
  await dynamo.close();
});

/** A session expected to end CAPTURED with its last answer stored completely. */
async function expectCapturedComplete(group: Group, label: string): Promise<QueueItem> {
  const v = await group.verdict(label);
  expect({
    label,
    state: v.item.state,
    complete: v.item.complete !== false,
    alive: v.alive,
    missing: v.missing,
    duplicates: v.duplicates,
  }).toEqual({
    label,
    state: 'CAPTURED',
    complete: true,
    alive: true,
    missing: 0,
    duplicates: 0,
  });
  return v.item;
}

describe(`fault matrix: lpv through the DynamoDB fault proxy, ${BACKEND} and the simulator`, () => {
  it('runs within about 60 s', () => {
    expect(wallMs).toBeLessThan(60_000);
  });

  describe('over every session of every group (Done when)', () => {
    it('0 alive sessions lost, 0 duplicate rows, 0 partial captures without complete: false', async () => {
      const problems: string[] = [];
      for (const group of groups) {
        for (const label of group.scenarios.keys()) {
          const v = await group.verdict(label);
          if (v.lost)
            problems.push(
              `${group.name}/${label}: alive, ended ${v.item.state}, ${v.missing} events of its last answer not stored`,
            );
          if (v.duplicates > 0)
            problems.push(`${group.name}/${label}: ${v.duplicates} stored event rows no answer holds`);
          if (v.unmarkedPartial)
            problems.push(
              `${group.name}/${label}: CAPTURED without ${v.missing} events, not complete: false`,
            );
          if (v.item.state === 'ACTIVE')
            problems.push(`${group.name}/${label}: still ACTIVE after its deadline`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('every tick ends within its budget: row writes share the tick deadline (point 9)', () => {
      const slow = groups.flatMap((g) =>
        g.ticks
          .filter(
            (t) =>
              t.summary !== undefined &&
              t.summary.finishedAtMs - t.summary.startedAtMs >
                TICK_BUDGET_SEC * 1000 + TICK_OVERRUN_ALLOWANCE_MS,
          )
          .map(
            (t) =>
              `${g.name}: ${(t.summary as Summary).finishedAtMs - (t.summary as Summary).startedAtMs} ms`,
          ),
      );
      expect(slow).toEqual([]);
    });
  });

  describe('storage faults (main group)', () => {
    it('a due-index Query failing past the SDK retries does not reject the tick (point 8)', () => {
      expect(proxyRules.query?.picked).toBe(5);
      expect(phase.queryFails?.summary).toBeDefined();
      expect(phase.queryFails?.code).toBe(0);
      expect(phase.queryFails?.summary?.itemErrors ?? 0).toBeGreaterThanOrEqual(1);
    });

    it('a claim failing past the SDK retries is an item error, not a failed tick (point 8)', async () => {
      expect(proxyRules.claim?.picked).toBe(5);
      expect(main.ticks.filter((t) => t.summary === undefined).map((t) => t.stderr.slice(0, 300))).toEqual(
        [],
      );
      expect(main.sum('itemErrors')).toBeGreaterThanOrEqual(3);
      await expectCapturedComplete(main, 'claim-fails');
    });

    it('an ack failing past the SDK retries hands the item back; rows are not written twice (point 8)', async () => {
      expect(proxyRules['ack-fails']?.picked).toBe(5);
      await expectCapturedComplete(main, 'ack-fails');
    });

    it('a 404/12 whose ack failed counts as expired-before-capture once, when its ack lands (point 7)', async () => {
      expect(proxyRules['expired-ack-fails']?.picked).toBe(5);
      const item = await main.item('expired-ack-fails');
      expect(item.state).toBe('LOST');
      // Counted from every tick's summary: a tick that printed none would hide what it counted.
      expect(main.ticks.filter((t) => t.summary === undefined)).toHaveLength(0);
      expect(main.sum('expiredBeforeCapture')).toBe(1);
      const outcomes = (await main.rows('expired-ack-fails')).filter((r) => r.rowType === 'outcome');
      expect(outcomes).toHaveLength(1);
    });

    it('throttled batch writes (ProvisionedThroughputExceeded, unprocessed items, lost answers) lose and duplicate nothing', async () => {
      const faults = (main.proxy as DynamoFaultProxy).stats().faults;
      expect(faults['BatchWriteItem:throughput_exceeded'] ?? 0).toBeGreaterThan(0);
      expect(faults['BatchWriteItem:unprocessed'] ?? 0).toBeGreaterThan(0);
      await expectCapturedComplete(main, 'throttled-writes-1');
      await expectCapturedComplete(main, 'throttled-writes-2');
    });

    it('rows that stay unwritten make a partial capture: CAPTURED, complete: false, reason partial:, counted (points 1, 9)', async () => {
      expect(proxyRules.partial?.picked).toBeGreaterThan(0);
      const v = await main.verdict('partial');
      expect(v.item.state).toBe('CAPTURED');
      expect(v.item.complete).toBe(false);
      expect(v.item.reason).toMatch(/^partial:/);
      expect(main.sum('rowsUnwritten')).toBeGreaterThan(0);
      expect(main.sum('sessionsPartial')).toBe(1);
      const outcome = (await main.rows('partial')).find((r) => r.rowType === 'outcome');
      expect(outcome).toMatchObject({ finalState: 'CAPTURED', complete: false });
    });

    it('the healthy sessions beside them are captured completely', async () => {
      for (const label of ['control-1', 'control-2', 'control-3']) await expectCapturedComplete(main, label);
    });
  });

  describe('LivePerson faults (main group)', () => {
    it('an event body with 30,000 numeric fields is fitted, not a failed batch: complete, counted (point 1)', async () => {
      const item = await expectCapturedComplete(main, 'oversized');
      expect(item.reason ?? '').not.toMatch(/^partial:/);
      expect(main.sum('rowsFitted')).toBeGreaterThanOrEqual(1);
      expect(main.sum('rowsRejected')).toBe(0);
    });

    it('a session that only ever answered empty ends LOST, no app session in any answer, polled at the normal interval (point 2)', async () => {
      for (const label of ['empty-only', 'empty-missing-only']) {
        const item = await main.item(label);
        expect({ label, state: item.state, reason: item.reason }).toEqual({
          label,
          state: 'LOST',
          reason: 'no app session in any answer',
        });
        // At once, then in the final window (24 s interval): never the 5 s backoff of a failure.
        expect(item.pollCount).toBeLessThanOrEqual(3);
        expect(item.pollCount).toBeGreaterThanOrEqual(2);
      }
      expect(main.sum((s) => s.fetches.empty ?? 0)).toBeGreaterThanOrEqual(4);
    });

    it('an empty answer after a success changes nothing; a success after an empty answer is captured (point 2)', async () => {
      await expectCapturedComplete(main, 'ok-then-empty');
      await expectCapturedComplete(main, 'empty-then-ok');
    });

    it('a 200 in the flat shape is read as one app session, with the rows of the nested form (point 3)', async () => {
      await expectCapturedComplete(main, 'flat');
    });

    it('400/33 from one session in a tick ends it INVALID, counted, the tick goes on (point 4)', async () => {
      const item = await main.item('bad-request-33-one');
      expect(item.state).toBe('INVALID');
      expect(item.lastOutcome).toBe('400/33');
      expect(main.sum('badRequest33Sessions')).toBeGreaterThanOrEqual(1);
      expect(main.ticks.every((t) => t.summary?.stoppedBy !== 'configuration_fault')).toBe(true);
    });

    it('404/37 after a success ends CAPTURED, the reason saying what LivePerson answered (point 12)', async () => {
      const item = await expectCapturedComplete(main, 'invalid-37-after-ok');
      expect(item.reason).toMatch(/404\/37/);
    });

    it('a Retry-After of an hour does not end the item early: the retry lands before the deadline (point 11)', async () => {
      await expectCapturedComplete(main, 'retry-after-3600');
    });
  });

  describe('400/33 from every session (own group)', () => {
    it('stops the tick as for 404/6: exit 3, configuration fault, counted, every item left as it was (point 4)', () => {
      const tick = phase.badRequestAll as Tick;
      expect(tick.code).toBe(3);
      expect(tick.summary?.stoppedBy).toBe('configuration_fault');
      expect(tick.summary?.badRequest33Sessions ?? 0).toBeGreaterThanOrEqual(3);
      const items = JSON.parse(phase.badRequestAllItems?.stderr ?? '[]') as QueueItem[];
      expect(items.map((i) => ({ state: i.state, pollCount: i.pollCount, attempts: i.attempts }))).toEqual(
        items.map(() => ({ state: 'ACTIVE', pollCount: 0, attempts: 0 })),
      );
    });

    it('once LivePerson accepts the requests again, every session is captured', async () => {
      for (const label of ['s1', 's2', 's3', 's4']) await expectCapturedComplete(badRequestAll, label);
    });
  });

  describe('Domain API faults (own group)', () => {
    it("'account not found' is a configuration fault: exit 3, every item left as it was (point 5)", () => {
      const tick = phase.domainNotFound as Tick;
      expect(tick.code).toBe(3);
      expect(tick.summary?.stoppedBy).toBe('configuration_fault');
      const items = JSON.parse(phase.domainNotFoundItems?.stderr ?? '[]') as QueueItem[];
      expect(items.every((i) => i.state === 'ACTIVE' && i.pollCount === 0 && i.attempts === 0)).toBe(true);
    });

    it.each([
      ['unreachable (connection reset)', 'domainReset'],
      ['answering 503', 'domainServerError'],
    ])('%s: items handed back, counted, the failure cached (one lookup per tick) (point 5)', (_name, key) => {
      const tick = phase[key] as Tick & { lookups: number };
      expect(tick.code).toBe(0);
      expect(tick.summary?.stoppedBy).not.toBe('configuration_fault');
      expect(tick.summary?.domainApiFailures ?? 0).toBeGreaterThanOrEqual(1);
      expect(tick.summary?.itemErrors ?? 0).toBeGreaterThanOrEqual(1);
      expect(tick.lookups).toBeLessThanOrEqual(1);
    });

    it('once the Domain API answers again, every session is captured', async () => {
      for (const label of ['d1', 'd2', 'd3', 'd4']) await expectCapturedComplete(domain, label);
    });
  });

  describe('a crash in the final window (own group)', () => {
    it('settings that break the timing rule are refused at config load, naming them (point 10)', () => {
      expect(configRefused.code).toBe(2);
      expect(configRefused.stderr).toMatch(/LEASE_SECONDS/);
      expect(configRefused.stderr).toMatch(/POLL_INTERVAL_SECONDS|SCHEDULE_PERIOD_SECONDS/);
    });

    it('a tick killed with its final-window fetches in flight still leaves every item a poll before the deadline (point 10)', async () => {
      expect(phase.crash?.signal).toBe('SIGKILL');
      expect(Number(phase.crash?.stderr)).toBe(4);
      for (const label of ['c1', 'c2', 'c3', 'c4']) {
        const item = await expectCapturedComplete(crash, label);
        const { deadlineMs } = crash.scenario(label);
        // Polled again after the crash, before the deadline.
        expect(item.lastCapturedAtMs ?? 0).toBeGreaterThan(crashAtMs);
        expect(item.lastCapturedAtMs ?? Infinity).toBeLessThan(deadlineMs);
      }
    });
  });
});
