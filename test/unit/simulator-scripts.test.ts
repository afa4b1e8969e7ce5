import { flattenVisitState } from '../../lib/capture/flatten';
import { rowByteSize } from '../../lib/capture/rows';
import { HOUR_MS, ManualClock } from '../../lib/clock';
import type { AppSession, JsonObject, VisitEvent, VisitState } from '../../lib/liveperson/types';
import {
  checkScript,
  emptyAnswer,
  flatAnswer,
  noAppSessionsAnswer,
  OVERSIZED_EVENT_NUMERIC_FIELDS,
  OVERSIZED_EVENT_TYPE,
  oversizedAnswer,
  oversizedEvent,
  parseScript,
  ScriptCursor,
  type ScriptStep,
} from '../../lib/simulator/scripts';
import { SimulatedWorld } from '../../lib/simulator/world';

const T0 = Date.UTC(2026, 0, 15, 9, 0, 0);
const ACCOUNT = '12345678';

function kinds(steps: readonly ScriptStep[], requests: number): string[] {
  const cursor = new ScriptCursor(checkScript(steps));
  return Array.from({ length: requests }, () => cursor.take().kind);
}

function liveState(): { state: VisitState; visitorId: string; sid: string } {
  const clock = new ManualClock(T0);
  const world = new SimulatedWorld({ seed: 5, accountId: ACCOUNT, clock, earlyEndProbability: 0 });
  const s = world.startSession({ eventRatePerHour: 30 });
  return { state: world.stateAt(s.visitorId, s.sid, T0 + HOUR_MS), visitorId: s.visitorId, sid: s.sid };
}

describe('simulator scripts: steps', () => {
  it.each<[string, ScriptStep[], number, string[]]>([
    ['one step answers forever', ['empty'], 3, ['empty', 'empty', 'empty']],
    [
      'the last step repeats',
      ['live', 'invalid_visitor_37'],
      4,
      ['live', 'invalid_visitor_37', 'invalid_visitor_37', 'invalid_visitor_37'],
    ],
    ['times counts requests', [{ kind: 'empty', times: 2 }, 'live'], 4, ['empty', 'empty', 'live', 'live']],
    [
      'times on the last step changes nothing',
      ['live', { kind: 'flat', times: 2 }],
      4,
      ['live', 'flat', 'flat', 'flat'],
    ],
  ])('%s', (_name, steps, requests, expected) => {
    expect(kinds(steps, requests)).toEqual(expected);
  });

  it('refuses unknown kinds, no steps, and bad options', () => {
    expect(() => checkScript([])).toThrow(/at least one step/);
    expect(() => checkScript(['emtpy' as ScriptStep])).toThrow(/unknown answer kind "emtpy"/);
    expect(() => checkScript([{ kind: 'empty', times: 0 }])).toThrow(/times/);
    expect(() => checkScript([{ kind: 'throttle', retryAfterSec: -1 }])).toThrow(/retryAfterSec/);
    expect(() => checkScript([{ kind: 'oversized', numericFields: 1.5 }])).toThrow(/numericFields/);
  });

  it('parses the text form of the process flag', () => {
    expect(parseScript('empty*3,live')).toEqual([{ kind: 'empty', times: 3 }, { kind: 'live' }]);
    expect(parseScript('throttle:3600,live')).toEqual([
      { kind: 'throttle', retryAfterSec: 3600 },
      { kind: 'live' },
    ]);
    expect(parseScript('oversized:100*2')).toEqual([{ kind: 'oversized', numericFields: 100, times: 2 }]);
    expect(() => parseScript('empty:3')).toThrow(/takes no value/);
    expect(() => parseScript('nope')).toThrow(/unknown answer kind/);
    expect(() => parseScript('empty;live')).toThrow(/kind\[:value\]\[\*times\]/);
  });
});

describe('simulator scripts: answers', () => {
  it('empty answers hold no app session', () => {
    expect(JSON.stringify(emptyAnswer())).toBe('{"appSessions":[]}');
    expect(noAppSessionsAnswer('abc')).toEqual({ id: 'abc' });
  });

  it('the flat shape is the app session at the top level, id first, and nests back to the same state', () => {
    const { state, sid } = liveState();
    const flat = flatAnswer(state);
    expect(Object.keys(flat)[0]).toBe('id');
    expect(flat.id).toBe(sid);
    expect(flat).not.toHaveProperty('appSessions');
    const appSession = state.appSessions[0] as AppSession;
    expect(Object.keys(flat).sort()).toEqual(Object.keys(appSession).sort());
    expect(flat).toEqual(appSession);
    // What the tolerant reader rebuilds from it: { id, appSessions: [{ id, ...fields }] }.
    expect({ id: flat.id, appSessions: [flat] }).toEqual(state);
  });

  it('an oversized event holds 30,000 numeric fields and is the same event every time', () => {
    const event = oversizedEvent(T0, OVERSIZED_EVENT_NUMERIC_FIELDS, 'p1');
    const body = event[OVERSIZED_EVENT_TYPE] as JsonObject;
    expect(body.serverTimeStamp).toBe(T0);
    const readings = (body[OVERSIZED_EVENT_TYPE] as JsonObject).readings as JsonObject;
    const values = Object.values(readings);
    expect(values).toHaveLength(30_000);
    expect(values.every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true);
    expect(JSON.stringify(oversizedEvent(T0, OVERSIZED_EVENT_NUMERIC_FIELDS, 'p1'))).toBe(
      JSON.stringify(event),
    );
  });

  it('an oversized answer adds the event first, copies what it changes, and its row is far above 400 KB', () => {
    const { state, visitorId, sid } = liveState();
    const before = JSON.stringify(state);
    const big = oversizedAnswer(state, OVERSIZED_EVENT_NUMERIC_FIELDS);
    expect(JSON.stringify(state)).toBe(before);
    const events = (big.appSessions[0] as AppSession).events as VisitEvent[];
    const original = (state.appSessions[0] as AppSession).events as VisitEvent[];
    expect(events).toHaveLength(original.length + 1);
    expect(Object.keys(events[0] as VisitEvent)).toEqual([OVERSIZED_EVENT_TYPE]);
    expect(events.slice(1)).toEqual(original);

    const flat = flattenVisitState({ accountId: ACCOUNT, visitorId, sid, state: big });
    const eventRows = flat.rows.filter((r) => r.rowType === 'event');
    const largest = Math.max(...eventRows.map((r) => rowByteSize(r)));
    expect(largest).toBeGreaterThan(400 * 1024);
    // No long string to shorten: the size is in its many numeric columns.
    const bigRow = eventRows.find((r) => rowByteSize(r) === largest) as Record<string, unknown>;
    const numericColumns = Object.values(bigRow).filter((v) => typeof v === 'number').length;
    expect(numericColumns).toBeGreaterThanOrEqual(30_000);
  });
});
