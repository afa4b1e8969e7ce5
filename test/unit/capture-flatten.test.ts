import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../lib/canonical';
import {
  flattenVisitState,
  newFlattenPlans,
  rowByteSize,
  type FlattenResult,
} from '../../lib/capture/flatten';
import {
  CAPTURE_SCHEMA_VERSION,
  MALFORMED_EVENT_TYPE,
  rowByteSizeUpperBound,
  ROW_PROTOTYPE,
  type CaptureRow,
} from '../../lib/capture/rows';
import { InvalidIdError } from '../../lib/ids';
import { keepEverythingPolicy } from '../../lib/privacy/policy';
import { rowDigest } from '../../lib/poller/digests';
import type { Json, VisitState } from '../../lib/liveperson/types';
import {
  CAPTURE_DAY_SHARDS,
  CAPTURE_KEY_ATTRIBUTES,
  captureShardOf,
  keyPart,
  outcomeKeys,
  padMs,
  utcDay,
} from '../../lib/keys';

const ACCOUNT = '12345678';
const VISITOR = 'cyNGViYjc4MmU2MzEzZThm';
const SID = 'qCsUrTldTh0UEWLjLCGqkQ';
const PK = `S#${ACCOUNT}#${SID}`;
const APP = 'jnPABZYjQcOS2Uk5fp_HnA.c524460e4432e9f93cf700af590f16ef181f20e6';
const TS = 1475675316326;
const HASH = /^[0-9a-f]{16}$/;

const exampleText = readFileSync(join(__dirname, '..', 'fixtures', 'example-state.json'), 'utf8');
/** A fresh copy each time: tests may change it. */
const example = (): VisitState => JSON.parse(exampleText) as VisitState;

/**
 * The naming rule and the row layout, values as they came: under a policy that keeps everything (what the
 * default policy does to them is test/unit/privacy-*.test.ts's).
 */
const KEEP_EVERYTHING = newFlattenPlans({ privacy: keepEverythingPolicy() });
const flatten = (state: VisitState): FlattenResult =>
  flattenVisitState({ accountId: ACCOUNT, visitorId: VISITOR, sid: SID, state }, KEEP_EVERYTHING);

/** A minimal answer with one app session holding the given events. */
function withEvents(events: Json[], extra: Record<string, Json> = {}): VisitState {
  return { id: 'visit', appSessions: [{ id: 'app1', startTime: TS, events, ...extra }] };
}

function leadEvent(topic: string, ts = TS): Json {
  return { lead: { serverTimeStamp: ts, contexts: { page: { id: 'p1' } }, lead: { topic, value: 1 } } };
}

const ofType = (rows: CaptureRow[], rowType: string): CaptureRow[] =>
  rows.filter((r) => r.rowType === rowType);
const plain = (row: CaptureRow | undefined): Record<string, unknown> => ({ ...row });

function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).reverse()) out[k] = reverseKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

describe('flattenVisitState on the spec example', () => {
  const result = flatten(example());
  const { rows } = result;
  const events = ofType(rows, 'event');
  const eventOf = (type: string): CaptureRow => {
    const found = events.filter((r) => r.eventType === type);
    expect(found).toHaveLength(1);
    return found[0] as CaptureRow;
  };
  const childrenOf = (parent: CaptureRow): CaptureRow[] =>
    ofType(rows, 'eventItem').filter((r) => r.parentSk === parent.sk);

  it('counts rows per type', () => {
    expect(result.counts).toEqual({ session: 1, page: 1, engagement: 2, event: 9, eventItem: 4 });
    expect(rows).toHaveLength(17);
    expect({ ...result.eventsByType }).toEqual({
      marketingCampaignInfo: 1,
      lead: 1,
      cartStatus: 1,
      purchase: 1,
      viewedProduct: 1,
      customerInfo: 1,
      personalInfo: 1,
      serviceActivity: 1,
      visitorError: 1,
    });
    expect(result.unknownEventTypes).toEqual([]);
  });

  it('gives every row the mandatory columns, a prototype that gives nothing, and unique keys', () => {
    for (const row of rows) {
      expect(Object.getPrototypeOf(row)).toBe(ROW_PROTOTYPE);
      expect('toString' in row || '__proto__' in row || 'constructor' in row).toBe(false);
      expect(row.pk).toBe(PK);
      expect(typeof row.sk).toBe('string');
      expect(row).toMatchObject({
        accountId: ACCOUNT,
        visitorId: VISITOR,
        sid: SID,
        schemaVersion: CAPTURE_SCHEMA_VERSION,
      });
      expect(row).not.toHaveProperty('contentHash');
      for (const v of Object.values(row))
        expect(['string', 'number', 'boolean']).toContain(v === null ? 'boolean' : typeof v);
    }
    expect(new Set(rows.map((r) => r.sk)).size).toBe(rows.length);
  });

  it('loses no field: every leaf of the example is in the row(s) it belongs to', () => {
    // (key, canonical value) pairs a row holds: every `_`-suffix of each column name with its value, ids
    // promoted to our columns also as `id`, and for JSON-encoded columns the pairs inside the JSON.
    const pairsOf = (rowsToSearch: CaptureRow[]): Set<string> => {
      const pairs = new Set<string>();
      const addJson = (key: string, v: Json): void => {
        pairs.add(`${key}\u0000${canonicalJson(v)}`);
        if (Array.isArray(v)) v.forEach((x) => addJson(key, x));
        else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) addJson(k, x);
      };
      for (const row of rowsToSearch) {
        for (const [name, value] of Object.entries(row)) {
          const parts = name.split('_');
          const keys = parts.map((_, i) => parts.slice(i).join('_'));
          if (['pageId', 'appSessionId', 'visitId', 'engagementId'].includes(name)) keys.push('id');
          for (const key of keys) {
            pairs.add(`${key}\u0000${canonicalJson(value)}`);
            if (typeof value === 'string' && /^[[{]/.test(value)) addJson(key, JSON.parse(value) as Json);
          }
        }
      }
      return pairs;
    };

    const session = ofType(rows, 'session');
    const pages = ofType(rows, 'page');
    const engagements = ofType(rows, 'engagement');
    const rowsFor = (path: (string | number)[]): CaptureRow[] => {
      if (path[0] !== 'appSessions') return session; // the answer's own fields live on every session row
      const [, , field, index] = path;
      if (field === 'pages') return [pages[index as number] as CaptureRow];
      if (field === 'engagements') return [engagements[index as number] as CaptureRow];
      if (field === 'events') {
        const event = events[index as number] as CaptureRow;
        return [event, ...childrenOf(event)];
      }
      return [session[path[1] as number] as CaptureRow];
    };

    let checked = 0;
    const walk = (v: Json, path: (string | number)[]): void => {
      const isEmpty = Array.isArray(v)
        ? v.length === 0
        : v !== null && typeof v === 'object' && Object.keys(v).length === 0;
      if (v === null || typeof v !== 'object' || isEmpty) {
        const key = [...path].reverse().find((p): p is string => typeof p === 'string') as string;
        const pair = `${key}\u0000${canonicalJson(v)}`;
        if (!pairsOf(rowsFor(path)).has(pair))
          throw new Error(`lost: ${path.join('.')} = ${canonicalJson(v)}`);
        checked += 1;
        return;
      }
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
      else for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    };
    walk(JSON.parse(exampleText) as Json, []);
    expect(checked).toBeGreaterThan(250);
  });

  it('flattens the session row', () => {
    const s = plain(ofType(rows, 'session')[0]);
    expect(s).toMatchObject({
      sk: `SESSION#${APP}`,
      rowType: 'session',
      appSessionId: APP,
      visitId: APP,
      ip: '195.62.30.20',
      ipv4: '195.62.30.20',
      startTime: 1475675316327,
      userAgent: expect.stringMatching(/^Mozilla/),
      deviceOS: 'MAC_OSX',
      deviceFamily: 'DESKTOP',
      geo_countryCode: 'IL',
      externalReferrer: '',
      searchEngine_searchEngine: '',
      searchEngine_keywords: '',
      mobileDeviceInfo_mobile: false,
      siteControlGroup: 'NA',
      // Id-keyed maps: one JSON column each (naming.ts, rule 6).
      revActiveVPs: '{"1249882912":{"revision":7},"493914412":{"revision":7}}',
      revAllOSLs: '{"493914612":{"revision":8}}',
      cart_cartStatus_total: 11.7,
      cart_lastTotalChange: 11.7,
      personalInfo_customerAge_customerAgeInYears: 34,
      customerInfo_lastPaymentDate_year: 2014,
      marketingCampaignInfo_affiliate: 'Yahoo',
      gsi1pk: `V#${ACCOUNT}#${VISITOR}`,
      gsi1sk: `1475675316327#${SID}#SESSION#${APP}`,
      gsi3pk: `D#${ACCOUNT}#2016-10-05#${captureShardOf(SID)}`,
      gsi3sk: `1475675316327#${SID}#SESSION#${APP}`,
    });
    expect(JSON.parse(s.leads as string)).toEqual([
      {
        topic: 'luxury car test drive 2015',
        value: 22.22,
        ticketId: null,
        leadId: 'xyz123',
        leadSeqId: '1',
        repeatedLeadId: false,
      },
    ]);
    for (const k of [
      'purchases',
      'serviceActivity',
      'viewedProduct',
      'visitorError',
      'personalInfo_contacts',
    ]) {
      expect(typeof s[k]).toBe('string');
    }
    for (const k of ['pages', 'engagements', 'events', 'id', 'gsi2pk', 'gsi2sk'])
      expect(s).not.toHaveProperty(k);
  });

  it('flattens the page row', () => {
    expect(plain(ofType(rows, 'page')[0])).toMatchObject({
      sk: `PAGE#${APP}#1899669462#1475675316326`,
      pageId: '1899669462',
      startTime: 1475675316326,
      timeOnPage: 21482,
      pageBasic_url: 'https://testfile.com',
      pageBasic_sections: null,
      revActiveOSLs: '{"493914612":{"revision":8}}',
      url: 'testfile.com',
    });
  });

  it('flattens engagement rows (wrapper unwrapped, pageId promoted, impressionAccepted as JSON)', () => {
    const [e1, e2] = ofType(rows, 'engagement').map(plain);
    expect(e1).toMatchObject({
      sk: `ENG#${APP}#1`,
      engagementId: '1',
      pageId: '1899669462',
      zoneId: 493911912,
      engagementEntity_surveySkills: '[]',
      campaignEntity_activeVPs: '{"493914412":{"revision":7}}',
      engagementEntity_engagementSkill_skillName: '*!@NULL*!@',
    });
    expect(e1).not.toHaveProperty('impressionAccepted');
    expect(e2).toMatchObject({
      sk: `ENG#${APP}#2`,
      engagementId: '2',
      impressionAccepted: '[{"activityTime":1475675334770,"pageId":"1899669462"}]',
    });
  });

  it('flattens the lead event to exactly these columns', () => {
    const lead = eventOf('lead');
    expect(plain(lead)).toEqual({
      pk: PK,
      sk: expect.stringMatching(/^EVENT#lead#1475675316326#[0-9a-f]{16}#0$/),
      gsi2pk: `E#${ACCOUNT}#lead#2016-10-05#${captureShardOf(SID)}`,
      gsi2sk: `1475675316326#${SID}#${lead.sk}`,
      rowType: 'event',
      accountId: ACCOUNT,
      visitorId: VISITOR,
      sid: SID,
      appSessionId: APP,
      eventType: 'lead',
      serverTimeStamp: TS,
      pageId: '1899669462',
      eventKey: expect.stringMatching(HASH),
      occurrence: 0,
      topic: 'luxury car test drive 2015',
      value: 22.22,
      ticketId: null,
      leadId: 'xyz123',
      schemaVersion: CAPTURE_SCHEMA_VERSION,
    });
    expect(lead.sk).toBe(`EVENT#lead#1475675316326#${lead.eventKey}#0`);
  });

  it('flattens the cartStatus event and its product as an eventItem', () => {
    const cart = eventOf('cartStatus');
    expect(plain(cart)).toMatchObject({
      eventType: 'cartStatus',
      serverTimeStamp: TS,
      pageId: '1899669462',
      total: 11.7,
      numItems: 6,
    });
    expect(cart).not.toHaveProperty('products');
    const items = childrenOf(cart);
    expect(items.map(plain)).toEqual([
      {
        pk: PK,
        sk: `${cart.sk}#ITEM#products#000000`,
        rowType: 'eventItem',
        accountId: ACCOUNT,
        visitorId: VISITOR,
        sid: SID,
        appSessionId: APP,
        eventType: 'cartStatus',
        serverTimeStamp: TS,
        pageId: '1899669462',
        parentSk: cart.sk,
        childPath: 'products',
        childIndex: 0,
        product_name: 'prod1',
        product_category: 'category',
        product_sku: 'sku',
        product_price: 7.8,
        quantity: 1,
        schemaVersion: CAPTURE_SCHEMA_VERSION,
      },
    ]);
    for (const k of CAPTURE_KEY_ATTRIBUTES.filter((a) => a.startsWith('gsi')))
      expect(items[0]).not.toHaveProperty(k);
  });

  it("keeps the purchase event's nested cart (serverTimeStamp 0, contexts {}) and its products", () => {
    const purchase = eventOf('purchase');
    expect(plain(purchase)).toMatchObject({
      serverTimeStamp: TS,
      pageId: '1899669462',
      total: 11.7,
      orderId: 'DRV1534XC',
      cart_serverTimeStamp: 0,
      cart_total: null,
      cart_numItems: null,
      cart_contexts: '{}',
    });
    const items = childrenOf(purchase);
    expect(items.map(plain)).toEqual([
      expect.objectContaining({
        sk: `${purchase.sk}#ITEM#cart_products#000000`,
        childPath: 'cart_products',
        childIndex: 0,
        product_name: 'antivirus pro plan',
        product_sku: 'xyz001',
        product_price: 7.8,
        quantity: 3,
      }),
    ]);
  });

  it('unwraps the other documented wrappers and makes contacts and viewed products child rows', () => {
    expect(plain(eventOf('personalInfo'))).toMatchObject({
      name: 'John',
      customerAge_customerAgeInYears: 34,
      language: null,
    });
    expect(childrenOf(eventOf('personalInfo')).map(plain)).toEqual([
      expect.objectContaining({
        childPath: 'contacts',
        email: 'myname@example.com',
        phone: '+1 212-788-8877',
      }),
    ]);
    expect(childrenOf(eventOf('viewedProduct')).map(plain)).toEqual([
      expect.objectContaining({ childPath: 'products', product_sku: 'xyz567', product_price: 77.8 }),
    ]);
    expect(plain(eventOf('customerInfo'))).toMatchObject({ customerId: '138766AC', lastPaymentDate_day: 15 });
    expect(plain(eventOf('serviceActivity'))).toMatchObject({ topic: 'order checkbook', status: 0 });
    expect(plain(eventOf('visitorError'))).toMatchObject({ code: 'er100004', resolved: null });
    expect(plain(eventOf('marketingCampaignInfo'))).toMatchObject({
      originatingChannel: 1,
      campaignId: 'US coupon campaign',
    });
    for (const e of events) {
      expect(Object.keys(e).filter((k) => k.startsWith('contexts') || k === e.eventType)).toEqual([]);
    }
  });

  it('estimates item sizes', () => {
    for (const row of rows) expect(rowByteSize(row)).toBeGreaterThan(Buffer.byteLength(String(row.sk)));
    expect(
      rowByteSize(
        Object.assign(Object.create(null) as CaptureRow, { ab: 'héé', n: 12345, b: true, z: null }),
      ),
    ).toBe(2 + 5 + 1 + 4 + 1 + 1 + 1 + 1);
  });

  it('bounds item sizes from above cheaply (emoji, 3-byte characters and long numbers included)', () => {
    const odd = Object.assign(Object.create(null) as CaptureRow, {
      emoji: '😀😀',
      euro: '€€€',
      n: -1234567890.123456,
      big: 1e300,
    });
    for (const row of [...rows, odd])
      expect(rowByteSizeUpperBound(row)).toBeGreaterThanOrEqual(rowByteSize(row));
  });
});

describe('determinism and event identity', () => {
  it('is idempotent: the same answer twice gives deep-equal rows in the same order', () => {
    const a = flatten(example());
    const b = flatten(example());
    expect(b).toEqual(a);
    expect(JSON.stringify(b.rows)).toBe(JSON.stringify(a.rows));
  });

  it('does not depend on the key order of the input', () => {
    const a = flatten(example());
    const b = flatten(reverseKeys(example()) as VisitState);
    expect(JSON.stringify(b.rows)).toBe(JSON.stringify(a.rows));
    expect(b.counts).toEqual(a.counts);
  });

  it('keeps two different events of the same millisecond as two rows', () => {
    const { rows } = flatten(withEvents([leadEvent('a'), leadEvent('b')]));
    const events = ofType(rows, 'event');
    expect(events.map((r) => [r.topic, r.occurrence])).toEqual([
      ['a', 0],
      ['b', 0],
    ]);
    expect(events[0]?.sk).not.toBe(events[1]?.sk);
  });

  it('keeps identical events of one answer as rows with occurrence 0 and 1', () => {
    const { rows } = flatten(withEvents([leadEvent('a'), leadEvent('b'), leadEvent('a')]));
    const [a0, b0, a1] = ofType(rows, 'event');
    expect([a0?.occurrence, b0?.occurrence, a1?.occurrence]).toEqual([0, 0, 1]);
    expect(a0?.eventKey).toBe(a1?.eventKey);
    expect(String(a1?.sk)).toBe(String(a0?.sk).replace(/#0$/, '#1'));
  });

  it('maps the same event on a later answer with more events to the same row', () => {
    const first = flatten(withEvents([leadEvent('a'), leadEvent('a')]));
    const later = flatten(
      withEvents([leadEvent('a'), leadEvent('a'), leadEvent('new', TS + 5), leadEvent('a')]),
    );
    const firstEvents = ofType(first.rows, 'event');
    const laterEvents = ofType(later.rows, 'event');
    expect(laterEvents.slice(0, 2)).toEqual(firstEvents);
    expect(laterEvents.map((r) => r.occurrence)).toEqual([0, 1, 0, 2]);
  });

  it('counts occurrences over all app sessions of the answer', () => {
    const state: VisitState = {
      appSessions: [
        { id: 'app1', events: [leadEvent('a')] },
        { id: 'app2', events: [leadEvent('a')] },
      ],
    };
    const events = ofType(flatten(state).rows, 'event');
    expect(events.map((r) => [r.appSessionId, r.occurrence])).toEqual([
      ['app1', 0],
      ['app2', 1],
    ]);
    expect(new Set(events.map((r) => r.sk)).size).toBe(2);
  });

  it('changes a row (and so its change digest) with its content and only with it', () => {
    const a = ofType(flatten(withEvents([leadEvent('a')])).rows, 'session')[0] as CaptureRow;
    const b = ofType(
      flatten(withEvents([leadEvent('a')], { deviceOS: 'X' })).rows,
      'session',
    )[0] as CaptureRow;
    const a2 = ofType(flatten(withEvents([leadEvent('b')])).rows, 'session')[0] as CaptureRow;
    expect(rowDigest(a)).not.toBe(rowDigest(b));
    expect(rowDigest(a)).toBe(rowDigest(a2));
  });
});

describe('shapes of answers', () => {
  it('keeps an unknown event type, flattened the same way, and lists it', () => {
    const custom = (n: number): Json => ({
      zzCustom: {
        serverTimeStamp: TS,
        contexts: { page: { id: 'p9' }, x: 1 },
        zzCustom: { score: n, tags: ['a'] },
      },
    });
    const result = flatten(
      withEvents([custom(1), { aaOther: { serverTimeStamp: TS } }, custom(2), leadEvent('a')]),
    );
    expect(result.unknownEventTypes).toEqual(['aaOther', 'zzCustom']);
    expect({ ...result.eventsByType }).toEqual({ zzCustom: 2, aaOther: 1, lead: 1 });
    const rows = ofType(result.rows, 'event').filter((r) => r.eventType === 'zzCustom');
    expect(rows.map(plain)).toEqual([
      expect.objectContaining({
        pageId: 'p9',
        score: 1,
        tags: '["a"]',
        contexts_x: 1,
        gsi2pk: expect.stringContaining('#zzCustom#'),
      }),
      expect.objectContaining({ score: 2 }),
    ]);
  });

  it('gives no rows for an empty appSessions array', () => {
    const result = flatten({ id: 'v', appSessions: [] });
    expect(result.rows).toEqual([]);
    expect(result.counts).toEqual({ session: 0, page: 0, engagement: 0, event: 0, eventItem: 0 });
    expect(result.unknownEventTypes).toEqual([]);
  });

  it('writes rows for every app session', () => {
    const state = example();
    const second = JSON.parse(JSON.stringify(state.appSessions[0])) as VisitState['appSessions'][number];
    second.id = 'second';
    second.startTime = TS + 1000;
    state.appSessions.push(second);
    const result = flatten(state);
    expect(result.counts).toEqual({ session: 2, page: 2, engagement: 4, event: 18, eventItem: 8 });
    expect(ofType(result.rows, 'session').map((r) => r.sk)).toEqual([`SESSION#${APP}`, 'SESSION#second']);
    expect(ofType(result.rows, 'page').map((r) => r.appSessionId)).toEqual([APP, 'second']);
    // Identical events in both app sessions: occurrence 1 for the second copy.
    expect(ofType(result.rows, 'event').map((r) => r.occurrence)).toEqual([
      ...Array(9).fill(0),
      ...Array(9).fill(1),
    ]);
    expect(new Set(result.rows.map((r) => r.sk)).size).toBe(result.rows.length);
  });

  it.each<[string, Record<string, Json>, string | null]>([
    ['ipv4 only', { ipv4: '1.2.3.4' }, '1.2.3.4'],
    ['lpv4 only', { lpv4: '5.6.7.8' }, '5.6.7.8'],
    ['both: ipv4 wins', { ipv4: '1.2.3.4', lpv4: '5.6.7.8' }, '1.2.3.4'],
    ['empty ipv4 falls back to lpv4', { ipv4: '', lpv4: '5.6.7.8' }, '5.6.7.8'],
    ['neither', {}, null],
  ])('ip from %s', (_label, fields, ip) => {
    const session = ofType(flatten(withEvents([], fields)).rows, 'session')[0];
    expect(session?.ip).toBe(ip);
    for (const [k, v] of Object.entries(fields)) expect(session?.[k]).toBe(v);
  });

  it.each<[string, Json]>([
    ['no key', {}],
    ['two keys', { lead: { serverTimeStamp: TS }, cartStatus: { serverTimeStamp: TS } }],
    ['a non-object body', { lead: 'text' }],
    ['an array body', { lead: [1, 2] }],
    ['a null element', null],
    ['a scalar element', 42],
  ])('keeps an events[] element with %s as one _malformed row', (_label, element) => {
    const result = flatten(withEvents([element, leadEvent('a')]));
    const events = ofType(result.rows, 'event');
    expect(events).toHaveLength(2);
    const bad = events[0] as CaptureRow;
    expect(bad).toMatchObject({
      eventType: MALFORMED_EVENT_TYPE,
      serverTimeStamp: null,
      pageId: null,
      occurrence: 0,
    });
    expect(bad.sk).toMatch(/^EVENT#_malformed#%none#[0-9a-f]{16}#0$/);
    expect(bad).not.toHaveProperty('gsi2pk');
    expect(result.eventsByType[MALFORMED_EVENT_TYPE]).toBe(1);
    expect(result.unknownEventTypes).toEqual([]);
  });

  it('keeps the content of malformed elements', () => {
    const rows = ofType(
      flatten(withEvents([{ lead: { topic: 't' }, cartStatus: { products: [{ sku: 's' }] } }, 7])).rows,
      'event',
    );
    expect(rows[0]).toMatchObject({ lead_topic: 't' });
    expect(rows[1]).toMatchObject({ rawElement: 7 });
  });

  it('keeps an event without serverTimeStamp, without a byEventType entry', () => {
    const rows = flatten(withEvents([{ lead: { lead: { topic: 't' } } }])).rows;
    const event = ofType(rows, 'event')[0];
    expect(event).toMatchObject({ eventType: 'lead', serverTimeStamp: null, pageId: null, topic: 't' });
    expect(event?.sk).toMatch(/^EVENT#lead#%none#/);
    expect(event).not.toHaveProperty('gsi2pk');
  });

  it('keeps payload names that collide with ours, renamed', () => {
    const rows = flatten(
      withEvents([
        { lead: { serverTimeStamp: TS, sid: 'evil', pk: 'evil', lead: { rowType: 'evil', eventType: 'x' } } },
      ]),
    ).rows;
    expect(ofType(rows, 'event')[0]).toMatchObject({
      pk: PK,
      sid: SID,
      rowType: 'event',
      eventType: 'lead',
      payload_sid: 'evil',
      payload_pk: 'evil',
      payload_rowType: 'evil',
      payload_eventType: 'x',
    });
  });

  it('cannot be steered into another key by a payload holding #', () => {
    const rows = flatten({
      appSessions: [
        {
          id: 'a#b',
          startTime: TS,
          pages: [{ id: 'p#1', startTime: TS }],
          events: [{ 'x#y': { serverTimeStamp: TS } }],
        },
      ],
    }).rows;
    expect(rows.map((r) => r.sk)).toEqual([
      'SESSION#a%0023b',
      `PAGE#a%0023b#p%00231#${TS}`,
      expect.stringMatching(/^EVENT#x%0023y#1475675316326#[0-9a-f]{16}#0$/),
    ]);
    expect(rows[2]?.eventType).toBe('x#y');
  });

  it('is safe with __proto__ as an event type and key', () => {
    const state = JSON.parse(
      '{"appSessions":[{"id":"a","events":[{"__proto__":{"serverTimeStamp":1,"__proto__":{"polluted":true}}}]}]}',
    ) as VisitState;
    const result = flatten(state);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(result.eventsByType['__proto__']).toBe(1);
    expect(result.unknownEventTypes).toEqual(['__proto__']);
    expect(ofType(result.rows, 'event')[0]).toMatchObject({ eventType: '__proto__', polluted: true });
  });

  it('never lets two rows of one answer share a key (duplicate pages and engagements)', () => {
    const page = { id: 'p', startTime: TS };
    const rows = flatten({
      appSessions: [
        { id: 'a', pages: [page, page, { startTime: 'x' }], engagements: [{ id: 'e' }, { id: 'e' }, 'odd'] },
      ],
    }).rows;
    expect(rows.map((r) => r.sk)).toEqual([
      'SESSION#a',
      `PAGE#a#p#${TS}`,
      `PAGE#a#p#${TS}#DUP1`,
      'PAGE#a#%none#%none',
      'ENG#a#e',
      'ENG#a#e#DUP1',
      'ENG#a#%none',
    ]);
    expect(rows[6]).toMatchObject({ rawElement: 'odd', engagementId: null });
  });

  it('keeps the answer-level fields beside id as visit_ columns', () => {
    const session = ofType(
      flatten({ id: 'v', extra: { a: 1 }, appSessions: [{ id: 'a' }] }).rows,
      'session',
    )[0];
    expect(session).toMatchObject({ visitId: 'v', visit_extra_a: 1 });
    expect(session).not.toHaveProperty('gsi3pk');
    expect(session?.gsi1sk).toBe(`%none#${SID}#SESSION#a`);
  });

  it('rejects invalid ids and a state without appSessions', () => {
    const state = example();
    expect(() => flattenVisitState({ accountId: 'a#b', visitorId: VISITOR, sid: SID, state })).toThrow(
      InvalidIdError,
    );
    expect(() => flattenVisitState({ accountId: ACCOUNT, visitorId: VISITOR, sid: 'x/y', state })).toThrow(
      InvalidIdError,
    );
    expect(() => flatten({ id: 'x' } as unknown as VisitState)).toThrow(TypeError);
  });
});

describe('key helpers', () => {
  it('computes utcDay and pads timestamps', () => {
    expect(utcDay(TS)).toBe('2016-10-05');
    expect(utcDay(0)).toBe('1970-01-01');
    expect(() => utcDay(-1)).toThrow(RangeError);
    expect(() => utcDay(1.5)).toThrow(RangeError);
    // Around midnight, in any order (utcDay remembers the last day it formatted).
    const midnight = Date.UTC(2026, 0, 6);
    for (const [ms, day] of [
      [midnight, '2026-01-06'],
      [midnight - 1, '2026-01-05'],
      [midnight + 86_399_999, '2026-01-06'],
      [midnight + 86_400_000, '2026-01-07'],
      [midnight - 1, '2026-01-05'],
      [9_999_999_999_999, '2286-11-20'],
    ] as const) {
      expect(utcDay(ms)).toBe(day);
      expect(utcDay(ms)).toBe(new Date(ms).toISOString().slice(0, 10));
    }
    expect(padMs(0)).toBe('0000000000000');
    expect(padMs(TS)).toBe('1475675316326');
    expect(padMs(undefined)).toBe('%none');
    expect(padMs(-5)).toBe('%-5');
  });

  it('shards a sid stably within CAPTURE_DAY_SHARDS', () => {
    const shards = new Set<number>();
    for (let i = 0; i < 200; i += 1) {
      const s = captureShardOf(`sid${i}`);
      expect(s).toBe(captureShardOf(`sid${i}`));
      expect(Number.isInteger(s) && s >= 0 && s < CAPTURE_DAY_SHARDS).toBe(true);
      shards.add(s);
    }
    expect(shards.size).toBe(CAPTURE_DAY_SHARDS);
  });

  it('encodes key parts injectively and caps their length', () => {
    expect(keyPart('abc.DEF_~-9')).toBe('abc.DEF_~-9');
    expect(keyPart('a#b')).toBe('a%0023b');
    expect(keyPart('a%b')).toBe('a%0025b');
    expect(keyPart(null)).toBe('%none');
    const long = keyPart('x'.repeat(500));
    expect(long).toMatch(/^x{100}%~[0-9a-f]{16}$/);
    expect(keyPart('x'.repeat(501))).not.toBe(long);
  });

  it('builds the outcome row keys', () => {
    expect(outcomeKeys(ACCOUNT, VISITOR, SID, 1475675316327)).toEqual({
      pk: PK,
      sk: 'OUTCOME',
      gsi1pk: `V#${ACCOUNT}#${VISITOR}`,
      gsi1sk: `1475675316327#${SID}#OUTCOME`,
      gsi3pk: `D#${ACCOUNT}#2016-10-05#${captureShardOf(SID)}`,
      gsi3sk: `1475675316327#${SID}#OUTCOME`,
    });
    expect(() => outcomeKeys(ACCOUNT, VISITOR, SID, Number.NaN)).toThrow(RangeError);
    expect(() => outcomeKeys(ACCOUNT, 'v#1', SID, 0)).toThrow(InvalidIdError);
  });
});
