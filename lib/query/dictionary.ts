/**
 * The data dictionary of the capture rows, generated from the code so it cannot drift (`npm run docs` writes
 * docs/data-dictionary.md; a test fails when the committed file differs from this module's output).
 *
 * How the columns are found:
 *   - rows come from the REAL write path: sample answers (the spec's example and a seeded simulator sample) go
 *     through the Poller (flattenVisitState, then the outcome row written by `finish()`) into an in-memory
 *     queue and store, so the columns the poller adds (capturedAtMs, the outcome columns) are observed, not
 *     listed by hand;
 *   - payload columns get their source path from lib/capture/naming.ts's `flattenSources`, called the way
 *     flatten.ts calls it (`payloadFacts`); every payload column of every sampled row must be explained that
 *     way, and every other column must be in FIXED_COLUMN_DOCS, or generation throws;
 *   - personal data: lib/query/pii.ts.
 * Key segments made only of digits (VP/VB/OSL/campaign ids used as object keys) are shown as `<id>`: there is
 * one column per id the account uses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isJsonObject, sortedKeys } from '../capture/canonical';
import { flattenVisitState } from '../capture/flatten';
import {
  applyPromotions,
  BOOKKEEPING_COLUMNS,
  flattenSources,
  PROMOTIONS,
  type FlatColumn,
  type FlattenSource,
} from '../capture/naming';
import { MALFORMED_EVENT_TYPE, ROW_TYPES } from '../capture/rows';
import { HOUR_MS, ManualClock, SESSION_MAX_AGE_MS } from '../clock';
import type { VisitStateSource } from '../liveperson/client';
import type { FetchOutcome } from '../liveperson/outcome';
import type { Json, JsonObject, VisitState } from '../liveperson/types';
import { JsonLineLog } from '../log';
import { Poller } from '../poller/poller';
import { defaultPollPolicy } from '../poller/policy';
import type { AckUpdate, EnqueueRequest, EnqueueResult, Queue, QueueItem } from '../queue/model';
import { SimulatedWorld } from '../simulator/world';
import type { CaptureStore, StoredRow, StoredScalar, WriteStats } from '../store/capture-store';
import { CAPTURE_KEY_ATTRIBUTES } from '../store/schema';
import { buildAnalyticsSchema } from './analytics-schema';
import { DT_SOURCE_COLUMNS } from './partition';
import { classifyColumn, RETENTION, type PiiClass } from './pii';
import { INTERNAL_COLUMNS } from './rows';

// ---------------------------------------------------------------------------------------------------------
// Our own columns

export interface FixedColumnDoc {
  description: string;
  /** Shown only on some rows (truncation, malformed elements): not required to be observed in the samples. */
  conditional?: boolean;
}

/** Every column that is not payload. Generation fails on an observed column missing here. */
export const FIXED_COLUMN_DOCS: Readonly<Record<string, FixedColumnDoc>> = {
  pk: {
    description:
      'Table partition key `S#<accountId>#<sid>`: one partition per session (storage; dropped from analyst output).',
  },
  sk: {
    description: 'Sort key of the row within its session (storage; see lib/capture/rows.ts for the layouts).',
  },
  gsi1pk: {
    description: 'byVisitor index partition `V#<accountId>#<visitorId>` (session and outcome rows).',
  },
  gsi1sk: { description: 'byVisitor sort key `<startTime:13>#<sid>#SESSION#…` or `…#OUTCOME`.' },
  gsi2pk: {
    description: 'byEventType index partition `E#<accountId>#<eventType>#<yyyy-mm-dd>#<shard>` (event rows).',
  },
  gsi2sk: { description: 'byEventType sort key `<serverTimeStamp:13>#<sid>#<sk>`.' },
  gsi3pk: {
    description:
      'byStartDay index partition `D#<accountId>#<yyyy-mm-dd>#<shard>` (session and outcome rows).',
  },
  gsi3sk: { description: 'byStartDay sort key, as gsi1sk.' },
  schemaVersion: { description: 'Version of the flattening rules the row was written with.' },
  rowType: { description: 'Kind of row: session, page, engagement, event, eventItem, outcome.' },
  accountId: { description: 'LivePerson account (site) id.' },
  visitorId: { description: 'LivePerson visitor id the session was enqueued with.' },
  sid: { description: 'LivePerson session id the session was enqueued with.' },
  visitId: { description: "The answer's top-level `id` (promoted)." },
  appSessionId: { description: '`appSessions[].id` of the app session the row belongs to (promoted).' },
  ip: {
    description:
      '`appSessions[].ipv4` when it is a non-empty string, else `lpv4` (both also kept as columns).',
  },
  eventType: {
    description:
      'The event type: the single key of the `events[]` element (`_malformed` when the element is not `{type: {...}}`).',
  },
  serverTimeStamp: {
    description:
      "Event time, epoch ms (the event body's top-level `serverTimeStamp`, promoted); eventItem rows repeat their event's.",
  },
  pageId: {
    description:
      'Page id: `pages[].id` (page rows), `engagement.pageId` (engagement rows), `contexts.page.id` (event and eventItem rows), promoted.',
  },
  engagementId: { description: '`engagements[].id` (promoted).' },
  eventKey: {
    description:
      'Hash of the canonical event body: with eventType, serverTimeStamp and occurrence, the identity of the event.',
  },
  occurrence: {
    description: '0, 1, … among identical events of one answer (the same event sent twice stays two rows).',
  },
  parentSk: { description: 'Sort key of the event row an eventItem row belongs to.' },
  childPath: {
    description:
      'Column name the array of objects would have had in the event row (rule 7), e.g. `products`, `cart_products`, `contacts`.',
  },
  childIndex: { description: 'Position of the element in that array, from 0.' },
  capturedAtMs: {
    description:
      'When the poller stored this version of the row, epoch ms. `dt` of the S3/export partition is its UTC day.',
  },
  truncatedColumns: {
    description:
      'Comma-separated columns cut to fit DynamoDB’s 400 KB item limit (their values end with a marker). Only on truncated rows.',
    conditional: true,
  },
  numbersAsText: {
    description:
      'Comma-separated columns whose numbers DynamoDB cannot hold (magnitude ≥ 1e126 or < 1e-130), stored as their text instead. Only on such rows.',
    conditional: true,
  },
  rawElement: {
    description:
      'An element of appSessions/pages/engagements/events that was not an object, kept as is. Only on such rows.',
    conditional: true,
  },
  finalState: {
    description:
      'How polling ended: CAPTURED (at least one state stored), LOST (expired before any capture), INVALID (LivePerson rejected the ids), FAILED (no successful poll before the deadline).',
  },
  reason: { description: 'Why, in words (e.g. `session expired before any capture (404/12)`).' },
  lastOutcome: {
    description: 'Last answer of the Visit Information API: `200`, `404/12`, `404/37`, `500`, `timeout`, …',
  },
  pollCount: { description: 'Answers received for the session (successful or not).' },
  successCount: { description: 'Successful polls (states stored).' },
  startTimeMs: {
    description: 'Session start as the queue knew it (from the enqueuer, else the enqueue time), epoch ms.',
  },
  deadlineMs: {
    description: 'startTimeMs + 6 h: LivePerson forgets the session by then at the latest, epoch ms.',
  },
  enqueuedAtMs: { description: 'When the session was enqueued, epoch ms.' },
  endedAtMs: {
    description: 'When polling ended (the outcome row was written), epoch ms; `dt` of outcome rows.',
  },
  lastCapturedAtMs: { description: 'Last successful poll, epoch ms, or null.' },
  rowsStored: { description: 'Capture rows stored for the session (all versions’ distinct rows).' },
  eventsSeen: { description: 'Events in the last successful answer.' },
};

// ---------------------------------------------------------------------------------------------------------
// Samples through the real poller

export interface DictionarySample {
  visitorId: string;
  sid: string;
  startTimeMs: number;
  /** The answer of the one successful poll; undefined: the session expired before any poll (LOST). */
  state?: VisitState;
}

const SAMPLE_ACCOUNT = '12345678';

/** An in-memory Queue: enough for the Poller to run ticks over a few items. */
class SampleQueue implements Queue {
  readonly items: QueueItem[] = [];
  async enqueue(accountId: string, requests: readonly EnqueueRequest[]): Promise<EnqueueResult[]> {
    for (const r of requests) {
      const startTimeMs = r.startTimeMs ?? 0;
      this.items.push({
        accountId,
        visitorId: r.visitorId,
        sid: r.sid,
        state: 'ACTIVE',
        startTimeMs,
        deadlineMs: startTimeMs + SESSION_MAX_AGE_MS,
        enqueuedAtMs: startTimeMs,
        nextPollAtMs: startTimeMs,
        attempts: 0,
        pollCount: 0,
        successCount: 0,
        expiresAtSec: 0,
      });
    }
    return requests.map((r) => ({ status: 'created', visitorId: r.visitorId, sid: r.sid }));
  }
  async *duePages(): AsyncIterable<QueueItem[]> {
    yield this.items.filter((i) => i.state === 'ACTIVE').map((i) => ({ ...i }));
  }
  async claim(item: QueueItem): Promise<QueueItem> {
    return { ...item };
  }
  async release(): Promise<void> {}
  async ack(item: QueueItem, _owner: string, update: AckUpdate): Promise<boolean> {
    const stored = this.items.find((i) => i.sid === item.sid);
    if (stored) Object.assign(stored, update);
    return true;
  }
  async *list(): AsyncIterable<QueueItem[]> {
    yield this.items;
  }
  async saveTickSummary(): Promise<void> {}
  async loadTickSummary(): Promise<undefined> {
    return undefined;
  }
}

class SampleStore implements CaptureStore {
  readonly rows: StoredRow[] = [];
  async putRows(rows: readonly StoredRow[]): Promise<WriteStats> {
    this.rows.push(...rows.map((r) => ({ ...r })));
    return { rowsWritten: rows.length, batchCalls: 1, rowsTruncated: 0 };
  }
  async sessionRows(_accountId: string, sid: string): Promise<StoredRow[]> {
    return this.rows.filter((r) => r.sid === sid);
  }
}

/**
 * Runs the samples through two Poller ticks: the first stores each state (or finds it expired: LOST), the
 * second finds it ended (404/12: CAPTURED). Returns every row the poller wrote, by sid.
 */
export async function rowsThroughPoller(
  samples: readonly DictionarySample[],
): Promise<Map<string, StoredRow[]>> {
  const first = Math.min(...samples.map((s) => s.startTimeMs));
  const clock = new ManualClock(first + HOUR_MS);
  const queue = new SampleQueue();
  const store = new SampleStore();
  const polled = new Set<string>();
  const bySid = new Map(samples.map((s) => [s.sid, s]));
  const source: VisitStateSource = {
    async fetchState(_visitorId, sid): Promise<FetchOutcome> {
      const sample = bySid.get(sid);
      if (sample?.state === undefined || polled.has(sid)) return { kind: 'expired_12', httpStatus: 404 };
      polled.add(sid);
      return { kind: 'ok', httpStatus: 200, state: sample.state, bodyBytes: 0 };
    },
    async refreshCredentials(): Promise<void> {},
  };
  const poller = new Poller(
    { queue, store, source, clock, log: new JsonLineLog(() => undefined, 'silent'), random: () => 0.5 },
    { accountId: SAMPLE_ACCOUNT, concurrency: 1, policy: defaultPollPolicy(600), leaseMs: 300_000 },
  );
  await queue.enqueue(
    SAMPLE_ACCOUNT,
    samples.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
  );
  for (let tick = 0; tick < 2; tick++) {
    await poller.tick({ budgetMs: 600_000, force: true, safetyMarginMs: 0 });
    clock.advanceMs(HOUR_MS);
  }
  const out = new Map<string, StoredRow[]>();
  for (const row of store.rows) {
    const sid = String(row.sid);
    out.set(sid, [...(out.get(sid) ?? []), row]);
  }
  return out;
}

/** The spec's example answer and a seeded simulator sample (every event type, ipv4 and lpv4), plus a lost session. */
export function defaultSamples(repoRoot: string): DictionarySample[] {
  const example = JSON.parse(
    readFileSync(join(repoRoot, 'test', 'fixtures', 'example-state.json'), 'utf8'),
  ) as VisitState;
  const exampleStart = example.appSessions[0]?.startTime;
  const samples: DictionarySample[] = [
    {
      visitorId: 'cyNGViYjc4MmU2MzEzZThm',
      sid: 'qCsUrTldTh0UEWLjLCGqkQ',
      startTimeMs: typeof exampleStart === 'number' ? exampleStart : 0,
      state: example,
    },
  ];
  const clock = new ManualClock(Date.UTC(2024, 0, 15, 8, 0, 0));
  const world = new SimulatedWorld({
    seed: 20240115,
    accountId: SAMPLE_ACCOUNT,
    clock,
    earlyEndProbability: 0,
    eventRatePerHour: { min: 20, max: 20 },
    lpv4Probability: 0.5,
  });
  for (let i = 0; i < 10; i++) {
    const info = world.startSession({ startTimeMs: clock.nowMs() + i * 60_000 });
    samples.push({ ...info, state: world.stateAt(info.visitorId, info.sid, info.endTimeMs - 1) });
  }
  samples.push({ visitorId: 'lostVisitor', sid: 'lostSession', startTimeMs: clock.nowMs() });
  return samples;
}

// ---------------------------------------------------------------------------------------------------------
// Payload columns and their source paths (flatten.ts's calls of flattenSources, mirrored)

/** Which rows a payload column belongs to. */
export interface ColumnGroup {
  rowType: string;
  eventType?: string;
  childPath?: string;
}

export interface PayloadFact {
  group: ColumnGroup;
  column: FlatColumn;
  /** The source path in the answer, `[]` marking array elements. */
  sourcePath: string[];
}

const groupKey = (g: ColumnGroup): string => [g.rowType, g.eventType ?? '', g.childPath ?? ''].join('\u0000');

function asObject(value: Json | undefined): JsonObject {
  if (isJsonObject(value)) return value;
  return { rawElement: value ?? null };
}

function arrayAt(obj: JsonObject, key: string): Json[] {
  const v = Object.hasOwn(obj, key) ? obj[key] : undefined;
  return Array.isArray(v) ? v : [];
}

/** The payload columns of an answer with their source paths: flatten.ts's calls, made here with paths kept. */
export function payloadFacts(state: VisitState): PayloadFact[] {
  const facts: PayloadFact[] = [];
  const add = (group: ColumnGroup, base: string[], columns: readonly FlatColumn[]): void => {
    for (const column of columns) facts.push({ group, column, sourcePath: [...base, ...column.sourcePath] });
  };
  const visit = applyPromotions(state as JsonObject, PROMOTIONS.visit);
  const visitSource: FlattenSource = {
    value: state as JsonObject,
    prefix: ['visit'],
    omit: [...visit.omit, ['appSessions']],
  };
  for (const rawSession of state.appSessions as Json[]) {
    const session = asObject(rawSession);
    const promoted = applyPromotions(session, PROMOTIONS.session);
    const rowArrays = ['pages', 'engagements', 'events'].filter((k) => Array.isArray(session[k]));
    const plan = flattenSources([
      { value: session, omit: [...promoted.omit, ...rowArrays.map((k) => [k])] },
      visitSource,
    ]);
    for (const column of plan.columns) {
      // The visit source's paths start with its prefix 'visit': those fields are the answer's own.
      const fromVisit = column.name.startsWith('visit_') && column.sourcePath[0] === 'visit';
      facts.push({
        group: { rowType: ROW_TYPES.session },
        column,
        sourcePath: fromVisit ? column.sourcePath.slice(1) : ['appSessions[]', ...column.sourcePath],
      });
    }
    for (const rawPage of arrayAt(session, 'pages')) {
      const page = asObject(rawPage);
      const p = applyPromotions(page, PROMOTIONS.page);
      add(
        { rowType: ROW_TYPES.page },
        ['appSessions[]', 'pages[]'],
        flattenSources([{ value: page, omit: p.omit }]).columns,
      );
    }
    for (const rawEngagement of arrayAt(session, 'engagements')) {
      const engagement = asObject(rawEngagement);
      const e = applyPromotions(engagement, PROMOTIONS.engagement);
      add(
        { rowType: ROW_TYPES.engagement },
        ['appSessions[]', 'engagements[]'],
        flattenSources([{ value: engagement, rootName: 'engagement', omit: e.omit }]).columns,
      );
    }
    for (const element of arrayAt(session, 'events')) {
      const keys = isJsonObject(element) ? sortedKeys(element) : [];
      const type = keys[0];
      const body =
        keys.length === 1 && type !== undefined && isJsonObject(element) ? element[type] : undefined;
      if (type === undefined || !isJsonObject(body)) {
        const plan = flattenSources([{ value: asObject(element) }], { objectArrays: 'children' });
        add(
          { rowType: ROW_TYPES.event, eventType: MALFORMED_EVENT_TYPE },
          ['appSessions[]', 'events[]'],
          plan.columns,
        );
        continue;
      }
      const ev = applyPromotions(body, PROMOTIONS.event);
      const plan = flattenSources([{ value: body, omit: ev.omit, rootName: type }], {
        objectArrays: 'children',
      });
      const base = ['appSessions[]', 'events[]', type];
      add({ rowType: ROW_TYPES.event, eventType: type }, base, plan.columns);
      for (const child of plan.childArrays) {
        for (const item of child.items) {
          add(
            { rowType: ROW_TYPES.eventItem, eventType: type, childPath: child.name },
            [
              ...base,
              ...child.sourcePath.slice(0, -1),
              `${child.sourcePath[child.sourcePath.length - 1] ?? ''}[]`,
            ],
            flattenSources([{ value: item }]).columns,
          );
        }
      }
    }
  }
  return facts;
}

// ---------------------------------------------------------------------------------------------------------
// The dictionary

export type ValueType = 'string' | 'number' | 'boolean' | 'json' | 'null';
const TYPE_ORDER: readonly ValueType[] = ['string', 'number', 'boolean', 'json', 'null'];

export interface DictionaryColumn {
  /** Column name; `<id>` stands for one column per id. */
  name: string;
  /** Where the value comes from in the answer (payload columns). */
  source?: string;
  types: ValueType[];
  description?: string;
  pii?: PiiClass;
  example?: string;
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

const ID_SEGMENT = /^\d+$/;

function patternOf(name: string, sourcePath: readonly string[]): { name: string; source: string } {
  const hasId = sourcePath.some((s) => ID_SEGMENT.test(s));
  const source = sourcePath.map((s) => (ID_SEGMENT.test(s) ? '<id>' : s)).join('.');
  if (!hasId) return { name, source };
  const [base, suffix] = name.split(/(?=__\d+$)/);
  return { name: (base ?? name).replace(/(^|_)\d+(?=_|$)/g, '$1<id>') + (suffix ?? ''), source };
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
  pii?: PiiClass;
  rowTypes: Set<string>;
}

function finish(acc: Accumulator, description?: string): DictionaryColumn {
  return {
    name: acc.name,
    ...(acc.source !== undefined ? { source: acc.source } : {}),
    types: TYPE_ORDER.filter((t) => acc.types.has(t)),
    ...(description !== undefined ? { description } : {}),
    ...(acc.pii !== undefined ? { pii: acc.pii } : {}),
    ...(acc.example !== undefined && acc.pii === undefined ? { example: acc.example } : {}),
  };
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
    const facts = sample.state ? payloadFacts(sample.state) : [];
    const known = new Map<string, PayloadFact>();
    for (const f of facts) known.set(`${groupKey(f.group)}\u0000${f.column.name}`, f);
    // Independent check of the mirror: the flattener's own rows must have exactly these payload columns.
    const flattened = sample.state
      ? flattenVisitState({
          accountId: SAMPLE_ACCOUNT,
          visitorId: sample.visitorId,
          sid: sample.sid,
          state: sample.state,
        })
      : undefined;
    if (flattened && flattened.rows.length + 1 !== rows.length) {
      throw new Error(
        `the poller stored ${rows.length} rows for ${sample.sid}, the flattener made ${flattened.rows.length} + outcome`,
      );
    }
    for (const row of rows) {
      const rowType = String(row.rowType);
      const group: ColumnGroup = {
        rowType,
        ...(rowType === ROW_TYPES.event || rowType === ROW_TYPES.eventItem
          ? { eventType: String(row.eventType) }
          : {}),
        ...(rowType === ROW_TYPES.eventItem ? { childPath: String(row.childPath) } : {}),
      };
      for (const name of Object.keys(row)) {
        const value = row[name];
        const fact = rowType === ROW_TYPES.outcome ? undefined : known.get(`${groupKey(group)}\u0000${name}`);
        if (fact === undefined) {
          if (FIXED_COLUMN_DOCS[name] === undefined) {
            throw new Error(
              `column ${name} of ${rowType} rows is neither a known payload column nor in FIXED_COLUMN_DOCS ` +
                '(lib/query/dictionary.ts mirrors flatten.ts and the poller: update it)',
            );
          }
          const acc = fixed.get(name) ?? { name, types: new Set<ValueType>(), rowTypes: new Set<string>() };
          acc.types.add(typeOf(value));
          acc.rowTypes.add(rowType);
          acc.example ??= exampleOf(value);
          const pii = classifyColumn({ name });
          if (pii) acc.pii = pii;
          fixed.set(name, acc);
          continue;
        }
        const key = groupKey(group);
        const section = sections.get(key) ?? { group, columns: new Map<string, Accumulator>() };
        sections.set(key, section);
        const pattern = patternOf(name, fact.sourcePath);
        const acc = section.columns.get(pattern.name) ?? {
          name: pattern.name,
          source: pattern.source,
          types: new Set<ValueType>(),
          rowTypes: new Set([rowType]),
        };
        acc.types.add(typeOf(value, fact.column.encoding));
        acc.example ??= exampleOf(value);
        const pii = classifyColumn({ name, sourcePath: fact.sourcePath.map((s) => s.replace(/\[\]$/, '')) });
        if (pii) acc.pii = pii;
        section.columns.set(pattern.name, acc);
      }
    }
  }
  for (const [name, doc] of Object.entries(FIXED_COLUMN_DOCS)) {
    if (!fixed.has(name) && doc.conditional !== true && !INTERNAL_COLUMNS.includes(name)) {
      throw new Error(`FIXED_COLUMN_DOCS documents ${name}, which no sampled row has (mark it conditional?)`);
    }
    if (!fixed.has(name) && doc.conditional === true) {
      const pii = classifyColumn({ name });
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

// ---------------------------------------------------------------------------------------------------------
// Markdown

function cell(text: string | undefined): string {
  if (text === undefined || text === '') return '';
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ');
}

function code(text: string | undefined): string {
  return text === undefined || text === '' ? '' : `\`${text.replace(/`/g, "'")}\``;
}

function piiCell(pii: PiiClass | undefined): string {
  return pii === undefined ? '' : `**${pii.category}**: ${cell(pii.why)} (retention: capture)`;
}

const SECTION_INTRO: Readonly<Record<string, string>> = {
  session:
    'One row per element of `appSessions[]`. Every field of the app session except pages, engagements and events; the answer’s own top-level fields as `visit_…`.',
  page: 'One row per element of `appSessions[].pages[]`.',
  engagement: 'One row per element of `appSessions[].engagements[]` (the `engagement` wrapper is unwrapped).',
};

export function renderDictionary(dictionary: DataDictionary): string {
  const out: string[] = [];
  const line = (s = ''): void => {
    out.push(s);
  };
  line('# Data dictionary of the capture rows');
  line();
  line(
    '<!-- Generated by `npm run docs` (lib/query/generate-docs.ts, lib/query/dictionary.ts). Do not edit by hand:',
  );
  line('     test/unit/docs-dictionary.test.ts fails when this file differs from the generator output. -->');
  line();
  line(
    'Every column of every row type, found by running sample answers (the Visit Information API example and a',
  );
  line('seeded simulator sample) through the poller, with column names from the naming rule in');
  line(
    '[lib/capture/naming.ts](../lib/capture/naming.ts) (its doc comment has the rule and examples). How to read the',
  );
  line('rows: [access-patterns.md](access-patterns.md).');
  line();
  line(
    '- Types are JSON types as stored; **json** is a string holding canonical JSON (an array, or an object',
  );
  line('  deeper than 16 levels): use `json_extract` in Athena, `JSON.parse` elsewhere.');
  line(
    '- `<id>` in a name stands for an id used as an object key (VP, VB, OSL, campaign ids): one column per id.',
  );
  line(
    '- Columns appear only on rows whose answer had the field; a new field in the answer becomes a new column.',
  );
  line(
    '- Athena and Glue fold column names to lower case; the naming rule keeps names unique case-insensitively',
  );
  line('  (`Topic` and `topic` become `Topic` and `topic__2`).');
  line('- Examples come from the samples; personal-data columns show none.');
  line();
  line('## Personal data and retention');
  line();
  line(
    'Columns marked **personal data** hold data about a person (categories: identifier, name, contact, network,',
  );
  line('location, personal, free text that may hold personal data). The classification is code:');
  line(
    '[lib/query/pii.ts](../lib/query/pii.ts), reused by the analytics schema. Where each copy lives and for how long:',
  );
  line();
  line('| retention | store | how long |');
  line('| --- | --- | --- |');
  for (const r of RETENTION) line(`| ${r.id} | ${cell(r.store)} | ${cell(r.retention)} |`);
  line();
  line(
    'Every column below is kept under **capture** retention, and under **analytics** retention once copied to S3.',
  );
  line(
    'The queue table holds `visitorId`, `sid` (and their combination in `pk`) and `lastBadBody` (a capped copy of',
  );
  line('an unusable answer, which may hold anything the answer held) under **queue** retention.');
  line();
  line('## Our columns');
  line();
  line(
    'Written by lp-visit-capture itself, not taken from the answer (promoted fields excepted: see the description).',
  );
  line(
    '`pk`, `sk` and `gsi*` are storage attributes: `lpv query` and `lpv export` leave them out unless `--raw`.',
  );
  line();
  line('| column | row types | type | description | personal data | example |');
  line('| --- | --- | --- | --- | --- | --- |');
  for (const c of dictionary.fixed) {
    line(
      `| ${code(c.name)} | ${c.rowTypes.join(', ')} | ${c.types.join(', ')} | ${cell(c.description)} | ${piiCell(c.pii)} | ${code(cell(c.example))} |`,
    );
  }
  let current = '';
  for (const section of dictionary.sections) {
    const { rowType, eventType, childPath } = section.group;
    if (rowType !== current) {
      current = rowType;
      line();
      line(`## ${rowType} rows`);
      if (rowType === ROW_TYPES.event) {
        line();
        line(
          'One row per element of `appSessions[].events[]`, exactly. The body under the event type is flattened',
        );
        line(
          '(the `<type>.<type>` wrapper unwrapped); arrays of objects in it become eventItem rows. Columns per event type:',
        );
      } else if (rowType === ROW_TYPES.eventItem) {
        line();
        line(
          'One row per element of an array of objects inside an event body, after its event row (same session',
        );
        line(
          'partition), with the event’s eventType, serverTimeStamp and pageId, `parentSk`, `childPath` and `childIndex`.',
        );
        line(
          'Read them with `lpv query session` or `lpv query events --items`. Columns per event type and array:',
        );
      } else if (SECTION_INTRO[rowType] !== undefined) {
        line();
        line(SECTION_INTRO[rowType] as string);
      }
    }
    if (eventType !== undefined) {
      line();
      line(`### ${childPath !== undefined ? `${eventType} · ${childPath}` : eventType}`);
    }
    line();
    line('| column | source in the answer | type | personal data | example |');
    line('| --- | --- | --- | --- | --- |');
    for (const c of section.columns) {
      line(
        `| ${code(c.name)} | ${code(c.source)} | ${c.types.join(', ')} | ${piiCell(c.pii)} | ${code(cell(c.example))} |`,
      );
    }
  }
  line();
  return out.join('\n');
}

/**
 * The generated files as the code defines them today: docs/data-dictionary.md and
 * lib/query/analytics-schema.json (the Glue tables of the S3 copy), from one sampling run.
 */
export async function generateDocs(
  repoRoot: string,
): Promise<{ dictionary: string; analyticsSchema: string }> {
  const dictionary = await buildDictionary(defaultSamples(repoRoot));
  return {
    dictionary: renderDictionary(dictionary),
    analyticsSchema: JSON.stringify(buildAnalyticsSchema(dictionary), null, 2) + '\n',
  };
}
