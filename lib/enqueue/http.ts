/** What both routes of the enqueue API (POST /enqueue, POST /forget) share: the request and answer shapes. */

/** What an endpoint needs of an HTTP request (an API Gateway HTTP API v2 event has these fields). */
export interface HttpRequest {
  headers?: Readonly<Record<string, string | undefined>>;
  body?: string;
  isBase64Encoded?: boolean;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

export function reply(statusCode: number, body: object, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** A header by its lower-case name, whatever case the caller sent it in. */
export function header(request: HttpRequest, name: string): string | undefined {
  const headers = request.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** The body's bytes (HTTP API base64-encodes bodies of non-text content types). */
export function bodyBytes(request: HttpRequest): Buffer {
  const raw = request.body ?? '';
  return request.isBase64Encoded === true ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
}
