import { hash } from 'node:crypto';
import type { Json } from './liveperson/types';

/**
 * Canonical JSON and short hashes: the two primitives every key, hash and JSON-encoded column of the capture
 * rows rests on. Both are pure and deterministic, so one answer always yields the same bytes.
 */

/** Own keys of a JSON object in code-unit order, so that the input's key order never reaches an output. */
export function sortedKeys(obj: object): string[] {
  return Object.keys(obj).sort();
}

/** A plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is { [key: string]: Json } {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * JSON of one scalar. Numbers that JSON cannot hold (NaN, ±Infinity; never produced by JSON.parse, but the
 * type allows them) become strings instead of JSON.stringify's silent `null`, so no value turns into another.
 */
export function scalarJson(value: string | number | boolean | null): string {
  switch (typeof value) {
    case 'string':
      return quoted(value);
    case 'number':
      // String(n) is JSON's own number text for every finite n (-0 included).
      return Number.isFinite(value) ? String(value) : quoted(String(value));
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return 'null';
  }
}

/** Strings JSON.stringify would copy unchanged between quotes: no quote, backslash, control or surrogate. */
// eslint-disable-next-line no-control-regex -- the control characters are exactly what JSON must escape
const NEEDS_NO_ESCAPE = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** JSON string literal, as JSON.stringify writes it; most keys and values need no escaping and skip it. */
function quoted(text: string): string {
  return NEEDS_NO_ESCAPE.test(text) ? `"${text}"` : JSON.stringify(text);
}

/** Nesting depth up to which `canonicalJson` recurses; deeper values take the iterative (slower) route. */
const RECURSION_LIMIT = 64;

/**
 * JSON text with object keys sorted recursively (arrays keep their order: it is data). `undefined` object
 * members are skipped and `undefined` array elements written as null, as JSON.stringify does. Recursive (fast)
 * for ordinary nesting; a hostile, very deeply nested body goes the iterative way so it cannot overflow the stack.
 */
export function canonicalJson(value: Json): string {
  return canonicalRecursive(value, 0) ?? canonicalIterative(value);
}

/** Canonical JSON, or undefined when `value` nests deeper than RECURSION_LIMIT. */
function canonicalRecursive(value: Json | undefined, depth: number): string | undefined {
  if (value === undefined || value === null || typeof value !== 'object') {
    return value === undefined ? 'null' : scalarJson(value);
  }
  if (depth >= RECURSION_LIMIT) return undefined;
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i += 1) {
      const element = canonicalRecursive(value[i], depth + 1);
      if (element === undefined) return undefined;
      out += i === 0 ? element : `,${element}`;
    }
    return `${out}]`;
  }
  const order = keyOrderOf(Object.keys(value));
  const { sorted, heads } = order;
  out = '{';
  let first = true;
  for (let i = 0; i < sorted.length; i += 1) {
    const member = value[sorted[i] as string];
    if (member === undefined) continue;
    const text = canonicalRecursive(member, depth + 1);
    if (text === undefined) return undefined;
    out += first ? `${heads[i]}${text}` : `,${heads[i]}${text}`;
    first = false;
  }
  return `${out}}`;
}

/** An object's keys in its own order, sorted, and each sorted key's `"key":` text. */
export interface KeyOrder {
  readonly keys: readonly string[];
  readonly sorted: readonly string[];
  readonly heads: readonly string[];
  /**
   * Room for what a writer derives from the order and keeps with it, by an index of its own: treated JSON
   * (lib/privacy/treated-json.ts) keeps the path states of the sorted keys here, per path state. A slot on the
   * order rather than a WeakMap beside it: it is read once per object written.
   */
  readonly derived: unknown[];
}

/** Key orders kept, by first key, before the memo is emptied. */
const MAX_KEY_ORDERS = 4_096;
const keyOrders = new Map<string | undefined, KeyOrder>();

/**
 * The sorted order of `keys`, remembered for the last key list met with the same first key: objects of one shape
 * come in runs (the products of a cart, the items of an array), and comparing their keys with the last list
 * (interned strings, compared by reference) costs less than sorting and quoting them again. Shared with
 * lib/privacy/treated-json.ts, which writes the same canonical JSON with treatments inside.
 */
export function keyOrderOf(keys: string[]): KeyOrder {
  const known = keyOrders.get(keys[0]);
  if (known !== undefined && sameKeys(known.keys, keys)) return known;
  const sorted = keys.length > 1 ? [...keys].sort() : keys;
  const order: KeyOrder = { keys, sorted, heads: sorted.map((key) => `${quoted(key)}:`), derived: [] };
  if (keyOrders.size >= MAX_KEY_ORDERS) keyOrders.clear();
  keyOrders.set(keys[0], order);
  return order;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

type Step = { json: Json | undefined } | { text: string };

function canonicalIterative(value: Json): string {
  const out: string[] = [];
  const stack: Step[] = [{ json: value }];
  while (stack.length > 0) {
    const step = stack.pop() as Step;
    if ('text' in step) {
      out.push(step.text);
      continue;
    }
    const v = step.json;
    if (v === undefined || v === null || typeof v !== 'object') {
      out.push(v === undefined ? 'null' : scalarJson(v));
    } else if (Array.isArray(v)) {
      out.push('[');
      stack.push({ text: ']' });
      for (let i = v.length - 1; i >= 0; i -= 1) {
        stack.push({ json: v[i] });
        if (i > 0) stack.push({ text: ',' });
      }
    } else {
      const keys = sortedKeys(v).filter((k) => v[k] !== undefined);
      out.push('{');
      stack.push({ text: '}' });
      for (let i = keys.length - 1; i >= 0; i -= 1) {
        const k = keys[i] as string;
        stack.push({ json: v[k] });
        stack.push({ text: `${JSON.stringify(k)}:` });
        if (i > 0) stack.push({ text: ',' });
      }
    }
  }
  return out.join('');
}

/** Length of the hex hashes in keys and hash columns: 64 bits, collisions are not a practical concern. */
export const SHORT_HASH_HEX_LENGTH = 16;

/** sha256 of the UTF-8 text, hex, truncated to 16 characters. */
export function shortHash(text: string): string {
  // crypto.hash: one call, no Hash object; about twice as fast as createHash for short texts.
  return hash('sha256', text, 'hex').slice(0, SHORT_HASH_HEX_LENGTH);
}
