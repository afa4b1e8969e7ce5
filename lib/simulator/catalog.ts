/**
 * Small fixed lists the simulated world draws from. Values follow the spec's JSON example where it shows
 * one (the example's own values are always in the lists) and LivePerson's engagement-attribute docs
 * (notes.md) for the rest. Data only, kept apart from the generators that draw from it (population.ts,
 * timeline.ts, event-payloads.ts) so their logic stays readable.
 */
import type { JsonObject } from '../liveperson/types';

export interface Product {
  name: string;
  category: string;
  sku: string;
  price: number;
}

export const PRODUCTS: readonly Product[] = [
  { name: 'prod1', category: 'category', sku: 'sku', price: 7.8 },
  { name: 'antivirus pro plan', category: 'software', sku: 'xyz001', price: 7.8 },
  { name: 'red high heel shoe', category: 'women shoes', sku: 'xyz567', price: 77.8 },
  { name: 'running shoe', category: 'men shoes', sku: 'rs-1042', price: 119.0 },
  { name: 'cloud backup 1TB', category: 'software', sku: 'cb-1tb', price: 9.99 },
  { name: 'wool scarf', category: 'accessories', sku: 'ws-77', price: 24.5 },
  { name: 'espresso machine', category: 'kitchen', sku: 'em-300', price: 349.0 },
  { name: 'phone case', category: 'accessories', sku: 'pc-12', price: 15.0 },
  { name: 'travel insurance basic', category: 'insurance', sku: 'ti-basic', price: 42.0 },
  { name: 'gift card', category: 'gift', sku: 'gc-50', price: 50 },
];

export interface PageTemplate {
  path: string;
  title: string;
}

export const SITES: readonly string[] = ['www.example-shop.com', 'shop.example.org', 'testfile.com'];

export const PAGES: readonly PageTemplate[] = [
  { path: '/', title: 'Home' },
  { path: '/products/shoes', title: 'Shoes' },
  { path: '/products/software', title: 'Software' },
  { path: '/product/xyz567', title: 'Red high heel shoe' },
  { path: '/product/em-300', title: 'Espresso machine' },
  { path: '/cart', title: 'Your cart' },
  { path: '/checkout', title: 'Checkout' },
  { path: '/support', title: 'Support' },
  { path: '/account', title: 'My account' },
  { path: '/search?q=shoes', title: 'Search results' },
  { path: '/blog/summer-sale', title: 'Summer sale' },
];

export const GEOS: readonly JsonObject[] = [
  {
    country: 'Israel',
    countryCode: 'IL',
    state: 'Tel Aviv',
    city: 'Tel Aviv',
    isp: 'LivePerson',
    org: 'LivePerson',
  },
  {
    country: 'United States',
    countryCode: 'US',
    state: 'New York',
    city: 'New York',
    isp: 'Verizon Fios',
    org: 'Verizon',
  },
  {
    country: 'United States',
    countryCode: 'US',
    state: 'California',
    city: 'San Jose',
    isp: 'Comcast',
    org: '',
  },
  {
    country: 'United Kingdom',
    countryCode: 'GB',
    state: 'England',
    city: 'London',
    isp: 'British Telecom',
    org: 'BT',
  },
  {
    country: 'Germany',
    countryCode: 'DE',
    state: 'Berlin',
    city: 'Berlin',
    isp: 'Deutsche Telekom',
    org: '',
  },
  {
    country: 'Australia',
    countryCode: 'AU',
    state: 'Victoria',
    city: 'Melbourne',
    isp: 'Telstra',
    org: 'Telstra',
  },
];

export interface DeviceProfile {
  deviceFamily: string;
  deviceOS: string;
  userAgent: string;
  mobile: boolean;
}

export const DEVICES: readonly DeviceProfile[] = [
  {
    deviceFamily: 'DESKTOP',
    deviceOS: 'MAC_OSX',
    userAgent:
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/53.0.2785.143 Safari/537.36',
    mobile: false,
  },
  {
    deviceFamily: 'DESKTOP',
    deviceOS: 'WINDOWS',
    userAgent:
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
    mobile: false,
  },
  {
    deviceFamily: 'DESKTOP',
    deviceOS: 'LINUX',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
    mobile: false,
  },
  {
    deviceFamily: 'MOBILE',
    deviceOS: 'IOS',
    userAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
    mobile: true,
  },
  {
    deviceFamily: 'MOBILE',
    deviceOS: 'ANDROID',
    userAgent:
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36',
    mobile: true,
  },
  {
    deviceFamily: 'TABLET',
    deviceOS: 'IOS',
    userAgent:
      'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
    mobile: true,
  },
];

/** First octets of public-looking IPv4 addresses (no private or loopback ranges). */
export const IP_FIRST_OCTETS: readonly number[] = [23, 31, 46, 62, 77, 85, 91, 104, 151, 185, 195, 212];

export interface ReferrerTemplate {
  externalReferrer: string;
  searchEngine: string;
  keywords: string;
}

export const REFERRERS: readonly ReferrerTemplate[] = [
  { externalReferrer: '', searchEngine: '', keywords: '' },
  { externalReferrer: '', searchEngine: '', keywords: '' },
  { externalReferrer: 'https://www.google.com/', searchEngine: 'Google', keywords: 'red shoes' },
  { externalReferrer: 'https://www.bing.com/', searchEngine: 'Bing', keywords: 'antivirus' },
  { externalReferrer: 'https://t.co/', searchEngine: '', keywords: '' },
  { externalReferrer: 'https://news.example.net/article/42', searchEngine: '', keywords: '' },
];

export const FIRST_NAMES: readonly string[] = [
  'John',
  'Jane',
  'Avi',
  'Maya',
  'Lukas',
  'Olivia',
  'Noah',
  'Sofia',
];
export const SURNAMES: readonly string[] = ['Doe', 'Cohen', 'Smith', 'Müller', 'Brown', 'Levi', 'Garcia'];
export const COMPANIES: readonly string[] = ['company', 'Acme Corp', 'Globex', 'Initech', ''];
export const LANGUAGES: readonly (string | null)[] = [null, 'en-US', 'he-IL', 'de-DE'];

export const CUSTOMER_STATUSES: readonly string[] = ['cancelled', 'active', 'suspended', 'new'];
export const CUSTOMER_TYPES: readonly string[] = ['vip', 'regular', 'business'];

export const LEAD_TOPICS: readonly string[] = [
  'luxury car test drive 2015',
  'home loan consultation',
  'newsletter signup',
  'enterprise plan demo',
];

export interface ServiceTemplate {
  serviceId: string;
  topic: string;
  category: string;
}

export const SERVICES: readonly ServiceTemplate[] = [
  { serviceId: 'service12', topic: 'order checkbook', category: 'finance' },
  { serviceId: 'service7', topic: 'replace card', category: 'finance' },
  { serviceId: 'service31', topic: 'return item', category: 'orders' },
];

export const VISITOR_ERRORS: readonly { message: string; code: string }[] = [
  { message: 'Expiration date missing', code: 'er100004' },
  { message: 'Card declined', code: 'er100017' },
  { message: 'Address not found', code: 'er200002' },
];

export const AFFILIATES: readonly string[] = ['Yahoo', 'Google', 'Facebook', 'Newsletter', 'Partner42'];
export const CAMPAIGN_IDS: readonly string[] = ['US coupon campaign', 'spring sale', 'retargeting Q3'];
export const SEARCH_KEYWORDS: readonly string[] = ['summer', 'shirt', 'red', 'shoes', 'antivirus', 'sale'];
export const CURRENCIES: readonly string[] = ['USD', 'EUR', 'GBP', 'ILS'];
export const LOYALTY_TIERS: readonly string[] = ['bronze', 'silver', 'gold'];
