/**
 * The data dictionary of the capture rows, built from the code so it cannot drift (`npm run docs` writes
 * docs/data-dictionary.md; a test fails when the committed file differs from the generator's output).
 *
 * How the columns are found:
 *   - rows come from the real write path: the samples of samples.ts, run through the Poller (our columns,
 *     capturedAtMs and the outcome rows are read from its rows);
 *   - payload columns get their source path, personal-data category and treatment from the flattener itself
 *     (payload-facts.ts: its column listener), and their values from the rows it makes under the default
 *     privacy policy with the documentation key (documentation-key.ts), so hashed columns show; columns the
 *     policy drops are listed from the listener (no row has them). Every other column must be in
 *     FIXED_COLUMN_DOCS (fixed-columns.ts), or building throws: a column nobody can explain is never published;
 *   - the flattener's rows are counted against the poller's (the samples went through it unchanged);
 *   - id-keyed maps (rule 6 of lib/capture/naming.ts) are one json column each since schema version 3: no
 *     column is named after an id (render.ts explains the per-id columns of older rows);
 *   - personal data: lib/privacy (categories.ts classifies, policy.ts treats).
 */
import type { ColumnFact } from '../../lib/capture/flatten';
import { BOOKKEEPING_COLUMNS, isIdKeyedMap } from '../../lib/capture/naming';
import { ROW_TYPES } from '../../lib/capture/rows';
import { DT_SOURCE_COLUMNS } from '../../lib/query/partition';
import { CATEGORY_DEFINITIONS, classifyOurColumn, type PrivacyMode } from '../../lib/privacy/categories';
import { INTERNAL_COLUMNS } from '../../lib/query/rows';
import type { JsonObject } from '../../lib/liveperson/types';
import type { StoredScalar } from '../../lib/store/capture-store';
import { CAPTURE_KEY_ATTRIBUTES } from '../../lib/keys';
import { documentationPolicy } from './documentation-key';
import { FIXED_COLUMN_DOCS } from './fixed-columns';
import { groupKey, groupOf, payloadFacts, type ColumnGroup } from './payload-facts';
import { rowsThroughPoller, SAMPLE_ACCOUNT, type DictionarySample } from './samples';

export type ValueType = 'string' | 'number' | 'boolean' | 'json' | 'null';

/** A column's personal data: its category (lib/privacy/categories.ts) and what the default policy does. */
export interface PersonalData {
  category: string;
  /** Why, in a few words. */
  why: string;
  /** The default policy's mode (`keep` for our pseudonymous ids, which the policy never touches). */
  mode: PrivacyMode;
}
const TYPE_ORDER: readonly ValueType[] = ['string', 'number', 'boolean', 'json', 'null'];

export interface DictionaryColumn {
  /** Column name. */
  name: string;
  /** Where the value comes from in the answer (payload columns). */
  source?: string;
  /** Types as stored; empty for a column the default policy drops (no row has it). */
  types: ValueType[];
  description?: string;
  pii?: PersonalData;
  example?: string;
  /** A json column holding an id-keyed map (naming.ts rule 6: every key all digits) in some sample. */
  idKeyedMap?: true;
}

export interface DictionarySection {
  group: ColumnGroup;
  columns: DictionaryColumn[];
}

export interface DataDictionary {
  /** Our columns and the row types that carry them. */
  fixed: (DictionaryColumn & { rowTypes: string[] })[];
  /** Payload columns per row type / event type / child array. */
  sections: DictionarySection[];
}

function typeOf(value: StoredScalar | undefined, encoding?: 'scalar' | 'json'): ValueType {
  if (encoding === 'json') return 'json';
  if (value === null || value === undefined) return 'null';
  return typeof value === 'string' ? 'string' : typeof value === 'number' ? 'number' : 'boolean';
}

function exampleOf(value: StoredScalar | undefined): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const text = String(value);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

interface Accumulator {
  name: string;
  source?: string;
  types: Set<ValueType>;
  example?: string;
  pii?: PersonalData;
  rowTypes: Set<string>;
  idKeyedMap?: true;
}

/** Whether a stored json value is an id-keyed map (one JSON column since schema version 3). */
function holdsIdKeyedMap(value: StoredScalar | undefined): boolean {
  if (typeof value !== 'string' || !value.startsWith('{')) return false;
  try {
    const parsed: unknown = JSON.parse(value);
    return (
      typeof parsed === 'object' &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      isIdKeyedMap(parsed as JsonObject)
    );
  } catch {
    return false; // cut to fit the item limit (truncatedColumns): not JSON any more
  }
}

function finish(acc: Accumulator, description?: string): DictionaryColumn {
  return {
    name: acc.name,
    ...(acc.source !== undefined ? { source: acc.source } : {}),
    types: TYPE_ORDER.filter((t) => acc.types.has(t)),
    ...(description !== undefined ? { description } : {}),
    ...(acc.pii !== undefined ? { pii: acc.pii } : {}),
    ...(acc.example !== undefined && acc.pii === undefined ? { example: acc.example } : {}),
    ...(acc.idKeyedMap ? { idKeyedMap: true as const } : {}),
  };
}

function groupOfRow(row: Readonly<Record<string, StoredScalar>>): ColumnGroup {
  const rowType = String(row.rowType);
  return {
    rowType,
    ...(rowType === ROW_TYPES.event || rowType === ROW_TYPES.eventItem
      ? { eventType: String(row.eventType) }
      : {}),
    ...(rowType === ROW_TYPES.eventItem ? { childPath: String(row.childPath) } : {}),
  };
}

/** The modes the dictionary documents: the defaults, with a key (so `hash` shows as hash). */
const DOCUMENTED_POLICY = documentationPolicy();

function ourPersonalData(name: string): PersonalData | undefined {
  const c = classifyOurColumn(name);
  if (c === undefined) return undefined;
  const mode = c.category === 'network' ? DOCUMENTED_POLICY.modes.network : 'keep';
  return { category: c.category, why: c.why, mode };
}

function payloadPersonalData(privacy: NonNullable<ColumnFact['privacy']>): PersonalData {
  return { category: privacy.category, why: CATEGORY_DEFINITIONS[privacy.category].why, mode: privacy.mode };
}

/** Builds the dictionary from samples; throws when a sampled column cannot be explained. */
export async function buildDictionary(samples: readonly DictionarySample[]): Promise<DataDictionary> {
  for (const name of [...BOOKKEEPING_COLUMNS, ...CAPTURE_KEY_ATTRIBUTES, ...DT_SOURCE_COLUMNS]) {
    if (FIXED_COLUMN_DOCS[name] === undefined) throw new Error(`FIXED_COLUMN_DOCS lacks our column ${name}`);
  }
  const rowsBySid = await rowsThroughPoller(samples);
  const fixed = new Map<string, Accumulator>();
  const sections = new Map<string, { group: ColumnGroup; columns: Map<string, Accumulator> }>();

  for (const sample of samples) {
    const rows = rowsBySid.get(sample.sid) ?? [];
    const { facts, flattened } = sample.state
      ? payloadFacts({
          accountId: SAMPLE_ACCOUNT,
          visitorId: sample.visitorId,
          sid: sample.sid,
          state: sample.state,
        })
      : { facts: [], flattened: undefined };
    const known = new Map<string, ColumnFact>();
    for (const f of facts) known.set(`${groupKey(groupOf(f))}\u0000${f.name}`, f);
    if (flattened && flattened.rows.length + 1 !== rows.length) {
      throw new Error(
        `the poller stored ${rows.length} rows for ${sample.sid}, the flattener made ${flattened.rows.length} + outcome`,
      );
    }
    // Our columns, from the poller's rows (payload columns are read from the flattener's rows below).
    for (const row of rows) {
      const rowType = String(row.rowType);
      const group = groupOfRow(row);
      for (const name of Object.keys(row)) {
        if (rowType !== ROW_TYPES.outcome && known.has(`${groupKey(group)}\u0000${name}`)) continue;
        if (FIXED_COLUMN_DOCS[name] === undefined) {
          throw new Error(
            `column ${name} of ${rowType} rows is neither a known payload column nor in FIXED_COLUMN_DOCS ` +
              '(payload columns are reported by lib/capture/flatten.ts; tools/docs/fixed-columns.ts documents ours: update it)',
          );
        }
        const value = row[name];
        const acc = fixed.get(name) ?? { name, types: new Set<ValueType>(), rowTypes: new Set<string>() };
        acc.types.add(typeOf(value));
        acc.rowTypes.add(rowType);
        acc.example ??= exampleOf(value);
        const pii = ourPersonalData(name);
        if (pii) acc.pii = pii;
        fixed.set(name, acc);
      }
    }
    const sectionColumn = (group: ColumnGroup, fact: ColumnFact): Accumulator => {
      const key = groupKey(group);
      const section = sections.get(key) ?? { group, columns: new Map<string, Accumulator>() };
      sections.set(key, section);
      const acc = section.columns.get(fact.name) ?? {
        name: fact.name,
        source: fact.sourcePath.join('.'),
        types: new Set<ValueType>(),
        rowTypes: new Set([group.rowType]),
        ...(fact.privacy !== undefined ? { pii: payloadPersonalData(fact.privacy) } : {}),
      };
      section.columns.set(fact.name, acc);
      return acc;
    };
    // Payload columns, from the flattener's rows under the documentation key.
    for (const row of flattened?.rows ?? []) {
      const group = groupOfRow(row);
      for (const name of Object.keys(row)) {
        const fact = known.get(`${groupKey(group)}\u0000${name}`);
        if (fact === undefined) continue; // ours: from the poller's rows above
        const value = row[name];
        const acc = sectionColumn(group, fact);
        acc.types.add(typeOf(value, fact.encoding));
        if (fact.encoding === 'json' && holdsIdKeyedMap(value)) acc.idKeyedMap = true;
        acc.example ??= exampleOf(value);
      }
    }
    // Columns the default policy drops: no row has them, the listener heard them.
    for (const fact of facts) if (fact.privacy?.mode === 'drop') sectionColumn(groupOf(fact), fact);
  }
  for (const [name, doc] of Object.entries(FIXED_COLUMN_DOCS)) {
    if (!fixed.has(name) && doc.conditional !== true && !INTERNAL_COLUMNS.includes(name)) {
      throw new Error(`FIXED_COLUMN_DOCS documents ${name}, which no sampled row has (mark it conditional?)`);
    }
    if (!fixed.has(name) && doc.conditional === true) {
      const pii = ourPersonalData(name);
      fixed.set(name, {
        name,
        types: new Set<ValueType>(['string']),
        rowTypes: new Set(['(any)']),
        ...(pii ? { pii } : {}),
      });
    }
  }
  const rowTypeOrder = Object.values(ROW_TYPES) as string[];
  const byName = (a: { name: string }, b: { name: string }): number =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  const fixedOrder = Object.keys(FIXED_COLUMN_DOCS);
  return {
    fixed: [...fixed.values()]
      .sort((a, b) => fixedOrder.indexOf(a.name) - fixedOrder.indexOf(b.name))
      .map((acc) => ({
        ...finish(acc, FIXED_COLUMN_DOCS[acc.name]?.description),
        rowTypes: [...acc.rowTypes].sort((a, b) => rowTypeOrder.indexOf(a) - rowTypeOrder.indexOf(b)),
      })),
    sections: [...sections.values()]
      .map((s) => ({ group: s.group, columns: [...s.columns.values()].map((a) => finish(a)).sort(byName) }))
      .sort(
        (a, b) =>
          rowTypeOrder.indexOf(a.group.rowType) - rowTypeOrder.indexOf(b.group.rowType) ||
          groupKey(a.group).localeCompare(groupKey(b.group), 'en'),
      ),
  };
}
