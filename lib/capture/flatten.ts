/**
 * One Visit Information answer → capture rows. Pure: no I/O, no clock, no randomness; the same answer (in any
 * object key order) always yields the same rows in the same order. Column names come from naming.ts, keys from
 * lib/keys.ts. Objects go through flatten plans (plans.ts: the naming rule worked out once per shape of
 * object), which make it fast and change nothing else: test/unit/capture-flatten-plans.test.ts holds it to the
 * plain version, test/support/flatten-oracle.ts.
 *
 * Per element of `appSessions[]`, in answer order:
 *   - one `session` row: every field of the app session except pages/engagements/events (when they are
 *     arrays: they become rows), flattened; `id` → appSessionId; the answer's own `id` → visitId; other
 *     top-level fields of the answer (besides appSessions) → `visit_...` columns; `ip` = `ipv4` when it is a
 *     non-empty string, else `lpv4` (both originals stay as columns). `startTime` keeps its payload name (it
 *     is the app session's start, epoch-ms) and feeds the index keys.
 *   - one `page` row per pages[] element, then one `engagement` row per engagements[] element;
 *   - one `event` row per events[] element, EXACTLY, each followed by its `eventItem` child rows.
 *
 * Elements that are not objects are kept too: their value becomes the column `rawElement`. An events[] element
 * that is not `{ <type>: { ...body } }` (0 or more than 1 keys, or a non-object body) is ONE row of eventType
 * `_malformed` whose payload is the whole element (no unwrapping, no promotion); it is counted in
 * eventsByType['_malformed'] but not listed in unknownEventTypes. Duplicate session/page/engagement sort keys
 * in one answer (e.g. the same page twice) get `#DUP1`, `#DUP2`, ... so no row overwrites another.
 *
 * Personal data: the privacy policy (lib/privacy) of the flatten plans applies to every value at its source
 * path, wherever it lands (scalar columns, inside JSON columns, eventItem rows, our `ip` column), decided once
 * per plan: see `newFlattenPlans`. Keys and payload hashes are computed over the raw answer, before the policy.
 */
import { isJsonObject } from '../canonical';
import { assertValidId } from '../ids';
import {
  capturePk,
  engagementSk,
  eventIndexKeys,
  eventItemSk,
  eventSk,
  eventSkBase,
  pageSk,
  sessionIndexKeys,
  sessionSk,
} from '../keys';
import { KNOWN_EVENT_TYPES, type Json, type JsonObject, type VisitState } from '../liveperson/types';
import { classifyPath, OUR_IP_COLUMN, type PrivacyCategory, type PrivacyMode } from '../privacy/categories';
import {
  columnTreatment,
  createPrivacyPolicy,
  modeAtPath,
  type ColumnTreatment,
  type PrivacyPolicy,
} from '../privacy/policy';
import { applyPromotions, nullProtoRecord, PROMOTIONS, type FlatColumn, type PromotedValues } from './naming';
import {
  buildRow,
  MALFORMED_EVENT_TYPE,
  payloadHashOf,
  payloadHashOfCanonical,
  ROW_TYPES,
  type CaptureRow,
  type RowLayout,
  type Scalar,
} from './rows';
import { canonicalJsonOf, PlanCache, type Flattened, type PlannedChildArray, type PlanSource } from './plans';

export { rowByteSize } from './rows';

export interface FlattenInput {
  accountId: string;
  visitorId: string;
  sid: string;
  state: VisitState;
}

export interface FlattenCounts {
  session: number;
  page: number;
  engagement: number;
  event: number;
  eventItem: number;
}

export interface FlattenResult {
  rows: CaptureRow[];
  counts: FlattenCounts;
  /** Events per eventType (null-prototype: event types are data). */
  eventsByType: Record<string, number>;
  /** Event types not in KNOWN_EVENT_TYPES, sorted, deduplicated. */
  unknownEventTypes: string[];
}

/** Column holding an element that is not an object (a stray scalar or array in appSessions/pages/...). */
export const RAW_ELEMENT_COLUMN = 'rawElement';

const KNOWN = new Set<string>(KNOWN_EVENT_TYPES);
const NOTHING_PROMOTED: PromotedValues = { values: {}, omit: [] };
/** Arrays of an app session that become rows of their own rather than session columns. */
const ROW_ARRAYS = ['pages', 'engagements', 'events'] as const;

/** Paths left out of the session row's flattening. */
const VISIT_PREFIX = ['visit'] as const;
const APP_SESSIONS = ['appSessions'] as const;
const ROW_ARRAY_PATHS = { pages: ['pages'], engagements: ['engagements'], events: ['events'] } as const;

// Layouts of the rows: the key and bookkeeping columns, in the order of the `fixed` values given with them
// below (keys first, then ours, as rows have always been ordered: see the oracle in test/support).
/** The ids every row carries, right after its rowType. */
const IDENTITY = ['accountId', 'visitorId', 'sid', 'appSessionId'] as const;
const SESSION_COLUMNS: RowLayout['ourColumns'] = ['rowType', ...IDENTITY, 'visitId', 'ip'];
/** Session rows when the policy drops IP addresses: no `ip` column. */
const SESSION_COLUMNS_WITHOUT_IP: RowLayout['ourColumns'] = ['rowType', ...IDENTITY, 'visitId'];
const DATED_SESSION_KEYS: RowLayout['keyColumns'] = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi3pk', 'gsi3sk'];
const UNDATED_SESSION_KEYS: RowLayout['keyColumns'] = ['pk', 'sk', 'gsi1pk', 'gsi1sk'];
/** Session layouts: `dated`, a session whose start dates it, is listed in byStartDay (gsi3) too. */
interface SessionLayouts {
  readonly dated: RowLayout;
  readonly undated: RowLayout;
}
const SESSION_LAYOUTS: SessionLayouts = {
  dated: { keyColumns: DATED_SESSION_KEYS, ourColumns: SESSION_COLUMNS },
  undated: { keyColumns: UNDATED_SESSION_KEYS, ourColumns: SESSION_COLUMNS },
};
const SESSION_LAYOUTS_WITHOUT_IP: SessionLayouts = {
  dated: { keyColumns: DATED_SESSION_KEYS, ourColumns: SESSION_COLUMNS_WITHOUT_IP },
  undated: { keyColumns: UNDATED_SESSION_KEYS, ourColumns: SESSION_COLUMNS_WITHOUT_IP },
};
const PAGE_LAYOUT: RowLayout = { keyColumns: ['pk', 'sk'], ourColumns: ['rowType', ...IDENTITY, 'pageId'] };
const ENGAGEMENT_LAYOUT: RowLayout = {
  keyColumns: ['pk', 'sk'],
  ourColumns: ['rowType', ...IDENTITY, 'engagementId', 'pageId'],
};
/** What an event and its items know of it. */
const EVENT_IDENTITY = ['eventType', 'serverTimeStamp', 'pageId'] as const;
const EVENT_COLUMNS: RowLayout['ourColumns'] = [
  'rowType',
  ...IDENTITY,
  ...EVENT_IDENTITY,
  'eventKey',
  'occurrence',
];
/** An event whose serverTimeStamp dates it: listed in byEventType (gsi2). */
const DATED_EVENT_LAYOUT: RowLayout = {
  keyColumns: ['pk', 'sk', 'gsi2pk', 'gsi2sk'],
  ourColumns: EVENT_COLUMNS,
};
const UNDATED_EVENT_LAYOUT: RowLayout = { keyColumns: ['pk', 'sk'], ourColumns: EVENT_COLUMNS };
const EVENT_ITEM_LAYOUT: RowLayout = {
  keyColumns: ['pk', 'sk'],
  ourColumns: ['rowType', ...IDENTITY, ...EVENT_IDENTITY, 'parentSk', 'childPath', 'childIndex'],
};
const NO_OMIT: readonly (readonly string[])[] = Object.freeze([]);

/**
 * What the flattener knows of one payload column when its plan is made: the facts the data dictionary and the
 * analytics schema are generated from. `sourcePath` is the value's path in the answer, `[]` marking array
 * elements (`appSessions[]`, `events[]`, the event type, then the body's keys).
 */
export interface ColumnFact {
  readonly rowType: 'session' | 'page' | 'engagement' | 'event' | 'eventItem';
  readonly eventType?: string;
  readonly childPath?: string;
  readonly name: string;
  readonly sourcePath: readonly string[];
  readonly encoding: 'scalar' | 'json';
  /**
   * The value's personal-data category (by its source path) and what the plans' policy does to it. A dropped
   * column is reported too, though no row has it. A JSON column is also treated inside, key by key.
   */
  readonly privacy?: { readonly category: PrivacyCategory; readonly mode: PrivacyMode };
}

/** Receives the facts of every column of every plan made (see `newFlattenPlans`). */
export type ColumnListener = (fact: ColumnFact) => void;

/** An event item's family: its event type and child array (their items share shapes). */
interface ItemContext {
  readonly eventType: string;
  readonly child: PlannedChildArray;
}

/**
 * Flatten plans of each kind of row (see plans.ts): kept per container, since the same shapes come back in
 * every answer. Bounded; caching never changes a row, only how fast it is made. They are made under one privacy
 * policy, which they apply (a column's treatment is decided with its plan): plans and policy go together.
 */
export interface FlattenPlans {
  /** The privacy policy every plan applies (decided per column when the plan is made). */
  readonly privacy: PrivacyPolicy;
  /** The policy's treatment of our `ip` column (the network category). */
  readonly ip: ColumnTreatment;
  readonly sessionLayouts: SessionLayouts;
  readonly session: PlanCache;
  readonly page: PlanCache;
  readonly engagement: PlanCache;
  /** Context: the event type. */
  readonly event: PlanCache<string>;
  /** Elements that are not `{ <type>: { ...body } }`: no type to be reached under, a cache of their own. */
  readonly malformedEvent: PlanCache;
  readonly eventItem: PlanCache<ItemContext>;
}

const SESSION_PATH = ['appSessions[]'];
const EVENTS_PATH = [...SESSION_PATH, 'events[]'];

export interface FlattenPlanOptions {
  /**
   * The privacy policy applied to every value (lib/privacy/policy.ts). Entry points pass the one of their
   * configuration (lib/privacy/config.ts). @default the default modes without a hash key: the hashed
   * categories dropped (createPrivacyPolicy())
   */
  readonly privacy?: PrivacyPolicy;
  /**
   * Hears every column of every plan made, with its source path and treatment: give it fresh plans to hear every
   * column of an answer (a cached plan is not made again). Without it, nothing is spent on it.
   */
  readonly onColumn?: ColumnListener;
}

/** Where a column of each kind of row comes from, as a ColumnFact says it (see `newFlattenPlans`). */
type FactOf<Context> = (column: FlatColumn, context: Context) => Omit<ColumnFact, 'name' | 'encoding'>;

/** New, empty plans under a privacy policy (see FlattenPlanOptions). */
export function newFlattenPlans(options: FlattenPlanOptions = {}): FlattenPlans {
  const privacy = options.privacy ?? createPrivacyPolicy();
  const { onColumn } = options;
  const cache = <Context>(
    factOf: FactOf<Context>,
    base: { objectArrays?: 'children'; canonical?: true } = {},
  ): PlanCache<Context> =>
    new PlanCache<Context>({
      ...base,
      ...(privacy.treatsAnything
        ? {
            treatment: (c: FlatColumn, context: Context) =>
              columnTreatment(privacy, factOf(c, context).sourcePath, c.encoding),
          }
        : {}),
      ...(onColumn !== undefined
        ? {
            listener: (flat: { columns: readonly FlatColumn[] }, context: Context) => {
              for (const c of flat.columns) {
                const fact = factOf(c, context);
                const category = classifyPath(fact.sourcePath);
                onColumn({
                  ...fact,
                  name: c.name,
                  encoding: c.encoding,
                  ...(category !== undefined
                    ? { privacy: { category, mode: modeAtPath(privacy, fact.sourcePath) } }
                    : {}),
                });
              }
            },
          }
        : {}),
    });
  const ip = columnTreatment(privacy, [OUR_IP_COLUMN], 'scalar');
  return {
    privacy,
    ip,
    sessionLayouts: ip === 'drop' ? SESSION_LAYOUTS_WITHOUT_IP : SESSION_LAYOUTS,
    session: cache((c) => ({
      rowType: 'session',
      // The visit source's paths start with its prefix 'visit': those fields are the answer's own.
      sourcePath:
        c.source === 1 ? c.sourcePath.slice(VISIT_PREFIX.length) : [...SESSION_PATH, ...c.sourcePath],
    })),
    page: cache((c) => ({ rowType: 'page', sourcePath: [...SESSION_PATH, 'pages[]', ...c.sourcePath] })),
    engagement: cache((c) => ({
      rowType: 'engagement',
      sourcePath: [...SESSION_PATH, 'engagements[]', ...c.sourcePath],
    })),
    event: cache<string>(
      (c, eventType) => ({
        rowType: 'event',
        eventType,
        sourcePath: [...EVENTS_PATH, eventType, ...c.sourcePath],
      }),
      { objectArrays: 'children', canonical: true },
    ),
    malformedEvent: cache(
      (c) => ({
        rowType: 'event',
        eventType: MALFORMED_EVENT_TYPE,
        sourcePath: [...EVENTS_PATH, ...c.sourcePath],
      }),
      { objectArrays: 'children' },
    ),
    eventItem: cache<ItemContext>((c, { eventType, child }) => ({
      rowType: 'eventItem',
      eventType,
      childPath: child.name,
      sourcePath: [
        ...EVENTS_PATH,
        eventType,
        ...child.sourcePath.slice(0, -1),
        `${child.sourcePath[child.sourcePath.length - 1] ?? ''}[]`,
        ...c.sourcePath,
      ],
    })),
  };
}

const sharedPlans = newFlattenPlans();

function asObject(value: Json | undefined): JsonObject {
  if (isJsonObject(value)) return value;
  const wrapped = nullProtoRecord<Json>();
  wrapped[RAW_ELEMENT_COLUMN] = value === undefined ? null : value;
  return wrapped;
}

function arrayField(obj: JsonObject, key: string): Json[] {
  const v = Object.hasOwn(obj, key) ? obj[key] : undefined;
  return Array.isArray(v) ? v : [];
}

function stringOrNull(v: string | number | undefined): string | null {
  return typeof v === 'string' ? v : null;
}

type ParsedEvent =
  | { malformed: false; eventType: string; body: JsonObject }
  | { malformed: true; eventType: typeof MALFORMED_EVENT_TYPE; body: JsonObject; hashed: Json };

function parseEvent(element: Json | undefined): ParsedEvent {
  if (isJsonObject(element)) {
    const keys = Object.keys(element);
    const type = keys[0];
    if (keys.length === 1 && type !== undefined) {
      const body = element[type];
      if (isJsonObject(body)) return { malformed: false, eventType: type, body };
    }
  }
  const hashed = element === undefined ? null : element;
  return { malformed: true, eventType: MALFORMED_EVENT_TYPE, body: asObject(element), hashed };
}

/**
 * `plans`: the flatten plans to use and fill, and with them the privacy policy applied (default: the module's
 * own, shared by every call, under the default policy without a hash key: see FlattenPlanOptions).
 */
export function flattenVisitState(input: FlattenInput, plans: FlattenPlans = sharedPlans): FlattenResult {
  const { accountId, visitorId, sid } = input;
  // Ids become key parts unencoded: validating them here keeps '#' (the key separator) out.
  assertValidId('accountId', accountId);
  assertValidId('visitorId', visitorId);
  assertValidId('sid', sid);
  const state: unknown = input.state;
  if (!isJsonObject(state) || !Array.isArray(state.appSessions)) {
    throw new TypeError('state must be an object with an appSessions array');
  }

  const pk = capturePk(accountId, sid);
  const rows: CaptureRow[] = [];
  const counts: FlattenCounts = { session: 0, page: 0, engagement: 0, event: 0, eventItem: 0 };
  const eventsByType = nullProtoRecord<number>();
  const unknown = new Set<string>();
  const skSeen = new Map<string, number>();
  const occurrences = new Map<string, number>();

  const uniqueSk = (sk: string): string => {
    const seen = skSeen.get(sk) ?? 0;
    skSeen.set(sk, seen + 1);
    return seen === 0 ? sk : `${sk}#DUP${seen}`;
  };

  const visit = applyPromotions(state, PROMOTIONS.visit);
  const visitSource: PlanSource = { value: state, prefix: VISIT_PREFIX, omit: [...visit.omit, APP_SESSIONS] };
  const visitId = stringOrNull(visit.values.visitId);

  for (const rawSession of state.appSessions) {
    const session = asObject(rawSession);
    const promoted = applyPromotions(session, PROMOTIONS.session);
    const appSessionId = stringOrNull(promoted.values.appSessionId);
    const rowArrays = ROW_ARRAYS.filter((k) => Object.hasOwn(session, k) && Array.isArray(session[k]));
    const flat = plans.session.flatten(
      '',
      [
        { value: session, omit: [...promoted.omit, ...rowArrays.map((k) => ROW_ARRAY_PATHS[k])] },
        visitSource,
      ],
      undefined,
    );
    const ipv4 = session.ipv4;
    const lpv4 = session.lpv4;
    const ip =
      typeof ipv4 === 'string' && ipv4 !== '' ? ipv4 : typeof lpv4 === 'string' && lpv4 !== '' ? lpv4 : null;
    const sessionKeys = sessionIndexKeys(accountId, visitorId, sid, session.startTime, appSessionId);
    const sk = uniqueSk(sessionSk(appSessionId));
    const { gsi1pk, gsi1sk, gsi3pk, gsi3sk } = sessionKeys;
    const dated = gsi3pk !== undefined && gsi3sk !== undefined;
    const fixed: Scalar[] = dated ? [pk, sk, gsi1pk, gsi1sk, gsi3pk, gsi3sk] : [pk, sk, gsi1pk, gsi1sk];
    fixed.push(ROW_TYPES.session, accountId, visitorId, sid, appSessionId, visitId);
    // Our ip column is the network category, as ipv4 and lpv4 are (dropped: the layout has no ip).
    const ipTreatment = plans.ip;
    if (ipTreatment === undefined) fixed.push(ip);
    else if (ipTreatment !== 'drop') fixed.push(ipTreatment(ip));
    const layout = dated ? plans.sessionLayouts.dated : plans.sessionLayouts.undated;
    rows.push(rowOf(flat, layout, fixed));
    counts.session += 1;

    for (const rawPage of arrayField(session, 'pages')) {
      const page = asObject(rawPage);
      const p = applyPromotions(page, PROMOTIONS.page);
      const pageId = stringOrNull(p.values.pageId);
      const flat = plans.page.flatten('', [{ value: page, omit: p.omit }], undefined);
      const sk = uniqueSk(pageSk(appSessionId, pageId, page.startTime));
      const fixed = [pk, sk, ROW_TYPES.page, accountId, visitorId, sid, appSessionId, pageId];
      rows.push(rowOf(flat, PAGE_LAYOUT, fixed));
      counts.page += 1;
    }

    for (const rawEngagement of arrayField(session, 'engagements')) {
      const engagement = asObject(rawEngagement);
      const e = applyPromotions(engagement, PROMOTIONS.engagement);
      const engagementId = stringOrNull(e.values.engagementId);
      // impressionAccepted (an array of objects) stays a JSON column: engagements are few and small, and a
      // child-row kind of their own would buy little over json_extract.
      const flat = plans.engagement.flatten(
        '',
        [{ value: engagement, rootName: 'engagement', omit: e.omit }],
        undefined,
      );
      const sk = uniqueSk(engagementSk(appSessionId, engagementId));
      const pageId = stringOrNull(e.values.pageId);
      const fixed = [
        pk,
        sk,
        ROW_TYPES.engagement,
        accountId,
        visitorId,
        sid,
        appSessionId,
        engagementId,
        pageId,
      ];
      rows.push(rowOf(flat, ENGAGEMENT_LAYOUT, fixed));
      counts.engagement += 1;
    }

    for (const element of arrayField(session, 'events')) {
      const parsed = parseEvent(element);
      const { eventType, body } = parsed;
      const ev: PromotedValues = parsed.malformed
        ? NOTHING_PROMOTED
        : applyPromotions(body, PROMOTIONS.event);
      const serverTimeStamp = (ev.values.serverTimeStamp as number | undefined) ?? null;
      const pageId = stringOrNull(ev.values.pageId);
      const flat = parsed.malformed
        ? plans.malformedEvent.flatten('', [{ value: body, omit: NO_OMIT }], undefined)
        : plans.event.flatten(eventType, [{ value: body, omit: ev.omit, rootName: eventType }], eventType);
      // The event's identity hashes the raw body as it came (not its columns): a new naming rule, schema
      // version, privacy mode or hash key never gives a live session's events new keys.
      const payloadHash = parsed.malformed
        ? payloadHashOf(parsed.hashed)
        : payloadHashOfCanonical(canonicalJsonOf(flat));
      const base = eventSkBase(eventType, serverTimeStamp, payloadHash);
      const occurrence = occurrences.get(base) ?? 0;
      occurrences.set(base, occurrence + 1);
      const sk = eventSk(base, occurrence);
      const eventKeys = eventIndexKeys(accountId, sid, eventType, serverTimeStamp, sk);
      const fixed: Scalar[] =
        eventKeys === undefined ? [pk, sk] : [pk, sk, eventKeys.gsi2pk, eventKeys.gsi2sk];
      fixed.push(
        ROW_TYPES.event,
        accountId,
        visitorId,
        sid,
        appSessionId,
        eventType,
        serverTimeStamp,
        pageId,
        payloadHash,
        occurrence,
      );
      const layout = eventKeys === undefined ? UNDATED_EVENT_LAYOUT : DATED_EVENT_LAYOUT;
      rows.push(rowOf(flat, layout, fixed));
      counts.event += 1;
      eventsByType[eventType] = (eventsByType[eventType] ?? 0) + 1;
      if (!parsed.malformed && !KNOWN.has(eventType)) unknown.add(eventType);

      const childArrays = flat.plan.childArrays;
      for (let c = 0; c < childArrays.length; c += 1) {
        const child = childArrays[c] as PlannedChildArray;
        const items = flat.childItems[c] as readonly JsonObject[];
        const context: ItemContext = { eventType, child };
        const family = `${eventType}\u0000${child.name}`;
        for (let childIndex = 0; childIndex < items.length; childIndex += 1) {
          const item = plans.eventItem.flatten(
            family,
            [{ value: items[childIndex] as JsonObject, omit: NO_OMIT }],
            context,
          );
          const fixed = [
            pk,
            eventItemSk(sk, child.name, childIndex),
            ROW_TYPES.eventItem,
            accountId,
            visitorId,
            sid,
            appSessionId,
            eventType,
            serverTimeStamp,
            pageId,
            sk,
            child.name,
            childIndex,
          ];
          rows.push(rowOf(item, EVENT_ITEM_LAYOUT, fixed));
          counts.eventItem += 1;
        }
      }
    }
  }

  return { rows, counts, eventsByType, unknownEventTypes: [...unknown].sort() };
}

function rowOf(flat: Flattened, layout: RowLayout, fixed: readonly Scalar[]): CaptureRow {
  return buildRow(flat.plan.columnsOfRow(layout), fixed, flat.values);
}
