/**
 * THE column-naming rule of the capture rows. Rows, CSV headers, the data dictionary and the Glue/SQL schemas
 * all derive their column names from this module; nothing else spells a flattening rule.
 *
 * The rule, in order:
 *
 *  1. Objects are walked; a leaf's column is its key path joined with `_`.
 *       {geo:{countryCode:'IL'}}                                → geo_countryCode = 'IL'
 *  2. Wrapper unwrapping: an object reached under key K that itself holds a non-empty object under the same key
 *     K (not an id-keyed map, rule 6) loses that inner level (K.K.x → K_x). An event body is "reached under" its event type and an engagement
 *     element under `engagement`, so the documented wrappers disappear:
 *       event lead  {serverTimeStamp, contexts, lead:{topic:'t'}}  → topic = 't'          (not lead_topic)
 *       session     {personalInfo:{personalInfo:{customerAge:{customerAgeInYears:34}}}}
 *                                                               → personalInfo_customerAge_customerAgeInYears = 34
 *       event personalInfo {personalInfo:{customerAge:{customerAgeInYears:34}}}
 *                                                               → customerAge_customerAgeInYears = 34
 *     An unwrapped key that meets a sibling of the same name goes through the collision rule (5).
 *  3. Promotions (PROMOTIONS): a few payload fields are OUR columns and leave the payload. Event
 *     `serverTimeStamp` (top level only) → serverTimeStamp; event `contexts.page.id` → pageId (the rest of
 *     contexts flattens normally as contexts_...); page `id` → pageId; engagement `id` → engagementId and its
 *     `engagement.pageId` → pageId; app session `id` → appSessionId; the answer's top-level `id` → visitId.
 *     A field is promoted only when it has the expected JSON type; otherwise it stays payload (and rule 4
 *     renames it if its name is reserved):
 *       event {serverTimeStamp:1, contexts:{page:{id:'p'}}}     → serverTimeStamp = 1, pageId = 'p'
 *       event {cart:{serverTimeStamp:0, contexts:{}}}           → cart_serverTimeStamp = 0, cart_contexts = '{}'
 *  4. Segments: every character outside [A-Za-z0-9_] becomes `_`; an empty key becomes `_empty`. A column whose
 *     name equals (case-insensitively) a RESERVED_COLUMNS name, or `__proto__`/`constructor`/`prototype`, gets
 *     the prefix `payload_`. Names longer than 240 characters are cut and end in `_h` + a hash of the full name.
 *     Any of these changes marks the name as "altered" (it loses ties in rule 5).
 *       {'a-b c':1}                 → a_b_c = 1
 *       {'':1}                      → _empty = 1
 *       {sid:'x', rowType:'y'}      → payload_sid = 'x', payload_rowType = 'y'
 *       {SID:'x'}                   → payload_SID = 'x'          (Glue/Athena fold case)
 *       {__proto__:{polluted:true}} → __proto___polluted = true   (rows inherit nothing; data, not a prototype)
 *       {constructor:1}             → payload_constructor = 1
 *  5. Collisions: names are compared case-insensitively (SQL engines fold case). Among leaves that want the same
 *     name, the winner is the first by (unaltered before altered, shorter original path, original path compared
 *     segment by segment in code-unit order); it keeps the name. The others, in that same order, take the first
 *     free `${name}__${n}` for n = 2, 3, ... (names any leaf wants unsuffixed are never taken by a suffix).
 *     The order uses only paths, never the input's key order, so it is the same for any key order:
 *       {a_b:1, a:{b:2}}            → a_b = 1, a_b__2 = 2      (same for {a:{b:2}, a_b:1})
 *       {'a.b':1, a_b:2}            → a_b = 2, a_b__2 = 1      ('a.b' was altered)
 *       {Topic:1, topic:2}          → Topic = 1, topic__2 = 2
 *       event lead {topic:'s', lead:{topic:'t'}} → topic = 's', topic__2 = 't'
 *  6. Values: null, numbers, booleans and strings keep their JSON type. Anything else is one column of
 *     canonical JSON text (object keys sorted recursively, so key order never changes a value):
 *       - arrays of scalars            {keywords:['a','b']}  → keywords = '["a","b"]'
 *       - empty arrays / objects       {surveySkills:[]}     → surveySkills = '[]';  {contexts:{}} → contexts = '{}'
 *       - arrays of objects on session, page and engagement rows (purchases, leads, serviceActivity,
 *         viewedProduct, visitorError, cart_cartStatus_products, engagement impressionAccepted, ...):
 *                                      {leads:[{leadId:'x'}]} → leads = '[{"leadId":"x"}]'  (Athena: json_extract)
 *       - arrays that mix objects with other values, arrays of arrays: JSON as well
 *       - objects deeper than MAX_FLATTEN_DEPTH (16) segments: the remainder as JSON in the column of the
 *         first 16 segments   {l1:{l2:...{l16:{l17:'x'}}}} → l1_l2_..._l16 = '{"l17":"x"}'
 *       - id-keyed maps: an object (not a row's root) with at least one key, EVERY key all digits, keyed by
 *         campaign, engagement, VP/VB/OSL ids. Its keys are data, so it is one value with no columns or child
 *         rows inside, and no wrapper is unwrapped into it (rule 2):
 *           {revActiveVPs:{'493914412':{revision:7},'1249882912':{revision:7}}}
 *                                      → revActiveVPs = '{"1249882912":{"revision":7},"493914412":{"revision":7}}'
 *         An object that mixes id keys with other keys is walked as any object (its ids become segments):
 *           {m:{'1':1, x:2}}           → m_1 = 1, m_x = 2
 *         Rows of schema version 2 and before have one column per id instead (revActiveVPs_493914412_revision).
 *  7. Arrays whose elements are all objects, INSIDE AN EVENT (at any depth of its body), become `eventItem`
 *     child rows instead of a column: childPath = the column name the array would have had (it takes part in
 *     rule 5), one row per element, each element flattened by rules 1-6 (no further child rows: arrays of
 *     objects inside an element are JSON):
 *       event cartStatus {products:[{product:{sku:'s'},quantity:1}]}
 *                                      → child row childPath = 'products', childIndex = 0, product_sku = 's', quantity = 1
 *       event purchase {cart:{products:[...]}}   → childPath = 'cart_products'
 *       event personalInfo {personalInfo:{contacts:[...]}} → childPath = 'contacts'
 *
 * Non-finite numbers (impossible in JSON) are stored as their string ('NaN'), never as another number.
 */
import type { Json, JsonObject } from '../liveperson/types';
import { canonicalJson, isJsonObject, shortHash } from '../canonical';
import { CAPTURE_KEY_ATTRIBUTES, CAPTURE_TTL_ATTRIBUTE } from '../keys';

export type Scalar = string | number | boolean | null;

/** Deepest original path a column may have; deeper objects are JSON-encoded at this depth (rule 6). */
export const MAX_FLATTEN_DEPTH = 16;
/** Glue and Athena allow 255 characters per column; 240 leaves room for a `__n` collision suffix. */
export const MAX_COLUMN_BASE_LENGTH = 240;
/** Prefix of payload names that would otherwise take one of our names (rule 4). */
export const RESERVED_PREFIX = 'payload_';
/** Separator of the collision counter (rule 5): `a_b__2`. */
export const COLLISION_SEPARATOR = '__';
/** Column segment of an empty key (rule 4). */
export const EMPTY_KEY_SEGMENT = '_empty';

/**
 * Our own non-key columns. Exported one by one (as a tuple) so that row builders can be type-checked against
 * the list: a row never carries a bookkeeping column that a payload could also produce.
 */
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

/**
 * Every name a payload column may never take: our columns, the table's key attributes (pk, sk, gsi*) and its
 * TTL attribute (a payload number there would expire the row).
 */
export const RESERVED_COLUMNS: readonly string[] = Object.freeze([
  ...BOOKKEEPING_COLUMNS,
  ...CAPTURE_KEY_ATTRIBUTES,
  CAPTURE_TTL_ATTRIBUTE,
]);

/** Names that mean something to JavaScript objects; renamed like reserved names so no consumer trips on them. */
export const DANGEROUS_COLUMN_NAMES: readonly string[] = Object.freeze([
  '__proto__',
  'constructor',
  'prototype',
]);

const RENAMED_LOWER = new Set([...RESERVED_COLUMNS, ...DANGEROUS_COLUMN_NAMES].map((n) => n.toLowerCase()));

/** True when `name` (case-insensitively) is reserved or dangerous, i.e. a payload leaf would be prefixed. */
export function isReservedColumnName(name: string): boolean {
  return RENAMED_LOWER.has(name.toLowerCase());
}

export interface SegmentName {
  readonly segment: string;
  /** True when the key had to change to become a segment. */
  readonly altered: boolean;
}

/** Rule 4 for one key: disallowed characters → `_`, empty → `_empty`. */
export function sanitizeSegment(key: string): SegmentName {
  if (key === '') return { segment: EMPTY_KEY_SEGMENT, altered: true };
  const segment = key.replace(/[^A-Za-z0-9_]/g, '_');
  return { segment, altered: segment !== key };
}

export interface BaseColumnName {
  readonly name: string;
  readonly altered: boolean;
}

/**
 * The name a path wants before collisions are resolved (rules 1 and 4). `path` is the presented path: wrappers
 * already dropped, promotions already taken out. Use `flattenObject` for whole objects; this is for docs and
 * schemas that need the name of one known path.
 */
export function baseColumnName(path: readonly string[]): BaseColumnName {
  if (path.length === 0) throw new RangeError('a column needs at least one path segment');
  let altered = false;
  const segments = path.map((key) => {
    const s = sanitizeSegment(key);
    altered ||= s.altered;
    return s.segment;
  });
  let name = segments.join('_');
  if (isReservedColumnName(name)) {
    name = RESERVED_PREFIX + name;
    altered = true;
  }
  if (name.length > MAX_COLUMN_BASE_LENGTH) {
    name = truncatedName(name);
    altered = true;
  }
  return { name, altered };
}

/** Rule 4's cut: a name longer than MAX_COLUMN_BASE_LENGTH is cut and ends in `_h` + a hash of the whole name. */
function truncatedName(name: string): string {
  // The hash keeps two long names that share a prefix apart.
  const tail = `_h${shortHash(name)}`;
  return name.slice(0, MAX_COLUMN_BASE_LENGTH - tail.length) + tail;
}

/** Shorthand for `baseColumnName(path).name`. */
export function columnName(path: readonly string[]): string {
  return baseColumnName(path).name;
}

export interface NameCandidate {
  readonly base: BaseColumnName;
  /** The original path (wrappers included), used only to order candidates that want the same name. */
  readonly originalPath: readonly string[];
  /** Tie-break between sources flattened together (a later source loses an exact tie). */
  readonly source: number;
}

function comparePaths(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function compareCandidates(a: NameCandidate, b: NameCandidate): number {
  if (a.base.altered !== b.base.altered) return a.base.altered ? 1 : -1;
  if (a.originalPath.length !== b.originalPath.length) return a.originalPath.length - b.originalPath.length;
  return comparePaths(a.originalPath, b.originalPath) || a.source - b.source;
}

/**
 * Rule 5: final, unique (case-insensitively) names for the candidates, returned in the candidates' order.
 * The result depends only on the candidates' names and paths, not on their order in the input array.
 */
export function resolveColumnNames(candidates: readonly NameCandidate[]): string[] {
  const order = candidates.map((_, i) => i).sort((i, j) => compareCandidates(candidates[i]!, candidates[j]!));
  const names: (string | undefined)[] = new Array<string | undefined>(candidates.length);
  const taken = new Set<string>();
  // Every wanted name is booked first, so a suffixed loser can never take a name some leaf wants as such.
  for (const i of order) {
    const lower = candidates[i]!.base.name.toLowerCase();
    if (!taken.has(lower)) {
      taken.add(lower);
      names[i] = candidates[i]!.base.name;
    }
  }
  for (const i of order) {
    if (names[i] !== undefined) continue;
    const base = candidates[i]!.base.name;
    let n = 2;
    while (taken.has(`${base}${COLLISION_SEPARATOR}${n}`.toLowerCase())) n += 1;
    const name = `${base}${COLLISION_SEPARATOR}${n}`;
    taken.add(name.toLowerCase());
    names[i] = name;
  }
  return names as string[];
}

// ---------------------------------------------------------------------------------------------------------
// Promotions (rule 3)

export interface Promotion {
  /** Path inside the flattened object, as in the API answer. */
  readonly path: readonly string[];
  readonly column: BookkeepingColumn;
  /** The JSON type the value must have to be promoted; anything else stays payload. */
  readonly type: 'string' | 'number';
}

/** Fields that become our columns, per kind of object flattened (rule 3). */
export const PROMOTIONS = {
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
} as const satisfies Record<string, readonly Promotion[]>;

/** The value at `path` through own properties only (never a prototype's). */
export function valueAtPath(obj: JsonObject, path: readonly string[]): Json | undefined {
  let current: Json | undefined = obj;
  for (const key of path) {
    if (!isJsonObject(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

export interface PromotedValues {
  /** Promoted column → value; absent columns were not promotable (missing or of another type). */
  readonly values: Readonly<Partial<Record<BookkeepingColumn, string | number>>>;
  /** Paths to leave out of the flattening (exactly the promoted ones). */
  readonly omit: readonly (readonly string[])[];
}

export function applyPromotions(obj: JsonObject, promotions: readonly Promotion[]): PromotedValues {
  // A plain object rather than a Map: one is made per page and event of every answer.
  const values: Partial<Record<BookkeepingColumn, string | number>> = {};
  const omit: (readonly string[])[] = [];
  for (const p of promotions) {
    const v = valueAtPath(obj, p.path);
    const ok = p.type === 'string' ? typeof v === 'string' : typeof v === 'number' && Number.isFinite(v);
    if (ok && values[p.column] === undefined) {
      values[p.column] = v as string | number;
      omit.push(p.path);
    }
  }
  return { values, omit };
}

// ---------------------------------------------------------------------------------------------------------
// Flattening (rules 1, 2, 6, 7)

export interface FlattenSource {
  readonly value: JsonObject;
  /** Path segments put in front of every column of this source (e.g. ['visit'] → visit_...). */
  readonly prefix?: readonly string[];
  /** The key this object is "reached under", for rule 2 (event type; 'engagement'). */
  readonly rootName?: string;
  /** Paths (relative to `value`) to leave out: promoted fields, and arrays that become rows of their own. */
  readonly omit?: readonly (readonly string[])[];
}

export interface FlattenOptions {
  /** 'children': arrays of objects are returned as child arrays (rule 7); 'json' (default): JSON columns. */
  readonly objectArrays?: 'json' | 'children';
  readonly maxDepth?: number;
}

export interface FlatColumn {
  readonly name: string;
  /** Index of the source (in `flattenSources`' list) the value came from. */
  readonly source: number;
  readonly value: Scalar;
  /** 'json' when the value is canonical JSON text of an array, object or depth remainder (rule 6). */
  readonly encoding: 'scalar' | 'json';
  /** Where the value came from in the source object (prefix and wrappers included). */
  readonly sourcePath: readonly string[];
}

export interface FlatChildArray {
  /** The column name the array would have had: the child rows' childPath. */
  readonly name: string;
  readonly source: number;
  readonly sourcePath: readonly string[];
  readonly items: readonly JsonObject[];
}

export interface FlatPlan {
  /** Sorted by name. */
  readonly columns: readonly FlatColumn[];
  /** Sorted by name. */
  readonly childArrays: readonly FlatChildArray[];
}

/**
 * One step of a leaf's original path (prefix and wrappers included). A linked list rather than an array: a
 * leaf's path then costs one small object instead of a copy of its parent's path, and the array is built only
 * when somebody asks for it (a collision to resolve, a data-dictionary source path).
 */
interface PathStep {
  readonly key: string;
  readonly parent: PathStep | undefined;
  readonly length: number;
}

function pathArray(step: PathStep | undefined): string[] {
  const out = new Array<string>(step?.length ?? 0);
  for (let s = step; s !== undefined; s = s.parent) out[s.length - 1] = s.key;
  return out;
}

/**
 * A leaf: the name it wants (rules 1 and 4), then its final name (rule 5), its value and where it came from.
 * The same object is returned as a column or a child array, so a leaf costs one allocation plus its path step.
 */
class Leaf implements FlatColumn, FlatChildArray {
  name: string;

  constructor(
    readonly source: number,
    readonly path: PathStep,
    readonly wantedName: string,
    readonly lowerName: string,
    readonly altered: boolean,
    readonly value: Scalar,
    readonly encoding: 'scalar' | 'json',
    readonly items: readonly JsonObject[],
  ) {
    this.name = wantedName;
  }

  get sourcePath(): readonly string[] {
    return pathArray(this.path);
  }
}

const NO_ITEMS: readonly JsonObject[] = Object.freeze([]);

/** Keys that are already segments (rule 4 leaves them as they are): the common case, tested without a copy. */
const PLAIN_SEGMENT = /^[A-Za-z0-9_]+$/;

/** True when the step's path relative to the source (its last `relLength` keys) is one of `omit`. */
function isOmitted(step: PathStep, relLength: number, omit: readonly (readonly string[])[]): boolean {
  for (const o of omit) {
    if (o.length !== relLength) continue;
    let s: PathStep | undefined = step;
    let i = relLength - 1;
    while (i >= 0 && s !== undefined && s.key === o[i]) {
      s = s.parent;
      i -= 1;
    }
    if (i < 0) return true;
  }
  return false;
}

/** A key of an id-keyed map: campaign, engagement, VP/VB/OSL ids (rule 6). */
const ID_KEY = /^[0-9]+$/;

/**
 * Rule 6's id-keyed map: an object with at least one key, every key made of digits only
 * (`{"493914412":{"revision":7}}`). Its keys are data (ids the account uses), not names: as columns they would
 * grow a site's column set with every campaign, so the whole map is one JSON value.
 */
export function isIdKeyedMap(obj: JsonObject): boolean {
  return areIdKeys(Object.keys(obj));
}

/** True when `keys` (an object's own keys) are those of an id-keyed map: at least one, all digits. */
export function areIdKeys(keys: readonly string[]): boolean {
  if (keys.length === 0) return false;
  for (const key of keys) {
    // Most objects fail on their first key's first character: the regular expression only confirms.
    const first = key.charCodeAt(0);
    if (first < 48 || first > 57 || !ID_KEY.test(key)) return false;
  }
  return true;
}

function hasOwnKeys(obj: JsonObject): boolean {
  for (const key in obj) if (Object.hasOwn(obj, key)) return true;
  return false;
}

export function scalarValue(v: Scalar): Scalar {
  // Non-finite numbers cannot come from JSON; keep them as text rather than turning them into null.
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

const byName = (a: { name: string }, b: { name: string }): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/** One source being walked (module-level functions and this record, rather than closures made per call). */
interface Walk {
  readonly source: number;
  readonly omit: readonly (readonly string[])[];
  readonly prefixLength: number;
  readonly maxDepth: number;
  readonly children: boolean;
  readonly leaves: Leaf[];
}

/**
 * Flattens several objects into one namespace (so their names are resolved together, rule 5) and returns the
 * columns plus, with `objectArrays: 'children'`, the arrays that become child rows.
 *
 * Runs for every row of every answer, so it is written for speed: the presented name is built while walking
 * (the same result as `baseColumnName` of the presented path), keys are visited in their own order (the output
 * is sorted by name at the end, and rule 5 never looks at input order), and `resolveColumnNames` runs only when
 * two wanted names actually meet. test/unit/capture-naming-differential.test.ts holds it to a plain version.
 */
export function flattenSources(sources: readonly FlattenSource[], options: FlattenOptions = {}): FlatPlan {
  const maxDepth = options.maxDepth ?? MAX_FLATTEN_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 1)
    throw new RangeError(`maxDepth must be >= 1, got ${maxDepth}`);
  const children = options.objectArrays === 'children';
  const leaves: Leaf[] = [];

  for (let source = 0; source < sources.length; source += 1) {
    const src = sources[source] as FlattenSource;
    let root: PathStep | undefined;
    let rootName = '';
    let rootAltered = false;
    for (const key of src.prefix ?? []) {
      root = { key, parent: root, length: (root?.length ?? 0) + 1 };
      const s = sanitizeSegment(key);
      rootName = root.length === 1 ? s.segment : `${rootName}_${s.segment}`;
      rootAltered ||= s.altered;
    }
    const prefixLength = root?.length ?? 0;
    const walk: Walk = { source, omit: src.omit ?? [], prefixLength, maxDepth, children, leaves };
    walkObject(walk, src.value, 0, root, rootName, prefixLength, rootAltered, src.rootName);
  }

  resolveLeafNames(leaves);
  const columns: Leaf[] = [];
  const childArrays: Leaf[] = [];
  for (const leaf of leaves) (leaf.items === NO_ITEMS ? columns : childArrays).push(leaf);
  return { columns: columns.sort(byName), childArrays: childArrays.sort(byName) };
}

// `presented` is the column name so far (the presented path's segments joined by `_`), `segments` how many
// there are; `relLength` counts the keys below the source's value (omit paths are relative to it).

function walkObject(
  walk: Walk,
  obj: JsonObject,
  relLength: number,
  path: PathStep | undefined,
  presented: string,
  segments: number,
  altered: boolean,
  reachedBy: string | undefined,
): void {
  const keys = Object.keys(obj);
  if (keys.length === 0) {
    // An empty object is information (the key was there); the root itself is not a column.
    if (path !== undefined && relLength > 0)
      emit(walk, path, presented, segments, altered, '{}', 'json', NO_ITEMS);
    return;
  }
  const inner = reachedBy !== undefined && Object.hasOwn(obj, reachedBy) ? obj[reachedBy] : undefined;
  // Only unwrap a wrapper we will walk into: a depth-capped wrapper or an id-keyed map keeps its own name as
  // column (the map is a value, and a value needs a name).
  const unwrap =
    isJsonObject(inner) &&
    hasOwnKeys(inner) &&
    !isIdKeyedMap(inner) &&
    walk.prefixLength + relLength + 1 < walk.maxDepth;
  const depth = (path?.length ?? 0) + 1;
  for (const key of keys) {
    const value = obj[key];
    if (value === undefined) continue;
    const step: PathStep = { key, parent: path, length: depth };
    if (walk.omit.length > 0 && isOmitted(step, relLength + 1, walk.omit)) continue;
    if (unwrap && key === reachedBy) {
      walkValue(walk, value, relLength + 1, step, presented, segments, altered, key);
    } else if (PLAIN_SEGMENT.test(key)) {
      const name = segments === 0 ? key : `${presented}_${key}`;
      walkValue(walk, value, relLength + 1, step, name, segments + 1, altered, key);
    } else {
      const s = sanitizeSegment(key);
      const name = segments === 0 ? s.segment : `${presented}_${s.segment}`;
      walkValue(walk, value, relLength + 1, step, name, segments + 1, altered || s.altered, key);
    }
  }
}

function walkValue(
  walk: Walk,
  value: Json,
  relLength: number,
  step: PathStep,
  presented: string,
  segments: number,
  altered: boolean,
  key: string,
): void {
  if (value === null || typeof value !== 'object') {
    emit(walk, step, presented, segments, altered, scalarValue(value), 'scalar', NO_ITEMS);
  } else if (Array.isArray(value)) {
    if (walk.children && value.length > 0 && value.every(isJsonObject)) {
      emit(walk, step, presented, segments, altered, null, 'json', value as JsonObject[]);
    } else {
      emit(walk, step, presented, segments, altered, canonicalJson(value), 'json', NO_ITEMS);
    }
  } else if ((step.length >= walk.maxDepth && hasOwnKeys(value)) || isIdKeyedMap(value)) {
    emit(walk, step, presented, segments, altered, canonicalJson(value), 'json', NO_ITEMS);
  } else {
    walkObject(walk, value, relLength, step, presented, segments, altered, key);
  }
}

/** Records a leaf under the name it wants: `presented` with rule 4's renaming and cut applied. */
function emit(
  walk: Walk,
  path: PathStep,
  presented: string,
  segments: number,
  altered: boolean,
  value: Scalar,
  encoding: 'scalar' | 'json',
  items: readonly JsonObject[],
): void {
  if (segments === 0) throw new RangeError('a column needs at least one path segment');
  let name = presented;
  let lowerName = name.toLowerCase();
  if (RENAMED_LOWER.has(lowerName)) {
    name = RESERVED_PREFIX + name;
    lowerName = RESERVED_PREFIX + lowerName;
    altered = true;
  }
  if (name.length > MAX_COLUMN_BASE_LENGTH) {
    name = truncatedName(name);
    lowerName = name.toLowerCase();
    altered = true;
  }
  walk.leaves.push(new Leaf(walk.source, path, name, lowerName, altered, value, encoding, items));
}

/** Rule 5 over the leaves: each keeps its wanted name unless two meet (rare), then `resolveColumnNames` decides. */
function resolveLeafNames(leaves: readonly Leaf[]): void {
  const wanted = new Set<string>();
  for (const leaf of leaves) {
    if (wanted.has(leaf.lowerName)) {
      const names = resolveColumnNames(
        leaves.map((l) => ({
          base: { name: l.wantedName, altered: l.altered },
          originalPath: pathArray(l.path),
          source: l.source,
        })),
      );
      leaves.forEach((l, i) => {
        l.name = names[i] as string;
      });
      return;
    }
    wanted.add(leaf.lowerName);
  }
}

/** A fresh object without prototype: `__proto__` and friends are plain data keys in it. */
export function nullProtoRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

/**
 * Flattens one object into columns by the rule above (arrays of objects as JSON columns), as a null-prototype
 * record whose keys are in name order.
 */
export function flattenObject(
  obj: JsonObject,
  options: Omit<FlattenSource, 'value'> & { readonly maxDepth?: number } = {},
): Record<string, Scalar> {
  const { maxDepth, ...source } = options;
  const plan = flattenSources([{ ...source, value: obj }], {
    objectArrays: 'json',
    ...(maxDepth !== undefined ? { maxDepth } : {}),
  });
  const out = nullProtoRecord<Scalar>();
  for (const c of plan.columns) out[c.name] = c.value;
  return out;
}
