/**
 * Flatten plans: the naming rule's answer for one SHAPE of object, worked out once and reused.
 *
 * Flattening costs mostly the naming rule (names built from paths, collisions resolved, columns sorted), and
 * that depends only on an object's shape: its keys in their order, their nesting and the JSON kind of each
 * value, never on the values. The objects of an answer, and of one site's answers, come in few shapes once
 * id-keyed maps are values (naming.ts, rule 6): the 51 pages of a six-hour simulator session have two.
 *
 * A plan is made by `flattenSources` itself (the one naming rule, naming.ts) from the first object of a shape,
 * so a planned object gets exactly the columns that rule gives it; it records which value of the object feeds
 * which column and which arrays become child rows. The cache is the simplest that pays: one map from a shape's
 * signature (a string that spells the shape) to its plan, emptied when full. Objects too large for a signature
 * worth keeping are flattened by the naming rule directly, with the same result.
 *
 * The privacy policy (lib/privacy) is decided here too, once per column of a plan, from the column's source
 * path (`PlanCacheOptions.treatment`): a dropped column is left out of the plan, a treated one keeps its
 * treatment beside it, a kept one costs one array lookup per row.
 * test/unit/capture-flatten-plans.test.ts holds the flattener to the plain one (test/support/flatten-oracle.ts).
 */
import type { Json, JsonObject } from '../liveperson/types';
import { canonicalJson, scalarJson } from '../canonical';
import type { ColumnTreatment, ValueTreatment } from '../privacy/policy';
import {
  flattenSources,
  areIdKeys,
  isIdKeyedMap,
  MAX_FLATTEN_DEPTH,
  scalarValue,
  valueAtPath,
  type FlatColumn,
  type FlatPlan,
  type Scalar,
} from './naming';
import { rowColumnNames, type RowLayout } from './rows';

/** Steps of the shape tree kept before it is emptied (a few hundred bytes each; a site's shapes need ~2,000). */
export const MAX_SHAPE_STEPS = 20_000;
/** Values (at every depth) an object may have and still be planned: larger objects are rare, and flattened once. */
export const MAX_PLAN_NODES = 2_000;

/**
 * One object to flatten (as a FlattenSource of naming.ts). Its omit paths and prefix are told apart by identity
 * (module constants such as the PROMOTIONS paths share plans; a fresh array gets plans of its own).
 */
export interface PlanSource {
  readonly value: JsonObject;
  readonly rootName?: string | undefined;
  readonly omit: readonly (readonly string[])[];
  readonly prefix?: readonly string[] | undefined;
}

export interface PlannedChildArray {
  /** The column name the array would have had: the child rows' childPath. */
  readonly name: string;
  /** Where the array is in its source object (prefix included), for the column listener. */
  readonly sourcePath: readonly string[];
  readonly node: number;
}

/**
 * `canonicalJson` of an object of one shape, as text between the values that change: `literals[0]`, JSON of
 * `nodes[slots[0]]`, `literals[1]`, ... Keys (sorted), braces, colons and commas are fixed by the shape.
 */
interface CanonicalProgram {
  readonly literals: readonly string[];
  readonly slots: readonly number[];
}

/** The naming rule's answer for one shape. */
export class Plan {
  private readonly rowColumns = new Map<RowLayout, readonly string[]>();

  constructor(
    /** Payload column names, in name order (the order of `Flattened.values`). */
    readonly columnNames: readonly string[],
    /** Per column: index of its value among the object's values (walk order). */
    readonly columnNodes: readonly number[],
    /** Per column: whether its value is canonical JSON text (rule 6) rather than a scalar. */
    readonly columnIsJson: readonly boolean[],
    /** Per column: the privacy policy's treatment of its value (undefined: stored as it is). */
    readonly columnTreatments: readonly (ValueTreatment | undefined)[],
    readonly childArrays: readonly PlannedChildArray[],
    /** How to write the first source's canonical JSON (caches made with `canonical: true`). */
    readonly canonical: CanonicalProgram | undefined,
  ) {}

  /** Every column of a row of this shape in `layout`, in row order (see `rowColumnNames`). */
  columnsOfRow(layout: RowLayout): readonly string[] {
    let names = this.rowColumns.get(layout);
    if (names === undefined) {
      names = rowColumnNames(layout, this.columnNames);
      this.rowColumns.set(layout, names);
    }
    return names;
  }
}

/** One object (or several, flattened together) through a plan. */
export interface Flattened {
  readonly plan: Plan;
  /** The first source's object. */
  readonly value: JsonObject;
  /** Its values in walk order (what the plan's indexes point into). */
  readonly nodes: readonly (Json | undefined)[];
  /** Payload column values, in the order of `plan.columnNames`. */
  readonly values: Scalar[];
  /** The arrays that become child rows, in the order of `plan.childArrays`. */
  readonly childItems: readonly (readonly JsonObject[])[];
}

/**
 * Called once per plan made, with the naming rule's columns (their source paths) and the caller's context: how
 * the data dictionary learns every column's source from the walk the poller uses. Never called on a cache hit.
 */
export type PlanListener<Context> = (flat: FlatPlan, context: Context) => void;

export interface PlanCacheOptions<Context> {
  /** 'children' for event bodies (rule 7), 'json' (default) for everything else: as in naming.ts. */
  readonly objectArrays?: 'json' | 'children';
  /** Plans also know how to write the first source's canonical JSON (`canonicalJsonOf`): event hashes. */
  readonly canonical?: boolean;
  readonly listener?: PlanListener<Context>;
  /**
   * The privacy policy's treatment of each column (lib/privacy/policy.ts `columnTreatment`), asked once per
   * column of each plan made: 'drop' leaves the column out of the plan (and of every row of its shape).
   * @default every column kept
   */
  readonly treatment?: (column: FlatColumn, context: Context) => ColumnTreatment;
}

/**
 * Plans of one kind of row, found through a shape tree: a trie whose steps are (kind of value, key) pairs, so
 * that finding an object's plan costs one map lookup per key (keys of parsed JSON are interned strings whose
 * hash V8 keeps) and builds no string. The tree is emptied when it passes MAX_SHAPE_STEPS.
 */
export class PlanCache<Context = undefined> {
  private root = new ShapeStep();
  private readonly tree = { steps: 0 };
  private readonly children: boolean;
  private hitCount = 0;
  private madeCount = 0;
  private keptCount = 0;

  constructor(private readonly options: PlanCacheOptions<Context> = {}) {
    this.children = options.objectArrays === 'children';
  }

  /**
   * Flattens the sources into one namespace by the naming rule (as naming.ts's `flattenSources`), through the
   * plan of their shape. `family` groups the objects that may share plans (an event type, the items of one
   * child array); `context` goes to the listener when a plan is made.
   */
  flatten(family: string, sources: readonly PlanSource[], context: Context): Flattened {
    if (this.tree.steps > MAX_SHAPE_STEPS) {
      this.root = new ShapeStep();
      this.tree.steps = 0;
      this.keptCount = 0;
    }
    const nodes: (Json | undefined)[] = [];
    let step: ShapeStep | undefined = this.root.next(STEP_FAMILY, family, this.tree);
    for (let i = 0; i < sources.length && step !== undefined; i += 1) {
      step = describeSource(sources[i] as PlanSource, this.children, step, nodes, this.tree);
    }
    if (step === undefined) return this.flattenUnplanned(sources, context);
    let plan = step.plan;
    if (plan === undefined) {
      const indexes = nodeIndexes(sources, this.children);
      plan = this.makePlan(sources, context, (source, path) => {
        const index = indexes.get(pathKey(source, path));
        // Every column comes from a value reached by a key path, and the shape's walk met them all.
        if (index === undefined) throw new Error(`flatten plan: no value at ${pathKey(source, path)}`);
        return index;
      });
      step.plan = plan;
      this.keptCount += 1;
    } else {
      this.hitCount += 1;
    }
    return flattenedBy(plan, (sources[0] as PlanSource).value, nodes);
  }

  /** Objects flattened through a plan made before; plans made; plans kept now. */
  get stats(): { hits: number; made: number; kept: number } {
    return { hits: this.hitCount, made: this.madeCount, kept: this.keptCount };
  }

  /** A plan for these sources alone, its values read by path: the same columns, without the cache. */
  private flattenUnplanned(sources: readonly PlanSource[], context: Context): Flattened {
    const nodes: (Json | undefined)[] = [];
    const plan = this.makePlan(sources, context, (source, path) => {
      nodes.push(valueAtPath((sources[source] as PlanSource).value, path));
      return nodes.length - 1;
    });
    return flattenedBy(plan, (sources[0] as PlanSource).value, nodes);
  }

  private makePlan(
    sources: readonly PlanSource[],
    context: Context,
    nodeOf: (source: number, path: readonly string[]) => number,
  ): Plan {
    const flat = flattenSources(sources, { objectArrays: this.children ? 'children' : 'json' });
    this.madeCount += 1;
    this.options.listener?.(flat, context);
    // A leaf's source path starts with its source's prefix; the values were described without it.
    const node = (leaf: FlatColumn | FlatPlan['childArrays'][number]): number =>
      nodeOf(leaf.source, leaf.sourcePath.slice(sources[leaf.source]?.prefix?.length ?? 0));
    const first = sources[0];
    const { treatment } = this.options;
    // Names are resolved among all columns first (naming.ts, rule 5): a dropped column never renames another.
    const treatments = flat.columns.map((c) => (treatment === undefined ? undefined : treatment(c, context)));
    const kept = flat.columns.filter((_, i) => treatments[i] !== 'drop');
    return new Plan(
      kept.map((c) => c.name),
      kept.map(node),
      kept.map((c) => c.encoding === 'json'),
      treatments.filter((t): t is ValueTreatment | undefined => t !== 'drop'),
      flat.childArrays.map((c) => ({ name: c.name, sourcePath: c.sourcePath, node: node(c) })),
      this.options.canonical === true && first !== undefined
        ? canonicalProgram(first.value, this.children, (path) => nodeOf(0, path))
        : undefined,
    );
  }
}

const NO_CHILD_ITEMS: Flattened['childItems'] = Object.freeze([]);

function flattenedBy(plan: Plan, value: JsonObject, nodes: readonly (Json | undefined)[]): Flattened {
  const { columnNodes, columnIsJson, columnTreatments } = plan;
  const values = new Array<Scalar>(columnNodes.length);
  for (let i = 0; i < columnNodes.length; i += 1) {
    const node = nodes[columnNodes[i] as number] as Json;
    const treat = columnTreatments[i];
    if (treat !== undefined) values[i] = treat(node);
    else values[i] = columnIsJson[i] === true ? canonicalJson(node) : scalarValue(node as Scalar);
  }
  const childItems =
    plan.childArrays.length === 0
      ? NO_CHILD_ITEMS
      : plan.childArrays.map((c) => nodes[c.node] as JsonObject[]);
  return { plan, value, nodes, values, childItems };
}

/**
 * `canonicalJson(flat.value)`: written by the plan's program when it has one (only the values are encoded, the
 * rest is copied), else by `canonicalJson`. Always the RAW object (its nodes, never the treated column values):
 * event identity does not depend on the privacy policy.
 */
export function canonicalJsonOf(flat: Flattened): string {
  const program = flat.plan.canonical;
  if (program === undefined) return canonicalJson(flat.value);
  const { literals, slots } = program;
  let out = literals[0] as string;
  for (let i = 0; i < slots.length; i += 1) {
    const value = flat.nodes[slots[i] as number] as Json;
    out +=
      (typeof value === 'object' && value !== null ? canonicalJson(value) : scalarJson(value)) +
      literals[i + 1];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The shape tree. A shape is spelled as steps: the family; per source its rootName, prefix and omit paths;
// then per key of the object (depth first, in the object's own key order) the kind of its value and the key,
// and an END step after each object's last key. Each step is (kind, key): kinds other than the values' keep
// the spelling unambiguous (a key never meets a rootName or an omit path), so two objects reach the same
// final step exactly when the naming rule cannot tell their shapes apart.

/** Kinds of value, as far as the naming rule tells them apart (see `kindOf`). */
const KIND_SCALAR = 0;
const KIND_ARRAY = 1;
/** A non-empty array of objects only, with objectArrays 'children': child rows (rule 7). */
const KIND_OBJECT_ARRAY = 2;
/** An object that is one JSON value: an id-keyed map, or an object past the depth cap (rule 6). */
const KIND_WHOLE_OBJECT = 3;
/** An object the rule walks into: its keys follow, then END. */
const KIND_OBJECT = 4;
/** Not a JSON value (only objects built by code can hold it): the rule skips it. */
const KIND_UNDEFINED = 5;
const STEP_FAMILY = 6;
const STEP_ROOT_NAME = 7;
const STEP_PREFIX = 8;
const STEP_OMIT = 9;
const STEP_END = 10;

class ShapeStep {
  /** The plan of the shape spelled up to here, once one object of that shape was flattened. */
  plan: Plan | undefined;
  /**
   * The step taken last from here: most steps only ever lead one way (an object's keys come in one order), so
   * comparing the kind and the key (interned strings, compared by reference) usually spares the map lookup.
   */
  private lastKind = -1;
  private lastKey: unknown;
  private lastStep: ShapeStep | undefined;
  /** Next steps by kind, then key. */
  private readonly byKind: (Map<unknown, ShapeStep> | undefined)[] = [];

  next(kind: number, key: unknown, tree: { steps: number }): ShapeStep {
    if (kind === this.lastKind && key === this.lastKey) return this.lastStep as ShapeStep;
    let steps = this.byKind[kind];
    if (steps === undefined) {
      steps = new Map();
      this.byKind[kind] = steps;
    }
    let step = steps.get(key);
    if (step === undefined) {
      step = new ShapeStep();
      steps.set(key, step);
      tree.steps += 1;
    }
    this.lastKind = kind;
    this.lastKey = key;
    this.lastStep = step;
    return step;
  }
}

/**
 * The kind of a member of an object at `depth` (the object's path length below the source). The rule treats
 * every scalar alike (one column, the value as it is) and every array alike but for rule 7, so an optional field
 * that is null in one answer and set in the next does not make a new shape.
 */
function kindOf(value: Json | undefined, depth: number, children: boolean): number {
  if (value === undefined) return KIND_UNDEFINED;
  if (value === null || typeof value !== 'object') return KIND_SCALAR;
  if (Array.isArray(value)) {
    return children && value.length > 0 && value.every(isObject) ? KIND_OBJECT_ARRAY : KIND_ARRAY;
  }
  // Past the cap the rule encodes the object whole, whatever the prefix (the cap counts it too).
  if (depth + 1 >= MAX_FLATTEN_DEPTH || isIdKeyedMap(value)) return KIND_WHOLE_OBJECT;
  return KIND_OBJECT;
}

function isObject(value: Json): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Walks one source along the tree, pushing its values onto `nodes`; undefined when it is too large to plan. */
function describeSource(
  source: PlanSource,
  children: boolean,
  step: ShapeStep,
  nodes: (Json | undefined)[],
  tree: { steps: number },
): ShapeStep | undefined {
  step = step.next(STEP_ROOT_NAME, source.rootName, tree);
  step = step.next(STEP_PREFIX, source.prefix, tree);
  for (const path of source.omit) step = step.next(STEP_OMIT, path, tree);
  return describeObject(source.value, Object.keys(source.value), 0, children, step, nodes, tree);
}

function describeObject(
  obj: JsonObject,
  keys: readonly string[],
  depth: number,
  children: boolean,
  step: ShapeStep | undefined,
  nodes: (Json | undefined)[],
  tree: { steps: number },
): ShapeStep | undefined {
  if (nodes.length + keys.length > MAX_PLAN_NODES) return undefined;
  for (let i = 0; i < keys.length && step !== undefined; i += 1) {
    const key = keys[i] as string;
    const value = obj[key];
    nodes.push(value);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      step = step.next(kindOf(value, depth, children), key, tree);
    } else if (depth + 1 >= MAX_FLATTEN_DEPTH) {
      step = step.next(KIND_WHOLE_OBJECT, key, tree);
    } else {
      // The member's keys, read once: they tell an id-keyed map, and they are walked otherwise.
      const memberKeys = Object.keys(value);
      if (areIdKeys(memberKeys)) {
        step = step.next(KIND_WHOLE_OBJECT, key, tree);
      } else {
        step = step.next(KIND_OBJECT, key, tree);
        step = describeObject(value, memberKeys, depth + 1, children, step, nodes, tree);
      }
    }
  }
  return step?.next(STEP_END, undefined, tree);
}

/** A value's source and key path as one string (JSON: two paths never give the same one). */
function pathKey(source: number, path: readonly string[]): string {
  return JSON.stringify([source, ...path]);
}

/** Every value's index in `nodes` (as `describeSource` fills them) by `pathKey`. Run when a plan is made. */
function nodeIndexes(sources: readonly PlanSource[], children: boolean): Map<string, number> {
  const indexes = new Map<string, number>();
  const walk = (obj: JsonObject, source: number, path: readonly string[]): void => {
    for (const key of Object.keys(obj)) {
      const value = obj[key];
      const keyPath = [...path, key];
      indexes.set(pathKey(source, keyPath), indexes.size);
      if (kindOf(value, path.length, children) === KIND_OBJECT) walk(value as JsonObject, source, keyPath);
    }
  };
  sources.forEach((s, source) => walk(s.value, source, []));
  return indexes;
}

/** The program that writes `canonicalJson` of any object of `value`'s shape (see CanonicalProgram). */
function canonicalProgram(
  value: JsonObject,
  children: boolean,
  nodeOf: (path: readonly string[]) => number,
): CanonicalProgram {
  const literals: string[] = [];
  const slots: number[] = [];
  let text = '';
  const write = (obj: JsonObject, path: readonly string[]): void => {
    text += '{';
    let first = true;
    for (const key of Object.keys(obj).sort()) {
      const member = obj[key];
      // canonicalJson skips undefined members, as JSON.stringify does.
      if (member === undefined) continue;
      text += `${first ? '' : ','}${scalarJson(key)}:`;
      first = false;
      const keyPath = [...path, key];
      if (kindOf(member, path.length, children) === KIND_OBJECT) {
        write(member as JsonObject, keyPath);
      } else {
        literals.push(text);
        text = '';
        slots.push(nodeOf(keyPath));
      }
    }
    text += '}';
  };
  write(value, []);
  literals.push(text);
  return { literals, slots };
}
