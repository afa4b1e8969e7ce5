/**
 * The documentation of our own columns: every column of the capture rows that is not taken from the answer's
 * payload (keys, index attributes, bookkeeping, promoted fields, outcome columns). Written by hand because
 * only a person can say what they mean; dictionary.ts keeps the list honest, failing generation on a sampled
 * column missing here and on a column here that no sample has (unless marked conditional).
 */

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
    description: 'Sort key of the row within its session (storage; see lib/keys.ts for the layouts).',
  },
  gsi1pk: {
    description: 'byVisitorKeys index partition `V#<accountId>#<visitorId>` (session and outcome rows).',
  },
  gsi1sk: { description: 'byVisitorKeys sort key `<startTime:13>#<sid>#SESSION#…` or `…#OUTCOME`.' },
  gsi2pk: {
    description:
      'byEventTypeKeys index partition `E#<accountId>#<eventType>#<yyyy-mm-dd>#<shard>` (event rows).',
  },
  gsi2sk: { description: 'byEventTypeKeys sort key `<serverTimeStamp:13>#<sid>#<sk>`.' },
  gsi3pk: {
    description:
      'byStartDayKeys index partition `D#<accountId>#<yyyy-mm-dd>#<shard>` (session and outcome rows).',
  },
  gsi3sk: { description: 'byStartDayKeys sort key, as gsi1sk.' },
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
      'Payload hash: an unkeyed 64-bit hash (16 hex of SHA-256) of the RAW event body as canonical JSON, computed before the privacy policy applies, so a key or mode change never re-keys an event. With eventType, serverTimeStamp and occurrence, the identity of the event.',
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
      'When the poller stored this version of the row, epoch ms. `dt` of the S3/export partition is its UTC day. ' +
      'A page row whose only change is its `timeOnPage` is rewritten every 6th successful poll (the rewrite rule, ' +
      'access-patterns.md): while the session is polled, `timeOnPage` and this may be up to 5 polls behind the ' +
      'latest answer; when the session ends, the row gets the last answer’s `timeOnPage` and this its time.',
  },
  truncatedColumns: {
    description:
      'Comma-separated columns cut in place to fit DynamoDB’s 400 KB item limit (their values end with a marker). Only on rows fitted before overflowJson replaced in-place truncation.',
    conditional: true,
  },
  overflowJson: {
    description:
      'Only on rows fitted to DynamoDB’s 400 KB item limit (lib/store/dynamo-capture-store.ts): the payload columns moved out of the row (the largest first; never keys, bookkeeping or capturedAtMs), as one canonical JSON object `{"column": value, …}`. Smallest entries go in whole while they fit; then the largest string left is cut and ends with `…[truncated by lp-visit-capture]`. Read with json_extract. Replaces in-place truncation (truncatedColumns) on rows written since.',
    conditional: true,
  },
  overflowCut: {
    description:
      'Marker of a fitted row, JSON `{"cut","cutColumns","limitBytes","moved","pass","rowBytes"}`: columns moved into overflowJson, how many of them are not there whole (cut or lost), the first cut names in name order (at most 1 KB of names), the limit fitted to, pass 1 (or 2: refitted at half the limit after DynamoDB refused the row) and the row’s estimated size before.',
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
  complete: {
    description:
      'False for a partial capture: the last successful answer’s rows were not all stored (a row refused even after fitting, rows left unwritten, or the answer could not be flattened); its reason starts `partial:`. True otherwise.',
  },
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
  rowsStored: {
    description:
      'Capture rows stored for the session: one per row key (a rewritten session or page row counts once; sessions ' +
      'polled before issue 16 also count the versions their digests recorded then).',
  },
  eventsSeen: { description: 'Events in the last successful answer.' },
};
