/**
 * Generated JSON objects full of what makes flattening hard: keys that collide in any letter case, wrappers,
 * reserved and dangerous names, characters to replace, empty and long keys, deep nesting, arrays of objects.
 * Seeded (lib/simulator/random.ts), so a failure can be replayed.
 */
import type { Json, JsonObject } from '../../lib/liveperson/types';
import { Random } from '../../lib/simulator/random';

export const KEYS = [
  'a',
  'b',
  'A',
  'a_b',
  'a.b',
  'A_B',
  'lead',
  'cart',
  'products',
  'x',
  'sid',
  'SID',
  'rowType',
  'contentHash',
  '__proto__',
  'constructor',
  'prototype',
  '',
  ' ',
  'é',
  '1',
  '10',
  'id',
  'serverTimeStamp',
  'contexts',
  'page',
  'payload_sid',
  'PAYLOAD_rowtype',
  'a__2',
  'a_b__2',
  'x'.repeat(130),
  'y'.repeat(250),
];

/** Nodes left for the object being generated: keeps each one small whatever the dice say. */
let budget = 0;

function generate(random: Random, depth: number): Json {
  const roll = random.next();
  budget -= 1;
  if (depth > 18 || budget <= 0 || roll < 0.35) {
    const kind = random.int(0, 5);
    if (kind === 0) return null;
    if (kind === 1) return random.int(-5, 5);
    if (kind === 2) return random.chance(0.5);
    return KEYS[random.int(0, KEYS.length - 1)] as string;
  }
  if (roll < 0.5) {
    const n = random.int(0, 3);
    const allObjects = random.chance(0.6);
    return Array.from({ length: n }, () =>
      allObjects ? generateObject(random, depth + 1) : generate(random, depth + 1),
    );
  }
  return generateObject(random, depth + 1);
}

function generateObject(random: Random, depth: number): JsonObject {
  // JSON.parse is the way answers arrive, and the only way to get `__proto__` as an own data key.
  const entries: string[] = [];
  const used = new Set<string>();
  const n = random.int(0, depth > 12 ? 1 : 5);
  for (let i = 0; i < n; i += 1) {
    const key = KEYS[random.int(0, KEYS.length - 1)] as string;
    if (used.has(key)) continue;
    used.add(key);
    entries.push(`${JSON.stringify(key)}:${JSON.stringify(generate(random, depth))}`);
  }
  return JSON.parse(`{${entries.join(',')}}`) as JsonObject;
}

/** One generated object of at most about `nodes` values. */
export function generatedObject(random: Random, nodes: number): JsonObject {
  budget = nodes;
  return generateObject(random, 0);
}
