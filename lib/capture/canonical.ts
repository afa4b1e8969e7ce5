import { createHash } from 'node:crypto';
import type { Json } from '../liveperson/types';

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
  if (typeof value === 'number' && !Number.isFinite(value)) return JSON.stringify(String(value));
  return JSON.stringify(value);
}

type Step = { json: Json | undefined } | { text: string };

/**
 * JSON text with object keys sorted recursively (arrays keep their order: it is data). Iterative rather than
 * recursive so that a hostile, very deeply nested body cannot overflow the stack. `undefined` object members
 * are skipped and `undefined` array elements written as null, as JSON.stringify does.
 */
export function canonicalJson(value: Json): string {
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
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, SHORT_HASH_HEX_LENGTH);
}
