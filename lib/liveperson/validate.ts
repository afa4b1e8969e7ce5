import type { AppSession, VisitState } from './types';

/**
 * Runtime check of what the pipeline relies on in a 200 answer: an object whose `appSessions` is an array of
 * objects, whose `pages`, `engagements` and `events` (when present) are arrays of objects. Everything else is
 * kept as it comes; the flattener copes with odd events rather than dropping the answer.
 */
export function checkVisitState(
  body: unknown,
): { ok: true; state: VisitState } | { ok: false; problem: string } {
  if (!isPlainObject(body)) return { ok: false, problem: 'body is not a JSON object' };
  if (body.id !== undefined && body.id !== null && typeof body.id !== 'string') {
    return { ok: false, problem: 'id is not a string' };
  }
  const appSessions = body.appSessions;
  if (!Array.isArray(appSessions)) return { ok: false, problem: 'appSessions is not an array' };
  for (const [index, appSession] of appSessions.entries()) {
    if (!isPlainObject(appSession)) return { ok: false, problem: `appSessions[${index}] is not an object` };
    for (const field of ['pages', 'engagements', 'events'] as const) {
      const value = appSession[field];
      if (value === undefined || value === null) continue;
      if (!Array.isArray(value))
        return { ok: false, problem: `appSessions[${index}].${field} is not an array` };
      const bad = value.findIndex((element) => !isPlainObject(element));
      if (bad >= 0) return { ok: false, problem: `appSessions[${index}].${field}[${bad}] is not an object` };
    }
    const startTime = (appSession as AppSession).startTime;
    if (startTime !== undefined && startTime !== null && typeof startTime !== 'number') {
      return { ok: false, problem: `appSessions[${index}].startTime is not a number` };
    }
  }
  return { ok: true, state: body as unknown as VisitState };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
