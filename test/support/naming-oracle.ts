/**
 * The naming rule of lib/capture/naming.ts written the plain way (path arrays, sorted keys, every leaf through
 * `baseColumnName` and `resolveColumnNames`), as it was before `flattenSources` was rewritten for speed. Tests
 * compare the two on many generated objects: the fast walk must name and value every leaf exactly as this does.
 */
import { canonicalJson, isJsonObject, sortedKeys } from '../../lib/capture/canonical';
import {
  baseColumnName,
  MAX_FLATTEN_DEPTH,
  resolveColumnNames,
  type FlattenOptions,
  type FlattenSource,
  type Scalar,
} from '../../lib/capture/naming';
import type { Json, JsonObject } from '../../lib/liveperson/types';

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

interface Leaf {
  source: number;
  originalPath: readonly string[];
  presentedPath: readonly string[];
  value: Scalar;
  encoding: 'scalar' | 'json';
  items?: readonly JsonObject[];
}

const isOmitted = (path: readonly string[], omit: readonly (readonly string[])[]): boolean =>
  omit.some((o) => o.length === path.length && o.every((seg, i) => seg === path[i]));

const scalarValue = (v: string | number | boolean | null): Scalar =>
  typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;

export function oracleFlattenSources(
  sources: readonly FlattenSource[],
  options: FlattenOptions = {},
): { columns: OracleColumn[]; childArrays: OracleChildArray[] } {
  const maxDepth = options.maxDepth ?? MAX_FLATTEN_DEPTH;
  const children = options.objectArrays === 'children';
  const leaves: Leaf[] = [];
  sources.forEach((src, source) => {
    const prefix = src.prefix ?? [];
    const omit = src.omit ?? [];
    const emit = (leaf: Omit<Leaf, 'source'>): void => {
      leaves.push({ source, ...leaf });
    };
    const walkObject = (
      obj: JsonObject,
      relPath: readonly string[],
      presentedPath: readonly string[],
      reachedBy: string | undefined,
    ): void => {
      const keys = sortedKeys(obj);
      if (keys.length === 0) {
        if (relPath.length > 0)
          emit({ originalPath: [...prefix, ...relPath], presentedPath, value: '{}', encoding: 'json' });
        return;
      }
      const inner = reachedBy !== undefined && Object.hasOwn(obj, reachedBy) ? obj[reachedBy] : undefined;
      const unwrap =
        reachedBy !== undefined &&
        isJsonObject(inner) &&
        sortedKeys(inner).length > 0 &&
        prefix.length + relPath.length + 1 < maxDepth;
      for (const key of keys) {
        const value = obj[key];
        if (value === undefined) continue;
        const rel = [...relPath, key];
        if (isOmitted(rel, omit)) continue;
        walkValue(value, rel, unwrap && key === reachedBy ? presentedPath : [...presentedPath, key], key);
      }
    };
    const walkValue = (
      value: Json,
      relPath: readonly string[],
      presentedPath: readonly string[],
      key: string,
    ): void => {
      const originalPath = [...prefix, ...relPath];
      if (value === null || typeof value !== 'object') {
        emit({ originalPath, presentedPath, value: scalarValue(value), encoding: 'scalar' });
      } else if (Array.isArray(value)) {
        if (children && value.length > 0 && value.every(isJsonObject)) {
          emit({ originalPath, presentedPath, value: null, encoding: 'json', items: value as JsonObject[] });
        } else {
          emit({ originalPath, presentedPath, value: canonicalJson(value), encoding: 'json' });
        }
      } else if (originalPath.length >= maxDepth && sortedKeys(value).length > 0) {
        emit({ originalPath, presentedPath, value: canonicalJson(value), encoding: 'json' });
      } else {
        walkObject(value, relPath, presentedPath, key);
      }
    };
    walkObject(src.value, [], prefix, src.rootName);
  });
  const names = resolveColumnNames(
    leaves.map((l) => ({
      base: baseColumnName(l.presentedPath),
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
