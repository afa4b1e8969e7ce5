/**
 * Assembles the Visit Information API's answer for a session at a given time: the fold of the session's
 * timeline entries up to then, laid out with keys in the spec example's order.
 */
import type { AppSession, Json, JsonObject, VisitEvent, VisitState } from '../liveperson/types';
import type { PageSpec, SessionRecord } from './model';

function hostAndPath(url: string): string {
  return url.replace(/^https?:\/\//, '');
}

/**
 * Folds the timeline up to `atMs` into the API's answer, keys in the example's order. Events, engagements and
 * the session's fixed parts are shared with the timeline, not copied: they are frozen.
 */
export function buildAnswer(record: SessionRecord, atMs: number): VisitState {
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
