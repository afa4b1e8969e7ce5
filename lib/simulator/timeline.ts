/**
 * How a session evolves over time: its whole life is generated when it starts, as a sorted timeline of page
 * views, engagements, accepted impressions and engagement-attribute events (a Poisson stream, with the odd
 * same-millisecond pair). What the API answers at any time is a fold of this timeline (answer.ts).
 */
import { HOUR_MS, SECOND_MS } from '../clock';
import type { JsonObject } from '../liveperson/types';
import * as catalog from './catalog';
import { EVENT_TYPE_WEIGHTS, SessionPayloads } from './event-payloads';
import {
  deepFreeze,
  type Campaign,
  type EventEntry,
  type GroundTruthEvent,
  type PageSpec,
  type SessionRecord,
  type TimelineEntry,
} from './model';
import type { Random } from './random';

/** Chance that an event is followed, in the same millisecond, by a different event / by an identical copy. */
const SAME_MS_DIFFERENT_PROBABILITY = 0.06;
const SAME_MS_DUPLICATE_PROBABILITY = 0.04;
/** Bounds a page-heavy session's state (a rate of 600 events/h would otherwise give thousands of pages). */
const MAX_PAGES_PER_SESSION = 300;
const MAX_ENGAGEMENTS_PER_SESSION = 6;
const ENGAGEMENT_PER_PAGE_PROBABILITY = 0.12;
const IMPRESSION_ACCEPTED_PROBABILITY = 0.4;

/** The events among a timeline's entries with fromMs <= serverTimeStamp <= toMs, in timeline order. */
export function eventsBetween(
  entries: readonly TimelineEntry[],
  fromMs: number,
  toMs: number,
): GroundTruthEvent[] {
  const out: GroundTruthEvent[] = [];
  for (const e of entries) {
    if (e.kind === 'event' && e.atMs >= fromMs && e.atMs <= toMs) {
      out.push({ eventType: e.eventType, serverTimeStamp: e.atMs, event: e.event });
    }
  }
  return out;
}

/**
 * Generates one session's timeline from its own random stream. The payloads' generation-time state (cart,
 * orders, sequence ids) lives in SessionPayloads; this class holds the timeline itself and its order.
 */
export class TimelineBuilder {
  private seq = 0;
  private readonly entries: TimelineEntry[] = [];
  private readonly payloads: SessionPayloads;

  constructor(
    private readonly rng: Random,
    private readonly record: SessionRecord,
    private readonly site: string,
    private readonly campaigns: Campaign[],
    private readonly eventRatePerHour: number,
  ) {
    // Draws the session's currency: first, before any page, as it always was.
    this.payloads = new SessionPayloads(rng, record.visitor);
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
          aggregate: this.payloads.repeatAggregate(first.aggregate),
        });
      } else if (this.rng.chance(SAME_MS_DIFFERENT_PROBABILITY)) {
        let other = this.rng.weighted(EVENT_TYPE_WEIGHTS);
        while (other === type) other = this.rng.weighted(EVENT_TYPE_WEIGHTS);
        this.emit(other, t);
      }
      t += Math.max(1, Math.round(this.rng.exponential(meanGapMs)));
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

  private emit(eventType: string, atMs: number): EventEntry {
    const contexts: JsonObject = { page: { id: this.pageIdAt(atMs) } };
    const { body, aggregate } = this.payloads.payload(eventType, atMs, contexts);
    const entry: EventEntry = {
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
}
