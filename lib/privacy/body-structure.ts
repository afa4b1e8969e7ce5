/**
 * What the queue keeps of an unusable answer (`lastBadBody`): its size, a hash and its structure, never a value,
 * so an operator can tell what went wrong (a truncated body, an HTML error page, an unexpected shape) without
 * the queue holding the names, e-mail addresses and IPs a Visit Information answer carries.
 *
 *   {"bytes":48213,"keptBytes":2048,"sha256":"9f2c4e1a0b7d3e55","structure":"{\"appSessions\":[{\"id\":s,…"}
 *
 *   - bytes: the whole body's size when known (else the kept prefix's); keptBytes: the prefix the client kept;
 *   - sha256: 16 hex of SHA-256 over the kept prefix, unkeyed: it tells identical answers apart;
 *   - structure: the prefix read as JSON, as far as it goes: braces, brackets, keys, and each value's kind
 *     (s string, n number, b boolean, null); a key that is not a plain name (digits, spaces, `@`, over 64
 *     characters) shows as <id> (all digits) or <key>, so no data hides in a key; `…` where the prefix ends,
 *     `…?` where it stops being JSON. A body that is not JSON at all is `<markup>` (it starts with `<`),
 *     `<text>` or `<empty>`.
 */
import { shortHash } from '../canonical';

/** A key shown as it is: a name, not data. */
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$.-]{0,63}$/;
const ALL_DIGITS = /^[0-9]+$/;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/;

/** The description of an unusable body's kept prefix, at most `maxChars` characters of structure. */
export function describeBadBody(snippet: string, bodyBytes: number | undefined, maxChars: number): string {
  const keptBytes = Buffer.byteLength(snippet, 'utf8');
  let structure = bodyStructure(snippet);
  if (structure.length > maxChars) structure = `${structure.slice(0, Math.max(0, maxChars - 1))}…`;
  return JSON.stringify({
    bytes: bodyBytes ?? keptBytes,
    keptBytes,
    sha256: shortHash(snippet),
    structure,
  });
}

/** The structure of a JSON text (or of its prefix), values replaced by their kinds. */
export function bodyStructure(text: string): string {
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text.charAt(i))) i += 1;
  };
  skipSpace();
  if (i >= text.length) return '<empty>';
  const first = text.charAt(i);
  if (first !== '{' && first !== '[') return first === '<' ? '<markup>' : '<text>';
  let out = '';
  /** Open containers: '{' or '['; in an object, whether a key is expected next. */
  const stack: string[] = [];
  let expectKey = false;
  let expectColon = false;
  while (true) {
    skipSpace();
    if (i >= text.length) return stack.length === 0 ? out : `${out}…`;
    const c = text.charAt(i);
    if (expectColon) {
      if (c !== ':') return `${out}…?`;
      out += c;
      expectColon = false;
      i += 1;
    } else if (c === '{' || c === '[') {
      out += c;
      stack.push(c);
      expectKey = c === '{';
      i += 1;
    } else if (c === '}' || c === ']') {
      if (stack.pop() !== (c === '}' ? '{' : '[')) return `${out}…?`;
      out += c;
      expectKey = false;
      i += 1;
      if (stack.length === 0) {
        skipSpace();
        return i >= text.length ? out : `${out}…?`;
      }
    } else if (c === ',') {
      out += c;
      expectKey = stack[stack.length - 1] === '{';
      i += 1;
    } else if (c === '"') {
      const end = stringEnd(text, i);
      if (end === undefined) return `${out}…`;
      if (expectKey) {
        out += keyText(text.slice(i, end));
        expectKey = false;
        expectColon = true;
      } else {
        out += 's';
      }
      i = end;
    } else {
      const rest = text.slice(i, i + 400);
      const number = NUMBER.exec(rest);
      const word = /^(true|false|null)/.exec(rest);
      if (expectKey) return `${out}…?`;
      if (number !== null) {
        // A number cut by the end of the prefix is still a number.
        out += 'n';
        i += number[0].length;
      } else if (word !== null) {
        out += word[1] === 'null' ? 'null' : 'b';
        i += (word[1] as string).length;
      } else if (i + rest.length >= text.length && /^(t(r(ue?)?)?|f(a(l(se?)?)?)?|n(u(ll?)?)?)$/.test(rest)) {
        return `${out}…`;
      } else {
        return `${out}…?`;
      }
    }
  }
}

/** Index just past the JSON string starting at `start` (a quote), or undefined when the text ends inside it. */
function stringEnd(text: string, start: number): number | undefined {
  for (let i = start + 1; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x5c)
      i += 1; // backslash: skip the escaped character
    else if (c === 0x22) return i + 1;
  }
  return undefined;
}

function keyText(literal: string): string {
  let key: string;
  try {
    key = JSON.parse(literal) as string;
  } catch {
    return '<key>';
  }
  if (PLAIN_KEY.test(key)) return `${JSON.stringify(key)}`;
  return ALL_DIGITS.test(key) ? '<id>' : '<key>';
}
