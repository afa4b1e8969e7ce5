/**
 * `flattenSources` is written for speed; test/support/naming-oracle.ts is the same rule written the plain way.
 * On thousands of generated objects full of what makes naming hard (collisions in any letter case, wrappers,
 * reserved and dangerous names, characters to replace, empty keys, long names, deep nesting, arrays of
 * objects, omitted paths, prefixes, several sources), both must give the same columns, values, encodings,
 * source paths and child arrays.
 */
import { flattenSources, type FlattenOptions, type FlattenSource } from '../../lib/capture/naming';
import type { Json, JsonObject } from '../../lib/liveperson/types';
import { Random } from '../../lib/simulator/random';
import { oracleFlattenSources } from '../support/naming-oracle';

const KEYS = [
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

function randomPath(random: Random): string[] {
  return Array.from({ length: random.int(1, 3) }, () => KEYS[random.int(0, 12)] as string);
}

function randomSources(random: Random): FlattenSource[] {
  return Array.from({ length: random.int(1, 3) }, () => {
    budget = 40;
    return {
      value: generateObject(random, 0),
      ...(random.chance(0.3) ? { prefix: randomPath(random).slice(0, 2) } : {}),
      ...(random.chance(0.5) ? { rootName: KEYS[random.int(0, 10)] as string } : {}),
      ...(random.chance(0.4) ? { omit: [randomPath(random), randomPath(random)] } : {}),
    };
  });
}

const comparable = (plan: {
  columns: readonly { name: string; value: unknown; encoding: string; sourcePath: readonly string[] }[];
  childArrays: readonly { name: string; sourcePath: readonly string[]; items: readonly unknown[] }[];
}): unknown => ({
  columns: plan.columns.map((c) => [c.name, c.value, c.encoding, [...c.sourcePath]]),
  childArrays: plan.childArrays.map((c) => [c.name, [...c.sourcePath], c.items]),
});

describe('flattenSources against the plain oracle', () => {
  it.each([1, 2, 3, 4])('agrees on 600 generated source sets (seed %i)', (seed) => {
    const random = new Random(seed);
    let collisions = 0;
    for (let i = 0; i < 600; i += 1) {
      const sources = randomSources(random);
      const options: FlattenOptions = {
        objectArrays: random.chance(0.5) ? 'children' : 'json',
        ...(random.chance(0.2) ? { maxDepth: random.int(1, 6) } : {}),
      };
      const run = <T>(f: () => T): T | string => {
        try {
          return f();
        } catch (error) {
          return `threw ${(error as Error).name}: ${(error as Error).message}`;
        }
      };
      const fast = run(() => comparable(flattenSources(sources, options)));
      const oracle = run(() => comparable(oracleFlattenSources(sources, options)));
      expect(fast).toEqual(oracle);
      if (typeof oracle !== 'string' && JSON.stringify(oracle).includes('__2')) collisions += 1;
    }
    // The generator is only useful if it makes names meet.
    expect(collisions).toBeGreaterThan(20);
  });
});
