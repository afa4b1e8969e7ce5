/**
 * Flatten plans (lib/capture/plans.ts) and the row builder (rows.ts) must never change a row: `flattenVisitState` with plans reused across answers is held to test/support/flatten-oracle.ts (the
 * flattener without plans), row for row, value for value and in the same column order, on simulator answers
 * and on generated answers whose objects share shapes but not values, or nearly share them. The oracle knows no
 * privacy policy: plans here keep everything (test/unit/privacy-flatten.test.ts holds the policy's rows to
 * these).
 */
import {
  flattenVisitState,
  newFlattenPlans,
  type FlattenInput,
  type FlattenResult,
} from '../../lib/capture/flatten';
import { buildRow, CAPTURE_SCHEMA_VERSION, ROW_PROTOTYPE, rowColumnNames } from '../../lib/capture/rows';
import { MAX_PLAN_NODES, MAX_SHAPE_STEPS, PlanCache } from '../../lib/capture/plans';
import { keepEverythingPolicy } from '../../lib/privacy/policy';
import { HOUR_MS, ManualClock, MINUTE_MS } from '../../lib/clock';
import type { Json, JsonObject, VisitState } from '../../lib/liveperson/types';
import { Random } from '../../lib/simulator/random';
import { SimulatedWorld } from '../../lib/simulator/world';
import { oracleFlattenVisitState } from '../support/flatten-oracle';
import { generatedObject } from '../support/json-generator';

const ACCOUNT = '12345678';

/** Everything a caller can see of a result: rows with their column order, counts, types. */
function observable(result: FlattenResult): unknown {
  return {
    rows: result.rows.map((row) => ({ proto: Object.getPrototypeOf(row), columns: Object.entries(row) })),
    counts: result.counts,
    eventsByType: Object.entries(result.eventsByType),
    unknownEventTypes: result.unknownEventTypes,
  };
}

function expectSameAsOracle(input: FlattenInput, plans: ReturnType<typeof newFlattenPlans>): void {
  const run = (f: () => FlattenResult): unknown => {
    try {
      return observable(f());
    } catch (error) {
      return `threw ${(error as Error).name}: ${(error as Error).message}`;
    }
  };
  expect(run(() => flattenVisitState(input, plans))).toEqual(run(() => oracleFlattenVisitState(input)));
}

/** The same shape (keys, order, nesting, kinds) with other values: strings, numbers and booleans changed. */
function sameShapeOtherValues(value: Json, random: Random): Json {
  if (typeof value === 'string') return `${value}~${random.int(0, 9)}`;
  if (typeof value === 'number') return value + random.int(1, 1000);
  if (typeof value === 'boolean') return !value;
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((v) => sameShapeOtherValues(v, random));
  const out: string[] = [];
  for (const [k, v] of Object.entries(value))
    out.push(`${JSON.stringify(k)}:${JSON.stringify(sameShapeOtherValues(v, random))}`);
  // Through JSON.parse so that a `__proto__` key stays an own data key.
  return JSON.parse(`{${out.join(',')}}`) as Json;
}

/** The same keys with one value, somewhere, of another kind (a number becomes a string, an object a number...). */
function oneKindChanged(value: JsonObject, random: Random): JsonObject {
  const text = JSON.stringify(value);
  const copy = JSON.parse(text) as JsonObject;
  let target: JsonObject = copy;
  for (let depth = 0; depth < 4; depth += 1) {
    const keys = Object.keys(target);
    if (keys.length === 0) return copy;
    const key = keys[random.int(0, keys.length - 1)] as string;
    const inner = target[key];
    if (depth < 3 && inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
      target = inner;
      continue;
    }
    const replacements: Json[] = [7, 'seven', true, null, {}, [], [{ a: 1 }], { nested: 1 }];
    const current = JSON.stringify(inner);
    const others = replacements.filter((r) => JSON.stringify(r) !== current);
    Object.defineProperty(target, key, {
      value: others[random.int(0, others.length - 1)],
      enumerable: true,
      writable: true,
      configurable: true,
    });
    return copy;
  }
  return copy;
}

const EVENT_TYPES = ['lead', 'cart', 'cartStatus', 'purchase', 'a', '__proto__', '_malformed', 'x y'];

/** `shared`: session and visit fields that answers share the shape of (values and some kinds differ). */
function generatedAnswer(random: Random, shared: { session: JsonObject; visit: JsonObject }): VisitState {
  const base = () => generatedObject(random, 30);
  const variants = (obj: JsonObject): JsonObject[] => [
    obj,
    sameShapeOtherValues(obj, random) as JsonObject,
    oneKindChanged(obj, random),
    sameShapeOtherValues(obj, random) as JsonObject,
  ];
  const pages = variants(base()).map((p, i) => (random.chance(0.5) ? { ...p, id: `p${i}` } : p));
  const engagements = variants(base());
  const events: Json[] = [];
  for (let i = 0; i < 3; i += 1) {
    const type = EVENT_TYPES[random.int(0, EVENT_TYPES.length - 1)] as string;
    const body = base();
    if (random.chance(0.5)) body.serverTimeStamp = 1_767_600_000_000 + random.int(0, 1e6);
    if (random.chance(0.3)) body.contexts = { page: { id: `p${random.int(0, 3)}` } };
    for (const variant of variants(body))
      events.push(JSON.parse(`{${JSON.stringify(type)}:${JSON.stringify(variant)}}`));
  }
  // Elements that are not `{ type: body }`, and stray scalars.
  events.push(base(), 7, null, { a: {}, b: {} });
  const lookAlike = (obj: JsonObject): JsonObject =>
    random.chance(0.2) ? oneKindChanged(obj, random) : (sameShapeOtherValues(obj, random) as JsonObject);
  return {
    ...lookAlike(shared.visit),
    id: 'visit-1',
    appSessions: [
      {
        ...lookAlike(shared.session),
        id: 'app-1',
        startTime: 1_767_600_000_000,
        pages: [...pages, 'stray'],
        engagements,
        events,
      } as unknown as VisitState['appSessions'][number],
    ],
  } as VisitState;
}

describe('flattenVisitState with flatten plans, against the flattener without them', () => {
  it('gives the same rows for simulator answers over a day of sessions, plans shared throughout', () => {
    const plans = newFlattenPlans({ privacy: keepEverythingPolicy() });
    for (const seed of [1, 2, 3]) {
      const t0Ms = Date.UTC(2026, 0, 5, 8);
      const clock = new ManualClock(t0Ms);
      const world = new SimulatedWorld({ seed, accountId: ACCOUNT, clock });
      const sessions = Array.from({ length: 12 }, (_, i) =>
        world.startSession({ startTimeMs: t0Ms + i * 7 * MINUTE_MS, durationMs: 6 * HOUR_MS }),
      );
      for (const atMs of [t0Ms + 2 * HOUR_MS, t0Ms + 6 * HOUR_MS]) {
        for (const s of sessions) {
          let state: VisitState;
          try {
            state = world.stateAt(s.visitorId, s.sid, atMs);
          } catch {
            continue; // ended early: gone, as on LivePerson
          }
          expectSameAsOracle({ accountId: ACCOUNT, visitorId: s.visitorId, sid: s.sid, state }, plans);
        }
      }
    }
    // The point of plans: most objects reuse one.
    expect(plans.event.stats.hits).toBeGreaterThan(plans.event.stats.made * 5);
    expect(plans.page.stats.hits).toBeGreaterThan(plans.page.stats.made * 10);
    // Session rows too, now that id-keyed maps are values rather than shape (naming.ts, rule 6).
    expect(plans.session.stats.hits).toBeGreaterThan(plans.session.stats.made);
  });

  it.each([11, 12, 13])(
    'gives the same rows for 150 generated answers of look-alike shapes (seed %i)',
    (seed) => {
      const random = new Random(seed);
      const plans = newFlattenPlans({ privacy: keepEverythingPolicy() });
      let shared = { session: generatedObject(random, 30), visit: generatedObject(random, 10) };
      for (let i = 0; i < 150; i += 1) {
        if (i % 5 === 0)
          shared = { session: generatedObject(random, 30), visit: generatedObject(random, 10) };
        const state = generatedAnswer(random, shared);
        expectSameAsOracle({ accountId: ACCOUNT, visitorId: 'v1', sid: `s${i}`, state }, plans);
      }
      // Look-alikes were really served from plans made for other objects.
      const hits = plans.event.stats.hits + plans.page.stats.hits + plans.engagement.stats.hits;
      expect(hits).toBeGreaterThan(300);
      expect(plans.session.stats.hits).toBeGreaterThan(40);
    },
  );
});

describe('PlanCache', () => {
  const flatten = (
    plans: PlanCache,
    value: JsonObject,
    family = '',
    rootName?: string,
    omit: string[][] = [],
  ) => plans.flatten(family, [{ value, omit, rootName }], undefined);

  it('reuses a plan only for the same keys, order, nesting and kinds', () => {
    const plans = new PlanCache({ objectArrays: 'children' });
    const a = flatten(plans, { x: 1, y: { z: 'a' } });
    expect(a.values).toEqual([1, 'a']);
    const b = flatten(plans, { x: 2, y: { z: 'b' } });
    expect(b.plan).toBe(a.plan);
    expect(b.values).toEqual([2, 'b']);
    // Scalars of any kind share a plan: the rule gives them one column each, whatever their kind.
    expect(flatten(plans, { x: 'one', y: { z: null } }).plan).toBe(a.plan);
    const others: JsonObject[] = [
      { y: { z: 'a' }, x: 1 },
      { x: 1, y: { z: 'a', w: 1 } },
      { x: 1, y: { '7': 'a' } },
      { x: 1, y: {} },
      { x: 1, y: [{ z: 'a' }] },
      { x: 1, y: ['a'] },
    ];
    for (const other of others) expect(flatten(plans, other).plan).not.toBe(a.plan);
    expect(plans.stats).toEqual({ hits: 2, made: 7, kept: 7 });
  });

  it('shares one plan among id-keyed maps of any ids (rule 6: the map is one value)', () => {
    const plans = new PlanCache();
    const a = flatten(plans, { vps: { '493914412': { revision: 7 } }, n: 1 });
    const b = flatten(plans, { vps: { '1249882912': { revision: 7 }, '5': { revision: 8 } }, n: 2 });
    expect(b.plan).toBe(a.plan);
    expect(a.plan.columnNames).toEqual(['n', 'vps']);
    expect(b.values).toEqual([2, '{"1249882912":{"revision":7},"5":{"revision":8}}']);
  });

  it('keeps plans apart by family, rootName and omit paths', () => {
    const plans = new PlanCache({ objectArrays: 'children' });
    const body = { x: 1, lead: { topic: 't' } };
    expect(flatten(plans, body, 'lead', 'lead').plan.columnNames).toEqual(['topic', 'x']);
    expect(flatten(plans, body, 'lead').plan.columnNames).toEqual(['lead_topic', 'x']);
    expect(flatten(plans, body, 'other', 'lead').plan.columnNames).toEqual(['topic', 'x']);
    expect(flatten(plans, body, 'lead', 'lead', [['x']]).plan.columnNames).toEqual(['topic']);
    expect(flatten(plans, body, 'lead', 'lead').plan.columnNames).toEqual(['topic', 'x']);
    expect(plans.stats).toEqual({ hits: 1, made: 4, kept: 4 });
  });

  it('spells keys unambiguously, whatever characters they hold', () => {
    const plans = new PlanCache();
    const a = flatten(plans, { 'a1:b': 1 });
    const b = flatten(plans, { a: 1, b: 2 });
    const c = flatten(plans, { '{1:a}': { b: 1 } });
    expect([a.plan.columnNames, b.plan.columnNames, c.plan.columnNames]).toEqual([
      ['a1_b'],
      ['a', 'b'],
      ['_1_a__b'],
    ]);
    expect(plans.stats.hits).toBe(0);
  });

  it('flattens objects too large to plan by the naming rule, without keeping a plan', () => {
    const plans = new PlanCache();
    const large = Object.fromEntries(Array.from({ length: MAX_PLAN_NODES + 1 }, (_, i) => [`k${i}`, i]));
    const first = flatten(plans, large);
    expect(first.values).toHaveLength(MAX_PLAN_NODES + 1);
    expect(first.values[1]).toBe(1);
    expect(flatten(plans, large).plan).not.toBe(first.plan);
    expect(plans.stats).toEqual({ hits: 0, made: 2, kept: 0 });
  });

  it('encodes objects past the depth cap whole, and plans them', () => {
    const plans = new PlanCache();
    let deep: JsonObject = { leaf: 1 };
    for (let i = 0; i < 21; i += 1) deep = { [`k${i % 3}`]: deep };
    const first = flatten(plans, deep);
    expect(first.values).toHaveLength(1);
    expect(typeof first.values[0]).toBe('string'); // the part below depth 16, as JSON (rule 6)
    expect(flatten(plans, deep).plan).toBe(first.plan);
  });

  it('stays correct and bounded with more shapes than it keeps', () => {
    const plans = newFlattenPlans({ privacy: keepEverythingPolicy() });
    // Each event type is a shape of its own: several thousand steps of the tree for these 3,000 events.
    const events = Array.from({ length: 3_000 }, (_, i) => ({
      [`type${i}`]: { serverTimeStamp: 1_767_600_000_000 + i, [`k${i % 5}`]: i },
    }));
    const state = { id: 'v', appSessions: [{ id: 'a', events }] } as unknown as VisitState;
    expectSameAsOracle({ accountId: ACCOUNT, visitorId: 'v1', sid: 's1', state }, plans);
    expectSameAsOracle({ accountId: ACCOUNT, visitorId: 'v1', sid: 's1', state }, plans);
    for (let i = 0; i < 4; i += 1) {
      expectSameAsOracle({ accountId: ACCOUNT, visitorId: 'v1', sid: 's1', state }, plans);
    }
    // The tree was emptied along the way (past MAX_SHAPE_STEPS), and rows stayed the same.
    expect(plans.event.stats.kept).toBeLessThan(plans.event.stats.made);
    expect(3_000 * 8).toBeGreaterThan(MAX_SHAPE_STEPS);
  });

  it('tells its listener every column of every plan it makes, and nothing on a hit', () => {
    const heard: string[] = [];
    const plans = new PlanCache<string>({
      objectArrays: 'children',
      listener: (flat, context) => {
        for (const c of flat.columns) heard.push(`${context}:${c.name}<-${c.sourcePath.join('.')}`);
        for (const c of flat.childArrays) heard.push(`${context}:${c.name}[]<-${c.sourcePath.join('.')}`);
      },
    });
    plans.flatten(
      'lead',
      [{ value: { lead: { topic: 't' }, items: [{ a: 1 }] }, omit: [], rootName: 'lead' }],
      'c1',
    );
    plans.flatten(
      'lead',
      [{ value: { lead: { topic: 'u' }, items: [{ a: 2 }] }, omit: [], rootName: 'lead' }],
      'c2',
    );
    expect(heard).toEqual(['c1:topic<-lead.topic', 'c1:items[]<-items']);
  });
});

describe('rowColumnNames and buildRow', () => {
  const layout = { keyColumns: ['pk', 'sk'], ourColumns: ['rowType'] } as const;

  it('builds rows that inherit nothing, columns in layout, payload and schemaVersion order', () => {
    const row = buildRow(
      rowColumnNames(layout, ['10', 'a', 'constructor_x']),
      ['P', 'S', 'page'],
      [1, 'two', null],
    );
    expect(Object.getPrototypeOf(row)).toBe(ROW_PROTOTYPE);
    expect(Object.isFrozen(ROW_PROTOTYPE)).toBe(true);
    expect(Object.getPrototypeOf(ROW_PROTOTYPE)).toBeNull();
    expect(Reflect.ownKeys(ROW_PROTOTYPE)).toEqual([]);
    // Integer-like names come first in any JavaScript object, as they do in the oracle's rows.
    expect(Object.entries(row)).toEqual([
      ['10', 1],
      ['pk', 'P'],
      ['sk', 'S'],
      ['rowType', 'page'],
      ['a', 'two'],
      ['constructor_x', null],
      ['schemaVersion', CAPTURE_SCHEMA_VERSION],
    ]);
  });

  it('refuses a payload column that takes one of our names, or __proto__', () => {
    expect(() => rowColumnNames(layout, ['sk'])).toThrow('clashes with ours');
    expect(() => rowColumnNames(layout, ['schemaVersion'])).toThrow('clashes with ours');
    expect(() => rowColumnNames(layout, ['__proto__'])).toThrow('never made by the naming rule');
  });

  it('keeps odd names as plain keys', () => {
    const names = ['a"b', 'c\\d', '`${x}`', '});throw 1;({', '\u2028'];
    const row = buildRow(rowColumnNames(layout, names), ['P', 'S', 'page'], [1, 2, 3, 4, 5]);
    expect(Object.keys(row).slice(3, 8)).toEqual(names);
  });

  it('refuses a wrong number of values', () => {
    const names = rowColumnNames(layout, ['a']);
    expect(() => buildRow(names, ['P', 'S'], [1])).toThrow('given 2 + 1 values');
    expect(() => buildRow(names, ['P', 'S', 'page'], [])).toThrow('given 3 + 0 values');
  });
});
