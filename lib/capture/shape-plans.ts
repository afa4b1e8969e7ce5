/**
 * Shape plans: the naming rule's answer for one SHAPE of object, worked out once and reused.
 *
 * Flattening an object costs mostly the naming rule (names built from paths, collisions resolved, columns
 * sorted) and the building of its row. Both depend only on the object's shape (its keys in their order, their
 * nesting, the JSON kind of every value), never on its values; and the pages, events and items of an answer,
 * and of one site's sessions, come in few shapes (the 51 pages of a six-hour simulator session have two). A
 * plan records for one shape which value feeds which column (columns in name order), which arrays become child
 * rows, how to write its canonical JSON (for event hashes), and, per row layout, how its rows are built (a
 * constructor compiled for its columns, see `rowTemplate` in rows.ts).
 *
 * A plan is made by `flattenSources` itself (the one naming rule, naming.ts) from the first object of a shape,
 * so a planned object gets exactly the columns that rule gives it. A plan is reused only for an object whose
 * keys, order, nesting and value kinds are all the same, and only for the same `rootName` and omit paths.
 * test/unit/capture-flatten-plans.test.ts holds the flattener with shared plans to the plain one
 * (test/support/flatten-oracle.ts) on simulator answers and generated look-alike objects.
 *
 * Objects too deep or too large to plan (past MAX_PLAN_DEPTH / MAX_PLAN_TOKENS), and objects of a kind whose
 * shapes rarely repeat (see ShapePlans), are flattened with a plan made for them alone and not kept: the same
 * columns, without the cache.
 */
import type { Json, JsonObject } from '../liveperson/types';
import { canonicalJson, isJsonObject, scalarJson } from './canonical';
import { flattenSources, scalarValue, valueAtPath, type Scalar } from './naming';
import { rowTemplate, type RowLayout, type RowTemplate } from './rows';

/** Nesting (below the object) up to which a shape is described; deeper objects get an uncached plan. */
export const MAX_PLAN_DEPTH = 24;
/** Size of a shape's description (3 tokens per key) beyond which it is not kept: large objects are rare. */
export const MAX_PLAN_TOKENS = 3_000;
/** Shapes kept per family (one family: one kind of row and one rootName, e.g. the `cartStatus` events). */
export const PLANS_PER_FAMILY = 16;
/** Misses allowed before plans must earn their keep (more than a third of recent lookups hitting). */
const MIN_MISSES_BEFORE_DOUBT = 16;
/** Lookups between two halvings of the recent hit and miss counts. */
const REVIEW_EVERY = 256;
/** Where plans do not pay, one miss in this many still makes one. */
export const PLAN_ANYWAY_EVERY = 64;
/** Families kept; event types are data, so their number is bounded here (the cache is emptied when full). */
export const MAX_FAMILIES = 256;
/**
 * Plans kept in all, whatever the families: a plan is at most MAX_PLAN_TOKENS tokens plus its columns and
 * constructor (tens of KB at worst, a few KB usually), so one ShapePlans stays within a few MB.
 */
export const MAX_PLANS = 256;

// The JSON kind of a value, as far as the naming rule cares (it decides names, promotions and encodings).
const KIND_UNDEFINED = 0;
const KIND_NULL = 1;
const KIND_STRING = 2;
const KIND_NUMBER = 3;
const KIND_NON_FINITE = 4;
const KIND_BOOLEAN = 5;
/** An object, empty or not: its key count is part of the shape (the token after it). */
const KIND_OBJECT = 7;
const KIND_ARRAY = 8;
/** A non-empty array of objects only: child rows where the rule asks for them (rule 7). */
const KIND_OBJECT_ARRAY = 9;

function kindOf(value: Json | undefined): number {
  switch (typeof value) {
    case 'string':
      return KIND_STRING;
    case 'number':
      return Number.isFinite(value) ? KIND_NUMBER : KIND_NON_FINITE;
    case 'boolean':
      return KIND_BOOLEAN;
    case 'undefined':
      return KIND_UNDEFINED;
    default:
      if (value === null) return KIND_NULL;
      if (Array.isArray(value)) {
        return value.length > 0 && value.every(isJsonObject) ? KIND_OBJECT_ARRAY : KIND_ARRAY;
      }
      return KIND_OBJECT;
  }
}

/**
 * How an object is flattened (as a FlattenSource of naming.ts): the key it was reached under (rule 2), the
 * paths left out (rule 3) and a prefix. A plan is reused only with the very same omit and prefix ARRAYS
 * (module constants such as the PROMOTIONS paths), and the same rootName.
 */
export interface PlanSpec {
  readonly rootName?: string | undefined;
  readonly omit: readonly (readonly string[])[];
  readonly prefix?: readonly string[] | undefined;
}

/** One of several objects flattened into one namespace (the session row: app session and visit). */
export interface PlanSource extends PlanSpec {
  readonly value: JsonObject;
}

interface PlannedColumn {
  readonly name: string;
  /** Index of the column's value among the object's values (see `Flattened.nodes`). */
  readonly node: number;
  /** Canonical JSON of an array or object (rule 6) rather than a scalar. */
  readonly json: boolean;
}

interface PlannedChildArray {
  readonly name: string;
  readonly node: number;
}

/** The naming rule's answer for one shape. */
export class ShapePlan {
  /** Payload column names, in name order (the order of `Flattened.values`). */
  readonly columnNames: readonly string[];
  private readonly templates = new Map<RowLayout, RowTemplate>();

  constructor(
    /**
     * The shape: per object, its key count, then per key the key, its kind and the index of its value among
     * the object's values (objects nested in place). Empty for a plan made for one object alone (not kept).
     */
    readonly tokens: readonly (string | number)[],
    /** How many values (of every key at every depth) an object of this shape has. */
    readonly nodeCount: number,
    readonly specs: readonly PlanSpec[],
    readonly columns: readonly PlannedColumn[],
    readonly childArrays: readonly PlannedChildArray[],
    /** How to write the canonical JSON of an object of this shape, when the plans were asked to know. */
    readonly canonical: CanonicalProgram | undefined,
  ) {
    this.columnNames = columns.map((c) => c.name);
  }

  /** How rows of this shape are built, for one layout of key and bookkeeping columns. */
  template(layout: RowLayout): RowTemplate {
    let template = this.templates.get(layout);
    if (template === undefined) {
      template = rowTemplate(layout, this.columnNames);
      this.templates.set(layout, template);
    }
    return template;
  }
}

/** One object (or several, flattened together) flattened through a plan. */
export interface Flattened {
  readonly plan: ShapePlan;
  /** The (first) object flattened. */
  readonly value: JsonObject;
  /** The object's values in walk order (what the plan's indexes point into). */
  readonly nodes: readonly (Json | undefined)[];
  /** Payload column values, in the order of `plan.columnNames`. */
  readonly values: Scalar[];
  /** Arrays that become child rows (only with `objectArrays: 'children'`), in name order. */
  readonly childArrays: readonly { readonly name: string; readonly items: readonly JsonObject[] }[];
}

/**
 * Plans of one kind of row (page, engagement, event, event item), by rootName. Bounded (PLANS_PER_FAMILY,
 * MAX_FAMILIES, MAX_PLANS): memory stays small whatever the answers hold. Not shared between kinds: their options differ.
 */
export class ShapePlans {
  private readonly families = new Map<string, ShapePlan[]>();
  private hitCount = 0;
  private missCount = 0;
  private madeCount = 0;
  /** Plans kept now, in all families. */
  private planCount = 0;
  /** Recent hits and misses (halved every REVIEW_EVERY lookups): whether new plans are worth making. */
  private recentHits = 0;
  private recentMisses = 0;

  /**
   * `objectArrays` as in naming.ts. `canonical`: the plans also know how to write an object's canonical JSON
   * (for the event hash, see `canonicalJsonOf`).
   */
  constructor(
    private readonly objectArrays: 'json' | 'children',
    private readonly options: { readonly canonical?: boolean } = {},
  ) {}

  /** Flattens `value` by the naming rule, through a cached plan when its shape was seen before. */
  flatten(value: JsonObject, spec: PlanSpec): Flattened {
    // Every source object of one shape (all fields set): the hot loops below read them monomorphically.
    return this.flattenTogether([{ value, rootName: spec.rootName, omit: spec.omit, prefix: spec.prefix }]);
  }

  /** Flattens objects into one namespace, as naming.ts's `flattenSources` does, through a cached plan. */
  flattenTogether(sources: readonly PlanSource[]): Flattened {
    const family = sources[0]?.rootName ?? '';
    const plans = this.families.get(family);
    if (plans !== undefined) {
      // Each source's own keys and values, read once for all the plans tried: a family can hold dozens of
      // shapes (session rows), and most tries fail within the first few keys.
      const sourceKeys: string[][] = [];
      const sourceValues: Json[][] = [];
      for (const source of sources) {
        sourceKeys.push(Object.keys(source.value));
        sourceValues.push(Object.values(source.value));
      }
      for (let k = 0; k < plans.length; k += 1) {
        const plan = plans[k] as ShapePlan;
        if (!sameSpecs(plan.specs, sources)) continue;
        const nodes = new Array<Json | undefined>(plan.nodeCount);
        let at = 0;
        for (let i = 0; i < sources.length; i += 1) {
          at = matchEntries(sourceKeys[i] as string[], sourceValues[i] as Json[], plan.tokens, at, nodes);
          if (at < 0) break;
        }
        if (at === plan.tokens.length) {
          this.count(true);
          // The shape met last is tried first next time: objects of one answer come in runs of one shape.
          if (k > 0) plans.unshift(...plans.splice(k, 1));
          return flattenedBy(plan, sources, nodes);
        }
      }
    }
    this.count(false);
    // Objects whose shapes rarely come back (a session row's keys hold ids) are flattened without a plan:
    // making one costs more than flattening once. One miss in PLAN_ANYWAY_EVERY still makes one, so a kind
    // whose shapes start repeating gets plans again.
    const planning =
      this.recentMisses <= 2 * this.recentHits + MIN_MISSES_BEFORE_DOUBT ||
      this.missCount % PLAN_ANYWAY_EVERY === 0;
    const described = planning ? describeShape(sources) : undefined;
    if (described === undefined) return flattenOnce(sources, this.objectArrays);
    const plan = makePlan(sources, this.objectArrays, described, this.options.canonical === true);
    this.madeCount += 1;
    if (this.planCount >= MAX_PLANS || (plans === undefined && this.families.size >= MAX_FAMILIES)) {
      // Full: start again (rare; the shapes in use come back within a few answers).
      this.families.clear();
      this.planCount = 0;
    }
    const kept = this.families.get(family);
    if (kept === undefined) this.families.set(family, [plan]);
    else kept.unshift(plan);
    // A full family drops its least recently met shape: as many plans as before.
    if (kept !== undefined && kept.length > PLANS_PER_FAMILY) kept.pop();
    else this.planCount += 1;
    return flattenedBy(plan, sources, described.nodes);
  }

  private count(hit: boolean): void {
    if (hit) {
      this.hitCount += 1;
      this.recentHits += 1;
    } else {
      this.missCount += 1;
      this.recentMisses += 1;
    }
    if ((this.hitCount + this.missCount) % REVIEW_EVERY === 0) {
      this.recentHits /= 2;
      this.recentMisses /= 2;
    }
  }

  /** Objects flattened through a plan seen before, and the others; plans made, and kept now. */
  get stats(): { hits: number; misses: number; made: number; kept: number } {
    return { hits: this.hitCount, misses: this.missCount, made: this.madeCount, kept: this.planCount };
  }
}

function sameSpecs(a: readonly PlanSpec[], b: readonly PlanSpec[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as PlanSpec;
    const y = b[i] as PlanSpec;
    if (x.rootName !== y.rootName || x.prefix !== y.prefix || x.omit.length !== y.omit.length) return false;
    for (let j = 0; j < x.omit.length; j += 1) if (x.omit[j] !== y.omit[j]) return false;
  }
  return true;
}

/**
 * Walks `obj` along `tokens` from `at`, pushing every value met (in key order, depth first) onto `nodes`.
 * Returns the index after the object's tokens, or -1 at the first difference. Recursion goes only as deep as
 * the plan's shape (at most MAX_PLAN_DEPTH).
 */
function matchShape(
  obj: JsonObject,
  tokens: readonly (string | number)[],
  at: number,
  nodes: (Json | undefined)[],
): number {
  const keys = Object.keys(obj);
  if (keys.length !== tokens[at]) return -1;
  // Object.values: the values in one call, rather than a keyed load per key on objects of many shapes.
  return matchEntries(keys, Object.values(obj), tokens, at, nodes);
}

/** matchShape for an object whose keys and values are already read. */
function matchEntries(
  keys: readonly string[],
  values: readonly Json[],
  tokens: readonly (string | number)[],
  at: number,
  nodes: (Json | undefined)[],
): number {
  if (keys.length !== tokens[at]) return -1;
  let i = at + 1;
  for (let k = 0; k < keys.length; k += 1) {
    if (keys[k] !== tokens[i]) return -1;
    const value = values[k];
    const kind = kindOf(value);
    if (kind !== tokens[i + 1]) return -1;
    nodes[tokens[i + 2] as number] = value;
    i += 3;
    if (kind === KIND_OBJECT) {
      i = matchShape(value as JsonObject, tokens, i, nodes);
      if (i < 0) return -1;
    }
  }
  return i;
}

interface Described {
  readonly tokens: (string | number)[];
  readonly nodes: (Json | undefined)[];
  /** `pathKey` of each value → its index in `nodes`. */
  readonly nodeOfPath: Map<string, number>;
}

/**
 * A value's source index, then each key of its path as a JSON string literal after a comma: one string per
 * path, and two paths never give the same one (JSON string literals end where they end).
 */
function pathKey(source: number, path: readonly string[]): string {
  let key = String(source);
  for (const segment of path) key += `,${scalarJson(segment)}`;
  return key;
}

/** The shape of the sources (as `matchShape` reads them), or undefined when too deep or large to keep. */
function describeShape(sources: readonly PlanSource[]): Described | undefined {
  const described: Described = { tokens: [], nodes: [], nodeOfPath: new Map() };
  for (let i = 0; i < sources.length; i += 1) {
    if (!describeObject((sources[i] as PlanSource).value, String(i), 0, described)) return undefined;
  }
  return described;
}

/** `parentKey`: the object's own `pathKey`; `depth`: its path's length. */
function describeObject(obj: JsonObject, parentKey: string, depth: number, into: Described): boolean {
  const keys = Object.keys(obj);
  into.tokens.push(keys.length);
  for (const key of keys) {
    const value = obj[key];
    const kind = kindOf(value);
    const valueKey = `${parentKey},${scalarJson(key)}`;
    into.tokens.push(key, kind, into.nodes.length);
    into.nodeOfPath.set(valueKey, into.nodes.length);
    into.nodes.push(value);
    if (into.tokens.length > MAX_PLAN_TOKENS) return false;
    if (kind === KIND_OBJECT) {
      if (depth + 1 >= MAX_PLAN_DEPTH) return false;
      if (!describeObject(value as JsonObject, valueKey, depth + 1, into)) return false;
    }
  }
  return true;
}

/** Finds a value by its source and its key path in that source. */
type NodeOf = (source: number, path: readonly string[]) => number;

/** A plan from the naming rule's own flattening of the sources; `nodeOf` finds each column's value. */
function planFrom(
  sources: readonly PlanSource[],
  objectArrays: 'json' | 'children',
  tokens: (string | number)[],
  nodeCount: number,
  nodeOf: NodeOf,
  canonical?: (nodeOf: NodeOf, childArrayNodes: readonly number[]) => CanonicalProgram,
): ShapePlan {
  const flat = flattenSources(sources, { objectArrays });
  // A leaf's source path starts with its source's prefix; the values were described without it.
  const node = (leaf: { source: number; sourcePath: readonly string[] }): number =>
    nodeOf(leaf.source, leaf.sourcePath.slice(sources[leaf.source]?.prefix?.length ?? 0));
  const childArrays = flat.childArrays.map((c) => ({ name: c.name, node: node(c) }));
  return new ShapePlan(
    tokens,
    nodeCount,
    sources.map(({ rootName, omit, prefix }) => ({ rootName, omit, prefix })),
    flat.columns.map((c) => ({ name: c.name, node: node(c), json: c.encoding === 'json' })),
    childArrays,
    canonical?.(
      nodeOf,
      childArrays.map((c) => c.node),
    ),
  );
}

function makePlan(
  sources: readonly PlanSource[],
  objectArrays: 'json' | 'children',
  described: Described,
  canonical: boolean,
): ShapePlan {
  const first = sources[0];
  return planFrom(
    sources,
    objectArrays,
    described.tokens,
    described.nodes.length,
    (source, path) => {
      const node = described.nodeOfPath.get(pathKey(source, path));
      // Every column comes from a value reached by a key path, and the description holds them all.
      if (node === undefined) throw new Error(`shape plan: no value at ${JSON.stringify([source, ...path])}`);
      return node;
    },
    // The canonical JSON is that of one object (an event body): the first source.
    canonical && first !== undefined
      ? (nodeOf, childArrayNodes) => canonicalProgram(first.value, (path) => nodeOf(0, path), childArrayNodes)
      : undefined,
  );
}

/**
 * Objects flattened without keeping a plan (too deep or large to keep one, or of a kind whose shapes rarely
 * repeat): planned for themselves alone, their values read by path.
 */
function flattenOnce(sources: readonly PlanSource[], objectArrays: 'json' | 'children'): Flattened {
  const nodes: (Json | undefined)[] = [];
  const plan = planFrom(sources, objectArrays, [], 0, (source, path) => {
    nodes.push(valueAtPath((sources[source] as PlanSource).value, path));
    return nodes.length - 1;
  });
  return flattenedBy(plan, sources, nodes);
}

/** The column values and child arrays of an object of the plan's shape, from its values in walk order. */
function flattenedBy(
  plan: ShapePlan,
  sources: readonly PlanSource[],
  nodes: readonly (Json | undefined)[],
): Flattened {
  const columns = plan.columns;
  const values = new Array<Scalar>(columns.length);
  for (let i = 0; i < columns.length; i += 1) {
    const column = columns[i] as PlannedColumn;
    const node = nodes[column.node] as Json;
    values[i] = column.json ? canonicalJson(node) : scalarValue(node as Scalar);
  }
  const childArrays =
    plan.childArrays.length === 0
      ? NO_CHILD_ARRAYS
      : plan.childArrays.map((c) => ({ name: c.name, items: nodes[c.node] as JsonObject[] }));
  return { plan, value: (sources[0] as PlanSource).value, nodes, values, childArrays };
}

/**
 * Canonical JSON of an object's shape, as text between the values that change: `literals[0]`, value of
 * `nodes[0]`, `literals[1]`, ... Keys, braces, commas, nulls and empty objects are all fixed by the shape.
 */
interface CanonicalProgram {
  readonly literals: readonly string[];
  readonly nodes: readonly number[];
  /** Per slot: which of the plan's child arrays its node is, or -1 (see `canonicalJsonOf`). */
  readonly childArrays: readonly number[];
}

/** The program that writes `canonicalJson` of any object of `value`'s shape (same keys sorted, same skips). */
function canonicalProgram(
  value: JsonObject,
  nodeOf: (path: readonly string[]) => number,
  childArrayNodes: readonly number[],
): CanonicalProgram {
  const literals: string[] = [];
  const nodes: number[] = [];
  let text = '';
  const write = (obj: JsonObject, path: readonly string[]): void => {
    text += '{';
    let first = true;
    for (const key of Object.keys(obj).sort()) {
      const member = obj[key];
      if (member === undefined) continue;
      text += `${first ? '' : ','}${scalarJson(key)}:`;
      first = false;
      const keyPath = [...path, key];
      if (member === null) {
        text += 'null';
      } else if (isJsonObject(member)) {
        // The shape was described to its end (MAX_PLAN_DEPTH), so this recursion is bounded.
        write(member, keyPath);
      } else {
        literals.push(text);
        text = '';
        nodes.push(nodeOf(keyPath));
      }
    }
    text += '}';
  };
  write(value, []);
  literals.push(text);
  return { literals, nodes, childArrays: nodes.map((n) => childArrayNodes.indexOf(n)) };
}

/**
 * `canonicalJson(flat.value)`, written by the plan when it knows how (plans made with `canonical: true`):
 * only the values are encoded, the rest is copied from the program. `childArrayJson`, when given, holds the
 * canonical JSON of each of `flat.childArrays` (written from their items' own plans), in that order.
 */
export function canonicalJsonOf(flat: Flattened, childArrayJson?: readonly string[]): string {
  const program = flat.plan.canonical;
  if (program === undefined) return canonicalJson(flat.value);
  const { literals, nodes: slots, childArrays } = program;
  let out = literals[0] as string;
  for (let i = 0; i < slots.length; i += 1) {
    const child = childArrays[i] as number;
    const v = flat.nodes[slots[i] as number] as Json;
    const json =
      child >= 0 && childArrayJson !== undefined
        ? (childArrayJson[child] as string)
        : typeof v === 'object'
          ? canonicalJson(v)
          : scalarJson(v);
    out += json + (literals[i + 1] as string);
  }
  return out;
}

const NO_CHILD_ARRAYS: Flattened['childArrays'] = Object.freeze([]);
