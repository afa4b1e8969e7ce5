import { canonicalJson, scalarJson, shortHash } from '../../lib/canonical';
import type { Json } from '../../lib/liveperson/types';

/** Rebuilt with keys sorted at every level, so JSON.stringify of it is the canonical text by definition. */
function sortedCopy(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortedCopy);
  if (v !== null && typeof v === 'object') {
    const out = Object.create(null) as Record<string, Json>;
    for (const k of Object.keys(v).sort()) out[k] = sortedCopy(v[k] as Json);
    return out;
  }
  return v;
}

function nested(depth: number): Json {
  let v: Json = { z: 1, a: 'leaf' };
  for (let i = 0; i < depth; i += 1) v = { b: [v], a: i };
  return v;
}

describe('canonicalJson', () => {
  it.each([
    ['plain', 'abc'],
    ['quote and backslash', 'a"b\\c'],
    ['control characters', '\u0000\u0001\n\t\u001f'],
    ['line separators (not escaped by JSON)', '\u2028\u2029'],
    ['a surrogate pair', '😀'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', '\udc00'],
    ['empty', ''],
  ])('writes strings exactly as JSON.stringify: %s', (_name, text) => {
    expect(scalarJson(text)).toBe(JSON.stringify(text));
    expect(canonicalJson({ [text]: text })).toBe(JSON.stringify({ [text]: text }));
  });

  it('sorts keys at every level and keeps array order', () => {
    const value = JSON.parse('{"b":{"y":1,"x":[{"d":1,"c":2},3]},"a":null,"10":true,"9":"n"}') as Json;
    expect(canonicalJson(value)).toBe('{"10":true,"9":"n","a":null,"b":{"x":[{"c":2,"d":1},3],"y":1}}');
  });

  it('writes non-finite numbers as strings, never as null', () => {
    expect(canonicalJson([NaN, Infinity, -0])).toBe('["NaN","Infinity",0]');
  });

  it.each([10, 63, 64, 65, 500])(
    'gives the same text at nesting depth %i (recursive and iterative routes)',
    (depth) => {
      const value = nested(depth);
      expect(canonicalJson(value)).toBe(JSON.stringify(sortedCopy(value)));
    },
  );
});

describe('shortHash', () => {
  it('is the first 16 hex characters of sha256', () => {
    expect(shortHash('abc')).toBe('ba7816bf8f01cfea');
  });
});
