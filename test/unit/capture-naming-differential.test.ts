/**
 * `flattenSources` is written for speed; test/support/naming-oracle.ts is the same rule written the plain way.
 * On thousands of generated objects full of what makes naming hard (collisions in any letter case, wrappers,
 * reserved and dangerous names, characters to replace, empty keys, long names, deep nesting, arrays of
 * objects, omitted paths, prefixes, several sources), both must give the same columns, values, encodings,
 * source paths and child arrays.
 */
import { flattenSources, type FlattenOptions, type FlattenSource } from '../../lib/capture/naming';
import { Random } from '../../lib/simulator/random';
import { generatedObject, KEYS } from '../support/json-generator';
import { oracleFlattenSources } from '../support/naming-oracle';

function randomPath(random: Random): string[] {
  return Array.from({ length: random.int(1, 3) }, () => KEYS[random.int(0, 12)] as string);
}

function randomSources(random: Random): FlattenSource[] {
  return Array.from({ length: random.int(1, 3) }, () => {
    return {
      value: generatedObject(random, 40),
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
