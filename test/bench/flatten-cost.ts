/**
 * Figure 3: flatten time per answer against JSON.parse of the same body (the floor: parsing is what every
 * answer costs anyway), for a full six-hour simulator session and for the spec's example answer, under the
 * default privacy policy with a hash key (the hashed categories hashed, IPs truncated, birth days dropped: what
 * a deployment with its key does). A diagnostic gives the same flatten with the policy keeping everything.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { flattenVisitState, newFlattenPlans, type FlattenPlans } from '../../lib/capture/flatten';
import { createPrivacyPolicy, keepEverythingPolicy } from '../../lib/privacy/policy';
import { HOUR_MS, ManualClock } from '../../lib/clock';
import type { VisitState } from '../../lib/liveperson/types';
import { SimulatedWorld } from '../../lib/simulator/world';
import { rowDigest } from '../../lib/poller/digests';
import { agesUpToSixHours, simulatedAnswers } from '../support/simulated-answers';
import { bundledSource } from './bundle';
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

type Flatten = (input: Parameters<typeof flattenVisitState>[0]) => ReturnType<typeof flattenVisitState>;

interface FlattenBundle {
  flattenVisitState: typeof flattenVisitState;
  newFlattenPlans: typeof newFlattenPlans;
  createPrivacyPolicy: typeof createPrivacyPolicy;
  keepEverythingPolicy: typeof keepEverythingPolicy;
}

/** One hash key for the whole figure (random: the figure times hashes, it never compares them). */
const BENCH_HASH_KEY = { bytes: randomBytes(32), version: 1 };

/** The flattener with its plans: under the default policy with a key, or keeping everything. */
interface Flatteners {
  /** Bundled, the default policy with a key: the figure. */
  bundled: Flatten;
  /** Bundled, every category kept: the diagnostic of what the policy costs. */
  bundledKeepEverything: Flatten;
  /** Through tsx, the default policy with a key. */
  unbundled: Flatten;
}

const withPlans =
  (flatten: typeof flattenVisitState, plans: FlattenPlans): Flatten =>
  (input) =>
    flatten(input, plans);

/** The flattener as the Lambda runs it (see bundle.ts): flatten-entry.ts bundled and loaded here. */
function flatteners(): Flatteners {
  const module = { exports: {} as Partial<FlattenBundle> };
  // The bundle is our own code, compiled a moment ago; it needs only Node's built-ins.
  new Function('module', 'exports', 'require', bundledSource('test/bench/flatten-entry.ts'))(
    module,
    module.exports,
    require,
  );
  const b = module.exports;
  if (
    typeof b.flattenVisitState !== 'function' ||
    typeof b.newFlattenPlans !== 'function' ||
    typeof b.createPrivacyPolicy !== 'function' ||
    typeof b.keepEverythingPolicy !== 'function'
  ) {
    throw new Error('bundle lacks flattenVisitState, newFlattenPlans or the privacy policy');
  }
  return {
    bundled: withPlans(
      b.flattenVisitState,
      b.newFlattenPlans({ privacy: b.createPrivacyPolicy({ hashKey: BENCH_HASH_KEY }) }),
    ),
    bundledKeepEverything: withPlans(
      b.flattenVisitState,
      b.newFlattenPlans({ privacy: b.keepEverythingPolicy() }),
    ),
    unbundled: withPlans(
      flattenVisitState,
      newFlattenPlans({ privacy: createPrivacyPolicy({ hashKey: BENCH_HASH_KEY }) }),
    ),
  };
}

interface Measured {
  parseUs: number;
  flattenUs: number;
  /** Ratios to JSON.parse of the diagnostics, each measured in rounds of its own. */
  unbundledRatio: number;
  keepEverythingRatio: number;
  digestRatio: number;
  rows: number;
}

/**
 * The figure: median per-call time of JSON.parse and of the bundled flattener over `rounds` rounds that
 * alternate the two (so both see the same machine), `perRound` calls each. The diagnostics (the flattener
 * through tsx, the poller's change digests) come after, each alternating with JSON.parse in rounds of its own,
 * so that neither disturbs the figure's own rounds (garbage, shared caches).
 */
function measure(body: Body, rounds: number, f: Flatteners): Measured {
  const parsed = JSON.parse(body.text) as VisitState;
  const input = { accountId: ACCOUNT, visitorId: body.visitorId, sid: body.sid, state: parsed };
  const flatten = (): number => f.bundled(input).rows.length;
  const unbundled = (): number => f.unbundled(input).rows.length;
  const keepEverything = (): number => f.bundledKeepEverything(input).rows.length;
  const rowsOnce = f.unbundled(input).rows;
  if (JSON.stringify(f.bundled(input).rows) !== JSON.stringify(rowsOnce)) {
    throw new Error('the bundled flattener and lib/capture/flatten.ts disagree');
  }
  const parse = (): number => (JSON.parse(body.text) as VisitState).appSessions.length;
  const digests = (): number => rowsOnce.map(rowDigest).length;
  let sink = 0;
  // Warm-up by time, not by count: V8 optimises on background threads, which on a busy 2-core machine can
  // take a while; timing before it is done measured the interpreter, and varied from run to run. As in a
  // container past its first answers (the flattener's row constructors, one per shape, each need their own).
  const warmUp = (work: () => number, ms: number): number => {
    const startMs = performance.now();
    let calls = 0;
    while (performance.now() - startMs < ms) {
      sink += parse() + work();
      calls++;
    }
    return calls;
  };
  warmUp(flatten, 1500);
  // About 50 ms of flattening per round, whatever the body's size (timed warm).
  const sampleMs = performance.now();
  for (let i = 0; i < 5; i++) sink += flatten();
  const perRound = Math.max(5, Math.ceil(50 / Math.max(0.01, (performance.now() - sampleMs) / 5)));
  const alternate = (work: () => number, warmUpMs: number): { workUs: number; parseUs: number } => {
    warmUp(work, warmUpMs);
    const workUs: number[] = [];
    const parseUs: number[] = [];
    const time = (into: number[], f: () => number): void => {
      const t = performance.now();
      for (let i = 0; i < perRound; i++) sink += f();
      into.push(((performance.now() - t) * 1000) / perRound);
    };
    for (let round = 0; round < rounds; round++) {
      time(parseUs, parse);
      time(workUs, work);
    }
    return { workUs: median(workUs), parseUs: median(parseUs) };
  };
  const figure = alternate(flatten, 200);
  const viaTsx = alternate(unbundled, 1000);
  const kept = alternate(keepEverything, 300);
  const digest = alternate(digests, 300);
  if (sink < 0) throw new Error('unreachable');
  return {
    parseUs: figure.parseUs,
    flattenUs: figure.workUs,
    unbundledRatio: viaTsx.workUs / viaTsx.parseUs,
    keepEverythingRatio: kept.workUs / kept.parseUs,
    digestRatio: digest.workUs / digest.parseUs,
    rows: rowsOnce.length,
  };
}

export async function benchFlattenCost(options: { rounds: number }): Promise<Figure[]> {
  const bundled = flatteners();
  const figures: Figure[] = [sixHourSession(), specExample()].map((body) => {
    const m = measure(body, options.rounds, bundled);
    return {
      id: '3',
      title: `flatten / JSON.parse, ${body.name}`,
      ratio: m.flattenUs / m.parseUs,
      against: `× JSON.parse of the same body`,
      // 2.5, not 2: the flattener compiles no code from strings (issue 12). Rows built by a constructor compiled
      // per shape made these two lines about 0.4-0.5x JSON.parse cheaper (an A/B on the same build: 1.9-2.1
      // against 2.3-2.5 for the six-hour answer); the mix line, what a tick sees, keeps the 2x target.
      target: { op: '<=', value: 2.5 },
      raw:
        `flatten ${fixed(m.flattenUs, 0)} µs (bundled as deployed), JSON.parse ${fixed(m.parseUs, 0)} µs per ` +
        `answer (median of ${options.rounds} rounds); ${fixed(body.text.length / 1024, 1)} KiB body → ` +
        `${m.rows} rows (${fixed(m.flattenUs / Math.max(1, m.rows), 1)} µs/row), default privacy policy with a ` +
        `key; keeping everything ${fixed(m.keepEverythingRatio, 2)}×; unbundled through tsx ` +
        `${fixed(m.unbundledRatio, 2)}×; the poller's change digests of those rows ${fixed(m.digestRatio, 2)}× more`,
    };
  });
  const mix = measureMix(Math.min(options.rounds, 7), bundled.bundled);
  figures.push({
    id: '3',
    title: `flatten / JSON.parse, a mix of ${MIX_SESSIONS} sessions aged 10 min to 6 h, fresh sessions every round`,
    ratio: mix.flattenUs / mix.parseUs,
    against: `× JSON.parse of the same bodies`,
    target: { op: '<=', value: 2 },
    raw:
      `flatten ${fixed(mix.flattenUs, 0)} µs, JSON.parse ${fixed(mix.parseUs, 0)} µs per answer (median of ` +
      `${mix.rounds} rounds, each over ${MIX_SESSIONS} new sessions of another seed, plans kept across rounds ` +
      `as in a container, default privacy policy with a key), ${fixed(mix.rowsPerAnswer, 1)} rows per answer; ` +
      `what a tick sees, where the lines ` +
      `above flatten one answer over and over`,
  });
  return figures;
}

const MIX_SESSIONS = 1000;

/**
 * What a tick sees: many sessions of many ages, each answer flattened once (plans shared, as in a container),
 * against JSON.parse of the same bodies. Every round takes new sessions (another seed): no round can be served
 * by plans made for the very same answers.
 */
function measureMix(
  rounds: number,
  bundled: Flatten,
): { parseUs: number; flattenUs: number; rowsPerAnswer: number; rounds: number } {
  let rows = 0;
  let answers = 0;
  const flattenUs: number[] = [];
  const parseUs: number[] = [];
  // Round 0 warms up (the container's first answers), unmeasured.
  for (let round = 0; round <= rounds; round++) {
    const bodies = mixBodies(5 + round);
    const parseStartMs = performance.now();
    const parsed = bodies.map((b) => JSON.parse(b.text) as VisitState);
    const parsedUs = ((performance.now() - parseStartMs) * 1000) / bodies.length;
    const startMs = performance.now();
    let roundRows = 0;
    for (let i = 0; i < bodies.length; i += 1) {
      const b = bodies[i] as (typeof bodies)[number];
      roundRows += bundled({
        accountId: ACCOUNT,
        visitorId: b.visitorId,
        sid: b.sid,
        state: parsed[i] as VisitState,
      }).rows.length;
    }
    const flattenedUs = ((performance.now() - startMs) * 1000) / bodies.length;
    if (round === 0) continue;
    parseUs.push(parsedUs);
    flattenUs.push(flattenedUs);
    rows += roundRows;
    answers += bodies.length;
  }
  return { parseUs: median(parseUs), flattenUs: median(flattenUs), rowsPerAnswer: rows / answers, rounds };
}

/** MIX_SESSIONS answers of one seed's sessions, their ages spread evenly from 10 minutes to the 6-hour wall. */
function mixBodies(seed: number): { visitorId: string; sid: string; text: string }[] {
  return simulatedAnswers(seed, MIX_SESSIONS, agesUpToSixHours(MIX_SESSIONS), ACCOUNT).map((answer) => ({
    visitorId: answer.visitorId,
    sid: answer.sid,
    text: JSON.stringify(answer.state),
  }));
}
