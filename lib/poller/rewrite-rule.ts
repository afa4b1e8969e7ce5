/**
 * When the poller rewrites a mutable capture row (session, page, engagement: rows whose content changes under
 * the same key), and which columns of them may lag. Pure: the poller gives what it compared, this says what to
 * do. docs/access-patterns.md ("Mutable rows: the rewrite rule") states the rule for readers.
 *
 * The rule, for a mutable row of the answer being stored:
 * 1. the same content as the stored version (every column): nothing is written;
 * 2. a column outside LAGGING_COLUMNS of its row type changed, or no version of it is stored yet: written now;
 * 3. only lagging columns changed: written on a rewrite poll (every REWRITE_EVERY_POLLS-th successful poll,
 *    and the last poll before the deadline), deferred otherwise. A deferred row's lagging values are kept on
 *    the queue item (`deferredColumns`, at most MAX_DEFERRED_CHARS: past it the row is written now) and
 *    written into the stored row when the session ends, before its outcome row. So a stored row is never more
 *    than REWRITE_EVERY_POLLS − 1 successful polls behind in its lagging columns while the session is polled,
 *    and once the session has ended every row holds its last successful answer's values.
 *
 * Which columns lag was measured, not guessed: diffing consecutive answers of the simulator's traffic (120
 * sessions, seed 42, a poll every 10 minutes: 3,637 session, 53,971 page and 6,466 engagement row transitions),
 * the only column that changed without an event behind it is a page's `timeOnPage` (the current page's grows on
 * every poll, the previous one's settles when a page starts): 3,637 page rewrites, every one of them
 * `timeOnPage` alone. Session rows changed in 2,297 transitions, always with an event (cart, viewedProduct,
 * purchases, customerInfo, ...): real content, written at once. Engagement rows changed 13 times
 * (impressionAccepted: an impression). A growing counter found later in real answers joins the list here.
 */
import { ROW_TYPES } from '../capture/rows';

/** Columns of each mutable row type that may lag behind the answer (see the header). */
export const LAGGING_COLUMNS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  [ROW_TYPES.session]: Object.freeze([]),
  [ROW_TYPES.page]: Object.freeze(['timeOnPage']),
  [ROW_TYPES.engagement]: Object.freeze([]),
});

/**
 * Every how many successful polls a row whose lagging columns changed is rewritten: 6 is about 84 minutes at
 * the default 840-second interval (lib/poll-cadence.ts). Each page lives a poll or two in the simulator's traffic; with 6, a page's settled
 * time is usually written with the next rewrite, not at every poll on top of the write that created the row.
 */
export const REWRITE_EVERY_POLLS = 6;

/**
 * Most characters of deferred values the queue item keeps (`deferredColumns`): the item is rewritten by every
 * claim and ack and billed per started KB. Without them it holds about 370–430 bytes (measured on the simulator's
 * sessions); with at most 384 more it stays under 1 KB, one write unit a claim or an ack. That is four or five
 * page rows' values (about 80 characters each); a row whose values would not fit is written at once instead.
 */
export const MAX_DEFERRED_CHARS = 384;

/** What to do with one mutable row of the answer being stored. */
export type RowWrite = 'unchanged' | 'write' | 'defer';

export interface RowWriteInput {
  /** The row as flattened equals the stored version, every column (its digest is the stored one). */
  sameAsStored: boolean;
  /** The row equals the stored version but for its LAGGING_COLUMNS (false when no version is stored). */
  sameBesidesLagging: boolean;
  /** This poll rewrites rows whose lagging columns changed (isRewritePoll). */
  rewritePoll: boolean;
  /** The row's deferred values would still fit on the queue item (MAX_DEFERRED_CHARS). */
  fits: boolean;
}

/** The rule of the header, for one row. */
export function rowWrite(input: RowWriteInput): RowWrite {
  if (input.sameAsStored) return 'unchanged';
  if (!input.sameBesidesLagging) return 'write';
  return input.rewritePoll || !input.fits ? 'write' : 'defer';
}

/**
 * Whether a successful poll rewrites the rows whose lagging columns changed: every REWRITE_EVERY_POLLS-th
 * success (`successCount` counts this one), and the last poll the session will get before its deadline.
 */
export function isRewritePoll(successCount: number, lastPollBeforeDeadline: boolean): boolean {
  return lastPollBeforeDeadline || successCount % REWRITE_EVERY_POLLS === 0;
}

/** The lagging values of a deferred row, by sort key, and when they were captured. */
export interface DeferredColumns {
  /** `capturedAtMs` of the answer the values come from: the stored row gets it with them. */
  capturedAtMs: number;
  /** Sort key → column → value. */
  rows: Map<string, Record<string, string | number | boolean | null>>;
}

/** The queue item's `deferredColumns` text; undefined when empty. */
export function serializeDeferred(deferred: DeferredColumns): string | undefined {
  if (deferred.rows.size === 0) return undefined;
  return JSON.stringify({ at: deferred.capturedAtMs, rows: [...deferred.rows] });
}

/** Characters of serializeDeferred's text around its rows. */
export function deferredEnvelopeChars(capturedAtMs: number): number {
  return JSON.stringify({ at: capturedAtMs, rows: [] }).length;
}

/** Characters one deferred row adds to serializeDeferred's text (its share of the JSON array). */
export function deferredEntryChars(sk: string, values: Record<string, unknown>): number {
  return JSON.stringify([sk, values]).length + 1;
}

/**
 * The queue item's `deferredColumns`, or undefined when it has none or the text is not ours (a hand-edited
 * item: its values are then lost to the end-of-session write, and the rows keep what they last stored).
 */
export function parseDeferred(text: string | undefined): DeferredColumns | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    const parsed = JSON.parse(text) as { at?: unknown; rows?: unknown };
    if (typeof parsed.at !== 'number' || !Array.isArray(parsed.rows)) return undefined;
    const rows = new Map<string, Record<string, string | number | boolean | null>>();
    for (const entry of parsed.rows as unknown[]) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') return undefined;
      const values = entry[1] as unknown;
      if (typeof values !== 'object' || values === null || Array.isArray(values)) return undefined;
      const clean: Record<string, string | number | boolean | null> = {};
      for (const [column, value] of Object.entries(values)) {
        if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) return undefined;
        clean[column] = value as string | number | boolean | null;
      }
      rows.set(entry[0], clean);
    }
    return { capturedAtMs: parsed.at, rows };
  } catch {
    return undefined;
  }
}
