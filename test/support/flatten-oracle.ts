/**
 * The flattener without flatten plans (lib/capture/plans.ts): every object through the plain
 * naming oracle (./naming-oracle.ts, which shares no code with lib/capture/naming.ts), every row through
 * `newRow`. Kept as the plain reference that test/unit/capture-flatten-plans.test.ts holds `flattenVisitState`
 * to, row for row and column for column. Its rules are documented in lib/capture/flatten.ts; do not "improve"
 * it, it is the yardstick. Only key formats (lib/keys.ts) and row constants (lib/capture/rows.ts) come from lib.
 */
import { KNOWN_EVENT_TYPES, type Json, type JsonObject, type VisitState } from '../../lib/liveperson/types';
import { assertValidId } from '../../lib/ids';
import { isJsonObject } from '../../lib/canonical';
import {
  oracleFlattenSources,
  oraclePromote,
  ORACLE_PROMOTIONS,
  type BookkeepingColumn,
  type OraclePromoted,
  type OracleSource,
  type Scalar,
} from './naming-oracle';
import {
  CAPTURE_SCHEMA_VERSION,
  MALFORMED_EVENT_TYPE,
  payloadHashOf,
  ROW_PROTOTYPE,
  ROW_TYPES,
  type CaptureRow,
} from '../../lib/capture/rows';
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
  type RowKeyColumns,
} from '../../lib/keys';

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
const NOTHING_PROMOTED: OraclePromoted = { values: new Map(), omit: [] };
/** Arrays of an app session that become rows of their own rather than session columns. */
const ROW_ARRAYS = ['pages', 'engagements', 'events'] as const;

function asObject(value: Json | undefined): JsonObject {
  if (isJsonObject(value)) return value;
  const wrapped = Object.create(null) as Record<string, Json>;
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

/** `idKeyedMaps: false` flattens by the naming rule as it was before id-keyed maps became data. */
export function oracleFlattenVisitState(
  input: FlattenInput,
  options: { readonly idKeyedMaps?: boolean } = {},
): FlattenResult {
  const idKeyedMaps = options.idKeyedMaps ?? true;
  const flattenSources = (sources: readonly OracleSource[], objectArrays: 'json' | 'children' = 'json') =>
    oracleFlattenSources(sources, { objectArrays, idKeyedMaps });
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
  const eventsByType = Object.create(null) as Record<string, number>;
  const unknown = new Set<string>();
  const skSeen = new Map<string, number>();
  const occurrences = new Map<string, number>();

  const uniqueSk = (sk: string): string => {
    const seen = skSeen.get(sk) ?? 0;
    skSeen.set(sk, seen + 1);
    return seen === 0 ? sk : `${sk}#DUP${seen}`;
  };

  const visit = oraclePromote(state, ORACLE_PROMOTIONS.visit);
  const visitSource: OracleSource = {
    value: state,
    prefix: ['visit'],
    omit: [...visit.omit, ['appSessions']],
  };
  const visitId = stringOrNull(visit.values.get('visitId'));

  for (const rawSession of state.appSessions) {
    const session = asObject(rawSession);
    const promoted = oraclePromote(session, ORACLE_PROMOTIONS.session);
    const appSessionId = stringOrNull(promoted.values.get('appSessionId'));
    const rowArrays = ROW_ARRAYS.filter((k) => Object.hasOwn(session, k) && Array.isArray(session[k]));
    const plan = flattenSources([
      { value: session, omit: [...promoted.omit, ...rowArrays.map((k) => [k])] },
      visitSource,
    ]);
    const ipv4 = session.ipv4;
    const lpv4 = session.lpv4;
    const ip =
      typeof ipv4 === 'string' && ipv4 !== '' ? ipv4 : typeof lpv4 === 'string' && lpv4 !== '' ? lpv4 : null;
    const sessionKeys = sessionIndexKeys(accountId, visitorId, sid, session.startTime, appSessionId);
    rows.push(
      newRow(
        {
          pk,
          sk: uniqueSk(sessionSk(appSessionId)),
          gsi1pk: sessionKeys.gsi1pk,
          gsi1sk: sessionKeys.gsi1sk,
          gsi3pk: sessionKeys.gsi3pk,
          gsi3sk: sessionKeys.gsi3sk,
        },
        { rowType: ROW_TYPES.session, accountId, visitorId, sid, appSessionId, visitId, ip },
        plan.columns,
      ),
    );
    counts.session += 1;

    for (const rawPage of arrayField(session, 'pages')) {
      const page = asObject(rawPage);
      const p = oraclePromote(page, ORACLE_PROMOTIONS.page);
      const pageId = stringOrNull(p.values.get('pageId'));
      const pagePlan = flattenSources([{ value: page, omit: p.omit }]);
      rows.push(
        newRow(
          { pk, sk: uniqueSk(pageSk(appSessionId, pageId, page.startTime)) },
          { rowType: ROW_TYPES.page, accountId, visitorId, sid, appSessionId, pageId },
          pagePlan.columns,
        ),
      );
      counts.page += 1;
    }

    for (const rawEngagement of arrayField(session, 'engagements')) {
      const engagement = asObject(rawEngagement);
      const e = oraclePromote(engagement, ORACLE_PROMOTIONS.engagement);
      const engagementId = stringOrNull(e.values.get('engagementId'));
      // impressionAccepted (an array of objects) stays a JSON column: engagements are few and small, and a
      // child-row kind of their own would buy little over json_extract.
      const engPlan = flattenSources([{ value: engagement, rootName: 'engagement', omit: e.omit }]);
      rows.push(
        newRow(
          { pk, sk: uniqueSk(engagementSk(appSessionId, engagementId)) },
          {
            rowType: ROW_TYPES.engagement,
            accountId,
            visitorId,
            sid,
            appSessionId,
            engagementId,
            pageId: stringOrNull(e.values.get('pageId')),
          },
          engPlan.columns,
        ),
      );
      counts.engagement += 1;
    }

    for (const element of arrayField(session, 'events')) {
      const parsed = parseEvent(element);
      const { eventType, body } = parsed;
      const ev: OraclePromoted = parsed.malformed
        ? NOTHING_PROMOTED
        : oraclePromote(body, ORACLE_PROMOTIONS.event);
      const serverTimeStamp = (ev.values.get('serverTimeStamp') as number | undefined) ?? null;
      const pageId = stringOrNull(ev.values.get('pageId'));
      const payloadHash = payloadHashOf(parsed.malformed ? parsed.hashed : body);
      const base = eventSkBase(eventType, serverTimeStamp, payloadHash);
      const occurrence = occurrences.get(base) ?? 0;
      occurrences.set(base, occurrence + 1);
      const sk = eventSk(base, occurrence);
      const evPlan = flattenSources(
        [parsed.malformed ? { value: body } : { value: body, omit: ev.omit, rootName: eventType }],
        'children',
      );
      const eventKeys = eventIndexKeys(accountId, sid, eventType, serverTimeStamp, sk);
      rows.push(
        newRow(
          { pk, sk, gsi2pk: eventKeys?.gsi2pk, gsi2sk: eventKeys?.gsi2sk },
          {
            rowType: ROW_TYPES.event,
            accountId,
            visitorId,
            sid,
            appSessionId,
            eventType,
            serverTimeStamp,
            pageId,
            eventKey: payloadHash,
            occurrence,
          },
          evPlan.columns,
        ),
      );
      counts.event += 1;
      eventsByType[eventType] = (eventsByType[eventType] ?? 0) + 1;
      if (!parsed.malformed && !KNOWN.has(eventType)) unknown.add(eventType);

      for (const child of evPlan.childArrays) {
        for (let childIndex = 0; childIndex < child.items.length; childIndex += 1) {
          const itemPlan = flattenSources([{ value: child.items[childIndex] as JsonObject }]);
          rows.push(
            newRow(
              { pk, sk: eventItemSk(sk, child.name, childIndex) },
              {
                rowType: ROW_TYPES.eventItem,
                accountId,
                visitorId,
                sid,
                appSessionId,
                eventType,
                serverTimeStamp,
                pageId,
                parentSk: sk,
                childPath: child.name,
                childIndex,
              },
              itemPlan.columns,
            ),
          );
          counts.eventItem += 1;
        }
      }
    }
  }

  return { rows, counts, eventsByType, unknownEventTypes: [...unknown].sort() };
}

/**
 * Builds a row: keys, then our columns (`undefined` ones omitted), then the payload columns (in name order),
 * then schemaVersion. This column order depends only on the code, never on the answer's key order (the
 * poller's change digests rely on it). Throws if a payload column takes one of our names, which the naming rule
 * rules out: reaching it is a bug, and silently overwriting a key would corrupt the table.
 */
function newRow(
  keys: RowKeyColumns,
  ours: Partial<Record<BookkeepingColumn, Scalar | undefined>>,
  payload: readonly { readonly name: string; readonly value: Scalar }[],
): CaptureRow {
  const row = Object.create(ROW_PROTOTYPE) as CaptureRow;
  for (const k in keys) {
    const v = keys[k as keyof RowKeyColumns];
    if (v !== undefined) row[k] = v;
  }
  for (const k in ours) {
    const v = ours[k as BookkeepingColumn];
    if (v !== undefined) row[k] = v;
  }
  for (const c of payload) {
    if (c.name in row) throw new Error(`payload column ${JSON.stringify(c.name)} clashes with ours`);
    row[c.name] = c.value;
  }
  row.schemaVersion = CAPTURE_SCHEMA_VERSION;
  return row;
}
