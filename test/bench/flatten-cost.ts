/**
 * Figure 3: flatten time per answer against JSON.parse of the same body (the floor: parsing is what every
 * answer costs anyway), for a full six-hour simulator session and for the spec's example answer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { flattenVisitState } from '../../lib/capture/flatten';
import { HOUR_MS, ManualClock } from '../../lib/clock';
import type { VisitState } from '../../lib/liveperson/types';
import { SimulatedWorld } from '../../lib/simulator/world';
import { rowDigest } from '../../lib/poller/digests';
import { ROOT } from './processes';
import { fixed, median, type Figure } from './report';

const ACCOUNT = '12345678';

interface Body {
  name: string;
  text: string;
  visitorId: string;
  sid: string;
}

function sixHourSession(): Body {
  const t0Ms = Date.UTC(2026, 0, 5, 8);
  const clock = new ManualClock(t0Ms);
  const world = new SimulatedWorld({ seed: 3, accountId: ACCOUNT, clock, earlyEndProbability: 0 });
  const session = world.startSession({ durationMs: 6 * HOUR_MS });
  const state = world.stateAt(session.visitorId, session.sid, t0Ms + 6 * HOUR_MS - 1);
  return {
    name: 'full 6-hour simulator session',
    text: JSON.stringify(state),
    visitorId: session.visitorId,
    sid: session.sid,
  };
}

function specExample(): Body {
  const text = fs.readFileSync(path.join(ROOT, 'test/fixtures/example-state.json'), 'utf8');
  const state = JSON.parse(text) as VisitState;
  return { name: 'spec example answer', text, visitorId: 'spec-example-visitor', sid: String(state.id) };
}

/**
 * A reference for the target, not a flattener: copies every leaf of the answer into one null-prototype row per
 * session, page and event, under its key path joined by `_` (no naming rule, no keys, no hash, no child rows).
 * Whatever flatten does beyond this is what the naming rule and event identity cost.
 */
function bareWalk(state: VisitState): number {
  const copyLeaves = (obj: Record<string, unknown>, prefix: string, row: Record<string, unknown>): void => {
    for (const key of Object.keys(obj)) {
      const value = obj[key];
      const name = prefix === '' ? key : `${prefix}_${key}`;
      if (value !== null && typeof value === 'object' && !Array.isArray(value))
        copyLeaves(value as Record<string, unknown>, name, row);
      else row[name] = Array.isArray(value) ? JSON.stringify(value) : value;
    }
  };
  let rows = 0;
  for (const session of state.appSessions as unknown as Record<string, unknown>[]) {
    for (const element of [session, ...((session.pages ?? []) as []), ...((session.events ?? []) as [])]) {
      const row = Object.create(null) as Record<string, unknown>;
      copyLeaves(element, '', row);
      rows += 1;
    }
  }
  return rows;
}

interface Measured {
  parseUs: number;
  flattenUs: number;
  digestUs: number;
  bareWalkUs: number;
  rows: number;
}

/**
 * Median per-call time of parse, flatten, the poller's change digests of the rows and the bare walk, over
 * `rounds` interleaved rounds of `perRound` calls each.
 */
function measure(body: Body, rounds: number): Measured {
  const parsed = JSON.parse(body.text) as VisitState;
  const flatten = (): number =>
    flattenVisitState({ accountId: ACCOUNT, visitorId: body.visitorId, sid: body.sid, state: parsed }).rows
      .length;
  const rows = flatten();
  // About 50 ms of flattening per round, whatever the body's size.
  const startMs = performance.now();
  flatten();
  const perRound = Math.max(5, Math.ceil(50 / Math.max(0.01, performance.now() - startMs)));
  // Warm-up, about half a second: both paths optimised by V8 before anything is timed, as in a container past
  // its first answers (the flattener's row constructors, one per shape, each need their own warm-up).
  for (let i = 0; i < 10 * perRound; i++) {
    JSON.parse(body.text);
    flatten();
  }
  const rowsOnce = flattenVisitState({
    accountId: ACCOUNT,
    visitorId: body.visitorId,
    sid: body.sid,
    state: parsed,
  }).rows;
  const parseUs: number[] = [];
  const flattenUs: number[] = [];
  const digestUs: number[] = [];
  const bareWalkUs: number[] = [];
  let sink = 0;
  const time = (into: number[], work: () => number): void => {
    const t = performance.now();
    for (let i = 0; i < perRound; i++) sink += work();
    into.push(((performance.now() - t) * 1000) / perRound);
  };
  for (let round = 0; round < rounds; round++) {
    time(parseUs, () => (JSON.parse(body.text) as VisitState).appSessions.length);
    time(flattenUs, flatten);
    time(digestUs, () => rowsOnce.map(rowDigest).length);
    time(bareWalkUs, () => bareWalk(parsed));
  }
  if (sink < 0) throw new Error('unreachable');
  return {
    parseUs: median(parseUs),
    flattenUs: median(flattenUs),
    digestUs: median(digestUs),
    bareWalkUs: median(bareWalkUs),
    rows,
  };
}

export async function benchFlattenCost(options: { rounds: number }): Promise<Figure[]> {
  return [sixHourSession(), specExample()].map((body) => {
    const m = measure(body, options.rounds);
    return {
      id: '3',
      title: `flatten / JSON.parse, ${body.name}`,
      ratio: m.flattenUs / m.parseUs,
      against: `× JSON.parse of the same body`,
      target: { op: '<=', value: 2 },
      raw:
        `flatten ${fixed(m.flattenUs, 0)} µs, JSON.parse ${fixed(m.parseUs, 0)} µs per answer ` +
        `(median of ${options.rounds} rounds); ${fixed(body.text.length / 1024, 1)} KiB body → ${m.rows} rows ` +
        `(${fixed(m.flattenUs / Math.max(1, m.rows), 1)} µs/row); the poller's change digests of those rows ` +
        `${fixed(m.digestUs / m.parseUs, 2)}× more; a bare walk that only copies leaves into row objects ` +
        `${fixed(m.bareWalkUs / m.parseUs, 2)}×`,
    };
  });
}
