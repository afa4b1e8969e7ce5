import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import OAuth from 'oauth-1.0a';

/** The four values LivePerson's console issues for an API key (Campaigns → Data Sources → API). */
export interface LivePersonCredentials {
  consumerKey: string;
  consumerSecret: string;
  token: string;
  tokenSecret: string;
}

const CREDENTIAL_FIELDS = ['consumerKey', 'consumerSecret', 'token', 'tokenSecret'] as const;

/** Checks a parsed secret's shape; the message names missing fields, never values. */
export function parseCredentials(value: unknown, source: string): LivePersonCredentials {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(
      `${source}: expected a JSON object {consumerKey, consumerSecret, token, tokenSecret}`,
    );
  }
  const record = value as Record<string, unknown>;
  const missing = CREDENTIAL_FIELDS.filter((f) => typeof record[f] !== 'string' || record[f] === '');
  if (missing.length > 0) throw new TypeError(`${source}: missing or empty field(s) ${missing.join(', ')}`);
  return {
    consumerKey: record.consumerKey as string,
    consumerSecret: record.consumerSecret as string,
    token: record.token as string,
    tokenSecret: record.tokenSecret as string,
  };
}

function hmacSha1(baseString: string, key: string): string {
  return createHmac('sha1', key).update(baseString).digest('base64');
}

function oauthFor(credentials: Pick<LivePersonCredentials, 'consumerKey' | 'consumerSecret'>): OAuth {
  return new OAuth({
    consumer: { key: credentials.consumerKey, secret: credentials.consumerSecret },
    signature_method: 'HMAC-SHA1',
    hash_function: hmacSha1,
  });
}

export interface SignOptions {
  /** Epoch seconds; the wall clock by default (servers check it against theirs). */
  timestampSec?: number;
  nonce?: string;
}

/**
 * The `Authorization` header for one request. The full URL with its query is signed (oauth-1.0a reads the
 * query parameters from it), so `v`, `sid` and `filter` are part of the signature base string.
 * Every call makes a fresh nonce and timestamp: a retried request is signed again, never replayed.
 */
export function signRequest(
  method: string,
  url: string,
  credentials: LivePersonCredentials,
  options: SignOptions = {},
): string {
  const oauth = oauthFor(credentials);
  const token = { key: credentials.token, secret: credentials.tokenSecret };
  const request = { url, method };
  const data = {
    oauth_consumer_key: credentials.consumerKey,
    oauth_nonce: options.nonce ?? randomBytes(16).toString('hex'),
    oauth_signature_method: 'HMAC-SHA1',
    oauth_timestamp: options.timestampSec ?? Math.floor(Date.now() / 1000),
    oauth_token: token.key,
    oauth_version: '1.0',
  } as OAuth.Authorization;
  data.oauth_signature = oauth.getSignature(request, token.secret, data);
  return oauth.toHeader(data).Authorization;
}

/** The signature base string, exposed for the known-answer test. */
export function signatureBaseString(
  method: string,
  url: string,
  credentials: LivePersonCredentials,
  oauthParams: Record<string, string | number>,
): string {
  const oauth = oauthFor(credentials);
  const data = { ...oauthParams } as unknown as OAuth.Authorization;
  return oauth.getBaseString({ url, method }, data);
}

/** Parses an `OAuth k="v", ...` header into its decoded parameters, or undefined when it is not one. */
export function parseOAuthHeader(header: string | undefined): Record<string, string> | undefined {
  if (header === undefined || !/^OAuth\s/i.test(header)) return undefined;
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  const pattern = /([A-Za-z0-9_]+)="([^"]*)"/g;
  for (let m = pattern.exec(header); m !== null; m = pattern.exec(header)) {
    try {
      params[m[1] as string] = decodeURIComponent(m[2] as string);
    } catch {
      return undefined;
    }
  }
  return params;
}

export type VerifyFailure =
  'missing' | 'unknown_consumer' | 'bad_method' | 'stale' | 'replayed' | 'bad_signature';

/**
 * Server side: recomputes the signature of `method url` from the header's parameters and the secrets the
 * server knows, and compares in constant time. `url` must be exactly the URL the client signed.
 */
export function verifySignature(
  method: string,
  url: string,
  header: string | undefined,
  credentials: LivePersonCredentials,
): { ok: true; params: Record<string, string> } | { ok: false; failure: VerifyFailure } {
  const params = parseOAuthHeader(header);
  if (params === undefined || params.oauth_signature === undefined) return { ok: false, failure: 'missing' };
  if (params.oauth_consumer_key !== credentials.consumerKey || params.oauth_token !== credentials.token) {
    return { ok: false, failure: 'unknown_consumer' };
  }
  if (params.oauth_signature_method !== 'HMAC-SHA1') return { ok: false, failure: 'bad_method' };
  const { oauth_signature: received, realm: _realm, ...oauthData } = params;
  const expected = oauthFor(credentials).getSignature(
    { url, method },
    credentials.tokenSecret,
    oauthData as unknown as OAuth.Authorization,
  );
  const a = Buffer.from(received);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, failure: 'bad_signature' };
  return { ok: true, params };
}
