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

/** Median per-call time of parse and of flatten over `rounds` interleaved rounds of `perRound` calls each. */
function measure(body: Body, rounds: number): { parseUs: number; flattenUs: number; rows: number } {
  const parsed = JSON.parse(body.text) as VisitState;
  const flatten = (): number =>
    flattenVisitState({ accountId: ACCOUNT, visitorId: body.visitorId, sid: body.sid, state: parsed }).rows
      .length;
  const rows = flatten();
  // About 50 ms of flattening per round, whatever the body's size.
  const startMs = performance.now();
  flatten();
  const perRound = Math.max(5, Math.ceil(50 / Math.max(0.01, performance.now() - startMs)));
  // Warm-up: both paths optimised before anything is timed.
  for (let i = 0; i < perRound; i++) {
    JSON.parse(body.text);
    flatten();
  }
  const parseUs: number[] = [];
  const flattenUs: number[] = [];
  let sink = 0;
  for (let round = 0; round < rounds; round++) {
    let t = performance.now();
    for (let i = 0; i < perRound; i++) sink += (JSON.parse(body.text) as VisitState).appSessions.length;
    parseUs.push(((performance.now() - t) * 1000) / perRound);
    t = performance.now();
    for (let i = 0; i < perRound; i++) sink += flatten();
    flattenUs.push(((performance.now() - t) * 1000) / perRound);
  }
  if (sink < 0) throw new Error('unreachable');
  return { parseUs: median(parseUs), flattenUs: median(flattenUs), rows };
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
        `(${fixed(m.flattenUs / Math.max(1, m.rows), 1)} µs/row)`,
    };
  });
}
