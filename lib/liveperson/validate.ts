import { APP_SESSION_KNOWN_FIELDS, type AppSession, type VisitState } from './types';

/** What a 200 body holds, as the pipeline reads it. */
export type CheckedVisitState =
  /** App sessions to store; `shape` says whether the body had to be normalized from the flat form. */
  | { kind: 'state'; state: VisitState; shape: 'nested' | 'flat' }
  /** No app session: `appSessions` empty or missing, and no app-session field at the top level. */
  | { kind: 'empty' }
  | { kind: 'malformed'; problem: string };

/** Top-level fields that mark a body in the flat shape (an app session's own fields, `id` aside). */
const FLAT_SHAPE_MARKERS: ReadonlySet<string> = new Set(APP_SESSION_KNOWN_FIELDS.filter((f) => f !== 'id'));

/**
 * Runtime check of what the pipeline relies on in a 200 answer: an object whose `appSessions` is an array of
 * objects, whose `pages`, `engagements` and `events` (when present) are arrays of objects. Everything else is
 * kept as it comes; the flattener copes with odd events rather than dropping the answer.
 *
 * Tolerant reader: the API page's field table lists the app-session fields (`pages`, `events`, `userAgent`, ...)
 * at the top level, its example nests them under `appSessions[]`. A body without app sessions whose top level
 * holds any of those fields is read as one app session: `{ id, appSessions: [{ id, ...fields }] }` (its `id`
 * serves as visit id and app session id), so both shapes of one answer give the same rows.
 *
 * An answer with no app session (`appSessions` empty or missing, no app-session field at the top level) is
 * `empty`; one without `appSessions` that holds only fields we do not know is malformed (kept for diagnosis).
 */
export function checkVisitState(body: unknown): CheckedVisitState {
  if (!isPlainObject(body)) return malformed('body is not a JSON object');
  if (body.id !== undefined && body.id !== null && typeof body.id !== 'string') {
    return malformed('id is not a string');
  }
  const appSessions = body.appSessions;
  if (appSessions !== undefined && appSessions !== null && !Array.isArray(appSessions)) {
    return malformed('appSessions is not an array');
  }
  if (Array.isArray(appSessions) && appSessions.length > 0) {
    const problem = appSessionsProblem(appSessions);
    return problem !== undefined
      ? malformed(problem)
      : { kind: 'state', state: body as unknown as VisitState, shape: 'nested' };
  }
  const keys = Object.keys(body).filter((key) => key !== 'appSessions');
  if (keys.some((key) => FLAT_SHAPE_MARKERS.has(key))) {
    const { appSessions: _none, ...fields } = body;
    const appSession = fields as AppSession;
    const problem = appSessionsProblem([appSession]);
    if (problem !== undefined) return malformed(`flat shape: ${problem}`);
    const state: VisitState = {
      ...(body.id !== undefined ? { id: body.id as string } : {}),
      appSessions: [appSession],
    };
    return { kind: 'state', state, shape: 'flat' };
  }
  // An explicit empty list says "no app session" whatever else stands beside it; without one, only an id may.
  if (Array.isArray(appSessions) || keys.every((key) => key === 'id')) return { kind: 'empty' };
  return malformed('appSessions is not an array');
}

function malformed(problem: string): CheckedVisitState {
  return { kind: 'malformed', problem };
}

function appSessionsProblem(appSessions: readonly unknown[]): string | undefined {
  for (const [index, appSession] of appSessions.entries()) {
    if (!isPlainObject(appSession)) return `appSessions[${index}] is not an object`;
    for (const field of ['pages', 'engagements', 'events'] as const) {
      const value = appSession[field];
      if (value === undefined || value === null) continue;
      if (!Array.isArray(value)) return `appSessions[${index}].${field} is not an array`;
      const bad = value.findIndex((element) => !isPlainObject(element));
      if (bad >= 0) return `appSessions[${index}].${field}[${bad}] is not an object`;
    }
    const startTime = (appSession as AppSession).startTime;
    if (startTime !== undefined && startTime !== null && typeof startTime !== 'number') {
      return `appSessions[${index}].startTime is not a number`;
    }
  }
  return undefined;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
