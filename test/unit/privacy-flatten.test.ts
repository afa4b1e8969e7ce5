/**
 * The privacy policy as the flattener applies it (lib/capture/flatten.ts, plans.ts), and as the poller stores
 * it: personal values never reach a row, a JSON column, an eventItem row, a queue item or a log line under the
 * defaults; each treatment lands where it should; and event identity (sort keys, payload hashes) does not move
 * with the key or the modes. The policy's own parts: privacy-policy.test.ts.
 */
import { createHash } from 'node:crypto';
import {
  flattenVisitState,
  newFlattenPlans,
  type ColumnFact,
  type FlattenPlans,
} from '../../lib/capture/flatten';
import type { CaptureRow, Scalar } from '../../lib/capture/rows';
import { HOUR_MS, ManualClock, MINUTE_MS } from '../../lib/clock';
import type { VisitStateSource } from '../../lib/liveperson/client';
import type { FetchOutcome } from '../../lib/liveperson/outcome';
import type { VisitState } from '../../lib/liveperson/types';
import { JsonLineLog } from '../../lib/log';
import { Poller } from '../../lib/poller/poller';
import { defaultPollPolicy } from '../../lib/poller/policy';
import { KeyedHasher } from '../../lib/privacy/hash';
import { createPrivacyPolicy, keepEverythingPolicy, type PrivacyPolicy } from '../../lib/privacy/policy';
import { MemoryCaptureStore } from '../support/memory-capture-store';
import {
  DISTINCT,
  distinctiveExample,
  example,
  leaksIn,
  personalValuesOf,
} from '../support/personal-fixtures';
import { MemoryQueue } from '../support/memory-queue';
import { agesUpToSixHours, simulatedAnswers } from '../support/simulated-answers';

const ACCOUNT = '12345678';
const VISITOR = 'cyNGViYjc4MmU2MzEzZThm';
const SID = 'qCsUrTldTh0UEWLjLCGqkQ';
const TS = 1475675316326;
const KEY_A = { bytes: Buffer.alloc(32, 0xa1), version: 1 };
const KEY_B = { bytes: Buffer.alloc(32, 0xb2), version: 2 };

const plansOf = (privacy: PrivacyPolicy): FlattenPlans => newFlattenPlans({ privacy });
const DEFAULTS_WITH_KEY = (): FlattenPlans => plansOf(createPrivacyPolicy({ hashKey: KEY_A }));
const DEFAULTS_WITHOUT_KEY = (): FlattenPlans => plansOf(createPrivacyPolicy());

describe('under the default policy, no personal value reaches a row', () => {
  const input = (state: VisitState) => ({ accountId: ACCOUNT, visitorId: VISITOR, sid: SID, state });

  it.each([
    ['with a hash key', DEFAULTS_WITH_KEY],
    ['without a key (hashed categories dropped)', DEFAULTS_WITHOUT_KEY],
    ['through the shared plans (the poller’s today)', () => undefined],
  ])('on the spec example with distinctive values, %s', (_, plans) => {
    const state = distinctiveExample();
    expect(personalValuesOf(state).sort()).toEqual(Object.values(DISTINCT).sort());
    const { rows } = flattenVisitState(input(state), plans());
    expect(rows.length).toBe(17);
    expect(leaksIn(rows, Object.values(DISTINCT))).toEqual([]);
    // The scan is not vacuous: the same rows kept as they came show every value.
    const kept = flattenVisitState(input(state), plansOf(keepEverythingPolicy())).rows;
    const shown = new Set(leaksIn(kept, Object.values(DISTINCT)).map((l) => l.split(' shows ')[1]));
    expect([...shown].sort()).toEqual(Object.values(DISTINCT).sort());
  });

  it('on the spec example as published (John Doe, myname@example.com, 195.62.30.20, ...)', () => {
    const values = personalValuesOf(example());
    expect(values).toEqual(
      expect.arrayContaining([
        'John',
        'Doe',
        'myname@example.com',
        '+1 212-788-8877',
        '138766AC',
        '195.62.30.20',
      ]),
    );
    for (const plans of [DEFAULTS_WITH_KEY(), DEFAULTS_WITHOUT_KEY()]) {
      expect(leaksIn(flattenVisitState(input(example()), plans).rows, values)).toEqual([]);
    }
  });

  it('on 120 simulator sessions of 10 minutes to 6 hours (names, e-mails, phones, customer ids, IPs)', () => {
    const withKey = DEFAULTS_WITH_KEY();
    const withoutKey = DEFAULTS_WITHOUT_KEY();
    let checked = 0;
    for (const seed of [21, 22]) {
      for (const answer of simulatedAnswers(seed, 60, agesUpToSixHours(60), ACCOUNT)) {
        const values = personalValuesOf(answer.state);
        checked += values.length;
        for (const plans of [withKey, withoutKey]) {
          const { rows } = flattenVisitState({ accountId: ACCOUNT, ...answer }, plans);
          expect(leaksIn(rows, values)).toEqual([]);
        }
      }
    }
    expect(checked).toBeGreaterThan(400);
  });
});

describe('each treatment lands where the value lands', () => {
  const hasher = new KeyedHasher(KEY_A);
  const rowsOf = (plans: FlattenPlans, state = distinctiveExample()): CaptureRow[] =>
    flattenVisitState({ accountId: ACCOUNT, visitorId: VISITOR, sid: SID, state }, plans).rows;
  const rows = rowsOf(DEFAULTS_WITH_KEY());
  const session = rows.find((r) => r.rowType === 'session') as CaptureRow;
  const event = (type: string) =>
    rows.find((r) => r.rowType === 'event' && r.eventType === type) as CaptureRow;
  const contactItem = rows.find((r) => r.rowType === 'eventItem' && r.childPath === 'contacts') as CaptureRow;

  it('hashes names, contacts and customer ids, the same value to the same hash on every row', () => {
    expect(session.personalInfo_name).toBe(hasher.hash(DISTINCT.name));
    expect(event('personalInfo').name).toBe(session.personalInfo_name);
    expect(event('personalInfo').surname).toBe(hasher.hash(DISTINCT.surname));
    expect(session.customerInfo_customerId).toBe(hasher.hash(DISTINCT.customerId));
    expect(event('customerInfo').userName).toBe(hasher.hash(DISTINCT.userName));
    // eventItem rows (rule 7): the contacts of the personalInfo event.
    expect(contactItem.email).toBe(hasher.hash(DISTINCT.email));
    expect(contactItem.phone).toBe(hasher.hash(DISTINCT.phone));
    // A JSON column (session rows keep arrays of objects as JSON): hashed inside, keys kept.
    expect(JSON.parse(String(session.personalInfo_contacts))).toEqual([
      { email: hasher.hash(DISTINCT.email), phone: hasher.hash(DISTINCT.phone) },
    ]);
    // Nulls stay null: nothing to protect.
    expect(session.customerInfo_socialId).toBeNull();
  });

  it('truncates IP addresses, our ip column included', () => {
    expect(session.ipv4).toBe('203.0.113.0/24');
    expect(session.ip).toBe('203.0.113.0/24');
  });

  it('drops the day and month of birth, keeps the year, age, gender, city and URLs', () => {
    expect(Object.keys(session).filter((c) => /OfBirth/.test(c))).toEqual([
      'personalInfo_customerAge_customerYearOfBirth',
    ]);
    expect(Object.keys(event('personalInfo')).filter((c) => /OfBirth/.test(c))).toEqual([
      'customerAge_customerYearOfBirth',
    ]);
    expect(session.personalInfo_customerAge_customerAgeInYears).toBe(34);
    expect(session.personalInfo_gender).toBe('MALE');
    expect(session.geo_city).toBe('Tel Aviv');
    expect(rows.find((r) => r.rowType === 'page')?.pageBasic_url).toBe('https://testfile.com');
  });

  it('removes a dropped network column from the row, our ip included', () => {
    const dropped = rowsOf(plansOf(createPrivacyPolicy({ modes: { network: 'drop' }, hashKey: KEY_A })));
    const s = dropped.find((r) => r.rowType === 'session') as CaptureRow;
    expect(Object.keys(s).filter((c) => /^(ip|ipv4|lpv4)$/.test(c))).toEqual([]);
    expect(Object.keys(session).filter((c) => /^(ip|ipv4|lpv4)$/.test(c))).toEqual(['ip', 'ipv4']);
    expect(s.sk).toBe(session.sk);
    expect(s.gsi3pk).toBe(session.gsi3pk);
  });

  it('hashes under the configured key version, and with another key gives other hashes', () => {
    const b = rowsOf(plansOf(createPrivacyPolicy({ hashKey: KEY_B })));
    const sessionB = b.find((r) => r.rowType === 'session') as CaptureRow;
    expect(sessionB.personalInfo_name).toMatch(/^h2:[A-Za-z0-9_-]{43}$/);
    expect(sessionB.personalInfo_name).not.toBe(session.personalInfo_name);
  });

  it('changes only classified columns: the same rows, keys and other values as keeping everything', () => {
    const facts: ColumnFact[] = [];
    const policyPlans = newFlattenPlans({
      privacy: createPrivacyPolicy({ hashKey: KEY_A }),
      onColumn: (f) => facts.push(f),
    });
    const classified = new Set<string>();
    const answers = [
      { visitorId: VISITOR, sid: SID, state: distinctiveExample() },
      ...simulatedAnswers(31, 20, (i) => (i + 1) * 15 * MINUTE_MS, ACCOUNT),
    ];
    const keepPlans = plansOf(keepEverythingPolicy());
    const pairs = answers.map((a) => ({
      treated: flattenVisitState({ accountId: ACCOUNT, ...a }, policyPlans).rows,
      kept: flattenVisitState({ accountId: ACCOUNT, ...a }, keepPlans).rows,
    }));
    const key = (rowType: unknown, eventType: unknown, childPath: unknown, name: string): string =>
      [rowType, eventType ?? '', childPath ?? '', name].join('|');
    // The plans were made while flattening: the listener has heard every column by now.
    for (const f of facts) {
      if (f.privacy !== undefined) classified.add(key(f.rowType, f.eventType, f.childPath, f.name));
    }
    let changed = 0;
    for (const { treated, kept } of pairs) {
      expect(treated.map((r) => r.sk)).toEqual(kept.map((r) => r.sk));
      treated.forEach((row, i) => {
        const original = kept[i] as CaptureRow;
        const eventType = row.rowType === 'event' || row.rowType === 'eventItem' ? row.eventType : undefined;
        const childPath = row.rowType === 'eventItem' ? row.childPath : undefined;
        for (const [name, value] of Object.entries(original)) {
          if (row[name] === value) continue;
          changed += 1;
          const isClassified = name === 'ip' || classified.has(key(row.rowType, eventType, childPath, name));
          expect({ name, isClassified }).toEqual({ name, isClassified: true });
        }
        for (const name of Object.keys(row)) expect(Object.hasOwn(original, name)).toBe(true);
      });
    }
    expect(changed).toBeGreaterThan(100);
  });
});

/**
 * Event identity (sort keys, payload hashes) hashes the raw body before the policy: a new key or a changed
 * mode never re-keys a live session's events into duplicates. The known answers are those of
 * test/unit/capture-id-maps.test.ts's "event identity across the schema bump".
 */
describe('event identity does not depend on the policy', () => {
  const POLICIES: [string, () => FlattenPlans][] = [
    ['keep everything', () => plansOf(keepEverythingPolicy())],
    ['defaults, key A', DEFAULTS_WITH_KEY],
    ['defaults, key B (version 2)', () => plansOf(createPrivacyPolicy({ hashKey: KEY_B }))],
    ['defaults, no key', DEFAULTS_WITHOUT_KEY],
    [
      'every category dropped',
      () =>
        plansOf(
          createPrivacyPolicy({
            modes: {
              name: 'drop',
              contact: 'drop',
              'customer-id': 'drop',
              network: 'drop',
              personal: 'drop',
              location: 'drop',
              'free-text': 'drop',
            },
          }),
        ),
    ],
    [
      'every category hashed, key B',
      () =>
        plansOf(
          createPrivacyPolicy({
            modes: {
              network: 'hash',
              'birth-day': 'hash',
              personal: 'hash',
              'precise-location': 'hash',
              location: 'hash',
              'free-text': 'hash',
            },
            hashKey: KEY_B,
          }),
        ),
    ],
  ];

  it.each(POLICIES)('gives the spec example events their known keys (%s)', (_, plans) => {
    const rows = flattenVisitState(
      { accountId: ACCOUNT, visitorId: 'spec-visitor', sid: SID, state: example() },
      plans(),
    ).rows;
    const events = rows.filter((r) => r.rowType === 'event');
    expect(events.map((r) => r.sk)).toEqual([
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
    expect(events.map((r) => r.eventKey)).toEqual(events.map((r) => String(r.sk).split('#')[3]));
  });

  it('gives the events and items of 180 simulated sessions their known keys under two keys and two modes', () => {
    const digests = POLICIES.filter(([name]) => /key [AB]|hashed/.test(name)).map(([, make]) => {
      const plans = make();
      const digest = createHash('sha256');
      let keys = 0;
      for (const seed of [1, 2, 3]) {
        for (const answer of simulatedAnswers(seed, 60, (i) => (i + 1) * 5 * MINUTE_MS, ACCOUNT)) {
          for (const row of flattenVisitState({ accountId: ACCOUNT, ...answer }, plans).rows) {
            if (row.rowType !== 'event' && row.rowType !== 'eventItem') continue;
            digest.update(`${String(row.sk)}|${String(row.eventKey ?? '')}\n`);
            keys += 1;
          }
        }
      }
      return { keys, digest: digest.digest('hex') };
    });
    expect(digests).toHaveLength(3);
    for (const d of digests) {
      expect(d).toEqual({
        keys: 6641,
        digest: '3c48bae016357d0d7bc2f521ef97e5f0a8d198569b1e33d24974a46ecf4f5f29',
      });
    }
  });
});

describe('through the poller', () => {
  it.each([
    ['its default plans (defaults, no key: hashed categories dropped)', undefined, false],
    ['the plans it is given (defaults with a key: hashed categories hashed)', DEFAULTS_WITH_KEY, true],
  ] as const)(
    'stores no personal value in a row, the queue item or a log line, with %s',
    async (_, plansOf, hashed) => {
      const state = distinctiveExample();
      const clock = new ManualClock(TS + HOUR_MS);
      const queue = new MemoryQueue();
      const store = new MemoryCaptureStore();
      const lines: string[] = [];
      let polls = 0;
      const source: VisitStateSource = {
        async fetchState(): Promise<FetchOutcome> {
          polls += 1;
          // First a malformed answer (the queue keeps something of it), then the answer, then the end.
          if (polls === 1) {
            const body = JSON.stringify(state);
            return {
              kind: 'malformed',
              httpStatus: 200,
              problem: 'body is not JSON',
              bodySnippet: body.slice(0, 2048),
              bodyBytes: body.length,
            };
          }
          if (polls === 2) return { kind: 'ok', httpStatus: 200, state, bodyBytes: 0 };
          return { kind: 'expired_12', httpStatus: 404 };
        },
        async refreshCredentials(): Promise<void> {},
      };
      const poller = new Poller(
        {
          queue,
          store,
          source,
          clock,
          log: new JsonLineLog((l) => lines.push(l), 'debug'),
          random: () => 0.5,
          ...(plansOf === undefined ? {} : { flattenPlans: plansOf() }),
        },
        { accountId: ACCOUNT, concurrency: 1, policy: defaultPollPolicy(600), leaseMs: 300_000 },
      );
      await queue.enqueue(ACCOUNT, [{ visitorId: VISITOR, sid: SID, startTimeMs: TS }]);
      const seenBadBodies: (string | undefined)[] = [];
      for (let tick = 0; tick < 3; tick++) {
        await poller.tick({ budgetMs: 600_000, force: true, safetyMarginMs: 0 });
        seenBadBodies.push(queue.items[0]?.lastBadBody);
        clock.advanceMs(MINUTE_MS);
      }
      expect(polls).toBe(3);
      expect(queue.items[0]?.state).toBe('CAPTURED');
      expect(seenBadBodies[0]).toContain('"structure":"{\\"id\\":s,\\"appSessions\\":[{');
      const values = Object.values(DISTINCT);
      expect(store.rows.length).toBe(18);
      expect(leaksIn(store.rows, values)).toEqual([]);
      expect(leaksIn(queue.items as unknown as Record<string, Scalar>[], values)).toEqual([]);
      expect(
        leaksIn(
          seenBadBodies.map((b) => ({ lastBadBody: b ?? null })),
          values,
        ),
      ).toEqual([]);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) for (const value of values) expect(line).not.toContain(value);
      // The poller flattened under the plans it was given: with a key, the hashed categories are there, hashed.
      const hashes = store.rows.flatMap((row) => Object.values(row)).filter((v) => /^h1:/.test(String(v)));
      expect(hashes.length > 0).toBe(hashed);
    },
  );
});
