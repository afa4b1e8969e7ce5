import { HOUR_MS, ManualClock, MINUTE_MS, SESSION_MAX_AGE_MS } from '../../lib/clock';
import { idProblem } from '../../lib/ids';
import type { AppSession, EventBody, JsonObject, VisitEvent, VisitState } from '../../lib/liveperson/types';
import { Random } from '../../lib/simulator/random';
import { EXAMPLE_EVENT_TYPES, SimulatedWorld, type SessionInfo } from '../../lib/simulator/world';

const T0 = Date.UTC(2026, 0, 15, 9, 0, 0);
const ACCOUNT = '12345678';

/** The app session keys of the spec's JSON example, in its order (the example says ipv4; the table lpv4). */
const EXAMPLE_APP_SESSION_KEYS = [
  'engagements',
  'personalInfo',
  'revActiveVPs',
  'serviceActivity',
  'revAllVPs',
  'customerInfo',
  'mobileDeviceInfo',
  'revActiveVBs',
  'cart',
  'geo',
  'viewedProduct',
  'ipv4',
  'startTime',
  'id',
  'revAllOSLs',
  'visitorError',
  'marketingCampaignInfo',
  'searchEngine',
  'purchases',
  'deviceOS',
  'userAgent',
  'deviceFamily',
  'leads',
  'revAllVBs',
  'siteControlGroup',
  'externalReferrer',
  'pages',
  'events',
];

/** Keys of each event body in the spec's example events[] (notes.md adds an optional `currency`). */
const EXAMPLE_EVENT_BODY_KEYS: Record<string, string[]> = {
  marketingCampaignInfo: ['serverTimeStamp', 'contexts', 'marketingCampaignInfo'],
  lead: ['serverTimeStamp', 'contexts', 'lead'],
  cartStatus: ['serverTimeStamp', 'total', 'contexts', 'numItems', 'products'],
  purchase: ['serverTimeStamp', 'total', 'orderId', 'contexts', 'cart'],
  viewedProduct: ['serverTimeStamp', 'contexts', 'products'],
  customerInfo: ['serverTimeStamp', 'customerInfo', 'contexts'],
  personalInfo: ['serverTimeStamp', 'personalInfo', 'contexts'],
  serviceActivity: ['serverTimeStamp', 'serviceActivity', 'contexts'],
  visitorError: ['serverTimeStamp', 'contexts', 'visitorError'],
};

function makeWorld(seed = 7, extra: Partial<ConstructorParameters<typeof SimulatedWorld>[0]> = {}) {
  const clock = new ManualClock(T0);
  return { clock, world: new SimulatedWorld({ seed, accountId: ACCOUNT, clock, ...extra }) };
}

function app(state: VisitState): AppSession {
  expect(state.appSessions).toHaveLength(1);
  return state.appSessions[0] as AppSession;
}

function eventsOf(state: VisitState): VisitEvent[] {
  return app(state).events as unknown as VisitEvent[];
}

function typeOf(event: VisitEvent): string {
  const keys = Object.keys(event);
  expect(keys).toHaveLength(1);
  return keys[0] as string;
}

function bodyOf(event: VisitEvent): EventBody {
  return event[typeOf(event)] as EventBody;
}

function lastState(world: SimulatedWorld, s: SessionInfo): VisitState {
  return world.stateAt(s.visitorId, s.sid, s.endTimeMs - 1);
}

/** Many full-length sessions: enough for every event type, same-millisecond pairs and duplicates to occur. */
function fullSessions(count: number, seed = 11): { world: SimulatedWorld; sessions: SessionInfo[] } {
  const { world } = makeWorld(seed, { earlyEndProbability: 0 });
  const sessions: SessionInfo[] = [];
  for (let i = 0; i < count; i++) sessions.push(world.startSession());
  return { world, sessions };
}

describe('Random', () => {
  it('is reproducible from its seed and stays in range', () => {
    const a = new Random(99);
    const b = new Random(99);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.next()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(new Random(100).next()).not.toBe(new Random(99).next());
    const r = new Random(1);
    for (let i = 0; i < 500; i++) {
      const n = r.int(3, 5);
      expect(n >= 3 && n <= 5 && Number.isInteger(n)).toBe(true);
    }
    const mean = Array.from({ length: 20000 }, () => r.exponential(10)).reduce((s, x) => s + x, 0) / 20000;
    expect(mean).toBeGreaterThan(9);
    expect(mean).toBeLessThan(11);
    expect(() => r.pick([])).toThrow(RangeError);
  });
});

describe('SimulatedWorld', () => {
  it('gives identical sessions and states for the same seed and calls', () => {
    const run = (seed: number) => {
      const { world, clock } = makeWorld(seed);
      const sessions = [world.startSession(), world.startSession()];
      clock.advanceMs(10 * MINUTE_MS);
      sessions.push(world.startSession({ visitorId: sessions[0]?.visitorId }));
      const states = sessions.map((s) =>
        [0, 30 * MINUTE_MS, 2 * HOUR_MS].map((dt) =>
          world.lookup(ACCOUNT, s.visitorId, s.sid, Math.min(s.startTimeMs + dt, s.endTimeMs - 1)),
        ),
      );
      return { sessions, states, truth: sessions.map((s) => world.groundTruth(s.sid)) };
    };
    const a = run(5);
    expect(run(5)).toEqual(a);
    expect(run(6).sessions.map((s) => s.sid)).not.toEqual(a.sessions.map((s) => s.sid));
  });

  it('answers with exactly the example’s top-level keys, in its order', () => {
    const { world, sessions } = fullSessions(30);
    const ipKeys = new Set<string>();
    for (const s of sessions) {
      for (const at of [s.startTimeMs, s.startTimeMs + HOUR_MS, s.endTimeMs - 1]) {
        const state = world.stateAt(s.visitorId, s.sid, at);
        expect(Object.keys(state)).toEqual(['id', 'appSessions']);
        expect(state.id).toBe(s.sid);
        const session = app(state);
        const ipKey = 'lpv4' in session ? 'lpv4' : 'ipv4';
        ipKeys.add(ipKey);
        expect(Object.keys(session)).toEqual(EXAMPLE_APP_SESSION_KEYS.map((k) => (k === 'ipv4' ? ipKey : k)));
        expect(session.id).toBe(s.sid);
        expect(session.startTime).toBe(s.startTimeMs);
        expect(JSON.parse(JSON.stringify(state))).toEqual(state);
      }
    }
    // Both spellings of the IP field occur.
    expect([...ipKeys].sort()).toEqual(['ipv4', 'lpv4']);
  });

  it('only accumulates: a later state extends an earlier one', () => {
    const { world, sessions } = fullSessions(8, 3);
    for (const s of sessions) {
      let previous: AppSession | undefined;
      for (let at = s.startTimeMs; at < s.endTimeMs; at += 17 * MINUTE_MS) {
        const current = app(world.stateAt(s.visitorId, s.sid, at));
        if (previous !== undefined) {
          for (const key of [
            'events',
            'purchases',
            'leads',
            'serviceActivity',
            'visitorError',
            'viewedProduct',
          ]) {
            const before = previous[key] as unknown[];
            const after = current[key] as unknown[];
            expect(after.length).toBeGreaterThanOrEqual(before.length);
            expect(after.slice(0, before.length)).toEqual(before);
          }
          const ids = (v: AppSession, key: string) => (v[key] as JsonObject[]).map((x) => x.id);
          for (const key of ['pages', 'engagements']) {
            expect(ids(current, key).slice(0, ids(previous, key).length)).toEqual(ids(previous, key));
          }
        }
        previous = current;
      }
      expect(previous?.events).toEqual(
        eventsOf(lastState(world, s)).slice(0, (previous?.events as []).length),
      );
    }
  });

  it('produces every event type of the example, shaped like the example', () => {
    const { world, sessions } = fullSessions(6, 21);
    const seen = new Set<string>();
    for (const s of sessions) {
      const session = app(lastState(world, s));
      const pageIds = new Set((session.pages as JsonObject[]).map((p) => p.id));
      for (const event of eventsOf(lastState(world, s))) {
        const type = typeOf(event);
        const body = bodyOf(event);
        seen.add(type);
        expect(typeof body.serverTimeStamp).toBe('number');
        expect(body.serverTimeStamp).toBeGreaterThanOrEqual(s.startTimeMs);
        expect(body.serverTimeStamp).toBeLessThan(s.endTimeMs);
        const contexts = body.contexts as { page: { id: string } };
        expect(pageIds.has(contexts.page.id)).toBe(true);
        const expectedKeys = EXAMPLE_EVENT_BODY_KEYS[type];
        if (expectedKeys !== undefined) {
          expect(Object.keys(body).filter((k) => k !== 'currency')).toEqual(expectedKeys);
        }
        if (type === 'purchase') {
          expect(body.cart).toMatchObject({ serverTimeStamp: 0, total: null, contexts: {}, numItems: null });
          expect(Array.isArray((body.cart as JsonObject).products)).toBe(true);
        }
        if (type === 'lead') {
          expect(Object.keys(body.lead as JsonObject)).toEqual(['topic', 'value', 'ticketId', 'leadId']);
        }
        if (type === 'personalInfo') {
          expect(Array.isArray((body.personalInfo as JsonObject).contacts)).toBe(true);
        }
        if (type === 'cartStatus') expect(Array.isArray(body.products)).toBe(true);
      }
    }
    for (const type of EXAMPLE_EVENT_TYPES) expect(seen).toContain(type);
  });

  it('sometimes produces event types the example does not show', () => {
    const { world, sessions } = fullSessions(40, 4);
    const types = new Set(sessions.flatMap((s) => world.groundTruth(s.sid).events.map((e) => e.eventType)));
    const unknown = [...types].filter((t) => !(EXAMPLE_EVENT_TYPES as readonly string[]).includes(t));
    expect(unknown.length).toBeGreaterThan(0);
  });

  it('emits two different events, and the same event twice, in one millisecond', () => {
    const { world, sessions } = fullSessions(40, 8);
    let different = 0;
    let identical = 0;
    for (const s of sessions) {
      const events = world.groundTruth(s.sid).events;
      for (let i = 1; i < events.length; i++) {
        const a = events[i - 1];
        const b = events[i];
        if (a === undefined || b === undefined || a.serverTimeStamp !== b.serverTimeStamp) continue;
        if (a.eventType !== b.eventType) different++;
        else if (JSON.stringify(a.event) === JSON.stringify(b.event)) identical++;
      }
    }
    expect(different).toBeGreaterThan(0);
    expect(identical).toBeGreaterThan(0);
  });

  it('derives the aggregated fields from the events', () => {
    const { world, sessions } = fullSessions(20, 13);
    let repeatedOrders = 0;
    for (const s of sessions) {
      const session = app(lastState(world, s));
      const events = session.events as unknown as VisitEvent[];
      const ofType = (t: string) => events.filter((e) => typeOf(e) === t).map(bodyOf);
      const purchases = session.purchases as JsonObject[];
      expect(purchases.map((p) => p.purchaseSeqId)).toEqual(purchases.map((_, i) => String(i + 1)));
      expect(purchases.map((p) => p.orderId)).toEqual(ofType('purchase').map((b) => b.orderId));
      repeatedOrders += purchases.filter((p) => p.repeatedOrderId === true).length;
      const leads = session.leads as JsonObject[];
      expect(leads.map((l) => l.leadSeqId)).toEqual(leads.map((_, i) => String(i + 1)));
      expect(leads.map((l) => l.leadId)).toEqual(ofType('lead').map((b) => (b.lead as JsonObject).leadId));
      expect((session.serviceActivity as JsonObject[]).length).toBe(ofType('serviceActivity').length);
      expect((session.visitorError as JsonObject[]).length).toBe(ofType('visitorError').length);
      const carts = ofType('cartStatus');
      const lastCart = carts[carts.length - 1];
      if (lastCart === undefined) expect(session.cart).toBeNull();
      else expect((session.cart as JsonObject).cartStatus).toMatchObject({ total: lastCart.total });
      const infos = ofType('customerInfo');
      const lastInfo = infos[infos.length - 1];
      expect(session.customerInfo).toEqual(
        lastInfo === undefined ? null : { customerInfo: lastInfo.customerInfo },
      );
    }
    expect(repeatedOrders).toBeGreaterThan(0);
  });

  it('tells ok, unknown account, unknown visitor, foreign sid and expired apart', () => {
    const { world, clock } = makeWorld(2, { earlyEndProbability: 0 });
    const a = world.startSession();
    const b = world.startSession();
    const now = clock.nowMs();
    expect(world.lookup(ACCOUNT, a.visitorId, a.sid, now).kind).toBe('ok');
    expect(world.lookup('999', a.visitorId, a.sid, now).kind).toBe('unknown_account');
    expect(world.lookup(ACCOUNT, 'nobody', a.sid, now).kind).toBe('unknown_visitor');
    expect(world.lookup(ACCOUNT, a.visitorId, b.sid, now).kind).toBe('sid_not_visitors');
    expect(world.lookup(ACCOUNT, a.visitorId, 'no-such-sid', now).kind).toBe('sid_not_visitors');
    expect(world.lookup(ACCOUNT, a.visitorId, a.sid, now - 1).kind).toBe('unknown_visitor');
    expect(world.lookup(ACCOUNT, a.visitorId, a.sid, a.endTimeMs - 1).kind).toBe('ok');
    expect(world.lookup(ACCOUNT, a.visitorId, a.sid, a.endTimeMs).kind).toBe('expired');
    expect(a.endTimeMs - a.startTimeMs).toBe(SESSION_MAX_AGE_MS);
    expect(() => world.stateAt(a.visitorId, a.sid, a.endTimeMs)).toThrow(/expired/);

    // A second session of the same visitor; a future session does not exist yet.
    const later = world.startSession({ visitorId: a.visitorId, startTimeMs: now + HOUR_MS });
    expect(later.visitorId).toBe(a.visitorId);
    expect(world.lookup(ACCOUNT, a.visitorId, later.sid, now).kind).toBe('unknown_visitor');
    expect(world.lookup(ACCOUNT, a.visitorId, later.sid, now + HOUR_MS).kind).toBe('ok');
    const future = world.startSession({ startTimeMs: now + HOUR_MS });
    expect(world.lookup(ACCOUNT, future.visitorId, future.sid, now).kind).toBe('unknown_visitor');
  });

  it('ends sessions early sometimes and at the six-hour wall otherwise', () => {
    const { world } = makeWorld(17);
    const sessions = Array.from({ length: 60 }, () => world.startSession());
    const durations = sessions.map((s) => s.endTimeMs - s.startTimeMs);
    const early = durations.filter((d) => d < SESSION_MAX_AGE_MS).length;
    expect(early).toBeGreaterThan(5);
    expect(early).toBeLessThan(40);
    expect(durations.filter((d) => d === SESSION_MAX_AGE_MS).length).toBeGreaterThan(20);
    expect(Math.max(...durations)).toBe(SESSION_MAX_AGE_MS);
    for (const s of sessions) {
      expect(world.lookup(ACCOUNT, s.visitorId, s.sid, s.endTimeMs).kind).toBe('expired');
      expect(world.lookup(ACCOUNT, s.visitorId, s.sid, s.endTimeMs - 1).kind).toBe('ok');
    }
    // durationMs is honoured and capped at the wall.
    expect(world.startSession({ durationMs: 5 * MINUTE_MS })).toMatchObject({
      endTimeMs: T0 + 5 * MINUTE_MS,
    });
    const capped = world.startSession({ durationMs: 10 * HOUR_MS });
    expect(capped.endTimeMs - capped.startTimeMs).toBe(SESSION_MAX_AGE_MS);
  });

  it('ground truth equals the last state’s events; eventsProducedBetween slices it', () => {
    const { world } = makeWorld(23);
    for (let i = 0; i < 15; i++) {
      const s = world.startSession();
      const truth = world.groundTruth(s.sid);
      expect(truth).toMatchObject(s);
      expect(truth.events.map((e) => e.event)).toEqual(eventsOf(lastState(world, s)));
      for (const e of truth.events) {
        expect(e.eventType).toBe(typeOf(e.event));
        expect(e.serverTimeStamp).toBe(bodyOf(e.event).serverTimeStamp);
      }
      const mid = s.startTimeMs + Math.floor((s.endTimeMs - s.startTimeMs) / 2);
      const first = world.eventsProducedBetween(s.sid, s.startTimeMs, mid);
      const second = world.eventsProducedBetween(s.sid, mid + 1, s.endTimeMs);
      expect([...first, ...second]).toEqual(truth.events);
      expect(first.map((e) => e.event)).toEqual(eventsOf(world.stateAt(s.visitorId, s.sid, mid)));
    }
    expect(world.sessions()).toHaveLength(15);
  });

  it('makes ids that pass lib/ids.ts, some sids with a dot', () => {
    const { world } = makeWorld(31);
    const sessions = Array.from({ length: 50 }, () => world.startSession());
    for (const s of sessions) {
      expect(idProblem('visitorId', s.visitorId)).toBeUndefined();
      expect(idProblem('sid', s.sid)).toBeUndefined();
      expect(s.visitorId).toHaveLength(22);
      expect(s.sid.split('.')[0]).toHaveLength(22);
    }
    expect(sessions.some((s) => s.sid.includes('.'))).toBe(true);
    expect(new Set(sessions.map((s) => s.sid)).size).toBe(50);
    expect(() => world.startSession({ sid: sessions[0]?.sid })).toThrow(RangeError);
    expect(() => world.startSession({ sid: 'bad/sid' })).toThrow(/invalid sid/);
  });

  it('scales with the event rate, and freezes history', () => {
    const { world } = makeWorld(41, { earlyEndProbability: 0 });
    const none = world.startSession({ eventRatePerHour: 0 });
    expect(world.groundTruth(none.sid).events).toHaveLength(0);
    const big = world.startSession({ eventRatePerHour: 300 });
    expect(world.groundTruth(big.sid).events.length).toBeGreaterThan(1500);
    const counts = Array.from(
      { length: 20 },
      () => world.groundTruth(world.startSession().sid).events.length,
    );
    const mean = counts.reduce((s, n) => s + n, 0) / counts.length;
    expect(mean).toBeGreaterThan(20);
    expect(mean).toBeLessThan(60);

    const event = world.groundTruth(big.sid).events[0]?.event as VisitEvent;
    expect(() => {
      (bodyOf(event) as { serverTimeStamp: number }).serverTimeStamp = 1;
    }).toThrow(TypeError);
  });

  it('endSession cuts the session and its ground truth', () => {
    const { world, clock } = makeWorld(43, { earlyEndProbability: 0 });
    const s = world.startSession({ eventRatePerHour: 60 });
    clock.advanceMs(HOUR_MS);
    const ended = world.endSession(s.sid);
    expect(ended.endTimeMs).toBe(clock.nowMs());
    expect(world.lookup(ACCOUNT, s.visitorId, s.sid, clock.nowMs()).kind).toBe('expired');
    const truth = world.groundTruth(s.sid).events;
    expect(truth.every((e) => e.serverTimeStamp < clock.nowMs())).toBe(true);
    expect(truth.map((e) => e.event)).toEqual(eventsOf(world.stateAt(s.visitorId, s.sid, clock.nowMs() - 1)));
  });
});
