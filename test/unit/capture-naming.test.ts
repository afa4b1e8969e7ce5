import type { JsonObject } from '../../lib/liveperson/types';
import { canonicalJson } from '../../lib/canonical';
import {
  applyPromotions,
  baseColumnName,
  columnName,
  flattenObject,
  flattenSources,
  MAX_COLUMN_BASE_LENGTH,
  MAX_FLATTEN_DEPTH,
  PROMOTIONS,
  RESERVED_COLUMNS,
  resolveColumnNames,
  sanitizeSegment,
} from '../../lib/capture/naming';
import { CAPTURE_KEY_ATTRIBUTES, CAPTURE_TTL_ATTRIBUTE } from '../../lib/keys';

/** Parses JSON text: the only way to get `__proto__` as an own data key, as the API's answers would. */
const j = (text: string): JsonObject => JSON.parse(text) as JsonObject;

/** Plain-object copy of a null-prototype record, with its key order, for readable expectations. */
const plain = (rec: Record<string, unknown>): Record<string, unknown> => ({ ...rec });

/** Recursively rebuilt with keys in reverse order: key order must never matter. */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v !== null && typeof v === 'object') {
    const out = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v).reverse()) out[k] = reverseKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

function nested(depth: number, leaf: unknown): JsonObject {
  let obj: unknown = leaf;
  for (let i = depth; i >= 1; i -= 1) obj = { [`l${i}`]: obj };
  return obj as JsonObject;
}

describe('RESERVED_COLUMNS', () => {
  it('holds our bookkeeping names and every key attribute of the capture table', () => {
    for (const n of ['rowType', 'accountId', 'visitorId', 'sid', 'eventType', 'serverTimeStamp', 'pageId']) {
      expect(RESERVED_COLUMNS).toContain(n);
    }
    for (const n of ['eventKey', 'occurrence', 'parentSk', 'childPath', 'childIndex', 'appSessionId']) {
      expect(RESERVED_COLUMNS).toContain(n);
    }
    for (const n of ['schemaVersion', ...CAPTURE_KEY_ATTRIBUTES, CAPTURE_TTL_ATTRIBUTE]) {
      expect(RESERVED_COLUMNS).toContain(n);
    }
    expect(CAPTURE_KEY_ATTRIBUTES).toEqual([
      'pk',
      'sk',
      'gsi1pk',
      'gsi1sk',
      'gsi2pk',
      'gsi2sk',
      'gsi3pk',
      'gsi3sk',
    ]);
  });
});

describe('sanitizeSegment / columnName', () => {
  it.each([
    ['plain', 'topic', 'topic', false],
    ['numeric segment', '493914412', '493914412', false],
    ['dot', 'a.b', 'a_b', true],
    ['dash', 'a-b', 'a_b', true],
    ['space', 'first name', 'first_name', true],
    ['non-ASCII letter', 'prénom', 'pr_nom', true],
    ['empty', '', '_empty', true],
    ['underscores kept', '__proto__', '__proto__', false],
  ])('%s: %j → %j', (_label, key, segment, altered) => {
    expect(sanitizeSegment(key)).toEqual({ segment, altered });
  });

  it.each([
    [['geo', 'countryCode'], 'geo_countryCode'],
    [['revActiveVPs', '493914412', 'revision'], 'revActiveVPs_493914412_revision'],
    [['sid'], 'payload_sid'],
    [['Sid'], 'payload_Sid'],
    [['gsi2pk'], 'payload_gsi2pk'],
    [['__proto__'], 'payload___proto__'],
    [['a', 'sid'], 'a_sid'],
  ])('%j → %s', (path, name) => {
    expect(columnName(path)).toBe(name);
  });

  it('cuts names over the limit and keeps long names apart with a hash', () => {
    const a = baseColumnName(['x'.repeat(300), 'a']);
    const b = baseColumnName(['x'.repeat(300), 'b']);
    expect(a.name.length).toBeLessThanOrEqual(MAX_COLUMN_BASE_LENGTH);
    expect(a.name).toMatch(/^x+_h[0-9a-f]{16}$/);
    expect(a.altered).toBe(true);
    expect(a.name).not.toBe(b.name);
  });

  it('refuses an empty path', () => {
    expect(() => columnName([])).toThrow(RangeError);
  });
});

describe('flattenObject: the naming rule', () => {
  it.each<[string, string, Record<string, unknown>]>([
    // Rule 1: joining, scalars keep their JSON type
    [
      'nested keys join with _',
      '{"geo":{"city":"Tel Aviv","isp":null}}',
      { geo_city: 'Tel Aviv', geo_isp: null },
    ],
    [
      'numbers/booleans/null keep their type',
      '{"n":34.0,"b":false,"z":null,"s":""}',
      { b: false, n: 34, s: '', z: null },
    ],
    [
      'an id-keyed map is one JSON value (rule 6)',
      '{"activeVPs":{"493914412":{"revision":7}}}',
      { activeVPs: '{"493914412":{"revision":7}}' },
    ],
    // Rule 4 + 5: reserved names
    ['sid is reserved', '{"sid":"x"}', { payload_sid: 'x' }],
    ['rowType is reserved', '{"rowType":"x"}', { payload_rowType: 'x' }],
    [
      'pk/sk/gsi are reserved',
      '{"pk":1,"sk":2,"gsi1pk":3}',
      { payload_gsi1pk: 3, payload_pk: 1, payload_sk: 2 },
    ],
    ['accountId is reserved', '{"accountId":"a"}', { payload_accountId: 'a' }],
    // A payload number named like the TTL attribute would make DynamoDB delete the row.
    ['the TTL attribute is reserved', '{"expiresAtSec":1700000000}', { payload_expiresAtSec: 1700000000 }],
    ['serverTimeStamp is reserved at the top', '{"serverTimeStamp":1}', { payload_serverTimeStamp: 1 }],
    ['nested serverTimeStamp is not', '{"cart":{"serverTimeStamp":0}}', { cart_serverTimeStamp: 0 }],
    ['reserved is case-insensitive', '{"SID":"x"}', { payload_SID: 'x' }],
    [
      'a literal payload_sid wins over a renamed sid',
      '{"sid":"renamed","payload_sid":"literal"}',
      { payload_sid: 'literal', payload_sid__2: 'renamed' },
    ],
    // Rule 5: payload collisions
    ['a_b literal beats nested a.b', '{"a_b":1,"a":{"b":2}}', { a_b: 1, a_b__2: 2 }],
    ['same, other key order', '{"a":{"b":2},"a_b":1}', { a_b: 1, a_b__2: 2 }],
    ['unaltered a_b beats sanitized "a.b"', '{"a.b":1,"a_b":2}', { a_b: 2, a_b__2: 1 }],
    ['same, other key order', '{"a_b":2,"a.b":1}', { a_b: 2, a_b__2: 1 }],
    ['a natural a_b__2 keeps its name', '{"a_b":1,"a":{"b":2},"a_b__2":3}', { a_b: 1, a_b__2: 3, a_b__3: 2 }],
    ['case-insensitive collision', '{"topic":2,"Topic":1}', { Topic: 1, topic__2: 2 }],
    ['three-way collision', '{"a-b":3,"a b":2,"a_b":1}', { a_b: 1, a_b__2: 2, a_b__3: 3 }],
    // Rule 4: odd keys
    ['empty key', '{"":1}', { _empty: 1 }],
    ['empty key vs literal _empty', '{"":1,"_empty":2}', { _empty: 2, _empty__2: 1 }],
    ['dots', '{"a.b":{"c.d":1}}', { a_b_c_d: 1 }],
    ['spaces and dashes', '{"first name":"J","last-name":"D"}', { first_name: 'J', last_name: 'D' }],
    // Rule 6: arrays and empty containers
    ['array of scalars → JSON', '{"keywords":["a","b",1,null]}', { keywords: '["a","b",1,null]' }],
    ['empty array → "[]"', '{"surveySkills":[]}', { surveySkills: '[]' }],
    ['empty object → "{}"', '{"contexts":{}}', { contexts: '{}' }],
    ['array of objects → canonical JSON', '{"leads":[{"z":1,"a":2}]}', { leads: '[{"a":2,"z":1}]' }],
    ['mixed array → JSON', '{"m":[1,{"b":2,"a":1}]}', { m: '[1,{"a":1,"b":2}]' }],
  ])('%s: %s', (_label, json, expected) => {
    const out = flattenObject(j(json));
    expect(plain(out)).toEqual(expected);
    expect(plain(flattenObject(reverseKeys(j(json)) as JsonObject))).toEqual(expected);
  });

  it.each<[string, string, string, Record<string, unknown>]>([
    [
      'event wrapper is unwrapped',
      'lead',
      '{"serverTimeStamp":1,"lead":{"topic":"t","value":2}}',
      { payload_serverTimeStamp: 1, topic: 't', value: 2 },
    ],
    [
      'unwrapped key colliding with a sibling: the sibling (shorter path) wins',
      'lead',
      '{"topic":"sibling","lead":{"topic":"wrapped"}}',
      { topic: 'sibling', topic__2: 'wrapped' },
    ],
    ['unwrapping nests: K.K.K collapses', 'x', '{"x":{"x":{"y":1}}}', { y: 1 }],
    ['a scalar under the wrapper name is not unwrapped', 'lead', '{"lead":"text"}', { lead: 'text' }],
    ['an empty wrapper is kept as "{}"', 'lead', '{"lead":{}}', { lead: '{}' }],
    ['no rootName: nothing is unwrapped at the top', '', '{"lead":{"topic":"t"}}', { lead_topic: 't' }],
    [
      'nested wrapper of a session snapshot',
      '',
      '{"personalInfo":{"personalInfo":{"customerAge":{"customerAgeInYears":34}}}}',
      { personalInfo_customerAge_customerAgeInYears: 34 },
    ],
    [
      'a different inner name is not a wrapper',
      '',
      '{"cart":{"cartStatus":{"total":1},"lastTotalChange":1}}',
      { cart_cartStatus_total: 1, cart_lastTotalChange: 1 },
    ],
  ])('%s', (_label, rootName, json, expected) => {
    const options = rootName === '' ? {} : { rootName };
    expect(plain(flattenObject(j(json), options))).toEqual(expected);
    expect(plain(flattenObject(reverseKeys(j(json)) as JsonObject, options))).toEqual(expected);
  });

  describe('depth limit', () => {
    it('JSON-encodes the remainder beyond MAX_FLATTEN_DEPTH segments', () => {
      expect(MAX_FLATTEN_DEPTH).toBe(16);
      const out = flattenObject(nested(20, 'deep'));
      const name = Array.from({ length: 16 }, (_, i) => `l${i + 1}`).join('_');
      expect(plain(out)).toEqual({ [name]: '{"l17":{"l18":{"l19":{"l20":"deep"}}}}' });
    });

    it('keeps exactly MAX_FLATTEN_DEPTH segments as columns', () => {
      const out = flattenObject(nested(16, 1));
      expect(Object.keys(out)).toEqual([Array.from({ length: 16 }, (_, i) => `l${i + 1}`).join('_')]);
      expect(Object.values(out)).toEqual([1]);
    });

    it.each([
      [1, { l1: '{"l2":{"l3":"x"}}' }],
      [2, { l1_l2: '{"l3":"x"}' }],
      [3, { l1_l2_l3: 'x' }],
    ])('maxDepth %i', (maxDepth, expected) => {
      expect(plain(flattenObject(nested(3, 'x'), { maxDepth }))).toEqual(expected);
    });

    it('survives hostile nesting without overflowing the stack', () => {
      const deep = nested(100_000, 1);
      const out = flattenObject(deep);
      expect(Object.keys(out)).toHaveLength(1);
      expect(canonicalJson(deep).length).toBeGreaterThan(100_000);
    });
  });

  describe('prototype pollution', () => {
    afterEach(() => {
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
    });

    it.each<[string, string, Record<string, unknown>]>([
      ['__proto__ object', '{"__proto__":{"polluted":true}}', { __proto___polluted: true }],
      ['__proto__ scalar', '{"__proto__":"x"}', { payload___proto__: 'x' }],
      ['constructor', '{"constructor":{"prototype":{"polluted":1}}}', { constructor_prototype_polluted: 1 }],
      [
        'constructor scalar',
        '{"constructor":1,"prototype":2}',
        { payload_constructor: 1, payload_prototype: 2 },
      ],
      ['nested __proto__', '{"a":{"__proto__":{"polluted":true}}}', { a___proto___polluted: true }],
      ['__proto__ as an event type wrapper', '{"__proto__":{"polluted":true}}', { polluted: true }],
    ])('%s is kept as data', (label, json, expected) => {
      const options = label.includes('event type') ? { rootName: '__proto__' } : {};
      const out = flattenObject(j(json), options);
      expect(Object.getPrototypeOf(out)).toBeNull();
      expect(plain(out)).toEqual(expected);
      for (const [k, v] of Object.entries(expected))
        expect(Object.getOwnPropertyDescriptor(out, k)?.value).toBe(v);
    });

    it('keeps a __proto__ key inside JSON-encoded columns as data', () => {
      const out = flattenObject(j('{"arr":[{"__proto__":{"polluted":true}}]}'));
      expect(out.arr).toBe('[{"__proto__":{"polluted":true}}]');
    });
  });
});

describe('resolveColumnNames', () => {
  it('does not depend on the order of the candidates', () => {
    const candidates = [
      { base: baseColumnName(['a_b']), originalPath: ['a_b'], source: 0 },
      { base: baseColumnName(['a', 'b']), originalPath: ['a', 'b'], source: 0 },
      { base: baseColumnName(['a.b']), originalPath: ['a.b'], source: 0 },
      { base: baseColumnName(['A_B']), originalPath: ['A_B'], source: 0 },
    ];
    const forward = resolveColumnNames(candidates);
    const backward = resolveColumnNames([...candidates].reverse()).reverse();
    expect(forward).toEqual(backward);
    // Unaltered before altered, then shorter paths, then code-unit order (upper case sorts first).
    expect(forward).toEqual(['a_b__2', 'a_b__3', 'a_b__4', 'A_B']);
    expect(new Set(forward.map((n) => n.toLowerCase())).size).toBe(forward.length);
  });
});

describe('flattenSources', () => {
  it('returns arrays of objects as child arrays, named by the same rule', () => {
    const plan = flattenSources(
      [
        {
          value: j(
            '{"products":[{"q":1}],"cart":{"products":[{"q":2}]},"empty":[],"tags":["x"],"lead":{"products":1}}',
          ),
        },
      ],
      { objectArrays: 'children' },
    );
    expect(plan.childArrays.map((c) => [c.name, c.sourcePath, c.items])).toEqual([
      ['cart_products', ['cart', 'products'], [{ q: 2 }]],
      ['products', ['products'], [{ q: 1 }]],
    ]);
    expect(plan.columns.map((c) => [c.name, c.value, c.encoding])).toEqual([
      ['empty', '[]', 'json'],
      ['lead_products', 1, 'scalar'],
      ['tags', '["x"]', 'json'],
    ]);
  });

  it('a child array takes part in collisions', () => {
    const plan = flattenSources(
      [{ value: j('{"lead":{"products":"s"},"products":[{"q":1}]}'), rootName: 'lead' }],
      {
        objectArrays: 'children',
      },
    );
    expect(plan.columns.map((c) => c.name)).toEqual(['products__2']);
    expect(plan.childArrays.map((c) => c.name)).toEqual(['products']);
  });

  it('resolves names across sources and keeps prefixes', () => {
    const plan = flattenSources([
      { value: j('{"visit_x":1}') },
      { value: j('{"x":2,"id":"v"}'), prefix: ['visit'], omit: [['id']] },
    ]);
    expect(plan.columns.map((c) => [c.name, c.value, c.sourcePath])).toEqual([
      ['visit_x', 1, ['visit_x']],
      ['visit_x__2', 2, ['visit', 'x']],
    ]);
  });

  it('omits promoted paths without leaving empty parents behind', () => {
    const body = j('{"serverTimeStamp":5,"contexts":{"page":{"id":"p"},"other":1},"x":{}}');
    const promoted = applyPromotions(body, PROMOTIONS.event);
    expect(Object.entries(promoted.values)).toEqual([
      ['serverTimeStamp', 5],
      ['pageId', 'p'],
    ]);
    expect(plain(flattenObject(body, { omit: promoted.omit }))).toEqual({ contexts_other: 1, x: '{}' });
  });

  it('promotes only values of the expected type', () => {
    const body = j('{"serverTimeStamp":"soon","contexts":{"page":{"id":7}}}');
    const promoted = applyPromotions(body, PROMOTIONS.event);
    expect(promoted.values).toEqual({});
    expect(plain(flattenObject(body, { omit: promoted.omit }))).toEqual({
      contexts_page_id: 7,
      payload_serverTimeStamp: 'soon',
    });
  });

  it('reads promotions through own properties only', () => {
    const promoted = applyPromotions(j('{"contexts":{}}'), [
      { path: ['contexts', 'toString'], column: 'pageId', type: 'string' },
    ]);
    expect(promoted.values).toEqual({});
  });
});
