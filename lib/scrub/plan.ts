/**
 * What the current privacy policy makes of one row stored before it (`lpv scrub`, docs/privacy.md "Data stored
 * before the policy"): a pure decision, from the stored row alone.
 *
 * WHERE A COLUMN CAME FROM. The flattener decides a value's treatment by its source path in the answer
 * (lib/privacy/categories.ts), and a stored row keeps no source path. It needs none: the classification is a
 * walk over the path's segments in which only a few words count (the category words, `personalInfo`, `geo`;
 * every other segment, digits and `[]` included, leaves the walk where it was), and those words are plain
 * letters that the naming rule (lib/capture/naming.ts) writes into the column name unchanged, `_` between
 * segments. So the column's path is rebuilt as the row's context plus the column name cut at `_`:
 *   - session, page and engagement rows: the name alone (`personalInfo_contacts`, `geo_zip`, `visit_...`: the
 *     `appSessions[]`, `pages[]`, `engagements[]` and `visit` segments a source path adds count for nothing);
 *   - event rows: the row's eventType, then the name (the body's wrapper, `personalInfo.personalInfo`, was
 *     unwrapped by rule 2, and a word twice classifies as once); a `_malformed` event has no type segment;
 *   - eventItem rows: eventType, the row's childPath cut at `_`, then the name;
 *   - our own columns: `ip` (network) on session rows; keys, ids and bookkeeping are never classified; the
 *     store's columns (`capturedAtMs`, the overflow marker, `numbersAsText`, the TTL) neither. `overflowJson`
 *     holds moved columns: each entry is decided as the column it was.
 *   - outcome rows (and any row type we do not know) hold nothing of an answer: left as they are.
 * What it loses leans to the careful side: a key that holds `_` itself (`first_name` under personalInfo)
 * splits into words that may classify where the whole key did not (`name`), so such a column can be treated
 * more strictly than the flattener treats it; a name cut by rule 4 (longer than 240 characters) keeps the
 * words of its first part only. test/unit/scrub-plan.test.ts holds the rebuilt paths to the flattener's own
 * source paths for every column of the spec example and of simulator answers.
 *
 * WHAT A VALUE BECOMES. The policy's own treatments (policy.byState), with one guard: a value the policy has
 * already treated stays as it is, so a second run changes nothing and nothing is treated twice. Already treated
 * means: a hash (`h<version>:` + 43 base64url characters, under any key version: a value hashed under an old
 * key is not hashed again) or, at a network path, a truncated address (`a.b.c.0/24`, `<prefix>::/48`). A drop
 * drops whatever the value is. A string that is canonical JSON of an array or object (what rule 6 stores) is a
 * JSON column, treated inside key by key as the flattener does (lib/privacy/treated-json.ts): a scalar string
 * that happens to be canonical JSON is treated so too (its values, not the whole text).
 */
import { canonicalJson, isJsonObject, scalarJson } from '../canonical';
import { BOOKKEEPING_COLUMNS, RESERVED_COLUMNS } from '../capture/naming';
import { MALFORMED_EVENT_TYPE, ROW_TYPES } from '../capture/rows';
import type { Json, JsonObject } from '../liveperson/types';
import {
  mayHoldClassifiedKey,
  OUR_IP_COLUMN,
  PATH_STATES,
  pathStates,
  PRIVACY_CATEGORIES,
  type PathState,
  type PrivacyCategory,
} from '../privacy/categories';
import { HASH_BODY_LENGTH } from '../privacy/hash';
import type { PrivacyPolicy } from '../privacy/policy';
import { treatedCanonicalJson } from '../privacy/treated-json';

/** A column's value as stored (what a DynamoDB scan of the capture table gives back). */
export type StoredValue = string | number | boolean | null;
export type ScrubRow = Record<string, StoredValue>;

/**
 * The capture store's own columns (lib/store/dynamo-capture-store.ts), which the CLI passes in: lib/scrub does
 * not import the store (the store's scrub adapter imports lib/scrub).
 */
export interface StoreColumns {
  /** A fitted row's moved columns, as one canonical JSON object (each entry decided as its column). */
  readonly overflow: string;
  /** Columns listing the columns whose numbers are stored as text (kept in step when one is treated). */
  readonly numbersAsText: string;
  /** Ends a string the fitting cut (inside `overflow`). */
  readonly truncationMarker: string;
  /** Other columns of the store that hold no payload value (partition times, the overflow marker, TTL). */
  readonly others: readonly string[];
}

/** Values treated, per category: a scalar changed, a member left out of a JSON value, or a column dropped. */
export type CategoryCounts = Partial<Record<PrivacyCategory, number>>;

export interface RowScrub {
  /** The row as the policy makes it; undefined when nothing changes (then nothing is written). */
  readonly row: ScrubRow | undefined;
  readonly valuesTreated: CategoryCounts;
  /**
   * Cut JSON values inside `overflowJson` that may hold a classified key: they cannot be read to be treated
   * inside, so they are stored as null (the way treated-json.ts stores JSON it cannot walk).
   */
  readonly cutValuesCleared: number;
}

export interface RowScrubber {
  scrub(row: Readonly<ScrubRow>): RowScrub;
}

/** `h<version>:` + 43 base64url characters: hash.ts's output under any key version (1 to 9999). */
const HASHED = new RegExp(`^h[1-9][0-9]{0,3}:[A-Za-z0-9_-]{${HASH_BODY_LENGTH}}$`);
/** ip.ts's truncated IPv4 address. */
const TRUNCATED_V4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}0\/24$/;
/** ip.ts's truncated IPv6 address: three groups at most, then `::/48` (RFC 5952's form). */
const TRUNCATED_V6 = /^(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,2})?::\/48$/;

/** True when `value` is a hash the policy made (under any key version). */
export function isHashed(value: StoredValue): boolean {
  return typeof value === 'string' && HASHED.test(value);
}

/** True when `value` is an address the network category's `truncate` made. */
export function isTruncatedIp(value: StoredValue): boolean {
  return typeof value === 'string' && (TRUNCATED_V4.test(value) || TRUNCATED_V6.test(value));
}

/** Row types whose columns come from an answer. */
const FLATTENED_ROW_TYPES = new Set<string>([
  ROW_TYPES.session,
  ROW_TYPES.page,
  ROW_TYPES.engagement,
  ROW_TYPES.event,
  ROW_TYPES.eventItem,
]);
/** Our columns (keys, ids, bookkeeping): a payload column never takes one of these names (naming.ts, rule 4). */
const OUR_COLUMNS = new Set<string>([...RESERVED_COLUMNS, ...BOOKKEEPING_COLUMNS]);

type Scalar = string | number | boolean | null;
type Treatment = ((value: Scalar) => Scalar) | 'drop' | undefined;

/** How one column is decided: left alone, dropped (and which category's mode drops it), or treated. */
type ColumnDecision =
  | { readonly kind: 'ours' }
  | { readonly kind: 'drop'; readonly category: PrivacyCategory }
  | { readonly kind: 'treat'; readonly state: PathState };

/** Most column decisions remembered (per context and name) before the memo is emptied. */
const MAX_MEMO = 20_000;

/**
 * The path segments of a payload column of `row` as the classification needs them (see the header), or
 * undefined for our own columns and rows that hold no answer. Exported for the tests that hold it to the
 * flattener's source paths.
 */
export function columnPath(
  row: Readonly<ScrubRow>,
  name: string,
  storeColumns: readonly string[] = [],
): string[] | undefined {
  const rowType = row.rowType;
  if (typeof rowType !== 'string' || !FLATTENED_ROW_TYPES.has(rowType)) return undefined;
  if (OUR_COLUMNS.has(name)) {
    return name === OUR_IP_COLUMN && rowType === ROW_TYPES.session ? [OUR_IP_COLUMN] : undefined;
  }
  if (storeColumns.includes(name)) return undefined;
  const words = name.split('_');
  const eventType = typeof row.eventType === 'string' ? row.eventType : undefined;
  if (rowType === ROW_TYPES.event) {
    return eventType === undefined || eventType === MALFORMED_EVENT_TYPE ? words : [eventType, ...words];
  }
  if (rowType === ROW_TYPES.eventItem) {
    const child = typeof row.childPath === 'string' ? row.childPath.split('_') : [];
    return [...(eventType !== undefined ? [eventType] : []), ...child, ...words];
  }
  return words;
}

/**
 * The scrubber of one policy (see the header). `storeColumns` names the capture store's own columns. The
 * policy's hasher is used as is: with no key, hashed categories are dropped (the policy's own fallback; the CLI
 * asks before it lets that happen to stored data).
 */
export function createRowScrubber(policy: PrivacyPolicy, storeColumns: StoreColumns): RowScrubber {
  /** Where the treatments below count what they change; set for each row scrubbed. */
  let counts: Record<string, number> = {};
  const count = (category: PrivacyCategory | undefined, n = 1): void => {
    if (category !== undefined) counts[category] = (counts[category] ?? 0) + n;
  };
  // The policy's treatments, guarded: what the policy made already is left as it is.
  const byState: readonly Treatment[] = PATH_STATES.map((state) => {
    const treat = policy.byState[state.index];
    if (treat === undefined || treat === 'drop') return treat;
    const network = state.category === 'network';
    return (value: Scalar): Scalar => {
      if (isHashed(value) || (network && isTruncatedIp(value))) return value;
      const out = treat(value);
      if (out !== value) count(state.category);
      return out;
    };
  });
  const others = new Set([...storeColumns.others, storeColumns.numbersAsText]);
  const otherList = [...others];
  const memo = new Map<string, ColumnDecision>();

  const decide = (row: Readonly<ScrubRow>, name: string): ColumnDecision => {
    const memoKey = `${String(row.rowType)}\u0000${String(row.eventType)}\u0000${String(row.childPath)}\u0000${name}`;
    let decision = memo.get(memoKey);
    if (decision !== undefined) return decision;
    const path = name === storeColumns.overflow ? undefined : columnPath(row, name, otherList);
    if (path === undefined || path.length === 0) decision = { kind: 'ours' };
    else {
      const states = pathStates(path);
      const dropping = states.find((s) => byState[s.index] === 'drop');
      decision =
        dropping !== undefined
          ? { kind: 'drop', category: dropping.category as PrivacyCategory }
          : { kind: 'treat', state: states.at(-1) as PathState };
    }
    if (memo.size >= MAX_MEMO) memo.clear();
    memo.set(memoKey, decision);
    return decision;
  };

  /** A column's value under the policy: the same value when nothing changes, `drop` to leave the row. */
  const treatValue = (
    decision: ColumnDecision,
    value: StoredValue,
    cut: boolean,
    cleared: { n: number },
  ): StoredValue | 'drop' => {
    if (decision.kind === 'ours') return value;
    if (decision.kind === 'drop') {
      count(decision.category);
      return 'drop';
    }
    const { state } = decision;
    const own = byState[state.index];
    const json = typeof value === 'string' ? jsonColumnValue(value) : undefined;
    if (json !== undefined && typeof value === 'string') {
      // Nothing under this path is treated and no key inside can change that: the text stays (the common case).
      if (own === undefined && !mayHoldClassifiedKey(value)) return value;
      const text = treatedCanonicalJson(byState, json, state);
      if (text !== value) countDroppedMembers(json, state);
      return text;
    }
    if (cut && typeof value === 'string' && /^[[{]/.test(value) && own === undefined) {
      // A JSON value the fitting cut: unreadable, so it cannot be treated inside. If a classified key may be in
      // it, it is not kept.
      if (policy.treatsAnything && mayHoldClassifiedKey(value)) {
        cleared.n += 1;
        return null;
      }
      return value;
    }
    return typeof own === 'function' ? own(value) : value;
  };

  /** Counts the members of `value` that treated-json.ts leaves out (a dropped category), by their category. */
  const countDroppedMembers = (value: Json, state: PathState, depth = 0): void => {
    if (value === null || typeof value !== 'object' || depth > 64) return;
    if (Array.isArray(value)) {
      for (const element of value) countDroppedMembers(element, state, depth + 1);
      return;
    }
    for (const key of Object.keys(value)) {
      const inner = state.next(key);
      if (byState[inner.index] === 'drop') count(inner.category);
      else countDroppedMembers((value as JsonObject)[key] as Json, inner, depth + 1);
    }
  };

  /** The moved columns of a fitted row, each treated as its column; undefined when the text is not ours. */
  const treatOverflow = (
    row: Readonly<ScrubRow>,
    text: string,
    cleared: { n: number },
  ): string | undefined => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!isJsonObject(parsed)) return undefined;
    const out: string[] = [];
    for (const name of Object.keys(parsed).sort()) {
      const value = parsed[name];
      if (value !== null && typeof value === 'object') return undefined;
      const scalar = value as StoredValue;
      const cut = typeof scalar === 'string' && scalar.endsWith(storeColumns.truncationMarker);
      const treated = treatValue(decide(row, name), scalar, cut, cleared);
      if (treated !== 'drop') out.push(`${scalarJson(name)}:${scalarJson(treated)}`);
    }
    return `{${out.join(',')}}`;
  };

  return {
    scrub(row) {
      counts = {};
      const cleared = { n: 0 };
      let changed: Set<string> | undefined;
      const next = Object.create(null) as ScrubRow;
      for (const name of Object.keys(row)) {
        const value = row[name] as StoredValue;
        let treated: StoredValue | 'drop';
        if (
          name === storeColumns.overflow &&
          typeof value === 'string' &&
          FLATTENED_ROW_TYPES.has(String(row.rowType))
        ) {
          treated = treatOverflow(row, value, cleared) ?? value;
        } else {
          treated = treatValue(decide(row, name), value, false, cleared);
        }
        if (treated === 'drop' || !Object.is(treated, value)) (changed ??= new Set()).add(name);
        if (treated !== 'drop') next[name] = treated;
      }
      const valuesTreated = countsOf(counts);
      if (changed === undefined) return { row: undefined, valuesTreated, cutValuesCleared: cleared.n };
      keepNumbersAsTextInStep(next, changed, storeColumns.numbersAsText);
      return { row: next, valuesTreated, cutValuesCleared: cleared.n };
    },
  };
}

/** The value of a JSON column (rule 6: canonical JSON of an array or object), else undefined. */
function jsonColumnValue(value: string): Json | undefined {
  const first = value.charCodeAt(0);
  if (first !== 0x5b && first !== 0x7b) return undefined; // [ {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  // Only what the flattener writes: a text of other spacing or key order is a string someone sent.
  return canonicalJson(parsed as Json) === value ? (parsed as Json) : undefined;
}

/** `numbersAsText` lists columns whose numbers are text; a treated column is no longer one of them. */
function keepNumbersAsTextInStep(row: ScrubRow, changed: ReadonlySet<string>, column: string): void {
  const listed = row[column];
  if (typeof listed !== 'string' || listed === '') return;
  const names = listed.split(',');
  const kept = names.filter((name) => !changed.has(name));
  if (kept.length === names.length) return;
  if (kept.length === 0) delete row[column];
  else row[column] = kept.join(',');
}

function countsOf(counts: Record<string, number>): CategoryCounts {
  const out: CategoryCounts = {};
  for (const { category } of PRIVACY_CATEGORIES)
    if (counts[category] !== undefined) out[category] = counts[category];
  return out;
}
