/**
 * Types of the Visit Information API answer, as documented (visit-information-api.md) and as its JSON
 * example shows. The field table lists the fields without the `appSessions[]` level the example has; the data
 * lives under `appSessions[]`, and every element counts. The table says `lpv4`, the example `ipv4`: both appear.
 * Everything the API may add later is kept (index signatures): nothing we do not know is dropped.
 */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface PageContext {
  page?: { id?: string } & JsonObject;
}

/** The body of one engagement-attribute event, under its type key: `{ "purchase": { serverTimeStamp, ... } }`. */
export interface EventBody extends JsonObject {
  serverTimeStamp: number;
}

/** One element of `events[]`: an object with exactly one key, the event type. */
export type VisitEvent = Record<string, EventBody>;

export interface VisitPage extends JsonObject {
  id: string;
}

export interface VisitEngagement extends JsonObject {
  id: string;
}

export interface AppSession extends JsonObject {
  id: string;
}

export interface VisitState {
  id?: string;
  appSessions: AppSession[];
  [key: string]: Json | undefined;
}

/** Well-known fields of an app session the flattener reads by name (all optional in practice). */
export const APP_SESSION_KNOWN_FIELDS = [
  'id',
  'startTime',
  'userAgent',
  'deviceOS',
  'deviceFamily',
  'lpv4',
  'ipv4',
  'geo',
  'externalReferrer',
  'searchEngine',
  'mobileDeviceInfo',
  'siteControlGroup',
  'pages',
  'engagements',
  'events',
] as const;

/** Engagement-attribute event types LivePerson documents (notes.md). Others are kept and counted as unknown. */
export const KNOWN_EVENT_TYPES = [
  'cartStatus',
  'purchase',
  'viewedProduct',
  'customerInfo',
  'marketingCampaignInfo',
  'personalInfo',
  'lead',
  'serviceActivity',
  'visitorError',
  'searchInfo',
] as const;
export type KnownEventType = (typeof KNOWN_EVENT_TYPES)[number];

/** LivePerson's error body (documented for the sibling App Engagement API of the same `smt` service). */
export interface LivePersonErrorBody {
  time?: number;
  message?: string;
  internalCode: number;
}
