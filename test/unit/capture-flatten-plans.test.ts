/**
 * Shape plans (lib/capture/shape-plans.ts) and compiled row templates (rowTemplate in rows.ts) must never change
 * a row: `flattenVisitState` with plans reused across answers is held to test/support/flatten-oracle.ts (the
 * flattener without plans), row for row, value for value and in the same column order, on simulator answers
 * and on generated answers whose objects share shapes but not values, or nearly share them.
 */
import {
  flattenVisitState,
  newFlattenPlans,
  type FlattenInput,
  type FlattenResult,
} from '../../lib/capture/flatten';
import { COMPILE_AFTER_USES, ROW_PROTOTYPE, rowTemplate } from '../../lib/capture/rows';
import {
  MAX_FAMILIES,
  MAX_PLAN_DEPTH,
  MAX_PLANS,
  PLAN_ANYWAY_EVERY,
  PLANS_PER_FAMILY,
  ShapePlans,
} from '../../lib/capture/shape-plans';
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

describe('flattenVisitState with shape plans, against the flattener without them', () => {
  it('gives the same rows for simulator answers over a day of sessions, plans shared throughout', () => {
    const plans = newFlattenPlans();
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
    expect(plans.event.stats.hits).toBeGreaterThan(plans.event.stats.misses * 5);
    expect(plans.page.stats.hits).toBeGreaterThan(plans.page.stats.misses * 10);
  });

  it.each([11, 12, 13])(
    'gives the same rows for 150 generated answers of look-alike shapes (seed %i)',
    (seed) => {
      const random = new Random(seed);
      const plans = newFlattenPlans();
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

describe('ShapePlans', () => {
  it('reuses a plan only for the same keys, order, nesting and kinds', () => {
    const plans = new ShapePlans('children');
    const spec = { omit: [] };
    const a = plans.flatten({ x: 1, y: { z: 'a' } }, spec);
    expect(a.values).toEqual([1, 'a']);
    const b = plans.flatten({ x: 2, y: { z: 'b' } }, spec);
    expect(b.plan).toBe(a.plan);
    expect(b.values).toEqual([2, 'b']);
    const others: JsonObject[] = [
      { y: { z: 'a' }, x: 1 },
      { x: '1', y: { z: 'a' } },
      { x: 1, y: { z: 'a', w: 1 } },
    ];
    for (const other of others) {
      expect(plans.flatten(other, spec).plan).not.toBe(a.plan);
    }
    expect(plans.stats).toEqual({ hits: 1, misses: 4, made: 4, kept: 4 });
  });

  it('keeps plans apart by rootName and omit paths', () => {
    const plans = new ShapePlans('children');
    const omitX = [['x']] as const;
    const body = { x: 1, lead: { topic: 't' } };
    expect(plans.flatten(body, { omit: [], rootName: 'lead' }).plan.columnNames).toEqual(['topic', 'x']);
    expect(plans.flatten(body, { omit: [] }).plan.columnNames).toEqual(['lead_topic', 'x']);
    expect(plans.flatten(body, { omit: omitX, rootName: 'lead' }).plan.columnNames).toEqual(['topic']);
    expect(plans.flatten(body, { omit: [], rootName: 'lead' }).plan.columnNames).toEqual(['topic', 'x']);
  });

  it('stops making plans for shapes that never come back, and makes them again when shapes repeat', () => {
    const plans = new ShapePlans('json');
    for (let i = 0; i < 300; i += 1) {
      const flat = plans.flatten({ [`id${i}`]: i, [`x${i}`]: { y: 'z' } }, { omit: [] });
      expect(flat.plan.columnNames).toEqual([`id${i}`, `x${i}_y`]);
      expect(flat.values).toEqual([i, 'z']);
    }
    expect(plans.stats.made).toBeLessThan(60);
    for (let i = 0; i < 300; i += 1) expect(plans.flatten({ same: i }, { omit: [] }).values).toEqual([i]);
    expect(plans.stats.hits).toBeGreaterThanOrEqual(300 - PLAN_ANYWAY_EVERY);
  });

  it('flattens objects too deep to plan, without keeping a plan for them', () => {
    const plans = new ShapePlans('json');
    let deep: JsonObject = { leaf: 1 };
    for (let i = 0; i < MAX_PLAN_DEPTH + 5; i += 1) deep = { [`k${i % 3}`]: deep };
    const first = plans.flatten(deep, { omit: [] });
    expect(first.values).toHaveLength(1);
    expect(typeof first.values[0]).toBe('string'); // the part below depth 16, as JSON (rule 6)
    expect(plans.flatten(deep, { omit: [] }).plan).not.toBe(first.plan);
    expect(plans.stats.hits).toBe(0);
  });

  it('stays correct and bounded with more families than it keeps', () => {
    const plans = newFlattenPlans();
    const events = Array.from({ length: MAX_FAMILIES + 40 }, (_, i) => ({
      [`type${i}`]: { serverTimeStamp: 1_767_600_000_000 + i, [`k${i % 5}`]: i },
    }));
    const state = { id: 'v', appSessions: [{ id: 'a', events }] } as unknown as VisitState;
    expectSameAsOracle({ accountId: ACCOUNT, visitorId: 'v1', sid: 's1', state }, plans);
    expectSameAsOracle({ accountId: ACCOUNT, visitorId: 'v1', sid: 's1', state }, plans);
    expect(plans.event.stats.kept).toBeLessThanOrEqual(MAX_FAMILIES);
    // Many shapes in one family: at most PLANS_PER_FAMILY of them, and MAX_PLANS in all.
    const shapes = new ShapePlans('json');
    for (let i = 0; i < 3 * MAX_PLANS; i += 1) {
      shapes.flatten({ [`k${i}`]: i }, { omit: [], rootName: `family${i % 40}` });
      shapes.flatten({ [`k${i}`]: i + 1 }, { omit: [], rootName: `family${i % 40}` });
      expect(shapes.stats.kept).toBeLessThanOrEqual(Math.min(MAX_PLANS, 40 * PLANS_PER_FAMILY));
    }
  });
});

describe('rowTemplate', () => {
  const layout = { keyColumns: ['pk', 'sk'], ourColumns: ['rowType'] } as const;

  it('builds rows that inherit nothing, columns in layout, payload and schemaVersion order', () => {
    const template = rowTemplate(layout, ['10', 'a', 'constructor_x']);
    const row = template.build(['P', 'S', 'page'], [1, 'two', null]);
    expect(Object.getPrototypeOf(row)).toBe(ROW_PROTOTYPE);
    expect(Object.isFrozen(ROW_PROTOTYPE)).toBe(true);
    expect(Object.getPrototypeOf(ROW_PROTOTYPE)).toBeNull();
    expect(Reflect.ownKeys(ROW_PROTOTYPE)).toEqual([]);
    // Integer-like names come first in any JavaScript object, as they do in newRow's rows.
    expect(Object.entries(row)).toEqual([
      ['10', 1],
      ['pk', 'P'],
      ['sk', 'S'],
      ['rowType', 'page'],
      ['a', 'two'],
      ['constructor_x', null],
      ['schemaVersion', 2],
    ]);
  });

  it('builds the same rows before and after it compiles its constructor', () => {
    const template = rowTemplate(layout, ['10', 'b', 'a']);
    const rows = Array.from({ length: COMPILE_AFTER_USES + 2 }, () =>
      template.build(['P', 'S', 'page'], [1, 2, 3]),
    );
    for (const row of rows) {
      expect(Object.getPrototypeOf(row)).toBe(ROW_PROTOTYPE);
      expect(Object.entries(row)).toEqual(Object.entries(rows[0] as object));
    }
  });

  it('refuses a payload column that takes one of our names, or __proto__', () => {
    expect(() => rowTemplate(layout, ['sk'])).toThrow('clashes with ours');
    expect(() => rowTemplate(layout, ['schemaVersion'])).toThrow('clashes with ours');
    expect(() => rowTemplate(layout, ['__proto__'])).toThrow('__proto__');
    expect(() => rowTemplate(layout, ['__proto__'])).toThrow('never made by the naming rule');
  });

  it('keeps names as data, never as code', () => {
    const names = ['a"b', 'c\\d', '`${x}`', '});throw 1;({', '\u2028'];
    const row = rowTemplate(layout, names).build(['P', 'S', 'page'], [1, 2, 3, 4, 5]);
    expect(Object.keys(row).slice(3, 8)).toEqual(names);
  });

  it('refuses a wrong number of values', () => {
    const template = rowTemplate(layout, ['a']);
    expect(() => template.build(['P', 'S'], [1])).toThrow('given 2 + 1 values');
    expect(() => template.build(['P', 'S', 'page'], [])).toThrow('given 3 + 0 values');
  });
});
