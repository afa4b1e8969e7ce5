/**
 * The column-naming rule (documented at the top of lib/capture/naming.ts) written again, the plain way and on
 * its own: path arrays, sorted keys, every leaf collected first and named afterwards. It imports nothing from
 * lib/capture/naming.ts (only JSON primitives from lib/canonical.ts), so a mistake there cannot hide here. Tests
 * compare the two on many generated objects: the fast walk must name and value every leaf exactly as this does.
 *
 * Rule 8 (id-keyed maps as data): an object reached under a key (never the object flattened itself), with at
 * least one own key and every key all digits (`{'493914412': {...}, '1249882912': {...}}`), is a value: one
 * column of canonical JSON named by its path, not walked (no columns, unwrapping or child arrays inside it). It
 * is on by default; `idKeyedMaps: false` gives the rule as it was before.
 */
import { canonicalJson, isJsonObject, shortHash } from '../../lib/canonical';
import type { Json, JsonObject } from '../../lib/liveperson/types';

export type Scalar = string | number | boolean | null;

export const MAX_FLATTEN_DEPTH = 16;
export const MAX_COLUMN_BASE_LENGTH = 240;

/** Our own non-key columns, and the capture table's key attributes: payload names never take them. */
export const BOOKKEEPING_COLUMNS = [
  'rowType',
  'accountId',
  'visitorId',
  'sid',
  'visitId',
  'appSessionId',
  'ip',
  'eventType',
  'serverTimeStamp',
  'pageId',
  'engagementId',
  'eventKey',
  'occurrence',
  'parentSk',
  'childPath',
  'childIndex',
  'schemaVersion',
] as const;
export type BookkeepingColumn = (typeof BOOKKEEPING_COLUMNS)[number];
export const KEY_ATTRIBUTES = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk'];
/** The capture table's TTL attribute: a payload number under it would expire the row. */
export const TTL_ATTRIBUTE = 'expiresAtSec';
export const DANGEROUS_NAMES = ['__proto__', 'constructor', 'prototype'];

const RENAMED = [...BOOKKEEPING_COLUMNS, ...KEY_ATTRIBUTES, TTL_ATTRIBUTE, ...DANGEROUS_NAMES].map((n) =>
  n.toLowerCase(),
);

export interface OracleSource {
  readonly value: JsonObject;
  readonly prefix?: readonly string[];
  readonly rootName?: string;
  readonly omit?: readonly (readonly string[])[];
}

export interface OracleOptions {
  readonly objectArrays?: 'json' | 'children';
  readonly maxDepth?: number;
  /** Rule 8 (id-keyed maps are one JSON column); default true. */
  readonly idKeyedMaps?: boolean;
}

export interface OracleColumn {
  name: string;
  value: Scalar;
  encoding: 'scalar' | 'json';
  sourcePath: readonly string[];
}

export interface OracleChildArray {
  name: string;
  sourcePath: readonly string[];
  items: readonly JsonObject[];
}

/** Rules 1 and 4: the name a presented path wants, and whether rule 4 had to change anything. */
export function oracleBaseName(presentedPath: readonly string[]): { name: string; altered: boolean } {
  if (presentedPath.length === 0) throw new RangeError('a column needs at least one path segment');
  const segments = presentedPath.map((key) => (key === '' ? '_empty' : key.replace(/[^A-Za-z0-9_]/g, '_')));
  let name = segments.join('_');
  let altered = segments.some((s, i) => s !== presentedPath[i]);
  if (RENAMED.includes(name.toLowerCase())) {
    name = `payload_${name}`;
    altered = true;
  }
  if (name.length > MAX_COLUMN_BASE_LENGTH) {
    const tail = `_h${shortHash(name)}`;
    name = name.slice(0, MAX_COLUMN_BASE_LENGTH - tail.length) + tail;
    altered = true;
  }
  return { name, altered };
}

export interface OracleCandidate {
  readonly base: { name: string; altered: boolean };
  readonly originalPath: readonly string[];
  readonly source: number;
}

/** Rule 5: unique (case-insensitively) final names, in the candidates' order. */
export function oracleResolveNames(candidates: readonly OracleCandidate[]): string[] {
  const before = (a: OracleCandidate, b: OracleCandidate): number => {
    if (a.base.altered !== b.base.altered) return a.base.altered ? 1 : -1;
    if (a.originalPath.length !== b.originalPath.length) return a.originalPath.length - b.originalPath.length;
    for (let i = 0; i < a.originalPath.length; i += 1) {
      const x = a.originalPath[i] as string;
      const y = b.originalPath[i] as string;
      if (x !== y) return x < y ? -1 : 1;
    }
    return a.source - b.source;
  };
  const groups = new Map<string, number[]>();
  candidates.forEach((c, i) => {
    const lower = c.base.name.toLowerCase();
    groups.set(lower, [...(groups.get(lower) ?? []), i]);
  });
  // Every wanted name is taken before any suffix is handed out.
  const taken = new Set(groups.keys());
  const names: string[] = [];
  for (const group of groups.values()) {
    const [winner, ...losers] = group.sort((i, j) => before(candidates[i]!, candidates[j]!));
    names[winner!] = candidates[winner!]!.base.name;
    for (const i of losers) {
      let n = 2;
      while (taken.has(`${candidates[i]!.base.name}__${n}`.toLowerCase())) n += 1;
      names[i] = `${candidates[i]!.base.name}__${n}`;
      taken.add(names[i].toLowerCase());
    }
  }
  return names;
}

/** Rule 3: the fields promoted to our columns, per kind of object. */
export const ORACLE_PROMOTIONS: Record<
  'visit' | 'session' | 'page' | 'engagement' | 'event',
  readonly { path: readonly string[]; column: BookkeepingColumn; type: 'string' | 'number' }[]
> = {
  visit: [{ path: ['id'], column: 'visitId', type: 'string' }],
  session: [{ path: ['id'], column: 'appSessionId', type: 'string' }],
  page: [{ path: ['id'], column: 'pageId', type: 'string' }],
  engagement: [
    { path: ['id'], column: 'engagementId', type: 'string' },
    { path: ['engagement', 'pageId'], column: 'pageId', type: 'string' },
  ],
  event: [
    { path: ['serverTimeStamp'], column: 'serverTimeStamp', type: 'number' },
    { path: ['contexts', 'page', 'id'], column: 'pageId', type: 'string' },
  ],
};

export interface OraclePromoted {
  values: Map<BookkeepingColumn, string | number>;
  omit: (readonly string[])[];
}

/** Rule 3 for one object: promoted values (own properties only, of the expected type) and the paths to omit. */
export function oraclePromote(
  obj: JsonObject,
  promotions: (typeof ORACLE_PROMOTIONS)[keyof typeof ORACLE_PROMOTIONS],
): OraclePromoted {
  const values = new Map<BookkeepingColumn, string | number>();
  const omit: (readonly string[])[] = [];
  for (const p of promotions) {
    let v: Json | undefined = obj;
    for (const key of p.path) v = isJsonObject(v) && Object.hasOwn(v, key) ? v[key] : undefined;
    const ok = p.type === 'string' ? typeof v === 'string' : typeof v === 'number' && Number.isFinite(v);
    if (ok && !values.has(p.column)) {
      values.set(p.column, v as string | number);
      omit.push(p.path);
    }
  }
  return { values, omit };
}

/** Rule 8: a non-empty object whose keys are all digits. */
export function isIdKeyedMap(value: Json | undefined): value is JsonObject {
  if (!isJsonObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => /^[0-9]+$/.test(k));
}

const scalarValue = (v: string | number | boolean | null): Scalar =>
  typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;

interface Leaf {
  source: number;
  originalPath: readonly string[];
  presentedPath: readonly string[];
  value: Scalar;
  encoding: 'scalar' | 'json';
  items?: readonly JsonObject[];
}

export function oracleFlattenSources(
  sources: readonly OracleSource[],
  options: OracleOptions = {},
): { columns: OracleColumn[]; childArrays: OracleChildArray[] } {
  const maxDepth = options.maxDepth ?? MAX_FLATTEN_DEPTH;
  const children = options.objectArrays === 'children';
  const idMaps = options.idKeyedMaps ?? true;
  const leaves: Leaf[] = [];
  sources.forEach((src, source) => {
    const prefix = src.prefix ?? [];
    const omit = src.omit ?? [];
    const isOmitted = (rel: readonly string[]): boolean =>
      omit.some((o) => o.length === rel.length && o.every((seg, i) => seg === rel[i]));
    const emit = (
      relPath: readonly string[],
      presentedPath: readonly string[],
      value: Scalar,
      encoding: 'scalar' | 'json',
      items?: readonly JsonObject[],
    ): void => {
      leaves.push({ source, originalPath: [...prefix, ...relPath], presentedPath, value, encoding, items });
    };
    // `reachedBy`: the key the object sits under (rule 2); `presentedPath`: its name so far (wrappers dropped).
    const walkObject = (
      obj: JsonObject,
      relPath: readonly string[],
      presentedPath: readonly string[],
      reachedBy: string | undefined,
    ): void => {
      const keys = Object.keys(obj).sort();
      if (keys.length === 0) {
        if (relPath.length > 0) emit(relPath, presentedPath, '{}', 'json');
        return;
      }
      const inner = reachedBy !== undefined && Object.hasOwn(obj, reachedBy) ? obj[reachedBy] : undefined;
      const unwrap =
        isJsonObject(inner) &&
        Object.keys(inner).length > 0 &&
        !(idMaps && isIdKeyedMap(inner)) &&
        prefix.length + relPath.length + 1 < maxDepth;
      for (const key of keys) {
        const value = obj[key];
        if (value === undefined) continue;
        const rel = [...relPath, key];
        if (isOmitted(rel)) continue;
        walkValue(value, rel, unwrap && key === reachedBy ? presentedPath : [...presentedPath, key], key);
      }
    };
    const walkValue = (
      value: Json,
      relPath: readonly string[],
      presentedPath: readonly string[],
      key: string,
    ): void => {
      if (value === null || typeof value !== 'object') {
        emit(relPath, presentedPath, scalarValue(value), 'scalar');
      } else if (Array.isArray(value)) {
        if (children && value.length > 0 && value.every(isJsonObject)) {
          emit(relPath, presentedPath, null, 'json', value as JsonObject[]);
        } else {
          emit(relPath, presentedPath, canonicalJson(value), 'json');
        }
      } else if (idMaps && isIdKeyedMap(value)) {
        emit(relPath, presentedPath, canonicalJson(value), 'json');
      } else if (prefix.length + relPath.length >= maxDepth && Object.keys(value).length > 0) {
        emit(relPath, presentedPath, canonicalJson(value), 'json');
      } else {
        walkObject(value, relPath, presentedPath, key);
      }
    };
    walkObject(src.value, [], prefix, src.rootName);
  });

  const names = oracleResolveNames(
    leaves.map((l) => ({
      base: oracleBaseName(l.presentedPath),
      originalPath: l.originalPath,
      source: l.source,
    })),
  );
  const columns: OracleColumn[] = [];
  const childArrays: OracleChildArray[] = [];
  leaves.forEach((leaf, i) => {
    const name = names[i] as string;
    if (leaf.items) childArrays.push({ name, sourcePath: leaf.originalPath, items: leaf.items });
    else columns.push({ name, value: leaf.value, encoding: leaf.encoding, sourcePath: leaf.originalPath });
  });
  const byName = (a: { name: string }, b: { name: string }): number =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  return { columns: columns.sort(byName), childArrays: childArrays.sort(byName) };
}

/** One object → name → value (arrays of objects as JSON), like lib's `flattenObject`. */
export function oracleFlattenObject(
  obj: JsonObject,
  options: Omit<OracleSource, 'value'> & Omit<OracleOptions, 'objectArrays'> = {},
): Record<string, Scalar> {
  const { maxDepth, idKeyedMaps, ...source } = options;
  const plan = oracleFlattenSources([{ ...source, value: obj }], { maxDepth, idKeyedMaps });
  const out = Object.create(null) as Record<string, Scalar>;
  for (const c of plan.columns) out[c.name] = c.value;
  return out;
}
