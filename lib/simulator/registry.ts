/**
 * The world's visitors and sessions by id, and their lifecycle: new ids, which session the API can see at a
 * given time (the 404 ladder), expiry at the six-hour wall or earlier, and early ends.
 */
import { assertValidId } from '../ids';
import type { SessionInfo, SessionRecord, VisitorProfile } from './model';
import { generateVisitorProfile } from './population';
import { ALPHANUMERIC_ALPHABET, BASE64URL_ALPHABET, HEX_ALPHABET, type Random } from './random';

/** What the API would do with (visitor, sid) at some time, before the account check and the answer. */
export type Resolution =
  | { kind: 'ok'; record: SessionRecord }
  | { kind: 'unknown_visitor' }
  | { kind: 'sid_not_visitors' }
  | { kind: 'expired' };

export class SessionRegistry {
  private readonly visitors = new Map<string, VisitorProfile>();
  private readonly sessionsBySid = new Map<string, SessionRecord>();

  constructor(private readonly sessionMaxAgeMs: number) {}

  /**
   * The visitor with this id, or a new one (with a new id when none is given). A new visitor's id is drawn
   * from `rng` and its profile from a stream forked from it; the visitor is registered at once.
   */
  visitorFor(visitorId: string | undefined, rng: Random): VisitorProfile {
    if (visitorId !== undefined) {
      assertValidId('visitorId', visitorId);
      const existing = this.visitors.get(visitorId);
      if (existing !== undefined) return existing;
    }
    let id = visitorId;
    if (id === undefined) {
      do id = rng.string(ALPHANUMERIC_ALPHABET, 22);
      while (this.visitors.has(id));
    }
    const profile = generateVisitorProfile(id, rng.fork());
    this.visitors.set(id, profile);
    return profile;
  }

  /** The requested sid when valid and free, else a new unused one drawn from `rng`. */
  claimSid(requested: string | undefined, rng: Random): string {
    if (requested !== undefined) {
      assertValidId('sid', requested);
      if (this.sessionsBySid.has(requested)) throw new RangeError('sid already exists');
      return requested;
    }
    let sid: string;
    do sid = newSid(rng);
    while (this.sessionsBySid.has(sid));
    return sid;
  }

  /** Registers a fully generated session under its visitor. */
  add(record: SessionRecord): void {
    record.visitor.sids.push(record.info.sid);
    this.sessionsBySid.set(record.info.sid, record);
  }

  get(sid: string): SessionRecord | undefined {
    return this.sessionsBySid.get(sid);
  }

  recordOf(sid: string): SessionRecord {
    const record = this.sessionsBySid.get(sid);
    if (record === undefined) throw new RangeError('unknown sid');
    return record;
  }

  /** All sessions, in creation order. */
  all(): SessionRecord[] {
    return [...this.sessionsBySid.values()];
  }

  /**
   * Order of checks: visitor (404/37), sid belongs to that visitor (404/39), session alive (404/12). A session
   * that has not started yet does not exist: the visitor is unknown at that time.
   */
  resolve(visitorId: string, sid: string, atMs: number): Resolution {
    const visitor = this.visitors.get(visitorId);
    if (visitor === undefined) return { kind: 'unknown_visitor' };
    const visible = visitor.sids.some(
      (s) => (this.sessionsBySid.get(s)?.info.startTimeMs ?? Infinity) <= atMs,
    );
    if (!visible) return { kind: 'unknown_visitor' };
    const record = this.sessionsBySid.get(sid);
    if (record === undefined || record.visitor !== visitor) return { kind: 'sid_not_visitors' };
    if (record.info.startTimeMs > atMs) return { kind: 'unknown_visitor' };
    if (this.isExpired(record, atMs)) return { kind: 'expired' };
    return { kind: 'ok', record };
  }

  /**
   * Ends a session early at `atMs`, as LivePerson may at any time. What the timeline held from `atMs` on is
   * dropped: it was never produced, so it leaves the ground truth too.
   */
  end(sid: string, atMs: number): SessionInfo {
    const record = this.recordOf(sid);
    const endTimeMs = Math.max(
      record.info.startTimeMs + 1,
      Math.min(record.info.endTimeMs, Math.floor(atMs)),
    );
    record.info.endTimeMs = endTimeMs;
    record.entries = record.entries.filter((e) => e.atMs < endTimeMs);
    record.pages = record.pages.filter((p) => p.startTimeMs < endTimeMs);
    return { ...record.info };
  }

  private isExpired(record: SessionRecord, atMs: number): boolean {
    return atMs >= record.info.endTimeMs || atMs - record.info.startTimeMs >= this.sessionMaxAgeMs;
  }
}

/** Session ids: 22 base64url characters, a fifth with a `.` and 40 hex digits like the spec's example id. */
function newSid(rng: Random): string {
  const base = rng.string(BASE64URL_ALPHABET, 22);
  return rng.chance(0.2) ? `${base}.${rng.string(HEX_ALPHABET, 40)}` : base;
}
