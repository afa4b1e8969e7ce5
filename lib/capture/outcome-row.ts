import type { QueueItem, QueueState } from '../queue/model';
import { outcomeKeys } from '../keys';
import { OUTCOME_ROW_TYPE, type CaptureRow } from './rows';

/** How a session's polling ended, as the queue item's final ack records it. */
export interface SessionEnd {
  state: Exclude<QueueState, 'ACTIVE'>;
  reason: string;
  lastOutcome: string;
  pollCount: number;
  endedAtMs: number;
  /** False for a partial capture (the last successful answer was not stored completely). @default the item's */
  complete?: boolean;
}

/**
 * The outcome row of an ended session (sk `OUTCOME`, listed by visitor and by start day beside the session
 * rows): how it ended and what was captured, so analysts see lost and failed sessions too, long after the queue
 * item has expired. Pure. `item` is the queue item as of the end (its counters normalized); throws, as
 * `outcomeKeys` does, when its ids or start time cannot be part of a key.
 */
export function buildOutcomeRow(item: QueueItem, end: SessionEnd): CaptureRow {
  return {
    ...outcomeKeys(item.accountId, item.visitorId, item.sid, item.startTimeMs),
    rowType: OUTCOME_ROW_TYPE,
    accountId: item.accountId,
    visitorId: item.visitorId,
    sid: item.sid,
    finalState: end.state,
    reason: end.reason,
    lastOutcome: end.lastOutcome,
    pollCount: end.pollCount,
    successCount: item.successCount,
    complete: end.complete ?? item.complete !== false,
    startTimeMs: item.startTimeMs,
    deadlineMs: item.deadlineMs,
    enqueuedAtMs: item.enqueuedAtMs ?? null,
    endedAtMs: end.endedAtMs,
    lastCapturedAtMs: item.lastCapturedAtMs ?? null,
    rowsStored: item.rowsStored ?? 0,
    eventsSeen: item.eventsSeen ?? 0,
  };
}
