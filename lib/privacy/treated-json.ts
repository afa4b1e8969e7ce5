/**
 * Canonical JSON of a value with the privacy policy applied inside it, in one pass: what a JSON column stores
 * (a contacts array with its e-mail addresses hashed, a leads array with nothing personal in it unchanged).
 * Each scalar takes the treatment of its own path (the column's path, then the keys down to it), and an object
 * member whose category is dropped leaves its object. With nothing to treat, the text is exactly
 * lib/canonical.ts's `canonicalJson` of the value (a test holds it to that), and costs about as much: key orders
 * are remembered per key list and path state, with each key's next state beside it.
 */
import { canonicalJson, scalarJson } from '../canonical';
import type { Json, JsonObject } from '../liveperson/types';
import { mayHoldClassifiedKey, type PathState } from './categories';

/** A value's treatment at one path state: as PrivacyPolicy.byState holds them. */
type Treatment =
  ((value: string | number | boolean | null) => string | number | boolean | null) | 'drop' | undefined;

/** Nesting depth written recursively; a deeper value takes the careful way (see `treatedCanonicalJson`). */
const RECURSION_LIMIT = 64;

/**
 * An object's keys in its own order, sorted, and each sorted key's `"key":` text; beside them, per path state
 * (by index, filled when first needed), the state each sorted key leads to.
 */
interface KeyOrder {
  readonly keys: readonly string[];
  readonly sorted: readonly string[];
  readonly heads: readonly string[];
  readonly statesAt: (readonly PathState[] | undefined)[];
}

/** Key orders remembered, by first key, before the memo is emptied. */
const MAX_KEY_ORDERS = 4_096;
const keyOrders = new Map<string | undefined, KeyOrder>();

/**
 * As canonical.ts's keyOrderOf: the last key list met with the same first key, compared cheaply (objects of one
 * shape come in runs).
 */
function keyOrderOf(keys: string[]): KeyOrder {
  const known = keyOrders.get(keys[0]);
  if (known !== undefined && sameKeys(known.keys, keys)) return known;
  const sorted = keys.length > 1 ? [...keys].sort() : keys;
  const order: KeyOrder = { keys, sorted, heads: sorted.map((key) => `${scalarJson(key)}:`), statesAt: [] };
  if (keyOrders.size >= MAX_KEY_ORDERS) keyOrders.clear();
  keyOrders.set(keys[0], order);
  return order;
}

/** The states the sorted keys of `order` lead to from `state`, remembered in the order. */
function statesOf(order: KeyOrder, state: PathState): readonly PathState[] {
  const states = order.sorted.map((key) => state.next(key));
  order.statesAt[state.index] = states;
  return states;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
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
  const states = order.statesAt[state.index] ?? statesOf(order, state);
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
