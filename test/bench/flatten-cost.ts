/**
 * Figure 3: flatten time per answer against JSON.parse of the same body (the floor: parsing is what every
 * answer costs anyway), for a full six-hour simulator session and for the spec's example answer.
 */
import { buildSync } from 'esbuild';
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

type Flatten = typeof flattenVisitState;

/**
 * The flattener as the Lambda runs it: lib/capture/flatten.ts bundled by esbuild into one minified CommonJS
 * file, as infra/function.ts's BUNDLING does for the deployed functions. Run through tsx instead, every call
 * from one module into another goes through an export getter (tsx's CommonJS interop); the bundle has none.
 */
function bundledFlatten(): Flatten {
  const built = buildSync({
    entryPoints: [path.join(ROOT, 'lib/capture/flatten.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: true,
    target: `node${process.versions.node.split('.')[0]}`,
    write: false,
    logLevel: 'silent',
  });
  const module = { exports: {} as { flattenVisitState?: Flatten } };
  // The bundle is our own code, compiled a moment ago; it needs only Node's built-ins.
  new Function('module', 'exports', 'require', built.outputFiles[0]?.text ?? '')(
    module,
    module.exports,
    require,
  );
  if (typeof module.exports.flattenVisitState !== 'function')
    throw new Error('bundle lacks flattenVisitState');
  return module.exports.flattenVisitState;
}

interface Measured {
  parseUs: number;
  flattenUs: number;
  unbundledUs: number;
  digestUs: number;
  rows: number;
}

/**
 * Median per-call time of parse, the bundled flattener, the flattener through tsx and the poller's change
 * digests of the rows, over `rounds` interleaved rounds of `perRound` calls each.
 */
function measure(body: Body, rounds: number, bundled: Flatten): Measured {
  const parsed = JSON.parse(body.text) as VisitState;
  const input = { accountId: ACCOUNT, visitorId: body.visitorId, sid: body.sid, state: parsed };
  const flatten = (): number => bundled(input).rows.length;
  const unbundled = (): number => flattenVisitState(input).rows.length;
  const rowsOnce = flattenVisitState(input).rows;
  if (JSON.stringify(bundled(input).rows) !== JSON.stringify(rowsOnce)) {
    throw new Error('the bundled flattener and lib/capture/flatten.ts disagree');
  }
  // About 50 ms of flattening per round, whatever the body's size.
  const startMs = performance.now();
  flatten();
  const perRound = Math.max(5, Math.ceil(50 / Math.max(0.01, performance.now() - startMs)));
  // Warm-up, about half a second: every path optimised by V8 before anything is timed, as in a container past
  // its first answers (the flattener's row constructors, one per shape, each need their own warm-up).
  for (let i = 0; i < 10 * perRound; i++) {
    JSON.parse(body.text);
    flatten();
    unbundled();
  }
  const parseUs: number[] = [];
  const flattenUs: number[] = [];
  const unbundledUs: number[] = [];
  const digestUs: number[] = [];
  let sink = 0;
  const time = (into: number[], work: () => number): void => {
    const t = performance.now();
    for (let i = 0; i < perRound; i++) sink += work();
    into.push(((performance.now() - t) * 1000) / perRound);
  };
  for (let round = 0; round < rounds; round++) {
    time(parseUs, () => (JSON.parse(body.text) as VisitState).appSessions.length);
    time(flattenUs, flatten);
    time(unbundledUs, unbundled);
    time(digestUs, () => rowsOnce.map(rowDigest).length);
  }
  if (sink < 0) throw new Error('unreachable');
  return {
    parseUs: median(parseUs),
    flattenUs: median(flattenUs),
    unbundledUs: median(unbundledUs),
    digestUs: median(digestUs),
    rows: rowsOnce.length,
  };
}

export async function benchFlattenCost(options: { rounds: number }): Promise<Figure[]> {
  const bundled = bundledFlatten();
  return [sixHourSession(), specExample()].map((body) => {
    const m = measure(body, options.rounds, bundled);
    return {
      id: '3',
      title: `flatten / JSON.parse, ${body.name}`,
      ratio: m.flattenUs / m.parseUs,
      against: `× JSON.parse of the same body`,
      target: { op: '<=', value: 2 },
      raw:
        `flatten ${fixed(m.flattenUs, 0)} µs (bundled as deployed), JSON.parse ${fixed(m.parseUs, 0)} µs per ` +
        `answer (median of ${options.rounds} rounds); ${fixed(body.text.length / 1024, 1)} KiB body → ` +
        `${m.rows} rows (${fixed(m.flattenUs / Math.max(1, m.rows), 1)} µs/row); unbundled through tsx ` +
        `${fixed(m.unbundledUs / m.parseUs, 2)}×; the poller's change digests of those rows ` +
        `${fixed(m.digestUs / m.parseUs, 2)}× more`,
    };
  });
}
