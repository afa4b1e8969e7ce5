import { readFileSync } from 'node:fs';
import {
  parseCredentials,
  signRequest,
  signatureBaseString,
  verifySignature,
} from '../../lib/liveperson/oauth';

// OAuth Core 1.0 Appendix A.5, as published: client and simulator cannot agree on the same mistake.
const knownAnswer = JSON.parse(readFileSync(`${__dirname}/../fixtures/oauth-known-answer.json`, 'utf8')) as {
  method: string;
  url: string;
  consumerKey: string;
  consumerSecret: string;
  token: string;
  tokenSecret: string;
  timestamp: string;
  nonce: string;
  signatureBaseString: string;
  signature: string;
};
const credentials = {
  consumerKey: knownAnswer.consumerKey,
  consumerSecret: knownAnswer.consumerSecret,
  token: knownAnswer.token,
  tokenSecret: knownAnswer.tokenSecret,
};

describe('OAuth 1.0a signing', () => {
  it('builds the published signature base string, query parameters included', () => {
    const base = signatureBaseString(knownAnswer.method, knownAnswer.url, credentials, {
      oauth_consumer_key: knownAnswer.consumerKey,
      oauth_nonce: knownAnswer.nonce,
      oauth_signature_method: 'HMAC-SHA1',
      oauth_timestamp: knownAnswer.timestamp,
      oauth_token: knownAnswer.token,
      oauth_version: '1.0',
    });
    expect(base).toBe(knownAnswer.signatureBaseString);
  });

  it('produces the published HMAC-SHA1 signature', () => {
    const header = signRequest(knownAnswer.method, knownAnswer.url, credentials, {
      timestampSec: Number(knownAnswer.timestamp),
      nonce: knownAnswer.nonce,
    });
    expect(header).toContain(`oauth_signature="${encodeURIComponent(knownAnswer.signature)}"`);
    expect(header).toMatch(/^OAuth /);
  });

  it('signs every request afresh with a new nonce', () => {
    const a = signRequest('GET', knownAnswer.url, credentials);
    const b = signRequest('GET', knownAnswer.url, credentials);
    expect(a).not.toBe(b);
  });

  it('verifies a good signature and rejects a tampered parameter or a wrong secret', () => {
    const header = signRequest('GET', knownAnswer.url, credentials);
    expect(verifySignature('GET', knownAnswer.url, header, credentials).ok).toBe(true);
    expect(
      verifySignature('GET', knownAnswer.url.replace('size=original', 'size=small'), header, credentials),
    ).toEqual({
      ok: false,
      failure: 'bad_signature',
    });
    expect(
      verifySignature('GET', knownAnswer.url, header, { ...credentials, consumerSecret: 'other' }),
    ).toEqual({
      ok: false,
      failure: 'bad_signature',
    });
    expect(verifySignature('GET', knownAnswer.url, undefined, credentials)).toEqual({
      ok: false,
      failure: 'missing',
    });
  });

  it('parses a credentials secret and names missing fields without echoing values', () => {
    expect(parseCredentials({ ...credentials }, 'secret x')).toEqual(credentials);
    expect(() => parseCredentials({ consumerKey: 'k', consumerSecret: 'TOPSECRET' }, 'secret x')).toThrow(
      /missing or empty field\(s\) token, tokenSecret/,
    );
    try {
      parseCredentials({ consumerKey: 'k', consumerSecret: 'TOPSECRET' }, 'secret x');
    } catch (error) {
      expect((error as Error).message).not.toContain('TOPSECRET');
    }
    expect(() => parseCredentials('not json object', 'secret x')).toThrow(/expected a JSON object/);
  });
});
