import type { ScenarioMeasurement } from '../bench/capacity';
import {
  DEFAULT_ASSUMPTIONS,
  byService,
  costAt,
  pollerMsPerPoll,
  profileOf,
  type Assumptions,
  type SessionProfile,
} from '../../tools/cost/model';
import { PRICES, PRICES_AS_OF, PRICES_REGION } from '../../tools/cost/prices';

/** A round profile: 1,000 write units, 20 read units, 50 polls a session; 2 write units a tick. */
const PROFILE: SessionProfile = {
  writeUnits: 1000,
  readUnits: 20,
  tickWriteUnits: 2,
  tickReadUnits: 0,
  polls: 50,
  livePersonCalls: 48,
  dynamoCallsPerPoll: 3,
  captureItemsPut: 150,
  captureTableWriteKb: 250,
  captureStoredBytes: 120 * 1024,
  captureTableStoredBytes: 80 * 1024,
  queueStoredBytes: 2 * 1024,
  cpuMsPerPoll: 4,
  idleTickMs: 50,
};

function line(cost: ReturnType<typeof costAt>, item: string): number {
  const found = cost.lines.find((l) => l.item.startsWith(item));
  if (found === undefined) throw new Error(`no line ${item}`);
  return found.usdPerDay;
}

describe('price table', () => {
  it('states its region and date', () => {
    expect(PRICES_REGION).toBe('us-east-1');
    expect(PRICES_AS_OF).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it.each(Object.entries(PRICES))('%s is a positive price with its unit and source page', (_name, price) => {
    expect(price.usd).toBeGreaterThan(0);
    expect(price.unit).not.toBe('');
    expect(price.source).toMatch(/pricing/);
  });

  it.each([
    ['dynamoWriteRequestUnit', 0.625e-6],
    ['dynamoReadRequestUnit', 0.125e-6],
    ['lambdaRequest', 0.2e-6],
    ['athenaTbScanned', 5],
  ] as const)('%s is %s dollars', (name, usd) => {
    expect(PRICES[name].usd).toBeCloseTo(usd, 12);
  });
});

describe('costAt', () => {
  it.each([
    [1_000, 1_000 * 1000 * 0.625e-6],
    [10_000, 10_000 * 1000 * 0.625e-6],
    [100_000, 100_000 * 1000 * 0.625e-6],
  ])('at %i sessions a day, the sessions write units cost %f $ a day', (sessions, usd) => {
    expect(line(costAt(PROFILE, sessions), 'write request units (sessions)')).toBeCloseTo(usd, 9);
  });

  it.each([
    ['request units of the ticks', 1440 * 2 * 0.625e-6],
    ['poller invocations', 1440 * 0.2e-6],
    ['3 secrets', (3 * 0.4) / 30.4],
    ['35 custom metrics', (35 * 0.3) / 30.4],
    ['36 alarm metrics', (36 * 0.1) / 30.4],
  ])('the fixed line "%s" costs %f $ a day whatever the volume', (item, usd) => {
    for (const sessions of [1_000, 10_000, 100_000]) {
      const cost = costAt(PROFILE, sessions);
      expect(line(cost, item)).toBeCloseTo(usd, 9);
      expect(cost.lines.find((l) => l.item.startsWith(item))?.fixed).toBe(true);
    }
  });

  it.each([
    ['EventBridge Pipes', 'requests', 100_000 * 150 * 0.4e-6],
    ['Firehose', 'Iceberg delivery', ((100_000 * 250 * 1024 * 2.5) / 1024 ** 3) * 0.045],
    ['API Gateway', 'enqueue HTTP API requests', 100_000 * 1e-6],
  ])('%s %s scales with the volume', (_service, item, usdAt100k) => {
    expect(line(costAt(PROFILE, 100_000), item)).toBeCloseTo(usdAt100k, 9);
    expect(line(costAt(PROFILE, 10_000), item)).toBeCloseTo(usdAt100k / 10, 9);
  });

  it('keeps storage for the retention: twice the days, twice the storage bill', () => {
    const short = costAt(PROFILE, 100_000, { ...DEFAULT_ASSUMPTIONS, captureRetentionDays: 30 });
    const long = costAt(PROFILE, 100_000, {
      ...DEFAULT_ASSUMPTIONS,
      captureRetentionDays: 60,
      queueItemDays: 0,
    });
    const shortNoQueue = costAt(PROFILE, 100_000, {
      ...DEFAULT_ASSUMPTIONS,
      captureRetentionDays: 30,
      queueItemDays: 0,
    });
    expect(line(long, 'storage')).toBeCloseTo(2 * line(shortNoQueue, 'storage'), 9);
    expect(line(short, 'storage')).toBeGreaterThan(line(shortNoQueue, 'storage'));
    // 100,000 × 30 days × 120 KiB, at $0.25 per GB-month, a day of it.
    expect(line(shortNoQueue, 'storage')).toBeCloseTo(
      ((100_000 * 30 * 120 * 1024) / 1024 ** 3) * (0.25 / 30.4),
      9,
    );
  });

  it('leaves point-in-time recovery out when it is off', () => {
    const off = costAt(PROFILE, 100_000, { ...DEFAULT_ASSUMPTIONS, pointInTimeRecovery: false });
    expect(off.lines.some((l) => l.item === 'point-in-time recovery')).toBe(false);
    expect(off.usdPerDay).toBeLessThan(costAt(PROFILE, 100_000).usdPerDay);
  });

  it('adds up: the day is the sum of its lines, the month 30.4 days, 1,000 sessions a thousandth of the day per session', () => {
    for (const sessions of [1_000, 10_000, 100_000]) {
      const cost = costAt(PROFILE, sessions);
      expect(cost.usdPerDay).toBeCloseTo(
        cost.lines.reduce((a, l) => a + l.usdPerDay, 0),
        12,
      );
      expect(cost.usdPerMonth).toBeCloseTo(cost.usdPerDay * 30.4, 9);
      expect(cost.usdPer1000Sessions).toBeCloseTo((cost.usdPerDay / sessions) * 1000, 12);
      expect(byService(cost).reduce((a, [, d]) => a + d, 0)).toBeCloseTo(cost.usdPerDay, 12);
    }
  });

  it('spreads the fixed costs: 1,000 sessions cost less at a higher volume, and never less than their variable part', () => {
    const perThousand = [1_000, 10_000, 100_000].map((n) => costAt(PROFILE, n).usdPer1000Sessions);
    expect(perThousand[0]).toBeGreaterThan(perThousand[1] as number);
    expect(perThousand[1]).toBeGreaterThan(perThousand[2] as number);
    const variable = costAt(PROFILE, 100_000).lines.filter((l) => !l.fixed);
    expect(perThousand[2]).toBeGreaterThan((variable.reduce((a, l) => a + l.usdPerDay, 0) / 100_000) * 1000);
  });

  it('grows a stream shard per 1,000 capture write units a second', () => {
    // 250 KB a session: 345,600 sessions a day write 1,000 units a second.
    expect(costAt(PROFILE, 345_600).lines.find((l) => l.item.startsWith('stream reads'))?.item).toMatch(
      /1 shard\)/,
    );
    expect(costAt(PROFILE, 345_601).lines.find((l) => l.item.startsWith('stream reads'))?.item).toMatch(
      /2 shards/,
    );
  });
});

describe('pollerMsPerPoll', () => {
  const at = (cpuMsPerPoll: number, patch: Partial<Assumptions>): number =>
    pollerMsPerPoll({ ...PROFILE, cpuMsPerPoll }, { ...DEFAULT_ASSUMPTIONS, ...patch });

  it.each([
    // CPU-bound: 4 ms of a core is 4 × 1769/512 ms at 512 MiB.
    [4, { pollerMemoryMiB: 512 }, 4 * (1769 / 512)],
    // A vCPU or more: the measured CPU as it is.
    [4, { pollerMemoryMiB: 2048 }, (300 + 3 * 8) / 32],
    [20, { pollerMemoryMiB: 2048 }, 20],
    // Wait-bound: LivePerson's 300 ms and 3 DynamoDB calls of 8 ms, 32 at once.
    [0.1, { pollerMemoryMiB: 512 }, (300 + 3 * 8) / 32],
    [0.1, { pollConcurrency: 8 }, (300 + 3 * 8) / 8],
  ] as const)('CPU %f ms/poll with %j: %f ms billed per poll', (cpu, patch, expected) => {
    expect(at(cpu, patch)).toBeCloseTo(expected, 9);
  });
});

describe('profileOf', () => {
  const scenario: ScenarioMeasurement = {
    description: 'test',
    sessions: 4,
    outcomes: { CAPTURED: 2, LOST: 2, INVALID: 0, FAILED: 0 },
    ticks: 10,
    polls: 40,
    liveperson: { calls: 50 },
    events: { produced: 10, stored: 9, observable: 9, storedObservable: 9, duplicates: 0 },
    units: {
      'claim|queue|table': { write: 100, read: 0 },
      'claim|queue|due': { write: 60, read: 8 },
      'rows|capture|table': { write: 300, read: 0 },
      'rows|capture|byVisitor': { write: 40, read: 0 },
      'outcome|capture|table': { write: 4, read: 0 },
      'other|queue|table': { write: 20, read: 1 },
    },
    requests: { enqueue: 4, claim: 200, ack: 40, rows: 30, outcome: 2, other: 10 },
    conditionalFailures: { enqueue: 0, claim: 0, ack: 0, rows: 0, outcome: 0, other: 0 },
    captureItemsPut: { enqueue: 0, claim: 0, ack: 0, rows: 300, outcome: 2, other: 0 },
    storage: {
      captureItems: 20,
      capture: { table: 2000, byVisitor: 500 },
      queueItems: 4,
      queue: { table: 800 },
    },
    timing: { ticks: 10, polls: 40, wallMs: 900, cpuMs: 200, baseMs: 5, perPollMs: 2, idleTickMs: 30 },
  };

  it.each([
    // Per captured session (2), the lost sessions' units included.
    ['writeUnits', (100 + 60 + 300 + 40 + 4) / 2],
    ['readUnits', 8 / 2],
    // `other` per tick, not per session.
    ['tickWriteUnits', 20 / 10],
    ['tickReadUnits', 1 / 10],
    ['polls', 40 / 2],
    ['livePersonCalls', 50 / 2],
    // Claims (one per poll), acks, row batches and outcome rows: not the due-index queries.
    ['dynamoCallsPerPoll', (40 + 40 + 30 + 2) / 40],
    ['captureItemsPut', 302 / 2],
    // The capture table's own units (its indexes excluded), rows and outcome.
    ['captureTableWriteKb', 304 / 2],
    ['captureStoredBytes', 2500 / 2],
    ['captureTableStoredBytes', 2000 / 2],
    ['queueStoredBytes', 800 / 2],
    ['cpuMsPerPoll', 200 / 40],
    ['idleTickMs', 30],
  ] as const)('%s is %f', (field, expected) => {
    expect(profileOf(scenario)[field]).toBeCloseTo(expected, 12);
  });
});
