/**
 * The engagement-attribute event types the simulated sessions send, how often each arrives, and one small
 * payload generator per type: an event's body (keys in the spec example's order) and its effect on the
 * visit state's aggregated fields. The fixed lists the generators draw from are in catalog.ts.
 *
 * Generators draw from the session's own stream in a fixed order: changing what or when one draws changes
 * every later id and timeline of that session (and the byte-identical runs benchmarks and tests rely on).
 */
import type { EventBody, Json, JsonObject } from '../liveperson/types';
import * as catalog from './catalog';
import type { AggregateUpdate, VisitorProfile } from './model';
import type { Random } from './random';

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
export const EVENT_TYPE_WEIGHTS: readonly (readonly [string, number])[] = [
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

/** One event's body and its effect on the aggregated fields (undefined: the event only appears in events[]). */
export interface Payload {
  body: EventBody;
  aggregate: AggregateUpdate | undefined;
}

interface CartLine {
  product: catalog.Product;
  quantity: number;
}

interface Order {
  orderId: string;
  total: number;
  products: Json[];
}

/** Types with a generator of their own; any other type gets the undocumented-type envelope. */
type DocumentedEventType = (typeof EXAMPLE_EVENT_TYPES)[number] | 'searchInfo';
type PayloadGenerator = (s: SessionPayloads, ts: number, contexts: JsonObject) => Payload;

/**
 * One session's payload generation. Holds what makes successive events coherent: the cart's contents, orders
 * and leads already sent (for repeats), and the sequence ids of the aggregated arrays.
 */
export class SessionPayloads {
  readonly cart = new Map<string, CartLine>();
  lastCartTotal = 0;
  readonly orders: Order[] = [];
  readonly leadsSent: JsonObject[] = [];
  readonly servicesSeen = new Set<string>();
  purchaseSeq = 0;
  leadSeq = 0;
  serviceSeq = 0;
  readonly currency: string | undefined;

  constructor(
    readonly rng: Random,
    readonly visitor: VisitorProfile,
  ) {
    // notes.md lists `currency` on cart, purchase, lead and prodView; the example omits it. Some sites send it.
    this.currency = rng.chance(0.3) ? rng.pick(catalog.CURRENCIES) : undefined;
  }

  /** One event's body (keys in the example's order) and its effect on the aggregated fields. */
  payload(eventType: string, ts: number, contexts: JsonObject): Payload {
    if (isDocumented(eventType)) return PAYLOAD_GENERATORS[eventType](this, ts, contexts);
    return undocumentedPayload(this, eventType, ts, contexts);
  }

  /**
   * The aggregate effect of an event received a second time: sequenced arrays get a new entry with the next
   * sequence id and the repeat flag set (the id was seen before), lists append again, "latest" fields stay.
   */
  repeatAggregate(agg: AggregateUpdate | undefined): AggregateUpdate | undefined {
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

  cartProducts(): Json[] {
    return [...this.cart.values()].map((line) => ({
      product: productJson(line.product),
      quantity: line.quantity,
    }));
  }

  withCurrency(body: EventBody): EventBody {
    if (this.currency !== undefined) body.currency = this.currency;
    return body;
  }

  /** A cart change: add a product, change a quantity, or remove a line. Never leaves the cart unchanged. */
  changeCart(): void {
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

function money(x: number): number {
  return Math.round(x * 100) / 100;
}

function productJson(p: catalog.Product): JsonObject {
  return { name: p.name, category: p.category, sku: p.sku, price: p.price };
}

function cartStatus(s: SessionPayloads, ts: number, contexts: JsonObject): Payload {
  s.changeCart();
  const products = s.cartProducts();
  let total = 0;
  let numItems = 0;
  for (const line of s.cart.values()) {
    total += line.product.price * line.quantity;
    numItems += line.quantity;
  }
  total = money(total);
  const body = s.withCurrency({ serverTimeStamp: ts, total, contexts, numItems, products });
  const cart: JsonObject = { total, numItems, products };
  if (s.currency !== undefined) cart.currency = s.currency;
  // lastTotalChange: the last change of the total (the example's single cart event shows the total itself).
  const aggregate: AggregateUpdate = {
    field: 'cart',
    replace: { cartStatus: cart, lastTotalChange: money(total - s.lastCartTotal) },
  };
  s.lastCartTotal = total;
  return { body, aggregate };
}

function purchase(s: SessionPayloads, ts: number, contexts: JsonObject): Payload {
  const r = s.rng;
  const previous = s.orders.length > 0 && r.chance(0.15) ? r.pick(s.orders) : undefined;
  let order: Order;
  if (previous !== undefined) {
    order = previous; // The same order reported again: repeatedOrderId in the aggregate.
  } else {
    if (s.cart.size === 0) s.changeCart();
    const products = s.cartProducts();
    let total = 0;
    for (const line of s.cart.values()) total += line.product.price * line.quantity;
    order = {
      orderId: `${r.string('ABCDEFGHJKLMNPQRSTUVWXYZ', 3)}${r.int(1000, 9999)}XC`,
      total: money(total),
      products,
    };
    s.orders.push(order);
    s.cart.clear();
  }
  const body = s.withCurrency({
    serverTimeStamp: ts,
    total: order.total,
    orderId: order.orderId,
    contexts,
    // As the example shows: the nested cart has serverTimeStamp 0, empty contexts, null total/numItems.
    cart: { serverTimeStamp: 0, total: null, contexts: {}, numItems: null, products: order.products },
  });
  s.purchaseSeq++;
  return {
    body,
    aggregate: {
      field: 'purchases',
      append: [
        {
          repeatedOrderId: previous !== undefined,
          purchaseSeqId: String(s.purchaseSeq),
          total: order.total,
          orderId: order.orderId,
          cart: { total: null, numItems: null, products: order.products },
        },
      ],
    },
  };
}

function lead(s: SessionPayloads, ts: number, contexts: JsonObject): Payload {
  const r = s.rng;
  const previous = s.leadsSent.length > 0 && r.chance(0.2) ? r.pick(s.leadsSent) : undefined;
  const sent: JsonObject = previous ?? {
    topic: r.pick(catalog.LEAD_TOPICS),
    value: money(r.float(5, 500)),
    ticketId: r.chance(0.7) ? null : `TCK${r.int(10000, 99999)}`,
    leadId: `${r.string('abcdefghijklmnopqrstuvwxyz', 3)}${r.int(100, 999)}`,
  };
  if (previous === undefined) s.leadsSent.push(sent);
  s.leadSeq++;
  const body = s.withCurrency({ serverTimeStamp: ts, contexts, lead: sent });
  return {
    body,
    aggregate: {
      field: 'leads',
      append: [{ ...sent, leadSeqId: String(s.leadSeq), repeatedLeadId: previous !== undefined }],
    },
  };
}

function viewedProduct(s: SessionPayloads, ts: number, contexts: JsonObject): Payload {
  const r = s.rng;
  const products: Json[] = [{ product: productJson(r.pick(catalog.PRODUCTS)) }];
  if (r.chance(0.15)) products.push({ product: productJson(r.pick(catalog.PRODUCTS)) });
  const body = s.withCurrency({ serverTimeStamp: ts, contexts, products });
  return { body, aggregate: { field: 'viewedProduct', append: products } };
}

function customerInfo(s: SessionPayloads, ts: number, contexts: JsonObject): Payload {
  const r = s.rng;
  const v = s.visitor;
  const info: JsonObject = {
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
    body: { serverTimeStamp: ts, customerInfo: info, contexts },
    aggregate: { field: 'customerInfo', replace: { customerInfo: info } },
  };
}

function personalInfo(s: SessionPayloads, ts: number, contexts: JsonObject): Payload {
  const v = s.visitor;
  const contacts: Json[] = [{ email: v.email, phone: v.phone }];
  if (s.rng.chance(0.2)) {
    contacts.push({
      email: `${v.name.toLowerCase()}@work.example.com`,
      phone: v.phone,
      phoneType: 'WORK',
    });
  }
  // Age as of the event's own time (never the wall clock: the world must stay reproducible).
  const age = new Date(ts).getUTCFullYear() - v.birth.year;
  const info: JsonObject = {
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
    body: { serverTimeStamp: ts, personalInfo: info, contexts },
    aggregate: { field: 'personalInfo', replace: { personalInfo: info } },
  };
}

function serviceActivity(s: SessionPayloads, ts: number, contexts: JsonObject): Payload {
  const r = s.rng;
  const service = r.pick(catalog.SERVICES);
  const activity: JsonObject = {
    topic: service.topic,
    status: r.int(0, 10),
    category: service.category,
    serviceId: service.serviceId,
  };
  const repeated = s.servicesSeen.has(service.serviceId);
  s.servicesSeen.add(service.serviceId);
  s.serviceSeq++;
  return {
    body: { serverTimeStamp: ts, serviceActivity: activity, contexts },
    aggregate: {
      field: 'serviceActivity',
      append: [{ ...activity, serviceSeqId: String(s.serviceSeq), repeatedServiceActivity: repeated }],
    },
  };
}

function visitorError(s: SessionPayloads, ts: number, contexts: JsonObject): Payload {
  const r = s.rng;
  const error = r.pick(catalog.VISITOR_ERRORS);
  const reported: JsonObject = {
    contextId: r.chance(0.7) ? null : `ctx${r.int(1, 99)}`,
    message: error.message,
    code: error.code,
    level: r.chance(0.7) ? null : r.int(0, 3),
    resolved: r.chance(0.7) ? null : r.chance(0.5),
  };
  return {
    body: { serverTimeStamp: ts, contexts, visitorError: reported },
    aggregate: { field: 'visitorError', append: [reported] },
  };
}

function marketingCampaignInfo(s: SessionPayloads, ts: number, contexts: JsonObject): Payload {
  const r = s.rng;
  const info: JsonObject = {
    originatingChannel: r.int(0, 4),
    affiliate: r.pick(catalog.AFFILIATES),
    campaignId: r.pick(catalog.CAMPAIGN_IDS),
  };
  return {
    body: { serverTimeStamp: ts, contexts, marketingCampaignInfo: info },
    aggregate: { field: 'marketingCampaignInfo', replace: { marketingCampaignInfo: info } },
  };
}

function searchInfo(s: SessionPayloads, ts: number, contexts: JsonObject): Payload {
  // Documented input type absent from the example; its exact shape is a guess (keywords[]).
  const keywords: Json[] = [s.rng.pick(catalog.SEARCH_KEYWORDS)];
  if (s.rng.chance(0.5)) keywords.push(s.rng.pick(catalog.SEARCH_KEYWORDS));
  return { body: { serverTimeStamp: ts, contexts, keywords }, aggregate: undefined };
}

/** An event type nobody documented yet (schema evolution): same envelope, payload under its own name. */
function undocumentedPayload(
  s: SessionPayloads,
  eventType: string,
  ts: number,
  contexts: JsonObject,
): Payload {
  const payload: JsonObject = { tier: s.rng.pick(catalog.LOYALTY_TIERS), points: s.rng.int(0, 50_000) };
  return { body: { serverTimeStamp: ts, contexts, [eventType]: payload }, aggregate: undefined };
}

/** Typed by DocumentedEventType so that an example type without a generator does not compile. */
const PAYLOAD_GENERATORS: { readonly [T in DocumentedEventType]: PayloadGenerator } = {
  cartStatus,
  purchase,
  lead,
  viewedProduct,
  customerInfo,
  personalInfo,
  serviceActivity,
  visitorError,
  marketingCampaignInfo,
  searchInfo,
};

function isDocumented(eventType: string): eventType is DocumentedEventType {
  // Own keys only: an event type such as 'toString' must not find Object.prototype's.
  return Object.hasOwn(PAYLOAD_GENERATORS, eventType);
}
