/**
 * Id-keyed maps are data (issue 12): an object reached under a key whose keys are all digits
 * (`revActiveVPs: {'493914412': {...}}`, keyed by campaign, VP, VB, OSL ids) is one JSON column, never one
 * column per id. Otherwise every new campaign of an account would add columns to its rows, and to the Glue
 * schema. Held for lib (`flattenVisitState`, `flattenObject`) and for the plain oracles in test/support.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { flattenVisitState, type FlattenInput, type FlattenResult } from '../../lib/capture/flatten';
import { flattenObject } from '../../lib/capture/naming';
import { MINUTE_MS } from '../../lib/clock';
import type { Json, JsonObject, VisitState } from '../../lib/liveperson/types';
import { Random } from '../../lib/simulator/random';
import { oracleFlattenVisitState } from '../support/flatten-oracle';
import { agesUpToSixHours, simulatedAnswers } from '../support/simulated-answers';
import { isIdKeyedMap, oracleFlattenObject, oracleFlattenSources } from '../support/naming-oracle';

const ACCOUNT = '12345678';
const VISITOR = 'cyNGViYjc4MmU2MzEzZThm';
const SID = 'qCsUrTldTh0UEWLjLCGqkQ';
const TS = 1475675316326;

const exampleText = readFileSync(join(__dirname, '..', 'fixtures', 'example-state.json'), 'utf8');
const example = (): VisitState => JSON.parse(exampleText) as VisitState;

type Flatten = (input: FlattenInput) => Pick<FlattenResult, 'rows' | 'counts'>;
const FLATTENERS: [string, Flatten][] = [
  ['lib flattenVisitState', (input) => flattenVisitState(input)],
  ['oracleFlattenVisitState', (input) => oracleFlattenVisitState(input)],
];

const ALL_DIGITS = /^[0-9]+$/;

/** True when a name has an all-digit segment, not counting a collision suffix (`__2`) or a `_h` + hash cut. */
function hasDigitSegment(name: string): boolean {
  return name
    .replace(/_h[0-9a-f]{16}$/, '')
    .replace(/__[0-9]+$/, '')
    .split('_')
    .some((segment) => ALL_DIGITS.test(segment));
}

/** Names seen so far (rows repeat their names thousands of times). */
const checked = new Map<string, boolean>();

/** Column names of a row that have an all-digit segment (e.g. `revActiveVPs_493914412_revision`). */
function digitNames(row: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const name in row) {
    let bad = checked.get(name);
    if (bad === undefined) checked.set(name, (bad = hasDigitSegment(name)));
    if (bad) out.push(name);
  }
  return out;
}

/** Id-keyed maps in a JSON value (objects under a key with all-digit keys), to show a check is not vacuous. */
function countIdMaps(value: Json, underKey = false): number {
  if (value === null || typeof value !== 'object') return 0;
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + countIdMaps(v, false), 0);
  if (underKey && isIdKeyedMap(value)) return 1;
  return Object.values(value).reduce<number>((n, v) => n + countIdMaps(v, true), 0);
}

/** Every all-digit object key, at any depth, replaced by fresh random digits (unique within its object). */
function withFreshIds(value: Json, random: Random, replaced: { n: number }): Json {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => withFreshIds(v, random, replaced));
  const keys = Object.keys(value);
  const used = new Set(keys);
  const entries: string[] = [];
  for (const key of keys) {
    let newKey = key;
    if (ALL_DIGITS.test(key)) {
      do newKey = String(random.int(0, 2_000_000_000));
      while (used.has(newKey));
      used.add(newKey);
      replaced.n += 1;
    }
    entries.push(
      `${JSON.stringify(newKey)}:${JSON.stringify(withFreshIds(value[key] as Json, random, replaced))}`,
    );
  }
  // Through JSON.parse, as answers arrive (a `__proto__` key stays an own data key).
  return JSON.parse(`{${entries.join(',')}}`) as Json;
}

/** Simulator answers: `perSeed` sessions per seed, aged evenly from 10 minutes to 6 hours. */
function simulatedInputs(seeds: readonly number[], perSeed: number): FlattenInput[] {
  return seeds.flatMap((seed) =>
    simulatedAnswers(seed, perSeed, agesUpToSixHours(perSeed), ACCOUNT).map((answer) => ({
      accountId: ACCOUNT,
      ...answer,
    })),
  );
}

const SIMULATED = simulatedInputs([1, 2, 3, 4, 5], 400);
const EXAMPLE: FlattenInput = { accountId: ACCOUNT, visitorId: VISITOR, sid: SID, state: example() };

describe.each(FLATTENERS)('%s: ids in map keys never become column names', (_, flatten) => {
  it('has no all-digit name segment on 2,000 simulated sessions of 5 seeds (10 min to 6 h old)', () => {
    expect(SIMULATED).toHaveLength(2000);
    let maps = 0;
    let rows = 0;
    const offending = new Set<string>();
    for (const input of SIMULATED) {
      maps += countIdMaps(input.state as unknown as Json);
      for (const row of flatten(input).rows) {
        rows += 1;
        for (const name of digitNames(row)) offending.add(`${String(row.rowType)}: ${name}`);
      }
    }
    expect([...offending].slice(0, 20)).toEqual([]);
    // The sessions did carry id-keyed maps (revActiveVPs, revAllVBs, ...), and many rows.
    expect(maps).toBeGreaterThan(2000);
    expect(rows).toBeGreaterThan(20_000);
  });

  it('has no all-digit name segment on the spec example', () => {
    expect(countIdMaps(EXAMPLE.state as unknown as Json)).toBeGreaterThanOrEqual(10);
    const rows = flatten(EXAMPLE).rows;
    expect(rows.flatMap(digitNames)).toEqual([]);
    const session = rows.find((r) => r.rowType === 'session') as Record<string, unknown>;
    expect(JSON.parse(session.revActiveVPs as string)).toEqual(
      (EXAMPLE.state.appSessions[0] as unknown as JsonObject).revActiveVPs,
    );
  });

  it.each([1, 2, 3, 4, 5])('gives the same column names when the example ids change (seed %i)', (seed) => {
    const replaced = { n: 0 };
    const state = withFreshIds(
      example() as unknown as Json,
      new Random(seed),
      replaced,
    ) as unknown as VisitState;
    expect(replaced.n).toBeGreaterThanOrEqual(16);
    const names = (result: Pick<FlattenResult, 'rows'>): [unknown, string[]][] =>
      result.rows.map((row) => [row.rowType, Object.keys(row).sort()]);
    expect(names(flatten({ ...EXAMPLE, state }))).toEqual(names(flatten(EXAMPLE)));
  });
});

const REV = { '493914412': { revision: 7 }, '1249882912': { revision: 7 } };
const REV_JSON = '{"1249882912":{"revision":7},"493914412":{"revision":7}}';

/** [what, object, options for flattenObject, expected name → value]. */
const EXAMPLES: [string, JsonObject, { rootName?: string; maxDepth?: number }, Record<string, unknown>][] = [
  ['an id-keyed map is one JSON column (keys sorted)', { revActiveVPs: REV }, {}, { revActiveVPs: REV_JSON }],
  ['a map mixing ids and other keys is walked', { m: { '1': 1, x: 2 } }, {}, { m_1: 1, m_x: 2 }],
  ['an empty object is as before', { m: {} }, {}, { m: '{}' }],
  [
    'no wrapper is unwrapped into an id-keyed map',
    { '123': { '5': 1 } },
    { rootName: '123' },
    { '123': '{"5":1}' },
  ],
  ['... at any depth', { a: { a: { '1': 2 } } }, {}, { a_a: '{"1":2}' }],
  [
    'a wrapper around a walked object is still unwrapped',
    { lead: { '1': 2, x: 3 } },
    { rootName: 'lead' },
    { '1': 2, x: 3 },
  ],
  ['the object flattened is never a value itself', { '5': 1, '6': { a: 1 } }, {}, { '5': 1, '6_a': 1 }],
  [
    'no child arrays or columns inside the map',
    { campaign: { '77': { items: [{ a: 1 }] } } },
    {},
    { campaign: '{"77":{"items":[{"a":1}]}}' },
  ],
  ['the map column takes part in collisions', { a: { '1': 1 }, A: 2 }, {}, { A: 2, a__2: '{"1":1}' }],
  [
    'its name is renamed like any leaf',
    { sid: { '1': 2 }, 'x y': { '3': 4 } },
    {},
    { payload_sid: '{"1":2}', x_y: '{"3":4}' },
  ],
  [
    'the depth cap gives the same value (capped)',
    { a: { b: { '1': { c: 1 } } } },
    { maxDepth: 2 },
    { a_b: '{"1":{"c":1}}' },
  ],
  [
    'the depth cap gives the same value (not capped)',
    { a: { b: { '1': { c: 1 } } } },
    { maxDepth: 3 },
    { a_b: '{"1":{"c":1}}' },
  ],
  ['an id-keyed map deeper inside a walked object', { g: { h: REV, k: 1 } }, {}, { g_h: REV_JSON, g_k: 1 }],
];

describe('the rule examples', () => {
  it.each(EXAMPLES)('oracle: %s', (_, obj, options, expected) => {
    expect({ ...oracleFlattenObject(obj, options) }).toEqual(expected);
  });

  it.each(EXAMPLES)('lib flattenObject: %s', (_, obj, options, expected) => {
    expect({ ...flattenObject(obj, options) }).toEqual(expected);
  });

  it('the oracle marks a map column as JSON-encoded', () => {
    const plan = oracleFlattenSources([{ value: { revActiveVPs: REV, n: 1 } }], { objectArrays: 'children' });
    expect(plan.columns.map((c) => [c.name, c.encoding, c.sourcePath])).toEqual([
      ['n', 'scalar', ['n']],
      ['revActiveVPs', 'json', ['revActiveVPs']],
    ]);
    expect(plan.childArrays).toEqual([]);
  });

  it.each(FLATTENERS)('%s: an event keeps an id-keyed map whole, with no child rows', (_, flatten) => {
    const state: VisitState = {
      id: 'visit',
      appSessions: [
        {
          id: 'app1',
          startTime: TS,
          events: [
            { lead: { serverTimeStamp: TS, campaign: { '77': { items: [{ a: 1 }] } }, lead: { '9': 1 } } },
          ],
        },
      ],
    } as unknown as VisitState;
    const result = flatten({ accountId: ACCOUNT, visitorId: VISITOR, sid: SID, state });
    expect(result.counts.eventItem).toBe(0);
    const event = result.rows.find((r) => r.rowType === 'event') as Record<string, unknown>;
    expect(event.campaign).toBe('{"77":{"items":[{"a":1}]}}');
    expect(event.lead).toBe('{"9":1}');
    expect(Object.keys(event).filter((k) => k.startsWith('campaign') || k.startsWith('lead'))).toEqual([
      'campaign',
      'lead',
    ]);
  });
});

/**
 * Event identity is that of schema version 2: `sk` and the payload hash (eventKey) hash the raw event body, so
 * a session live at the upgrade rewrites its rows once, under the same keys, and never twice. The known answers
 * were computed by the schema-2 flattener (commit e378e80) on the same inputs.
 */
describe('event identity across the schema bump', () => {
  it('gives the spec example events the keys schema 2 gave them', () => {
    const rows = flattenVisitState({
      accountId: ACCOUNT,
      visitorId: 'spec-visitor',
      sid: SID,
      state: example(),
    }).rows;
    expect(rows.filter((r) => r.rowType === 'event').map((r) => r.sk)).toEqual([
      `EVENT#marketingCampaignInfo#${TS}#2fa62bae511363ec#0`,
      `EVENT#lead#${TS}#77d5f9d9d2fb16a3#0`,
      `EVENT#cartStatus#${TS}#0146ca35fd27da83#0`,
      `EVENT#purchase#${TS}#570e468bd44b5a8b#0`,
      `EVENT#viewedProduct#${TS}#717770f6e1c44f98#0`,
      `EVENT#customerInfo#${TS}#b002d074acd70b6b#0`,
      `EVENT#personalInfo#${TS}#2b189540e2489ca9#0`,
      `EVENT#serviceActivity#${TS}#e34f52422fc22e63#0`,
      `EVENT#visitorError#${TS}#36b4a499e566d24b#0`,
    ]);
  });

  it('gives the events and items of 180 simulated sessions the keys schema 2 gave them', () => {
    const digest = createHash('sha256');
    let keys = 0;
    for (const seed of [1, 2, 3]) {
      for (const answer of simulatedAnswers(seed, 60, (i) => (i + 1) * 5 * MINUTE_MS, ACCOUNT)) {
        for (const row of flattenVisitState({ accountId: ACCOUNT, ...answer }).rows) {
          if (row.rowType !== 'event' && row.rowType !== 'eventItem') continue;
          digest.update(`${String(row.sk)}|${String(row.eventKey ?? '')}\n`);
          keys += 1;
        }
      }
    }
    expect(keys).toBe(6641);
    expect(digest.digest('hex')).toBe('3c48bae016357d0d7bc2f521ef97e5f0a8d198569b1e33d24974a46ecf4f5f29');
  });
});
