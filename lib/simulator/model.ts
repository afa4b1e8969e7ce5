/**
 * The simulated world's data: accounts' campaigns, visitors, sessions and their timelines. Shapes only (plus
 * deepFreeze), so every other part of the world (registry, timeline, payloads, answer) can share them without
 * importing each other.
 */
import type { Json, JsonObject, VisitEvent } from '../liveperson/types';
import type { DeviceProfile } from './catalog';

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

export interface Campaign {
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

export interface VisitorProfile {
  visitorId: string;
  sids: string[];
  geo: JsonObject;
  device: DeviceProfile;
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

export interface PageSpec {
  id: string;
  url: string;
  title: string;
  startTimeMs: number;
}

/** How an event changes the visit state's aggregated fields (purchases, leads, cart, ...). */
export type AggregateUpdate =
  | { field: 'purchases' | 'leads' | 'serviceActivity' | 'visitorError' | 'viewedProduct'; append: Json[] }
  | { field: 'cart' | 'customerInfo' | 'personalInfo' | 'marketingCampaignInfo'; replace: JsonObject };

export type TimelineEntry =
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

export type EventEntry = Extract<TimelineEntry, { kind: 'event' }>;

export interface SessionRecord {
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
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
}
