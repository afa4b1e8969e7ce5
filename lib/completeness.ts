import { flattenVisitState } from './capture/flatten';
import type { GroundTruthEvent } from './simulator/world';

/**
 * Completeness of a capture against the simulator's ground truth: the number the team watches.
 *
 * - observable events: what LivePerson still held at the last well-formed 200 it served for the session
 *   (its events up to that instant). A capture can hold no more; fault-free it must hold exactly these.
 * - produced events: everything the session did while it lived; the gap to "observable" is the price of the
 *   poll interval (events after the last poll, before the session ended).
 * - duplicates: stored event rows that are not a distinct event of the ground truth (the same event stored
 *   twice under two identities, or an event that never happened).
 */
export interface SessionTruth {
  visitorId: string;
  sid: string;
  events: readonly GroundTruthEvent[];
  /** Session-clock instant of the last well-formed 200 served; undefined when none was. */
  lastOkAtMs?: number;
}

export interface SessionCompleteness {
  visitorId: string;
  sid: string;
  produced: number;
  observable: number;
  storedObservable: number;
  stored: number;
  duplicates: number;
}

export interface CompletenessReport {
  sessions: number;
  producedEvents: number;
  observableEvents: number;
  storedEvents: number;
  storedObservableEvents: number;
  /** storedObservable / observable; 1 when nothing was observable. */
  completeness: number;
  /** stored / produced: what the poll interval costs. */
  completenessOfProduced: number;
  duplicates: number;
  /** Sessions that miss an observable event. */
  incompleteSessions: SessionCompleteness[];
}

/** Event-row keys the flattener gives a session's ground-truth events (identity: type, time, payload, occurrence). */
export function expectedEventKeys(
  accountId: string,
  truth: SessionTruth,
): Array<{ sk: string; serverTimeStamp: number }> {
  const flat = flattenVisitState({
    accountId,
    visitorId: truth.visitorId,
    sid: truth.sid,
    state: { appSessions: [{ id: truth.sid, events: truth.events.map((e) => e.event) }] },
  });
  return flat.rows
    .filter((row) => row.rowType === 'event')
    .map((row) => ({ sk: String(row.sk), serverTimeStamp: Number(row.serverTimeStamp) }));
}

export async function measureCompleteness(
  accountId: string,
  sessions: readonly SessionTruth[],
  storedEventKeys: (sid: string) => Promise<readonly string[]>,
): Promise<CompletenessReport> {
  const report: CompletenessReport = {
    sessions: sessions.length,
    producedEvents: 0,
    observableEvents: 0,
    storedEvents: 0,
    storedObservableEvents: 0,
    completeness: 1,
    completenessOfProduced: 1,
    duplicates: 0,
    incompleteSessions: [],
  };
  for (const truth of sessions) {
    const expected = expectedEventKeys(accountId, truth);
    const expectedKeys = new Set(expected.map((e) => e.sk));
    const observable = expected.filter(
      (e) => truth.lastOkAtMs !== undefined && e.serverTimeStamp <= truth.lastOkAtMs,
    );
    const stored = await storedEventKeys(truth.sid);
    const storedSet = new Set(stored);
    const storedObservable = observable.filter((e) => storedSet.has(e.sk)).length;
    const duplicates =
      stored.length - storedSet.size + [...storedSet].filter((sk) => !expectedKeys.has(sk)).length;
    const session: SessionCompleteness = {
      visitorId: truth.visitorId,
      sid: truth.sid,
      produced: expected.length,
      observable: observable.length,
      storedObservable,
      stored: stored.length,
      duplicates,
    };
    report.producedEvents += session.produced;
    report.observableEvents += session.observable;
    report.storedEvents += session.stored;
    report.storedObservableEvents += storedObservable;
    report.duplicates += duplicates;
    if (storedObservable < observable.length) report.incompleteSessions.push(session);
  }
  report.completeness =
    report.observableEvents === 0 ? 1 : report.storedObservableEvents / report.observableEvents;
  report.completenessOfProduced =
    report.producedEvents === 0 ? 1 : report.storedEvents / report.producedEvents;
  return report;
}
