/**
 * `lpv scrub`'s decision for one stored row (lib/scrub/plan.ts): the path it rebuilds for each column agrees
 * with the flattener's own source path; a table of rows and what the default policy makes of them; nothing is
 * treated twice (a second pass changes nothing); and the strong oracle: rows stored with everything kept, then
 * scrubbed, equal the rows the flattener makes under the default policy from the same answer.
 */
import { flattenVisitState, newFlattenPlans, type ColumnFact } from '../../lib/capture/flatten';
import type { CaptureRow } from '../../lib/capture/rows';
import type { VisitState } from '../../lib/liveperson/types';
import { pathStates, type PathState } from '../../lib/privacy/categories';
import { KeyedHasher } from '../../lib/privacy/hash';
import { createPrivacyPolicy, keepEverythingPolicy, type PrivacyPolicy } from '../../lib/privacy/policy';
import {
  columnPath,
  createRowScrubber,
  isHashed,
  isTruncatedIp,
  type ScrubRow,
  type StoreColumns,
} from '../../lib/scrub/plan';
import { CAPTURE_STORE_COLUMNS } from '../../lib/store/dynamo-scrub';
import { distinctiveExample, example, leaksIn, personalValuesOf } from '../support/personal-fixtures';
import { agesUpToSixHours, simulatedAnswers } from '../support/simulated-answers';

const ACCOUNT = '12345678';
const VISITOR = 'cyNGViYjc4MmU2MzEzZThm';
const SID = 'qCsUrTldTh0UEWLjLCGqkQ';
const KEY = { bytes: Buffer.alloc(32, 0x5c), version: 1 };
const OTHER_KEY = { bytes: Buffer.alloc(32, 0x6d), version: 7 };
const hash = (v: string): string => new KeyedHasher(KEY).hash(v);
const COLUMNS: StoreColumns = CAPTURE_STORE_COLUMNS;

const DEFAULTS = (): PrivacyPolicy => createPrivacyPolicy({ hashKey: KEY });

interface Answer {
  visitorId: string;
  sid: string;
  state: VisitState;
}

/** The spec example (as published and with distinctive values) and 40 simulator sessions of two seeds. */
function answers(): Answer[] {
  return [
    { visitorId: VISITOR, sid: SID, state: example() },
    { visitorId: VISITOR, sid: `${SID}2`, state: distinctiveExample() },
    ...simulatedAnswers(31, 20, agesUpToSixHours(20), ACCOUNT),
    ...simulatedAnswers(32, 20, agesUpToSixHours(20), ACCOUNT),
  ];
}

const rowsUnder = (policy: PrivacyPolicy, answer: Answer): CaptureRow[] =>
  flattenVisitState({ accountId: ACCOUNT, ...answer }, newFlattenPlans({ privacy: policy })).rows;

/** A row as DynamoDB gives it back: a plain object of the same columns. */
const plain = (row: CaptureRow | ScrubRow): ScrubRow => ({ ...row });

describe('the path a column is classified by, rebuilt from the stored row', () => {
  it('reaches the same classification as the flattener’s source path, for every column of the example and 40 simulator sessions', () => {
    const facts: ColumnFact[] = [];
    // Fresh plans per answer would only repeat facts: one set of plans hears every shape once.
    const plans = newFlattenPlans({ privacy: keepEverythingPolicy(), onColumn: (f) => facts.push(f) });
    for (const answer of answers()) flattenVisitState({ accountId: ACCOUNT, ...answer }, plans);
    expect(facts.length).toBeGreaterThan(300);
    const mismatches: string[] = [];
    const classified = new Set<string>();
    for (const fact of facts) {
      const row: ScrubRow = {
        rowType: fact.rowType,
        ...(fact.eventType !== undefined ? { eventType: fact.eventType } : {}),
        ...(fact.childPath !== undefined ? { childPath: fact.childPath } : {}),
      };
      const rebuilt = columnPath(row, fact.name, COLUMNS.others);
      expect(rebuilt).toBeDefined();
      const want = pathStates(fact.sourcePath);
      const got = pathStates(rebuilt as string[]);
      // The value's own state (its category and context), and every classified state on the way (a dropped
      // category above a value drops it; a state of no category never does).
      const indexes = (states: PathState[]): number[] =>
        [...new Set(states.filter((s) => s.category !== undefined).map((s) => s.index))].sort();
      if (got.at(-1) !== want.at(-1) || indexes(got).join() !== indexes(want).join()) {
        mismatches.push(`${fact.rowType} ${fact.name}: ${fact.sourcePath.join('.')} vs ${String(rebuilt)}`);
      }
      const category = want.at(-1)?.category;
      if (category !== undefined) classified.add(category);
    }
    expect(mismatches).toEqual([]);
    // Not vacuous: the facts cover the categories the answers hold.
    expect([...classified].sort()).toEqual(
      expect.arrayContaining([
        'birth-day',
        'contact',
        'customer-id',
        'location',
        'name',
        'network',
        'personal',
      ]),
    );
  });

  it.each([
    ['our ip column on a session row', { rowType: 'session' }, 'ip', ['ip']],
    ['a payload column', { rowType: 'page' }, 'geo_zip', ['geo', 'zip']],
    [
      'an event column, under its type',
      { rowType: 'event', eventType: 'personalInfo' },
      'name',
      ['personalInfo', 'name'],
    ],
    [
      'a malformed event’s column, with no type',
      { rowType: 'event', eventType: '_malformed' },
      'a_b',
      ['a', 'b'],
    ],
    [
      'an eventItem column, under its type and child path',
      { rowType: 'eventItem', eventType: 'purchase', childPath: 'cart_products' },
      'product_name',
      ['purchase', 'cart', 'products', 'product', 'name'],
    ],
  ])('%s', (_, row, name, path) => {
    expect(columnPath(row as ScrubRow, name, COLUMNS.others)).toEqual(path);
  });

  it.each([
    ['a key', { rowType: 'session' }, 'gsi1pk'],
    ['an id', { rowType: 'event', eventType: 'lead' }, 'visitorId'],
    ['our ip column on an event row (not ours there)', { rowType: 'event', eventType: 'lead' }, 'ip'],
    ['a store column', { rowType: 'page' }, 'capturedAtMs'],
    ['the TTL', { rowType: 'page' }, 'expiresAtSec'],
    ['any column of an outcome row', { rowType: 'outcome' }, 'reason'],
    ['any column of a row of no known type', {}, 'email'],
  ])('is not rebuilt for %s', (_, row, name) => {
    expect(columnPath(row as ScrubRow, name, COLUMNS.others)).toBeUndefined();
  });
});

describe('what the default policy (with a key) makes of a stored row', () => {
  const scrubber = createRowScrubber(DEFAULTS(), COLUMNS);
  const base = {
    pk: 'S#a#s',
    sk: 'SESSION#x',
    rowType: 'session',
    visitorId: 'v1',
    sid: 's1',
    capturedAtMs: 5,
  };
  const contacts = '[{"email":"a@b.example","phone":"+1 555"}]';

  it.each<[string, ScrubRow, ScrubRow | undefined, Record<string, number>]>([
    [
      'a name is hashed',
      { ...base, personalInfo_name: 'Ann' },
      { ...base, personalInfo_name: hash('Ann') },
      { name: 1 },
    ],
    [
      'our ip column and ipv4 are truncated',
      { ...base, ip: '203.0.113.77', ipv4: '203.0.113.77' },
      { ...base, ip: '203.0.113.0/24', ipv4: '203.0.113.0/24' },
      { network: 2 },
    ],
    [
      'an IPv6 address is truncated to its /48',
      { ...base, ipv6: '2001:db8:85a3:8d3:1319:8a2e:370:7348' },
      { ...base, ipv6: '2001:db8:85a3::/48' },
      { network: 1 },
    ],
    ['a truncated address stays', { ...base, ip: '203.0.113.0/24', ipv6: '2001:db8::/48' }, undefined, {}],
    ['a hash of this key stays', { ...base, personalInfo_surname: hash('Doe') }, undefined, {}],
    [
      'a hash of another key version stays',
      { ...base, customerInfo_customerId: new KeyedHasher(OTHER_KEY).hash('C1') },
      undefined,
      {},
    ],
    [
      'a customer id that is a number becomes the hash of its text',
      { ...base, customerInfo_customerId: 138766 },
      { ...base, customerInfo_customerId: hash('138766') },
      { 'customer-id': 1 },
    ],
    [
      'day and month of birth and finer-than-city geo are dropped, city kept',
      {
        ...base,
        personalInfo_customerAge_customerDateOfBirth: 15,
        personalInfo_customerAge_customerYearOfBirth: 1980,
        geo_zip: '10001',
        geo_city: 'New York',
      },
      { ...base, personalInfo_customerAge_customerYearOfBirth: 1980, geo_city: 'New York' },
      { 'birth-day': 1, 'precise-location': 1 },
    ],
    [
      'a JSON column is treated inside, value by value',
      { ...base, personalInfo_contacts: contacts },
      {
        ...base,
        personalInfo_contacts: `[{"email":${JSON.stringify(hash('a@b.example'))},"phone":${JSON.stringify(hash('+1 555'))}}]`,
      },
      { contact: 2 },
    ],
    [
      'a JSON column with nothing personal inside stays',
      { ...base, leads: '[{"leadId":"x","topic":"t"}]', revActiveVPs: '{"493914412":{"revision":7}}' },
      undefined,
      {},
    ],
    [
      'a dropped key leaves its object inside a JSON column',
      { ...base, visit_geo: '{"city":"Paris","zip":"75001"}' },
      { ...base, visit_geo: '{"city":"Paris"}' },
      { 'precise-location': 1 },
    ],
    [
      'a string that is not canonical JSON is a scalar: hashed whole, not inside',
      { ...base, personalInfo_contacts: '[ {"email": "a@b.example"} ]' },
      { ...base, personalInfo_contacts: hash('[ {"email": "a@b.example"} ]') },
      { contact: 1 },
    ],
    [
      'free text and product names are kept',
      { ...base, url: 'https://s.example/?q=1', product_name: 'Tent' },
      undefined,
      {},
    ],
    ['keys and ids are never treated', { ...base, gsi1pk: 'V#a#v1', visitorId: 'v1' }, undefined, {}],
  ])('%s', (_, row, expected, counts) => {
    const result = scrubber.scrub(row);
    expect(result.row === undefined ? undefined : plain(result.row)).toEqual(expected);
    expect(result.valuesTreated).toEqual(counts);
  });

  it('treats event and eventItem columns by the event type and child path', () => {
    const item = {
      pk: 'S#a#s',
      sk: 'EVENT#personalInfo#1#h#0#ITEM#contacts#000000',
      rowType: 'eventItem',
      eventType: 'personalInfo',
      childPath: 'contacts',
      email: 'a@b.example',
    };
    expect(plain(scrubber.scrub(item).row as ScrubRow)).toEqual({ ...item, email: hash('a@b.example') });
    const { email: _email, ...rest } = item;
    const product: ScrubRow = {
      ...rest,
      eventType: 'cartStatus',
      childPath: 'products',
      product_name: 'Tent',
    };
    expect(scrubber.scrub(product).row).toBeUndefined();
    const event = {
      pk: 'S#a#s',
      sk: 'EVENT#customerInfo#1#h#0',
      rowType: 'event',
      eventType: 'customerInfo',
      userName: 'q7',
    };
    expect(plain(scrubber.scrub(event).row as ScrubRow)).toEqual({ ...event, userName: hash('q7') });
  });

  it('leaves outcome rows as they are', () => {
    expect(
      scrubber.scrub({ pk: 'S#a#s', sk: 'OUTCOME', rowType: 'outcome', reason: 'a@b.example' }).row,
    ).toBeUndefined();
  });

  it('treats the moved columns inside overflowJson as the columns they were', () => {
    const marker = '{"cut":0,"cutColumns":[],"limitBytes":1,"moved":3,"pass":1,"rowBytes":2}';
    const cut = `[{"email":"a@b.exa${COLUMNS.truncationMarker}`;
    const row: ScrubRow = {
      ...base,
      overflowJson: JSON.stringify({ geo_zip: '1', leads: cut, personalInfo_name: 'Ann', topic: 'x' }),
      overflowCut: marker,
    };
    const result = scrubber.scrub(row);
    expect(plain(result.row as ScrubRow)).toEqual({
      ...base,
      overflowJson: `{"leads":null,"personalInfo_name":${JSON.stringify(hash('Ann'))},"topic":"x"}`,
      overflowCut: marker,
    });
    expect(result.cutValuesCleared).toBe(1);
    expect(scrubber.scrub(result.row as ScrubRow).row).toBeUndefined();
  });

  it('keeps numbersAsText in step: a treated column is no longer a number stored as text', () => {
    const row: ScrubRow = {
      ...base,
      customerInfo_customerId: '1e+200',
      balance: '1e+300',
      numbersAsText: 'balance,customerInfo_customerId',
    };
    expect(plain(scrubber.scrub(row).row as ScrubRow)).toEqual({
      ...base,
      customerInfo_customerId: hash('1e+200'),
      balance: '1e+300',
      numbersAsText: 'balance',
    });
    const only: ScrubRow = {
      ...base,
      customerInfo_customerId: '1e+200',
      numbersAsText: 'customerInfo_customerId',
    };
    expect(plain(scrubber.scrub(only).row as ScrubRow)).toEqual({
      ...base,
      customerInfo_customerId: hash('1e+200'),
    });
  });
});

describe('other modes and no key', () => {
  const row: ScrubRow = {
    rowType: 'session',
    personalInfo_name: 'Ann',
    customerInfo_customerId: hash('C1'),
    ip: '203.0.113.0/24',
  };

  it('without a key the hashed categories are dropped, already hashed values too', () => {
    const result = createRowScrubber(createPrivacyPolicy(), COLUMNS).scrub(row);
    expect(plain(result.row as ScrubRow)).toEqual({ rowType: 'session', ip: '203.0.113.0/24' });
    expect(result.valuesTreated).toEqual({ name: 1, 'customer-id': 1 });
  });

  it('network in hash mode leaves a truncated address as it is (never treated twice)', () => {
    const policy = createPrivacyPolicy({ hashKey: KEY, modes: { network: 'hash' } });
    const result = createRowScrubber(policy, COLUMNS).scrub({ ...row, ipv4: '198.51.100.9' });
    expect(plain(result.row as ScrubRow)).toEqual({
      ...row,
      personalInfo_name: hash('Ann'),
      ipv4: hash('198.51.100.9'),
    });
  });

  it('a policy that keeps everything changes nothing', () => {
    expect(createRowScrubber(keepEverythingPolicy(), COLUMNS).scrub(row).row).toBeUndefined();
  });

  it('recognises exactly the treated forms', () => {
    expect(isHashed(hash('x'))).toBe(true);
    expect(isHashed(new KeyedHasher({ bytes: KEY.bytes, version: 9999 }).hash('x'))).toBe(true);
    expect(isHashed(`${hash('x')}=`)).toBe(false);
    expect(isHashed('h0:' + hash('x').slice(3))).toBe(false);
    expect(isTruncatedIp('195.62.30.0/24')).toBe(true);
    expect(isTruncatedIp('195.62.30.20/24')).toBe(false);
    expect(isTruncatedIp('2001:db8:85a3::/48')).toBe(true);
    expect(isTruncatedIp('::/48')).toBe(true);
    expect(isTruncatedIp('2001:db8:85a3:1::/48')).toBe(false);
  });
});

describe('stored with everything kept, then scrubbed', () => {
  it('equals the flattener’s rows under the default policy, shows no personal value, and a second pass changes nothing', () => {
    const scrubber = createRowScrubber(DEFAULTS(), COLUMNS);
    let changed = 0;
    let rows = 0;
    for (const answer of answers()) {
      const raw = rowsUnder(keepEverythingPolicy(), answer).map(plain);
      const scrubbed = raw.map((row) => {
        const result = scrubber.scrub(row);
        if (result.row !== undefined) changed += 1;
        return plain(result.row ?? row);
      });
      expect(scrubbed).toEqual(rowsUnder(DEFAULTS(), answer).map(plain));
      expect(leaksIn(scrubbed, personalValuesOf(answer.state))).toEqual([]);
      for (const row of scrubbed) expect(scrubber.scrub(row).row).toBeUndefined();
      rows += raw.length;
    }
    // Not vacuous: the raw rows showed the values, and many rows changed.
    const shown = leaksIn(
      rowsUnder(keepEverythingPolicy(), answers()[1] as Answer),
      personalValuesOf(distinctiveExample()),
    );
    expect(shown.length).toBeGreaterThan(10);
    expect(changed).toBeGreaterThan(40);
    expect(rows).toBeGreaterThan(changed);
  });

  it('equals the flattener’s rows without a key too (hashed categories dropped)', () => {
    const scrubber = createRowScrubber(createPrivacyPolicy(), COLUMNS);
    for (const answer of answers().slice(0, 6)) {
      const scrubbed = rowsUnder(keepEverythingPolicy(), answer).map((row) =>
        plain(scrubber.scrub(plain(row)).row ?? row),
      );
      expect(scrubbed).toEqual(rowsUnder(createPrivacyPolicy(), answer).map(plain));
    }
  });

  it('rows captured under an older key stay as they are under a new one (no double treatment)', () => {
    const newKey = createPrivacyPolicy({ hashKey: OTHER_KEY });
    const scrubber = createRowScrubber(newKey, COLUMNS);
    for (const answer of answers().slice(0, 4)) {
      for (const row of rowsUnder(DEFAULTS(), answer)) expect(scrubber.scrub(plain(row)).row).toBeUndefined();
    }
  });
});
