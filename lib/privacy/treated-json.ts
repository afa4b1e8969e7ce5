/**
 * Canonical JSON of a value with the privacy policy applied inside it, in one pass: what a JSON column stores
 * (a contacts array with its e-mail addresses hashed, a leads array with nothing personal in it unchanged).
 * Each scalar takes the treatment of its own path (the column's path, then the keys down to it), and an object
 * member whose category is dropped leaves its object. With nothing to treat, the text is exactly
 * lib/canonical.ts's `canonicalJson` of the value (a test holds it to that), and costs about as much: it uses
 * canonical.ts's key-order memo, with each key's next path state remembered beside it.
 */
import { canonicalJson, keyOrderOf, scalarJson, type KeyOrder } from '../canonical';
import type { Json, JsonObject } from '../liveperson/types';
import { mayHoldClassifiedKey, type PathState } from './categories';

/** A value's treatment at one path state: as PrivacyPolicy.byState holds them. */
type Treatment =
  ((value: string | number | boolean | null) => string | number | boolean | null) | 'drop' | undefined;

/** Nesting depth written recursively; a deeper value takes the careful way (see `treatedCanonicalJson`). */
const RECURSION_LIMIT = 64;

/**
 * The states the sorted keys of `order` lead to from `state`, kept in the order's `derived` slots (canonical.ts's
 * key-order memo, shared) by the state's index.
 */
function statesOf(order: KeyOrder, state: PathState): readonly PathState[] {
  let states = order.derived[state.index] as readonly PathState[] | undefined;
  if (states === undefined) {
    states = order.sorted.map((key) => state.next(key));
    order.derived[state.index] = states;
  }
  return states;
}

/**
 * The canonical JSON of `value` (at path state `state`) with `byState`'s treatments applied inside. A value
 * nested deeper than 64 levels (only a hostile answer has one) is written by `canonicalJson` when no key in it
 * can be classified; otherwise it is not stored: the text `null` (a walk that deep could exhaust the stack).
 */
export function treatedCanonicalJson(byState: readonly Treatment[], value: Json, state: PathState): string {
  const text = write(byState, value, state, 0);
  if (text !== undefined) return text;
  const raw = canonicalJson(value);
  return byState[state.index] === undefined && !mayHoldClassifiedKey(raw) ? raw : 'null';
}

function write(
  byState: readonly Treatment[],
  value: Json | undefined,
  state: PathState,
  depth: number,
): string | undefined {
  if (value === undefined || value === null || typeof value !== 'object') {
    if (value === undefined) return 'null';
    const treat = byState[state.index];
    return scalarJson(treat === undefined || treat === 'drop' ? value : treat(value));
  }
  if (depth >= RECURSION_LIMIT) return undefined;
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i += 1) {
      const element = write(byState, value[i], state, depth + 1);
      if (element === undefined) return undefined;
      out += i === 0 ? element : `,${element}`;
    }
    return `${out}]`;
  }
  const order = keyOrderOf(Object.keys(value));
  const { sorted, heads } = order;
  const states = statesOf(order, state);
  out = '{';
  let first = true;
  for (let i = 0; i < sorted.length; i += 1) {
    const member = (value as JsonObject)[sorted[i] as string];
    const inner = states[i] as PathState;
    if (member === undefined || byState[inner.index] === 'drop') continue;
    const text = write(byState, member, inner, depth + 1);
    if (text === undefined) return undefined;
    out += first ? `${heads[i]}${text}` : `,${heads[i]}${text}`;
    first = false;
  }
  return `${out}}`;
}
