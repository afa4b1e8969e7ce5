/**
 * Scripted answers: what the simulated LivePerson answers about one session (or every session), request after
 * request, so that a test can put the poller in front of a fault on purpose instead of waiting for the seeded
 * sprinkle of server.ts to produce it. A script is a list of steps; each step answers `times` requests (default
 * 1) and the last step answers every request after that. `live` is the world's own answer, as without a script.
 *
 * Scripts only replace the answer about the session: OAuth is still checked first, and the server's random
 * transport faults (latency, 5xx, 429, resets, malformed bodies, hangs) still come before a scripted answer,
 * which is consumed only by a request that reached it. With no script set, nothing here runs and the server
 * answers byte for byte as before (tests and benchmarks depend on the seeded answers).
 *
 * The answer builders are pure: no I/O, no clock, no randomness.
 */
import type { AppSession, EventBody, JsonObject, VisitEvent, VisitState } from '../liveperson/types';

export const SCRIPTED_ANSWER_KINDS = [
  /** The world's answer (200 with the state, or the 404 the world gives), as without a script. */
  'live',
  /** 200 `{"appSessions":[]}`: the session holds no app session. */
  'empty',
  /** 200 `{"id":"<sid>"}`: no `appSessions` at all, nothing else but the visit id. */
  'empty_no_app_sessions',
  /** The world's 200 in the API field table's shape: the app session's fields at the top level, no appSessions. */
  'flat',
  /** The world's 200 plus one event whose body holds `numericFields` numeric fields (a row too large to store). */
  'oversized',
  /** 400 with internal code 33 (a request LivePerson rejects as a whole: retired `v`, refused `filter`). */
  'bad_request_33',
  /** 404/37: LivePerson does not know the visitor. */
  'invalid_visitor_37',
  /** 404/39: the sid is not this visitor's. */
  'invalid_session_39',
  /** 404/12: the session is gone. */
  'expired_12',
  /** 500 with LivePerson's JSON error body. */
  'server_error',
  /** 429 with `Retry-After: retryAfterSec`. */
  'throttle',
  /** The socket is destroyed without an answer. */
  'reset',
] as const;
export type ScriptedAnswerKind = (typeof SCRIPTED_ANSWER_KINDS)[number];

/** Numeric fields of the `oversized` step's event body unless the step says otherwise. */
export const OVERSIZED_EVENT_NUMERIC_FIELDS = 30_000;

/** The event type of the `oversized` step's event (a documented type, so it is not counted as unknown). */
export const OVERSIZED_EVENT_TYPE = 'serviceActivity';

export interface ScriptStepOptions {
  kind: ScriptedAnswerKind;
  /** Requests this step answers before the next step takes over (default 1; the last step answers forever). */
  times?: number;
  /** `throttle`: the Retry-After header, in seconds (default 1). */
  retryAfterSec?: number;
  /** `oversized`: numeric fields in the added event's body (default OVERSIZED_EVENT_NUMERIC_FIELDS). */
  numericFields?: number;
}

/** A step: its kind alone (answers once, or forever when last), or the kind with its options. */
export type ScriptStep = ScriptedAnswerKind | ScriptStepOptions;

type CheckedStep = Required<Pick<ScriptStepOptions, 'kind' | 'times'>> & ScriptStepOptions;

/** The steps of a script, checked (a typo in a test must fail loudly, not silently answer `live`). */
export function checkScript(steps: readonly ScriptStep[]): readonly CheckedStep[] {
  if (steps.length === 0) throw new RangeError('a script needs at least one step');
  return steps.map((step, index) => {
    const options: ScriptStepOptions = typeof step === 'string' ? { kind: step } : { ...step };
    if (!(SCRIPTED_ANSWER_KINDS as readonly string[]).includes(options.kind)) {
      throw new RangeError(`script step ${index}: unknown answer kind ${JSON.stringify(options.kind)}`);
    }
    const times = options.times ?? 1;
    if (!Number.isInteger(times) || times < 1) {
      throw new RangeError(`script step ${index}: times must be a whole number >= 1`);
    }
    if (options.retryAfterSec !== undefined && !(options.retryAfterSec >= 0)) {
      throw new RangeError(`script step ${index}: retryAfterSec must be >= 0`);
    }
    if (
      options.numericFields !== undefined &&
      !(Number.isInteger(options.numericFields) && options.numericFields >= 1)
    ) {
      throw new RangeError(`script step ${index}: numericFields must be a whole number >= 1`);
    }
    return { ...options, times };
  });
}

/** One session's place in a script: which step answers its next request. */
export class ScriptCursor {
  private stepIndex = 0;
  private usedInStep = 0;
  private answered = 0;

  constructor(private readonly steps: readonly CheckedStep[]) {}

  /** The step that answers this request; moves on to the next request's. */
  take(): ScriptStepOptions {
    const step = this.steps[this.stepIndex] as CheckedStep;
    this.answered++;
    this.usedInStep++;
    if (this.usedInStep >= step.times && this.stepIndex < this.steps.length - 1) {
      this.stepIndex++;
      this.usedInStep = 0;
    }
    return step;
  }

  /** Requests this cursor has answered so far. */
  get requestsAnswered(): number {
    return this.answered;
  }
}

/** `empty`: the session holds no app session. */
export function emptyAnswer(): JsonObject {
  return { appSessions: [] };
}

/** `empty_no_app_sessions`: no appSessions key at all, only the visit id. */
export function noAppSessionsAnswer(sid: string): JsonObject {
  return { id: sid };
}

/**
 * `flat`: the state's (first) app session with its fields at the top level, `id` first, as the API page's
 * field table lists them. Read back as one app session, it must give the same rows as the nested form.
 */
export function flatAnswer(state: VisitState): JsonObject {
  const appSession = state.appSessions[0] as AppSession;
  const { id, ...fields } = appSession;
  return { id, ...fields } as JsonObject;
}

/**
 * The `oversized` step's event: one `serviceActivity` event at `serverTimeStamp` whose body holds
 * `numericFields` numbers (`reading00000`, `reading00001`, ...). As a row, it is far above DynamoDB's 400 KB item
 * limit (about 23 bytes a column), and no string column is long enough for shortening strings to make it fit.
 * The same arguments always give the same event, so every poll sees the same event (one row key).
 */
export function oversizedEvent(serverTimeStamp: number, numericFields: number, pageId?: string): VisitEvent {
  const readings: JsonObject = {};
  const width = Math.max(5, String(numericFields - 1).length);
  for (let i = 0; i < numericFields; i++) {
    readings[`reading${String(i).padStart(width, '0')}`] = ((i * 7919) % 1_000_000) / 100;
  }
  const body: EventBody = {
    serverTimeStamp,
    contexts: pageId !== undefined ? { page: { id: pageId } } : {},
    [OVERSIZED_EVENT_TYPE]: { readings },
  };
  return { [OVERSIZED_EVENT_TYPE]: body };
}

/**
 * `oversized`: the state with the oversized event first in its (first) app session's events, stamped at the
 * session's start (so it sorts first and is the same event on every poll). Copies what it changes: the world's
 * states are frozen and shared.
 */
export function oversizedAnswer(state: VisitState, numericFields: number): VisitState {
  const [first, ...others] = state.appSessions as [AppSession, ...AppSession[]];
  const startTime = typeof first.startTime === 'number' ? first.startTime : 0;
  const pages = Array.isArray(first.pages) ? first.pages : [];
  const firstPage = pages[0] as JsonObject | undefined;
  const pageId = typeof firstPage?.id === 'string' ? firstPage.id : undefined;
  const events = Array.isArray(first.events) ? (first.events as VisitEvent[]) : [];
  const appSession: AppSession = {
    ...first,
    events: [oversizedEvent(startTime, numericFields, pageId), ...events],
  };
  return { ...state, appSessions: [appSession, ...others] };
}

/**
 * A script written as text (the simulator process's `--script` flag): steps separated by commas, each
 * `kind[:value][*times]`, where value is `retryAfterSec` for `throttle` and `numericFields` for `oversized`:
 * `empty*3,live`, `live,invalid_visitor_37`, `throttle:3600,live`.
 */
export function parseScript(text: string): ScriptStepOptions[] {
  const steps = text.split(',').map((raw, index): ScriptStepOptions => {
    const match = /^([a-z_0-9]+)(?::(\d+))?(?:\*(\d+))?$/.exec(raw.trim());
    if (match === null)
      throw new RangeError(`script step ${index}: expected kind[:value][*times], got "${raw}"`);
    const kind = match[1] as ScriptedAnswerKind;
    const step: ScriptStepOptions = { kind };
    if (match[2] !== undefined) {
      if (kind === 'throttle') step.retryAfterSec = Number(match[2]);
      else if (kind === 'oversized') step.numericFields = Number(match[2]);
      else throw new RangeError(`script step ${index}: ${kind} takes no value`);
    }
    if (match[3] !== undefined) step.times = Number(match[3]);
    return step;
  });
  checkScript(steps);
  return steps;
}
