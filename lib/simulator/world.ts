/**
 * The simulated side of LivePerson: visitors, their sessions, and what the Visit Information API would answer
 * about a session at any moment. Pure (no I/O, no wall clock, no Math.random): given the same seed and the same
 * calls, it produces the same ids, timelines and states, so a failing run can be replayed.
 *
 * Model: every session's whole life is generated when it starts (a sorted timeline of page views, engagements,
 * impressions and engagement-attribute events). The API's answer at time t is the fold of the timeline entries
 * with time <= t, so states only grow, and the ground truth (everything a session ever produced) is known up
 * front, which is what lets tests measure exactly what a poller missed.
 */
import { SESSION_MAX_AGE_MS, SECOND_MS, HOUR_MS, MINUTE_MS, type Clock } from '../clock';
import { assertValidId } from '../ids';
import type { AppSession, EventBody, Json, JsonObject, VisitEvent, VisitState } from '../liveperson/types';
import * as catalog from './catalog';
import { ALPHANUMERIC_ALPHABET, BASE64URL_ALPHABET, HEX_ALPHABET, Random } from './random';

export interface SimulatedWorldOptions {
  seed: number;
  accountId: string;
  clock: Clock;
  /** How long LivePerson keeps a session at most (default SESSION_MAX_AGE_MS, six hours). */
  sessionMaxAgeMs?: number;
  /** Share of sessions that vanish before the six-hour wall ("maybe less", notes.md). Default 0.3. */
  earlyEndProbability?: number;
  /**
   * Engagement-attribute events per hour when startSession does not say, drawn per session from this range.
   * Default 3.5–10, i.e. about 20–60 events over a six-hour session.
   */
  eventRatePerHour?: { min: number; max: number };
  /** Share of sessions whose IP is reported under `lpv4` (the spec's table) instead of `ipv4` (its example). */
  lpv4Probability?: number;
}

export interface StartSessionOptions {
  /** Reuse an existing visitor (a second session of the same visitor) or create one with this id. */
  visitorId?: string;
  sid?: string;
  /** Defaults to the world clock's now. */
  startTimeMs?: number;
  /** Session length; capped at sessionMaxAgeMs. Default: the six-hour wall, or earlier with earlyEndProbability. */
  durationMs?: number;
  /** Engagement-attribute events per hour (a Poisson rate); 0 gives a session without events. */
  eventRatePerHour?: number;
}

export interface SessionInfo {
  visitorId: string;
  sid: string;
  startTimeMs: number;
  /** First instant at which the API answers 404/12: the session is visible on [startTimeMs, endTimeMs). */
  endTimeMs: number;
}

export interface GroundTruthEvent {
  eventType: string;
  serverTimeStamp: number;
  event: VisitEvent;
}

export interface SessionGroundTruth extends SessionInfo {
  events: GroundTruthEvent[];
}

export type LookupResult =
  | { kind: 'ok'; state: VisitState }
  | { kind: 'unknown_account' }
  | { kind: 'unknown_visitor' }
  | { kind: 'sid_not_visitors' }
  | { kind: 'expired' };

/** The example's event types (all always generated) plus types the example does not show. */
export const EXAMPLE_EVENT_TYPES = [
  'marketingCampaignInfo',
  'lead',
  'cartStatus',
  'purchase',
  'viewedProduct',
  'customerInfo',
  'personalInfo',
  'serviceActivity',
  'visitorError',
] as const;
/** `searchInfo` is documented (notes.md) but not in the example; `loyaltyStatus` is invented (schema evolution). */
export const EXTRA_EVENT_TYPES = ['searchInfo', 'loyaltyStatus'] as const;

/** Relative frequency of each event type. Extra types are rare on purpose. */
const EVENT_TYPE_WEIGHTS: readonly (readonly [string, number])[] = [
  ['cartStatus', 24],
  ['viewedProduct', 20],
  ['purchase', 7],
  ['lead', 7],
  ['customerInfo', 6],
  ['personalInfo', 6],
  ['serviceActivity', 7],
  ['visitorError', 6],
  ['marketingCampaignInfo', 5],
  ['searchInfo', 1.5],
  ['loyaltyStatus', 1],
];

/** Chance that an event is followed, in the same millisecond, by a different event / by an identical copy. */
const SAME_MS_DIFFERENT_PROBABILITY = 0.06;
const SAME_MS_DUPLICATE_PROBABILITY = 0.04;
/** Bounds a page-heavy session's state (a rate of 600 events/h would otherwise give thousands of pages). */
const MAX_PAGES_PER_SESSION = 300;
const MAX_ENGAGEMENTS_PER_SESSION = 6;
const ENGAGEMENT_PER_PAGE_PROBABILITY = 0.12;
const IMPRESSION_ACCEPTED_PROBABILITY = 0.4;

interface Campaign {
  campaignId: number;
  revision: number;
  goalId: number;
  vpId: string;
  vpRevision: number;
  vbId: string;
  vbRevision: number;
  oslId: string;
  oslRevision: number;
  engagementIds: number[];
  zoneIds: number[];
}

interface VisitorProfile {
  visitorId: string;
  sids: string[];
  geo: JsonObject;
  device: catalog.DeviceProfile;
  ip: string;
  name: string;
  surname: string;
  email: string;
  phone: string;
  gender: string;
  company: string;
  language: string | null;
  birth: { year: number; month: number; day: number };
  customerId: string;
}

interface PageSpec {
  id: string;
  url: string;
  title: string;
  startTimeMs: number;
}

/** How an event changes the visit state's aggregated fields (purchases, leads, cart, ...). */
type AggregateUpdate =
  | { field: 'purchases' | 'leads' | 'serviceActivity' | 'visitorError' | 'viewedProduct'; append: Json[] }
  | { field: 'cart' | 'customerInfo' | 'personalInfo' | 'marketingCampaignInfo'; replace: JsonObject };

type TimelineEntry =
  | { kind: 'page'; atMs: number; seq: number; pageIndex: number }
  | { kind: 'engagement'; atMs: number; seq: number; engagementId: string; engagement: JsonObject }
  | { kind: 'impression'; atMs: number; seq: number; engagementId: string; pageId: string }
  | {
      kind: 'event';
      atMs: number;
      seq: number;
      eventType: string;
      event: VisitEvent;
      aggregate: AggregateUpdate | undefined;
    };

interface SessionRecord {
  info: SessionInfo;
  visitor: VisitorProfile;
  ipKey: 'ipv4' | 'lpv4';
  pages: PageSpec[];
  entries: TimelineEntry[];
  /** Parts of the app session that do not change during the session. */
  fixed: {
    revActiveVPs: JsonObject;
    revAllVPs: JsonObject;
    revActiveVBs: JsonObject;
    revAllVBs: JsonObject;
    revAllOSLs: JsonObject;
    searchEngine: JsonObject;
    externalReferrer: string;
    mobileDeviceInfo: JsonObject;
  };
}

/**
 * Deep-freezes generated data. States and ground truth share these objects (building a state copies only
 * the containers), so freezing guarantees no caller can rewrite history by mutating what it was given.
 */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
}

function money(x: number): number {
  return Math.round(x * 100) / 100;
}

function hostAndPath(url: string): string {
  return url.replace(/^https?:\/\//, '');
}

export class SimulatedWorld {
  readonly accountId: string;
  readonly clock: Clock;
  readonly sessionMaxAgeMs: number;
  readonly earlyEndProbability: number;
  private readonly eventRateRange: { min: number; max: number };
  private readonly lpv4Probability: number;
  private readonly rng: Random;
  private readonly site: string;
  private readonly campaigns: Campaign[];
  private readonly visitors = new Map<string, VisitorProfile>();
  private readonly sessionsBySid = new Map<string, SessionRecord>();

  constructor(options: SimulatedWorldOptions) {
    assertValidId('accountId', options.accountId);
    this.accountId = options.accountId;
    this.clock = options.clock;
    this.sessionMaxAgeMs = options.sessionMaxAgeMs ?? SESSION_MAX_AGE_MS;
    this.earlyEndProbability = options.earlyEndProbability ?? 0.3;
    this.eventRateRange = options.eventRatePerHour ?? { min: 3.5, max: 10 };
    this.lpv4Probability = options.lpv4Probability ?? 0.2;
    if (!(this.sessionMaxAgeMs > 0)) throw new RangeError('sessionMaxAgeMs must be > 0');
    if (!(this.earlyEndProbability >= 0 && this.earlyEndProbability <= 1)) {
      throw new RangeError('earlyEndProbability must be in [0, 1]');
    }
    if (!(this.eventRateRange.min >= 0 && this.eventRateRange.max >= this.eventRateRange.min)) {
      throw new RangeError('eventRatePerHour needs 0 <= min <= max');
    }
    this.rng = new Random(options.seed);
    // The account's site and campaigns come from their own stream, drawn first, so they do not depend on
    // how many sessions are created later.
    const accountRng = this.rng.fork();
    this.site = accountRng.pick(catalog.SITES);
    this.campaigns = [];
    for (let i = 0; i < 3; i++) {
      const base = accountRng.int(49, 55) * 10_000_000 + accountRng.int(0, 9_999) * 1_000 + 12;
      this.campaigns.push({
        campaignId: base + 100,
        revision: accountRng.int(1, 300),
        goalId: base + 200,
        vpId: String(base + 300),
        vpRevision: accountRng.int(1, 12),
        vbId: String(base + 400),
        vbRevision: accountRng.int(1, 12),
        oslId: String(base + 500),
        oslRevision: accountRng.int(1, 12),
        engagementIds: [base + 600, base + 700],
        zoneIds: [base + 800, base + 900],
      });
    }
  }

  /** Creates a session (and its visitor when new) and generates its whole timeline. */
  startSession(opts: StartSessionOptions = {}): SessionInfo {
    const startTimeMs = opts.startTimeMs ?? this.clock.nowMs();
    if (!Number.isFinite(startTimeMs)) throw new RangeError('startTimeMs must be finite');
    const visitor = this.visitorFor(opts.visitorId);
    let sid: string;
    if (opts.sid !== undefined) {
      assertValidId('sid', opts.sid);
      if (this.sessionsBySid.has(opts.sid)) throw new RangeError('sid already exists');
      sid = opts.sid;
    } else {
      do sid = this.newSid();
      while (this.sessionsBySid.has(sid));
    }

    // Every session gets its own stream, forked once from the world's: a session's size never shifts
    // the ids and timelines of the sessions created after it.
    const rng = this.rng.fork();
    let durationMs: number;
    if (opts.durationMs !== undefined) {
      if (!(opts.durationMs > 0)) throw new RangeError('durationMs must be > 0');
      durationMs = Math.min(Math.floor(opts.durationMs), this.sessionMaxAgeMs);
    } else if (rng.chance(this.earlyEndProbability)) {
      // "After a maximum of 6 hours (maybe less)": an early end anywhere from a minute to the wall.
      const minMs = Math.min(MINUTE_MS, this.sessionMaxAgeMs / 2);
      durationMs = Math.floor(rng.float(minMs, this.sessionMaxAgeMs));
    } else {
      durationMs = this.sessionMaxAgeMs;
    }
    durationMs = Math.max(1, durationMs);
    const rate = opts.eventRatePerHour ?? rng.float(this.eventRateRange.min, this.eventRateRange.max);
    if (!(rate >= 0) || !Number.isFinite(rate)) throw new RangeError('eventRatePerHour must be >= 0');

    const info: SessionInfo = {
      visitorId: visitor.visitorId,
      sid,
      startTimeMs,
      endTimeMs: startTimeMs + durationMs,
    };
    const active = this.campaigns.filter(() => rng.chance(0.6));
    if (active.length === 0) active.push(rng.pick(this.campaigns));
    const referrer = rng.pick(catalog.REFERRERS);
    const record: SessionRecord = {
      info,
      visitor,
      ipKey: rng.chance(this.lpv4Probability) ? 'lpv4' : 'ipv4',
      pages: [],
      entries: [],
      fixed: deepFreeze({
        revActiveVPs: this.revisionMap(active, 'vpId', 'vpRevision'),
        revAllVPs: this.revisionMap(this.campaigns, 'vpId', 'vpRevision'),
        revActiveVBs: this.revisionMap(active, 'vbId', 'vbRevision'),
        revAllVBs: this.revisionMap(this.campaigns, 'vbId', 'vbRevision'),
        revAllOSLs: this.revisionMap(active, 'oslId', 'oslRevision'),
        searchEngine: { searchEngine: referrer.searchEngine, keywords: referrer.keywords },
        externalReferrer: referrer.externalReferrer,
        mobileDeviceInfo: { mobile: visitor.device.mobile, detected: true },
      }),
    };
    new TimelineBuilder(rng, record, this.site, active, rate).build();
    visitor.sids.push(sid);
    this.sessionsBySid.set(sid, record);
    return { ...info };
  }

  /**
   * What the API answers for (account, visitor, sid) at `atMs`. Order of checks: account (404/6), visitor
   * (404/37), sid belongs to that visitor (404/39), session alive (404/12). A session that has not started yet
   * does not exist: the visitor is unknown at that time.
   */
  lookup(accountId: string, visitorId: string, sid: string, atMs: number): LookupResult {
    if (accountId !== this.accountId) return { kind: 'unknown_account' };
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
    return { kind: 'ok', state: this.buildState(record, atMs) };
  }

  /**
   * The state the API answers at `atMs`. Throws when the API would not answer 200 then (see lookup).
   * Nested objects are frozen and shared with the world's history: copy before changing anything.
   */
  stateAt(visitorId: string, sid: string, atMs: number): VisitState {
    const result = this.lookup(this.accountId, visitorId, sid, atMs);
    if (result.kind !== 'ok') throw new RangeError(`no state for this session at ${atMs}: ${result.kind}`);
    return result.state;
  }

  /** Every event the session ever produced, in the order the API lists them. */
  groundTruth(sid: string): SessionGroundTruth {
    const record = this.recordOf(sid);
    return { ...record.info, events: this.eventsOf(record, -Infinity, Infinity) };
  }

  /** Events the session produced with fromMs <= serverTimeStamp <= toMs (both ends inclusive). */
  eventsProducedBetween(sid: string, fromMs: number, toMs: number): GroundTruthEvent[] {
    return this.eventsOf(this.recordOf(sid), fromMs, toMs);
  }

  /** All sessions, in creation order. */
  sessions(): SessionInfo[] {
    return [...this.sessionsBySid.values()].map((r) => ({ ...r.info }));
  }

  session(sid: string): SessionInfo | undefined {
    const record = this.sessionsBySid.get(sid);
    return record === undefined ? undefined : { ...record.info };
  }

  /**
   * Ends a session early at `atMs` (default now), as LivePerson may at any time. What the timeline held from
   * `atMs` on is dropped: it was never produced, so it leaves the ground truth too.
   */
  endSession(sid: string, atMs: number = this.clock.nowMs()): SessionInfo {
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

  private recordOf(sid: string): SessionRecord {
    const record = this.sessionsBySid.get(sid);
    if (record === undefined) throw new RangeError('unknown sid');
    return record;
  }

  private eventsOf(record: SessionRecord, fromMs: number, toMs: number): GroundTruthEvent[] {
    const out: GroundTruthEvent[] = [];
    for (const e of record.entries) {
      if (e.kind === 'event' && e.atMs >= fromMs && e.atMs <= toMs) {
        out.push({ eventType: e.eventType, serverTimeStamp: e.atMs, event: e.event });
      }
    }
    return out;
  }

  private visitorFor(visitorId: string | undefined): VisitorProfile {
    if (visitorId !== undefined) {
      assertValidId('visitorId', visitorId);
      const existing = this.visitors.get(visitorId);
      if (existing !== undefined) return existing;
    }
    let id = visitorId;
    if (id === undefined) {
      do id = this.rng.string(ALPHANUMERIC_ALPHABET, 22);
      while (this.visitors.has(id));
    }
    const r = this.rng.fork();
    const name = r.pick(catalog.FIRST_NAMES);
    const surname = r.pick(catalog.SURNAMES);
    const profile: VisitorProfile = {
      visitorId: id,
      sids: [],
      geo: deepFreeze({ ...r.pick(catalog.GEOS) }),
      device: r.pick(catalog.DEVICES),
      ip: `${r.pick(catalog.IP_FIRST_OCTETS)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`,
      name,
      surname,
      // ASCII local part (Müller → muller): real tags send what the site has, but keep the example's style.
      email: `${name}.${surname}${r.int(1, 99)}@example.com`
        .normalize('NFD')
        .replace(/[^\x20-\x7e]/g, '')
        .toLowerCase(),
      phone: `+1 212-${r.int(200, 999)}-${r.int(1000, 9999)}`,
      gender: r.pick(['MALE', 'FEMALE']),
      company: r.pick(catalog.COMPANIES),
      language: r.pick(catalog.LANGUAGES),
      birth: { year: r.int(1950, 2005), month: r.int(1, 12), day: r.int(1, 28) },
      customerId: `${r.int(100000, 999999)}${r.string('ABCDEFGHJKLMNPQRSTUVWXYZ', 2)}`,
    };
    this.visitors.set(id, profile);
    return profile;
  }

  /** Session ids: 22 base64url characters, a fifth with a `.` and 40 hex digits like the spec's example id. */
  private newSid(): string {
    const base = this.rng.string(BASE64URL_ALPHABET, 22);
    return this.rng.chance(0.2) ? `${base}.${this.rng.string(HEX_ALPHABET, 40)}` : base;
  }

  private revisionMap(
    campaigns: Campaign[],
    idKey: 'vpId' | 'vbId' | 'oslId',
    revKey: 'vpRevision' | 'vbRevision' | 'oslRevision',
  ): JsonObject {
    const out: JsonObject = {};
    for (const c of campaigns) out[c[idKey]] = { revision: c[revKey] };
    return out;
  }

  /** Folds the timeline up to `atMs` into the API's answer, keys in the example's order. */
  private buildState(record: SessionRecord, atMs: number): VisitState {
    const { info, fixed, visitor } = record;
    const pageCount = { n: 0 };
    const engagements: JsonObject[] = [];
    const engagementById = new Map<string, { impressions: Json[] }>();
    const events: VisitEvent[] = [];
    const lists = {
      purchases: [] as Json[],
      leads: [] as Json[],
      serviceActivity: [] as Json[],
      visitorError: [] as Json[],
      viewedProduct: [] as Json[],
    };
    const latest: Record<
      'cart' | 'customerInfo' | 'personalInfo' | 'marketingCampaignInfo',
      JsonObject | null
    > = {
      cart: null,
      customerInfo: null,
      personalInfo: null,
      marketingCampaignInfo: null,
    };

    for (const entry of record.entries) {
      if (entry.atMs > atMs) break;
      switch (entry.kind) {
        case 'page':
          pageCount.n = entry.pageIndex + 1;
          break;
        case 'engagement': {
          const impressions: Json[] = [];
          engagementById.set(entry.engagementId, { impressions });
          engagements.push({ engagement: entry.engagement, id: entry.engagementId });
          break;
        }
        case 'impression': {
          const shown = engagementById.get(entry.engagementId);
          shown?.impressions.push({ activityTime: entry.atMs, pageId: entry.pageId });
          break;
        }
        case 'event': {
          events.push(entry.event);
          const agg = entry.aggregate;
          if (agg === undefined) break;
          if ('append' in agg) lists[agg.field].push(...agg.append);
          else latest[agg.field] = agg.replace;
          break;
        }
      }
    }
    // impressionAccepted only appears once an impression was accepted (as the example's engagement "1").
    for (const e of engagements) {
      const shown = engagementById.get(e.id as string);
      if (shown !== undefined && shown.impressions.length > 0) e.impressionAccepted = shown.impressions;
    }

    const pages: Json[] = [];
    const visibleEndMs = Math.min(atMs, info.endTimeMs);
    for (let i = 0; i < pageCount.n; i++) {
      const page = record.pages[i] as PageSpec;
      const next = i + 1 < pageCount.n ? record.pages[i + 1] : undefined;
      const referrer = i === 0 ? fixed.externalReferrer || null : (record.pages[i - 1] as PageSpec).url;
      pages.push({
        referrer,
        pageBasic: {
          url: page.url,
          startTime: page.startTimeMs,
          referrer,
          title: page.title,
          sections: null,
        },
        pageTitle: page.title,
        revActiveOSLs: fixed.revAllOSLs,
        startTime: page.startTimeMs,
        timeOnPage: (next?.startTimeMs ?? visibleEndMs) - page.startTimeMs,
        id: page.id,
        pageLoaded: true,
        url: hostAndPath(page.url),
      });
    }

    const appSession: AppSession = {
      engagements,
      personalInfo: latest.personalInfo,
      revActiveVPs: fixed.revActiveVPs,
      serviceActivity: lists.serviceActivity,
      revAllVPs: fixed.revAllVPs,
      customerInfo: latest.customerInfo,
      mobileDeviceInfo: fixed.mobileDeviceInfo,
      revActiveVBs: fixed.revActiveVBs,
      cart: latest.cart,
      geo: visitor.geo,
      viewedProduct: lists.viewedProduct,
      [record.ipKey]: visitor.ip,
      startTime: info.startTimeMs,
      id: info.sid,
      revAllOSLs: fixed.revAllOSLs,
      visitorError: lists.visitorError,
      marketingCampaignInfo: latest.marketingCampaignInfo,
      searchEngine: fixed.searchEngine,
      purchases: lists.purchases,
      deviceOS: visitor.device.deviceOS,
      userAgent: visitor.device.userAgent,
      deviceFamily: visitor.device.deviceFamily,
      leads: lists.leads,
      revAllVBs: fixed.revAllVBs,
      siteControlGroup: 'NA',
      externalReferrer: fixed.externalReferrer,
      pages,
      events,
    };
    return { id: info.sid, appSessions: [appSession] };
  }
}

/**
 * Generates one session's timeline from its own random stream. Holds the generation-time state that makes
 * successive events coherent: the cart's contents, orders and leads already sent (for repeats), and the
 * sequence ids of the aggregated arrays.
 */
class TimelineBuilder {
  private seq = 0;
  private readonly entries: TimelineEntry[] = [];
  private readonly cart = new Map<string, { product: catalog.Product; quantity: number }>();
  private lastCartTotal = 0;
  private readonly orders: { orderId: string; total: number; products: Json[] }[] = [];
  private readonly leadsSent: JsonObject[] = [];
  private readonly servicesSeen = new Set<string>();
  private purchaseSeq = 0;
  private leadSeq = 0;
  private serviceSeq = 0;
  private readonly currency: string | undefined;

  constructor(
    private readonly rng: Random,
    private readonly record: SessionRecord,
    private readonly site: string,
    private readonly campaigns: Campaign[],
    private readonly eventRatePerHour: number,
  ) {
    // notes.md lists `currency` on cart, purchase, lead and prodView; the example omits it. Some sites send it.
    this.currency = rng.chance(0.3) ? rng.pick(catalog.CURRENCIES) : undefined;
  }

  build(): void {
    const { startTimeMs, endTimeMs } = this.record.info;
    this.generatePages(startTimeMs, endTimeMs);
    this.generateEngagements(endTimeMs);
    this.generateEvents(startTimeMs, endTimeMs);
    // Entries were generated kind by kind; order by time, then generation order (pages come first, so an
    // event in the millisecond a page starts already sees that page).
    this.entries.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    deepFreeze(this.record.pages);
    deepFreeze(this.entries);
    this.record.entries = this.entries;
  }

  private push(entry: TimelineEntry): void {
    this.entries.push(entry);
  }

  private generatePages(startMs: number, endMs: number): void {
    const pagesPerHour = Math.max(2, this.eventRatePerHour * 0.8);
    const usedIds = new Set<string>();
    let t = startMs;
    while (t < endMs && this.record.pages.length < MAX_PAGES_PER_SESSION) {
      let id: string;
      do id = String(this.rng.int(1_000_000_000, 2_147_483_647));
      while (usedIds.has(id));
      usedIds.add(id);
      const template = this.rng.pick(catalog.PAGES);
      const pageIndex = this.record.pages.length;
      this.record.pages.push({
        id,
        url: `https://${this.site}${template.path}`,
        title: template.title,
        startTimeMs: t,
      });
      this.push({ kind: 'page', atMs: t, seq: this.seq++, pageIndex });
      t += Math.max(SECOND_MS, Math.round(this.rng.exponential(HOUR_MS / pagesPerHour)));
    }
  }

  private generateEngagements(endMs: number): void {
    let shown = 0;
    for (const page of this.record.pages) {
      if (shown >= MAX_ENGAGEMENTS_PER_SESSION || !this.rng.chance(ENGAGEMENT_PER_PAGE_PROBABILITY)) continue;
      const atMs = page.startTimeMs + this.rng.int(500, 20_000);
      if (atMs >= endMs) continue;
      shown++;
      const engagementId = String(shown);
      const campaign = this.rng.pick(this.campaigns);
      const engagement: JsonObject = {
        state: 1,
        zoneId: this.rng.pick(campaign.zoneIds),
        pageId: page.id,
        firstFollowMeEngagementContextId: null,
        campaignControl: this.rng.chance(0.8) ? 'TEST' : 'CONTROL',
        campaignEntity: {
          revision: campaign.revision,
          id: campaign.campaignId,
          goalId: campaign.goalId,
          campaignEventSequence: null,
          activeVPs: { [campaign.vpId]: { revision: campaign.vpRevision } },
        },
        engagementEntity: {
          revision: this.rng.int(1, 200),
          id: this.rng.pick(campaign.engagementIds),
          channel: 1,
          type: this.rng.pick([5, 6]),
          isOffsiteEngagement: false,
          activeVBs: { [campaign.vbId]: { revision: campaign.vbRevision } },
          activeOSLs: { [campaign.oslId]: { revision: campaign.oslRevision } },
          engagementSkill: { skillName: '*!@NULL*!@', skillId: -1 },
          surveySkills: [],
          availabilityPolicy: 0,
          renderingType: 0,
          conversationType: 0,
        },
        goalEntity: { revision: this.rng.int(1, 10), id: campaign.goalId, type: 5, indicatorType: 5 },
      };
      this.push({ kind: 'engagement', atMs, seq: this.seq++, engagementId, engagement });
      if (this.rng.chance(IMPRESSION_ACCEPTED_PROBABILITY)) {
        const acceptedMs = atMs + this.rng.int(1_000, 60_000);
        if (acceptedMs < endMs) {
          this.push({ kind: 'impression', atMs: acceptedMs, seq: this.seq++, engagementId, pageId: page.id });
        }
      }
    }
  }

  private generateEvents(startMs: number, endMs: number): void {
    // Like the example, a campaign source is often reported the moment the first page loads.
    if (this.eventRatePerHour > 0 && this.rng.chance(0.5)) this.emit('marketingCampaignInfo', startMs);
    if (!(this.eventRatePerHour > 0)) return;
    const meanGapMs = HOUR_MS / this.eventRatePerHour;
    let t = startMs + Math.max(1, Math.round(this.rng.exponential(meanGapMs)));
    while (t < endMs) {
      const type = this.rng.weighted(EVENT_TYPE_WEIGHTS);
      const first = this.emit(type, t);
      if (this.rng.chance(SAME_MS_DUPLICATE_PROBABILITY)) {
        // The same event reported twice in one millisecond (a tag firing twice): an equal, separate copy.
        this.push({
          ...first,
          seq: this.seq++,
          event: structuredClone(first.event),
          aggregate: this.repeatAggregate(first.aggregate),
        });
      } else if (this.rng.chance(SAME_MS_DIFFERENT_PROBABILITY)) {
        let other = this.rng.weighted(EVENT_TYPE_WEIGHTS);
        while (other === type) other = this.rng.weighted(EVENT_TYPE_WEIGHTS);
        this.emit(other, t);
      }
      t += Math.max(1, Math.round(this.rng.exponential(meanGapMs)));
    }
  }

  /**
   * The aggregate effect of an event received a second time: sequenced arrays get a new entry with the next
   * sequence id and the repeat flag set (the id was seen before), lists append again, "latest" fields stay.
   */
  private repeatAggregate(agg: AggregateUpdate | undefined): AggregateUpdate | undefined {
    if (agg === undefined || !('append' in agg)) return agg;
    const again = (items: Json[], seqKey: string, seq: number, repeatKey: string): Json[] =>
      items.map((item) => ({ ...(item as JsonObject), [seqKey]: String(seq), [repeatKey]: true }));
    switch (agg.field) {
      case 'purchases':
        return {
          field: agg.field,
          append: again(agg.append, 'purchaseSeqId', ++this.purchaseSeq, 'repeatedOrderId'),
        };
      case 'leads':
        return { field: agg.field, append: again(agg.append, 'leadSeqId', ++this.leadSeq, 'repeatedLeadId') };
      case 'serviceActivity':
        return {
          field: agg.field,
          append: again(agg.append, 'serviceSeqId', ++this.serviceSeq, 'repeatedServiceActivity'),
        };
      default:
        return agg;
    }
  }

  /** The page the visitor is on at `atMs` (the last page started at or before it). */
  private pageIdAt(atMs: number): string {
    const pages = this.record.pages;
    let lo = 0;
    let hi = pages.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((pages[mid] as PageSpec).startTimeMs <= atMs) lo = mid;
      else hi = mid - 1;
    }
    return (pages[lo] as PageSpec).id;
  }

  private emit(eventType: string, atMs: number): Extract<TimelineEntry, { kind: 'event' }> {
    const contexts: JsonObject = { page: { id: this.pageIdAt(atMs) } };
    const { body, aggregate } = this.payload(eventType, atMs, contexts);
    const entry: Extract<TimelineEntry, { kind: 'event' }> = {
      kind: 'event',
      atMs,
      seq: this.seq++,
      eventType,
      event: { [eventType]: body },
      aggregate,
    };
    this.push(entry);
    return entry;
  }

  private productJson(p: catalog.Product): JsonObject {
    return { name: p.name, category: p.category, sku: p.sku, price: p.price };
  }

  private cartProducts(): Json[] {
    return [...this.cart.values()].map((line) => ({
      product: this.productJson(line.product),
      quantity: line.quantity,
    }));
  }

  private withCurrency(body: EventBody): EventBody {
    if (this.currency !== undefined) body.currency = this.currency;
    return body;
  }

  /** One event's body (keys in the example's order) and its effect on the aggregated fields. */
  private payload(
    eventType: string,
    ts: number,
    contexts: JsonObject,
  ): { body: EventBody; aggregate: AggregateUpdate | undefined } {
    const r = this.rng;
    const v = this.record.visitor;
    switch (eventType) {
      case 'cartStatus': {
        this.changeCart();
        const products = this.cartProducts();
        let total = 0;
        let numItems = 0;
        for (const line of this.cart.values()) {
          total += line.product.price * line.quantity;
          numItems += line.quantity;
        }
        total = money(total);
        const body = this.withCurrency({ serverTimeStamp: ts, total, contexts, numItems, products });
        const cart: JsonObject = { total, numItems, products };
        if (this.currency !== undefined) cart.currency = this.currency;
        // lastTotalChange: the last change of the total (the example's single cart event shows the total itself).
        const aggregate: AggregateUpdate = {
          field: 'cart',
          replace: { cartStatus: cart, lastTotalChange: money(total - this.lastCartTotal) },
        };
        this.lastCartTotal = total;
        return { body, aggregate };
      }
      case 'purchase': {
        const previous = this.orders.length > 0 && r.chance(0.15) ? r.pick(this.orders) : undefined;
        let order: { orderId: string; total: number; products: Json[] };
        if (previous !== undefined) {
          order = previous; // The same order reported again: repeatedOrderId in the aggregate.
        } else {
          if (this.cart.size === 0) this.changeCart();
          const products = this.cartProducts();
          let total = 0;
          for (const line of this.cart.values()) total += line.product.price * line.quantity;
          order = {
            orderId: `${r.string('ABCDEFGHJKLMNPQRSTUVWXYZ', 3)}${r.int(1000, 9999)}XC`,
            total: money(total),
            products,
          };
          this.orders.push(order);
          this.cart.clear();
        }
        const body = this.withCurrency({
          serverTimeStamp: ts,
          total: order.total,
          orderId: order.orderId,
          contexts,
          // As the example shows: the nested cart has serverTimeStamp 0, empty contexts, null total/numItems.
          cart: { serverTimeStamp: 0, total: null, contexts: {}, numItems: null, products: order.products },
        });
        this.purchaseSeq++;
        return {
          body,
          aggregate: {
            field: 'purchases',
            append: [
              {
                repeatedOrderId: previous !== undefined,
                purchaseSeqId: String(this.purchaseSeq),
                total: order.total,
                orderId: order.orderId,
                cart: { total: null, numItems: null, products: order.products },
              },
            ],
          },
        };
      }
      case 'lead': {
        const previous = this.leadsSent.length > 0 && r.chance(0.2) ? r.pick(this.leadsSent) : undefined;
        const lead: JsonObject = previous ?? {
          topic: r.pick(catalog.LEAD_TOPICS),
          value: money(r.float(5, 500)),
          ticketId: r.chance(0.7) ? null : `TCK${r.int(10000, 99999)}`,
          leadId: `${r.string('abcdefghijklmnopqrstuvwxyz', 3)}${r.int(100, 999)}`,
        };
        if (previous === undefined) this.leadsSent.push(lead);
        this.leadSeq++;
        const body = this.withCurrency({ serverTimeStamp: ts, contexts, lead });
        return {
          body,
          aggregate: {
            field: 'leads',
            append: [{ ...lead, leadSeqId: String(this.leadSeq), repeatedLeadId: previous !== undefined }],
          },
        };
      }
      case 'viewedProduct': {
        const products: Json[] = [{ product: this.productJson(r.pick(catalog.PRODUCTS)) }];
        if (r.chance(0.15)) products.push({ product: this.productJson(r.pick(catalog.PRODUCTS)) });
        const body = this.withCurrency({ serverTimeStamp: ts, contexts, products });
        return { body, aggregate: { field: 'viewedProduct', append: products } };
      }
      case 'customerInfo': {
        const customerInfo: JsonObject = {
          customerStatus: r.pick(catalog.CUSTOMER_STATUSES),
          customerType: r.pick(catalog.CUSTOMER_TYPES),
          balance: money(r.float(-500, 2000)),
          customerId: v.customerId,
          lastPaymentDate: { year: r.int(2014, 2025), month: r.int(1, 12), day: r.int(1, 28) },
          registrationDate: { year: r.int(2005, 2014), month: r.int(1, 12), day: r.int(1, 28) },
          loginStatus: r.chance(0.5) ? null : r.chance(0.5),
          companyBranch: null,
          socialId: null,
          imei: null,
          userName: r.chance(0.5) ? null : (v.email.split('@')[0] ?? null),
          companySize: null,
          accountName: null,
          role: null,
          storeZipCode: null,
          storeNumber: null,
        };
        return {
          body: { serverTimeStamp: ts, customerInfo, contexts },
          aggregate: { field: 'customerInfo', replace: { customerInfo } },
        };
      }
      case 'personalInfo': {
        const contacts: Json[] = [{ email: v.email, phone: v.phone }];
        if (r.chance(0.2)) {
          contacts.push({
            email: `${v.name.toLowerCase()}@work.example.com`,
            phone: v.phone,
            phoneType: 'WORK',
          });
        }
        // Age as of the event's own time (never the wall clock: the world must stay reproducible).
        const age = new Date(ts).getUTCFullYear() - v.birth.year;
        const personalInfo: JsonObject = {
          name: v.name,
          surname: v.surname,
          customerAge: {
            customerAgeInYears: age,
            customerYearOfBirth: v.birth.year,
            customerMonthOfBirth: v.birth.month,
            customerDateOfBirth: v.birth.day,
          },
          contacts,
          gender: v.gender,
          company: v.company,
          language: v.language,
        };
        return {
          body: { serverTimeStamp: ts, personalInfo, contexts },
          aggregate: { field: 'personalInfo', replace: { personalInfo } },
        };
      }
      case 'serviceActivity': {
        const service = r.pick(catalog.SERVICES);
        const serviceActivity: JsonObject = {
          topic: service.topic,
          status: r.int(0, 10),
          category: service.category,
          serviceId: service.serviceId,
        };
        const repeated = this.servicesSeen.has(service.serviceId);
        this.servicesSeen.add(service.serviceId);
        this.serviceSeq++;
        return {
          body: { serverTimeStamp: ts, serviceActivity, contexts },
          aggregate: {
            field: 'serviceActivity',
            append: [
              {
                ...serviceActivity,
                serviceSeqId: String(this.serviceSeq),
                repeatedServiceActivity: repeated,
              },
            ],
          },
        };
      }
      case 'visitorError': {
        const error = r.pick(catalog.VISITOR_ERRORS);
        const visitorError: JsonObject = {
          contextId: r.chance(0.7) ? null : `ctx${r.int(1, 99)}`,
          message: error.message,
          code: error.code,
          level: r.chance(0.7) ? null : r.int(0, 3),
          resolved: r.chance(0.7) ? null : r.chance(0.5),
        };
        return {
          body: { serverTimeStamp: ts, contexts, visitorError },
          aggregate: { field: 'visitorError', append: [visitorError] },
        };
      }
      case 'marketingCampaignInfo': {
        const marketingCampaignInfo: JsonObject = {
          originatingChannel: r.int(0, 4),
          affiliate: r.pick(catalog.AFFILIATES),
          campaignId: r.pick(catalog.CAMPAIGN_IDS),
        };
        return {
          body: { serverTimeStamp: ts, contexts, marketingCampaignInfo },
          aggregate: { field: 'marketingCampaignInfo', replace: { marketingCampaignInfo } },
        };
      }
      case 'searchInfo': {
        // Documented input type absent from the example; its exact shape is a guess (keywords[]).
        const keywords: Json[] = [r.pick(catalog.SEARCH_KEYWORDS)];
        if (r.chance(0.5)) keywords.push(r.pick(catalog.SEARCH_KEYWORDS));
        return { body: { serverTimeStamp: ts, contexts, keywords }, aggregate: undefined };
      }
      default: {
        // An event type nobody documented yet (schema evolution): same envelope, payload under its own name.
        const payload: JsonObject = { tier: r.pick(catalog.LOYALTY_TIERS), points: r.int(0, 50_000) };
        return { body: { serverTimeStamp: ts, contexts, [eventType]: payload }, aggregate: undefined };
      }
    }
  }

  /** A cart change: add a product, change a quantity, or remove a line. Never leaves the cart unchanged. */
  private changeCart(): void {
    const r = this.rng;
    if (this.cart.size === 0 || r.chance(0.55)) {
      const product = r.pick(catalog.PRODUCTS);
      const line = this.cart.get(product.sku);
      if (line !== undefined) line.quantity += r.int(1, 2);
      else this.cart.set(product.sku, { product, quantity: r.int(1, 3) });
      return;
    }
    const sku = r.pick([...this.cart.keys()]);
    const line = this.cart.get(sku);
    if (line === undefined) return;
    if (line.quantity > 1 && r.chance(0.5)) line.quantity -= 1;
    else this.cart.delete(sku);
  }
}
