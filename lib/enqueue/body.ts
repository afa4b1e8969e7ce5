import { idProblem } from '../ids';

/**
 * The enqueue request body, before per-item validation. Three shapes are accepted:
 *   {"visitorId","sid","startTime"?}        one pair
 *   {"items":[{...}, ...]}                  a batch
 *   [{...}, ...]                            a batch, bare
 */
export type ParsedBody =
  | { kind: 'items'; items: unknown[]; single: boolean }
  | { kind: 'bad_request'; error: string }
  | { kind: 'too_large'; error: string };

const SHAPES = 'expected {"visitorId","sid","startTime"?}, {"items":[...]} or a JSON array of such objects';

export function parseEnqueueBody(bytes: Buffer, limits: { maxBatchItems: number }): ParsedBody {
  if (bytes.length === 0) return { kind: 'bad_request', error: `empty body: ${SHAPES}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { kind: 'bad_request', error: 'body is not valid JSON' };
  }
  let items: unknown[];
  let single = false;
  if (Array.isArray(parsed)) {
    items = parsed;
  } else if (parsed !== null && typeof parsed === 'object' && 'items' in parsed) {
    const extra = Object.keys(parsed).filter((k) => k !== 'items');
    if (extra.length > 0) {
      return {
        kind: 'bad_request',
        error: `unknown field(s) beside "items": ${extra.slice(0, 5).join(', ')}`,
      };
    }
    const value = (parsed as { items: unknown }).items;
    if (!Array.isArray(value)) return { kind: 'bad_request', error: '"items" must be an array' };
    items = value;
  } else if (parsed !== null && typeof parsed === 'object') {
    items = [parsed];
    single = true;
  } else {
    return { kind: 'bad_request', error: SHAPES };
  }
  if (items.length === 0) return { kind: 'bad_request', error: 'no items: the batch is empty' };
  if (items.length > limits.maxBatchItems) {
    return {
      kind: 'too_large',
      error: `${items.length} items: at most ${limits.maxBatchItems} per request, split the batch`,
    };
  }
  return { kind: 'items', items, single };
}

/** The POST /forget request body: `{"visitorId": "..."}` and nothing else. */
export type ParsedForgetBody =
  { kind: 'visitor'; visitorId: string } | { kind: 'bad_request'; error: string };

const FORGET_SHAPE = 'expected {"visitorId": "..."}';

/**
 * Parses and validates a POST /forget body. The visitor id is checked as every id of the project is
 * (lib/ids.ts), and no error ever quotes it.
 */
export function parseForgetBody(bytes: Buffer): ParsedForgetBody {
  if (bytes.length === 0) return { kind: 'bad_request', error: `empty body: ${FORGET_SHAPE}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { kind: 'bad_request', error: 'body is not valid JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { kind: 'bad_request', error: `${FORGET_SHAPE}: one visitor per request` };
  }
  const extra = Object.keys(parsed).filter((k) => k !== 'visitorId');
  if (extra.length > 0) {
    // Field names are the caller's own keys, not values: safe to name (at most five, each cut short).
    const names = extra.slice(0, 5).map((k) => (k.length > 32 ? `${k.slice(0, 32)}…` : k));
    return { kind: 'bad_request', error: `unknown field(s): ${names.join(', ')}; ${FORGET_SHAPE}` };
  }
  const { visitorId } = parsed as { visitorId?: unknown };
  if (visitorId === undefined)
    return { kind: 'bad_request', error: `visitorId is required: ${FORGET_SHAPE}` };
  const problem = idProblem('visitorId', visitorId);
  if (problem !== undefined) return { kind: 'bad_request', error: `visitorId ${problem}` };
  return { kind: 'visitor', visitorId: visitorId as string };
}
