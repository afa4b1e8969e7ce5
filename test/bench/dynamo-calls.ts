/**
 * Figure 4: DynamoDB calls per poll, counted by a middleware on the DocumentClient the poller uses:
 *   (a) capture-table BatchWriteItem calls <= ceil(new rows / 25), for first polls and for re-polls with news;
 *   (b) an unchanged re-poll writes nothing, or one row (the current page's timeOnPage grows while the visitor
 *       stays on it: see lib/poller/poller.ts);
 *   (c) queue-table writes per poll = 2 (the claim and the ack).
 * The expected rows come from flattening the simulator's states independently of the poller. Not a throughput
 * figure: the simulator runs in process on a manual clock (so the states are known), dynalite in its own.
 */
import { flattenVisitState } from '../../lib/capture/flatten';
import { HOUR_MS, MINUTE_MS, ManualClock, systemClock } from '../../lib/clock';
import { FixedBaseUrl } from '../../lib/liveperson/base-url';
import { VisitInformationClient } from '../../lib/liveperson/client';
import { StaticCredentialsProvider } from '../../lib/liveperson/credentials';
import { createAgents } from '../../lib/liveperson/http';
import type { VisitState } from '../../lib/liveperson/types';
import { silentLog } from '../../lib/log';
import type { TickSummary } from '../../lib/poller/poller';
import { stableRowDigest } from '../../lib/poller/digests';
import { LAGGING_COLUMNS } from '../../lib/poller/rewrite-rule';
import { DEFAULT_SIMULATOR_CREDENTIALS, VisitSimulator } from '../../lib/simulator/server';
import { SimulatedWorld, type SessionInfo } from '../../lib/simulator/world';
import { capturePk, queueKey } from '../../lib/keys';
import { createPoller, type Storage } from '../../lib/wiring';
import { benchPrivacyPolicy } from './privacy';
import { startDynamoProcess } from './processes';
import { fixed, type Figure } from './report';
import { freshStorage } from './storage';

const ACCOUNT = '12345678';
const BATCH_SIZE = 25;

interface CallCounts {
  /** Capture-table BatchWriteItem calls and rows put, per session pk. */
  captureCalls: Map<string, number>;
  captureRows: Map<string, number>;
  captureRowTypes: Map<string, string[]>;
  /** Queue-table writes (UpdateItem, PutItem, DeleteItem, BatchWriteItem) per queue key. */
  queueWrites: Map<string, number>;
  /** Calls that belong to no session: the due-index queries, the tick summary. */
  perTick: Map<string, number>;
}

function emptyCounts(): CallCounts {
  return {
    captureCalls: new Map(),
    captureRows: new Map(),
    captureRowTypes: new Map(),
    queueWrites: new Map(),
    perTick: new Map(),
  };
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/**
 * A string attribute of an item or key as sent: capture rows and the queue's claims and acks go as DynamoDB
 * values (`{ S: ... }`, marshalled in lib/store), the rest through DocumentClient (plain values).
 */
function stringValue(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'S' in value) return String((value as { S: unknown }).S);
  return String(value);
}

const QUEUE_WRITES = new Set(['UpdateItemCommand', 'PutItemCommand', 'DeleteItemCommand']);

/**
 * Counts every call the storage makes, at the `initialize` step (before marshalling, once per call whatever
 * the SDK's retries do). `counts()` returns what was seen since the last `reset()`.
 */
function countCalls(
  storage: Storage,
  queueTable: string,
  captureTable: string,
): { counts(): CallCounts; reset(): void } {
  let counts = emptyCounts();
  storage.documentClient.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      const input = args.input as Record<string, unknown>;
      const table = typeof input.TableName === 'string' ? input.TableName : undefined;
      const key = (input.Key ?? input.Item) as { pk?: unknown } | undefined;
      if (command === 'BatchWriteItemCommand') {
        const requestItems = input.RequestItems as Record<
          string,
          Array<{ PutRequest?: { Item: Record<string, unknown> } }>
        >;
        for (const [name, requests] of Object.entries(requestItems)) {
          const pks = new Set<string>();
          for (const request of requests) {
            const item = request.PutRequest?.Item;
            if (item === undefined) continue;
            const pk = stringValue(item.pk);
            pks.add(pk);
            if (name === captureTable) {
              bump(counts.captureRows, pk);
              counts.captureRowTypes.set(pk, [
                ...(counts.captureRowTypes.get(pk) ?? []),
                stringValue(item.rowType),
              ]);
            } else bump(counts.queueWrites, pk);
          }
          if (name === captureTable) for (const pk of pks) bump(counts.captureCalls, pk);
        }
      } else if (
        table === queueTable &&
        QUEUE_WRITES.has(command) &&
        key?.pk !== undefined &&
        !stringValue(key.pk).startsWith('TICK#')
      ) {
        bump(counts.queueWrites, stringValue(key.pk));
      } else {
        bump(
          counts.perTick,
          `${command}${table === queueTable ? ' (queue)' : table === captureTable ? ' (capture)' : ''}`,
        );
      }
      return next(args);
    },
    { step: 'initialize', name: 'benchCallCounter' },
  );
  return {
    counts: () => counts,
    reset: () => {
      counts = emptyCounts();
    },
  };
}

/** Rows of `state` whose digest is not among `stored` (what a poll must write). */
function newRows(
  session: SessionInfo,
  state: VisitState,
  stored: Set<string>,
): { total: number; fresh: string[] } {
  const rows = flattenVisitState({
    accountId: ACCOUNT,
    visitorId: session.visitorId,
    sid: session.sid,
    state,
  }).rows;
  const fresh: string[] = [];
  for (const row of rows) {
    // A row whose only change is in its lagging columns (lib/poller/rewrite-rule.ts) is deferred, not written:
    // it is new only if it differs in another column.
    const id = stableRowDigest(row, LAGGING_COLUMNS[String(row.rowType)] ?? []);
    if (!stored.has(id)) fresh.push(id);
  }
  return { total: rows.length, fresh };
}

/** The state without the one field that grows while nothing happens (the current page's timeOnPage). */
function withoutTimeOnPage(state: VisitState): string {
  return JSON.stringify(state, (key, value: unknown) => (key === 'timeOnPage' ? undefined : value));
}

export async function benchDynamoCalls(options: { sessions: number }): Promise<Figure[]> {
  const t0Ms = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
  const clock = new ManualClock(t0Ms);
  const world = new SimulatedWorld({ seed: 4, accountId: ACCOUNT, clock, earlyEndProbability: 0 });
  // Ages from fresh to five hours: answers from 2 to ~150 rows, so first polls need from 1 to 7 batches.
  const sessions = Array.from({ length: options.sessions }, (_, i) =>
    world.startSession({
      startTimeMs: t0Ms - Math.floor((i / options.sessions) * 5 * HOUR_MS),
      durationMs: 6 * HOUR_MS,
    }),
  );
  const simulator = new VisitSimulator({ world, credentials: DEFAULT_SIMULATOR_CREDENTIALS });
  await simulator.start();
  const dynamo = await startDynamoProcess();
  const agents = createAgents();
  let storage: Storage | undefined;
  try {
    const fresh = await freshStorage(dynamo.endpoint, 'bench-calls', clock);
    storage = fresh.storage;
    await storage.queue.enqueue(
      ACCOUNT,
      sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
    );
    const counter = countCalls(storage, fresh.settings.queueTable, fresh.settings.captureTable);
    const poller = createPoller(
      ACCOUNT,
      { concurrency: 8, pollIntervalSec: 600, leaseSec: 300, maxRequestsPerSec: 0 },
      {
        storage,
        privacy: benchPrivacyPolicy(),
        source: new VisitInformationClient({
          accountId: ACCOUNT,
          baseUrl: new FixedBaseUrl(simulator.baseUrl),
          credentials: new StaticCredentialsProvider(DEFAULT_SIMULATOR_CREDENTIALS),
          agents,
        }),
        clock,
        log: silentLog,
        wallClock: systemClock,
      },
    );

    const stored = new Map<string, Set<string>>(sessions.map((s) => [s.sid, new Set<string>()]));
    const lastState = new Map<string, VisitState>();
    const changed = { polls: 0, calls: 0, bound: 0, overBound: 0, rowsWritten: 0, rowsExpected: 0 };
    const unchanged = {
      polls: 0,
      rowsWritten: 0,
      maxRows: 0,
      calls: 0,
      oneRow: 0,
      rowTypes: new Set<string>(),
    };
    let queueWrites = 0;
    let polls = 0;
    const perTick = new Map<string, number>();
    const ticks: TickSummary[] = [];

    // Tick 1 at t0: first polls. Tick 2 one second later: re-polls, mostly unchanged. Tick 3 ten minutes
    // later: re-polls, mostly with new events and pages.
    for (const advanceMs of [0, 1000, 10 * MINUTE_MS]) {
      clock.advanceMs(advanceMs);
      counter.reset();
      const nowMs = clock.nowMs();
      const summary = await poller.tick({
        budgetMs: 10 * MINUTE_MS,
        safetyMarginMs: 0,
        force: advanceMs > 0,
      });
      ticks.push(summary);
      if (summary.fetches.ok !== sessions.length)
        throw new Error(`tick at +${advanceMs} ms: ${summary.fetches.ok} ok fetches of ${sessions.length}`);
      const counts = counter.counts();
      for (const [name, n] of counts.perTick) bump(perTick, name, n);
      polls += summary.itemsClaimed;
      for (const session of sessions) {
        const pk = capturePk(ACCOUNT, session.sid);
        const state = world.stateAt(session.visitorId, session.sid, nowMs);
        const seen = stored.get(session.sid) as Set<string>;
        const expected = newRows(session, state, seen);
        const calls = counts.captureCalls.get(pk) ?? 0;
        const rows = counts.captureRows.get(pk) ?? 0;
        queueWrites += counts.queueWrites.get(queueKey(ACCOUNT, session.visitorId, session.sid)) ?? 0;
        const previous = lastState.get(session.sid);
        if (previous !== undefined && withoutTimeOnPage(previous) === withoutTimeOnPage(state)) {
          unchanged.polls++;
          unchanged.rowsWritten += rows;
          unchanged.calls += calls;
          unchanged.maxRows = Math.max(unchanged.maxRows, rows);
          if (rows === 1) unchanged.oneRow++;
          for (const t of counts.captureRowTypes.get(pk) ?? []) unchanged.rowTypes.add(t);
        } else {
          const bound = Math.ceil(expected.fresh.length / BATCH_SIZE);
          changed.polls++;
          changed.calls += calls;
          changed.bound += bound;
          if (calls > bound) changed.overBound++;
          changed.rowsWritten += rows;
          changed.rowsExpected += expected.fresh.length;
        }
        for (const id of expected.fresh) seen.add(id);
        lastState.set(session.sid, state);
      }
    }

    // The counts must see every new row written, or the figure would measure nothing.
    if (changed.rowsWritten < changed.rowsExpected) {
      throw new Error(
        `counted ${changed.rowsWritten} capture rows written, fewer than the ${changed.rowsExpected} new rows`,
      );
    }
    const perTickText = [...perTick].map(([name, n]) => `${name} ${fixed(n / ticks.length, 1)}`).join(', ');
    return [
      {
        id: '4a',
        title: 'capture BatchWriteItem calls / Σ ceil(new rows / 25), polls with new rows',
        ratio: changed.calls / Math.max(1, changed.bound),
        against: `(${changed.calls} calls, bound ${changed.bound})`,
        target: { op: '<=', value: 1 },
        raw:
          `${changed.polls} polls (first polls and re-polls with news); polls over their bound ${changed.overBound}; ` +
          `rows written ${changed.rowsWritten}, expected new ${changed.rowsExpected}`,
      },
      {
        id: '4b',
        title: 'capture rows written per unchanged re-poll (worst)',
        ratio: unchanged.maxRows,
        against: `rows (0, or 1 when the current page's timeOnPage grew)`,
        target: { op: '<=', value: 1 },
        raw:
          `${unchanged.polls} unchanged re-polls: ${unchanged.rowsWritten} rows in ${unchanged.calls} BatchWriteItem calls; ` +
          `${unchanged.oneRow} wrote 1 row (${[...unchanged.rowTypes].join(', ') || 'none'}), ${unchanged.polls - unchanged.oneRow} wrote 0`,
      },
      {
        id: '4c',
        title: 'queue-table writes per poll',
        ratio: queueWrites / Math.max(1, polls),
        against: `(${queueWrites} writes / ${polls} polls)`,
        target: { op: '=', value: 2 },
        raw: `per tick, apart from the polls: ${perTickText}`,
      },
    ];
  } finally {
    storage?.documentClient.destroy();
    agents.http.destroy();
    await simulator.stop();
    await dynamo.child.stop();
  }
}
