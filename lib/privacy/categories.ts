/**
 * The personal-data categories of the capture rows, their treatments and defaults, and the classification of a
 * value by its source path in the Visit Information answer: ONE definition, applied by the flattener (through
 * policy.ts, when a flatten plan is made) and read by the data dictionary and the Glue schema (tools/docs).
 *
 * A value's category comes from its path (`['appSessions[]', 'personalInfo', 'personalInfo', 'contacts[]',
 * 'email']`), case-insensitively, `[]` (array elements) ignored. Walking the path from the answer's root:
 *   - a segment in one of the sets below gives its category; a deeper match replaces a shallower one (`email`
 *     under `contacts` is contact; `zip` under `geo` is precise-location), and a category holds for everything
 *     below it (`contacts[].phoneType` is contact too);
 *   - names count only under `personalInfo` (a product's `name` is not a person's), precise-location keys only
 *     under `geo`;
 *   - with no match, a value under `personalInfo` is `personal` and one under `geo` is `location`.
 * Our own columns (visitorId, sid, the storage keys, ip) are classified by name: `classifyOurColumn`.
 */

/** A category of personal data; each has a mode in the policy (see PRIVACY_CATEGORIES). */
export type PrivacyCategory =
  | 'name'
  | 'contact'
  | 'customer-id'
  | 'network'
  | 'birth-day'
  | 'personal'
  | 'precise-location'
  | 'location'
  | 'free-text';

/**
 * What happens to a value of a category before it is stored:
 *   - keep: stored as it came;
 *   - hash: `h<keyVersion>:` + base64url of HMAC-SHA256 under the secret key (hash.ts): the same value gives the
 *     same text within a key version, so analysts can still count and join, but not read it;
 *   - drop: not stored (the column leaves the row; inside a JSON column, the key leaves its object);
 *   - truncate (network only): an IPv4 address to its /24, an IPv6 address to its /48 (ip.ts).
 */
export type PrivacyMode = 'keep' | 'hash' | 'drop' | 'truncate';
export const PRIVACY_MODES: readonly PrivacyMode[] = ['keep', 'hash', 'drop', 'truncate'];

export interface CategoryDefinition {
  readonly category: PrivacyCategory;
  /** What it holds, in a few words (the dictionary and docs/privacy.md show it). */
  readonly why: string;
  readonly defaultMode: PrivacyMode;
  readonly allowedModes: readonly PrivacyMode[];
}

const KEEP_HASH_DROP: readonly PrivacyMode[] = ['keep', 'hash', 'drop'];

/** Every category, in the order the docs list them. */
export const PRIVACY_CATEGORIES: readonly CategoryDefinition[] = [
  {
    category: 'name',
    why: "visitor's name (personalInfo name, surname, ...)",
    defaultMode: 'hash',
    allowedModes: KEEP_HASH_DROP,
  },
  {
    category: 'contact',
    why: 'e-mail address, phone number or postal address',
    defaultMode: 'hash',
    allowedModes: KEEP_HASH_DROP,
  },
  {
    category: 'customer-id',
    why: "the site's identifiers of the customer (customerId, userName, socialId, imei, accountName, ...)",
    defaultMode: 'hash',
    allowedModes: KEEP_HASH_DROP,
  },
  {
    category: 'network',
    why: "visitor's IP address",
    defaultMode: 'truncate',
    allowedModes: ['keep', 'hash', 'drop', 'truncate'],
  },
  {
    category: 'birth-day',
    why: 'day and month of birth',
    defaultMode: 'drop',
    allowedModes: KEEP_HASH_DROP,
  },
  {
    category: 'personal',
    why: 'other personal details the site sent (age, year of birth, gender, company, language, ...)',
    defaultMode: 'keep',
    allowedModes: KEEP_HASH_DROP,
  },
  {
    category: 'precise-location',
    why: 'location finer than a city (coordinates, postal or area code)',
    defaultMode: 'drop',
    allowedModes: KEEP_HASH_DROP,
  },
  {
    category: 'location',
    why: 'location at city level or coarser (country, region, city, ISP), derived from the IP address',
    defaultMode: 'keep',
    allowedModes: KEEP_HASH_DROP,
  },
  {
    category: 'free-text',
    why: 'text that may hold personal data (URLs with query strings, referrers, search terms)',
    defaultMode: 'keep',
    allowedModes: KEEP_HASH_DROP,
  },
];

export const CATEGORY_DEFINITIONS: Readonly<Record<PrivacyCategory, CategoryDefinition>> = Object.freeze(
  Object.fromEntries(PRIVACY_CATEGORIES.map((c) => [c.category, c])) as Record<
    PrivacyCategory,
    CategoryDefinition
  >,
);

/**
 * The mode `raw` sets for a category (trimmed, any case), or undefined when the category does not take it: the
 * one rule of the environment (LPV_PRIVACY_<CATEGORY>, config.ts) and the stack's context (lpv:privacy<Category>,
 * infra/config.ts).
 */
export function parsePrivacyMode(definition: CategoryDefinition, raw: string): PrivacyMode | undefined {
  const mode = raw.trim().toLowerCase() as PrivacyMode;
  return PRIVACY_MODES.includes(mode) && definition.allowedModes.includes(mode) ? mode : undefined;
}

/**
 * What a refused mode's message says: the modes the category takes, and, for `truncate` asked of another
 * category, the setting it belongs to (`networkSetting`: the network category's variable or context key).
 */
export function privacyModeRule(definition: CategoryDefinition, raw: string, networkSetting: string): string {
  const truncateElsewhere =
    raw.trim().toLowerCase() === 'truncate' && !definition.allowedModes.includes('truncate');
  return (
    `must be one of ${definition.allowedModes.join(', ')}` +
    (truncateElsewhere ? ` (truncate is for IP addresses: ${networkSetting})` : '')
  );
}

/**
 * Our own columns that identify a visitor or a session: always kept, they are the table's keys. They are
 * pseudonymous (LivePerson's cookie and session ids, not a name or an account), and logs never show them
 * (lib/log.ts idRef).
 */
export const PSEUDONYMOUS_ID = 'pseudonymous-id';

/** How one column is classified: a category of the policy, or one of our pseudonymous ids (always kept). */
export interface ColumnClass {
  readonly category: PrivacyCategory | typeof PSEUDONYMOUS_ID;
  readonly why: string;
}

const OUR_ID_COLUMNS: Readonly<Record<string, string>> = {
  visitorid: 'pseudonymous visitor id (LivePerson cookie)',
  sid: 'pseudonymous session id',
  visitid: 'pseudonymous visit id',
  appsessionid: 'pseudonymous app session id',
  // Storage keys built from those ids (kept only with --raw, and in the table itself).
  pk: 'holds the sid',
  sk: 'may hold the appSessionId',
  gsi1pk: 'holds the visitorId',
  gsi1sk: 'holds the sid',
  gsi2sk: 'holds the sid',
  gsi3sk: 'holds the sid',
};

/** Our own column `ip` (ipv4, else lpv4): the network category. */
export const OUR_IP_COLUMN = 'ip';

/** The class of one of our own columns (not taken from a payload path), or undefined. */
export function classifyOurColumn(name: string): ColumnClass | undefined {
  const lower = name.toLowerCase();
  if (lower === OUR_IP_COLUMN) return { category: 'network', why: CATEGORY_DEFINITIONS.network.why };
  const why = Object.hasOwn(OUR_ID_COLUMNS, lower) ? OUR_ID_COLUMNS[lower] : undefined;
  return why === undefined ? undefined : { category: PSEUDONYMOUS_ID, why };
}

// ---------------------------------------------------------------------------------------------------------
// Classification by path: a small automaton over the path's segments. Its states are interned (a category
// matched so far × under personalInfo × under geo: 40 of them), each remembering where its keys lead, so
// classifying the keys inside a JSON value costs one map lookup per key.

const NETWORK = ['ip', 'ipv4', 'lpv4', 'ipv6', 'ipaddress', 'clientip'];
const CONTACT = [
  'email',
  'emailaddress',
  'phone',
  'phonenumber',
  'mobilephone',
  'fax',
  'address',
  'streetaddress',
  'contacts',
];
const NAMES = ['name', 'surname', 'firstname', 'lastname', 'middlename', 'fullname', 'nickname'];
const CUSTOMER_IDS = [
  'customerid',
  'username',
  'socialid',
  'imei',
  'accountname',
  'loginname',
  'loginid',
  'userid',
  'memberid',
];
const BIRTH_DAY = [
  'customerdateofbirth',
  'customermonthofbirth',
  'dateofbirth',
  'dayofbirth',
  'monthofbirth',
  'birthdate',
  'birthday',
  'dob',
];
const PRECISE_GEO = [
  'latitude',
  'longitude',
  'lat',
  'lon',
  'lng',
  'zip',
  'zipcode',
  'postalcode',
  'postcode',
  'areacode',
  'metrocode',
  'dma',
  'street',
];
const FREE_TEXT = ['url', 'referrer', 'externalreferrer', 'keywords', 'searchterm', 'searchterms'];

/** Segment (lower case) → the category it gives, and whether it counts only under personalInfo / geo. */
const SEGMENTS = new Map<string, { category: PrivacyCategory; under?: 'personalinfo' | 'geo' }>();
for (const [names, category, under] of [
  [NETWORK, 'network'],
  [CONTACT, 'contact'],
  [NAMES, 'name', 'personalinfo'],
  [CUSTOMER_IDS, 'customer-id'],
  [BIRTH_DAY, 'birth-day'],
  [PRECISE_GEO, 'precise-location', 'geo'],
  [FREE_TEXT, 'free-text'],
] as const) {
  for (const name of names) SEGMENTS.set(name, { category, ...(under !== undefined ? { under } : {}) });
}

/**
 * Finds, in canonical JSON text, a key that `PathState.next` could classify (one of the segments above, or
 * personalInfo or geo, in any case, with or without `[]`): under a state whose own values are kept, a JSON value
 * without such a key is kept whole. Unicode case folding (`u`), as toLowerCase folds `K` (Kelvin) to `k`; a
 * false alarm (such a text inside a string) only errs on the careful side. Used for values too deep to walk.
 */
const CLASSIFIED_KEY_IN_JSON = new RegExp(
  `"${alternation([...SEGMENTS.keys(), 'personalinfo', 'geo'])}(?:\\[\\])?":`,
  'iu',
);

/**
 * A regular expression source matching exactly `words` (letters and digits), as a trie: `ip`, `ipv4`, `ipv6` →
 * `ip(?:v(?:4|6))?`: one branch per letter at each quote, where a flat alternation tries every word.
 */
function alternation(words: readonly string[]): string {
  const byFirst = new Map<string, string[]>();
  let endsHere = false;
  for (const word of words) {
    if (word === '') endsHere = true;
    else byFirst.set(word.charAt(0), [...(byFirst.get(word.charAt(0)) ?? []), word.slice(1)]);
  }
  const branches = [...byFirst].map(([first, rests]) => first + alternation(rests));
  if (branches.length === 0) return '';
  return `(?:${branches.join('|')})${endsHere ? '?' : ''}`;
}

/** Whether canonical JSON text may hold a key that classifies what is under it (see CLASSIFIED_KEY_IN_JSON). */
export function mayHoldClassifiedKey(canonicalJsonText: string): boolean {
  return CLASSIFIED_KEY_IN_JSON.test(canonicalJsonText);
}

/** Transitions a state remembers before forgetting them all (id-keyed maps bring many distinct keys). */
const MAX_TRANSITIONS = 10_000;

/**
 * Where a walk along a path stands: what a value here is classified as (`category`), and where each key leads.
 * Interned: two paths that classify alike below reach the same state.
 */
export class PathState {
  private readonly transitions = new Map<string, PathState>();

  constructor(
    /** The category matched by a segment so far (deepest wins). */
    readonly matched: PrivacyCategory | undefined,
    readonly underPersonalInfo: boolean,
    readonly underGeo: boolean,
    /** Index among all states (for tables indexed by state). */
    readonly index: number,
  ) {}

  /** The category of a value at this state: the matched one, else the context's, else none. */
  get category(): PrivacyCategory | undefined {
    return this.matched ?? (this.underPersonalInfo ? 'personal' : this.underGeo ? 'location' : undefined);
  }

  /** The state one key (a path segment; `[]` marks an array element and is ignored) further down. */
  next(key: string): PathState {
    // Digits (an id-keyed map's keys) match nothing: the common case, without a lookup.
    const first = key.charCodeAt(0);
    if (first >= 48 && first <= 57) return this;
    let state = this.transitions.get(key);
    if (state === undefined) {
      state = this.step(key);
      if (this.transitions.size >= MAX_TRANSITIONS) this.transitions.clear();
      this.transitions.set(key, state);
    }
    return state;
  }

  private step(key: string): PathState {
    const segment = (key.endsWith('[]') ? key.slice(0, -2) : key).toLowerCase();
    const personal = this.underPersonalInfo || segment === 'personalinfo';
    const geo = this.underGeo || segment === 'geo';
    const rule = SEGMENTS.get(segment);
    const applies =
      rule !== undefined && (rule.under === undefined || (rule.under === 'personalinfo' ? personal : geo));
    return stateOf(applies ? rule.category : this.matched, personal, geo);
  }
}

const CATEGORY_LIST: readonly (PrivacyCategory | undefined)[] = [
  undefined,
  ...PRIVACY_CATEGORIES.map((c) => c.category),
];

/** Every state, by index: (matched category or none) × underPersonalInfo × underGeo. */
export const PATH_STATES: readonly PathState[] = CATEGORY_LIST.flatMap((matched, m) =>
  [false, true].flatMap((personal, p) =>
    [false, true].map((geo, g) => new PathState(matched, personal, geo, m * 4 + p * 2 + g)),
  ),
);

function stateOf(matched: PrivacyCategory | undefined, personal: boolean, geo: boolean): PathState {
  const m = CATEGORY_LIST.indexOf(matched);
  return PATH_STATES[m * 4 + (personal ? 2 : 0) + (geo ? 1 : 0)] as PathState;
}

/** The state at the root of an answer (nothing matched). */
export const ROOT_PATH_STATE: PathState = stateOf(undefined, false, false);

/** The states along `path`, one per segment (the last is the value's). */
export function pathStates(path: readonly string[]): PathState[] {
  const states: PathState[] = [];
  let state = ROOT_PATH_STATE;
  for (const segment of path) {
    state = state.next(segment);
    states.push(state);
  }
  return states;
}

/** The category of the value at `path` in the answer (segments as the column listener reports them). */
export function classifyPath(path: readonly string[]): PrivacyCategory | undefined {
  return pathStates(path).at(-1)?.category;
}
