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
