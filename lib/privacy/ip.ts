import { isIPv6 } from 'node:net';

/**
 * The `truncate` mode of the network category: an IPv4 address becomes its /24 (`195.62.30.20` →
 * `195.62.30.0/24`), an IPv6 address its /48 (`2001:db8:85a3:8d3:1319:8a2e:370:7348` → `2001:db8:85a3::/48`),
 * written as a CIDR prefix so nobody takes it for an address (Athena: `CAST(x AS IPPREFIX)`). An IPv4 address
 * mapped into IPv6 (`::ffff:195.62.30.20`) is truncated as the IPv4 address it is. Anything else at a network
 * path is not an address we can shorten, so nothing of it is kept: null. An empty string stays empty.
 */
export function truncateIp(text: string): string | null {
  let truncated = remembered.get(text);
  if (truncated === undefined) {
    truncated = truncate(text);
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.set(text, truncated);
  }
  return truncated;
}

/** Addresses remembered with their prefix: a session's address comes back in two columns on every poll. */
const MAX_REMEMBERED = 4_096;
const remembered = new Map<string, string | null>();

function truncate(text: string): string | null {
  const value = text.trim();
  if (value === '') return text === '' ? '' : null;
  const v4 = ipv4Octets(value);
  if (v4 !== undefined) return `${v4[0]}.${v4[1]}.${v4[2]}.0/24`;
  const groups = ipv6Groups(value);
  if (groups === undefined) return null;
  if (isMappedIpv4(groups)) {
    const high = groups[6] as number;
    const low = groups[7] as number;
    return `${high >> 8}.${high & 0xff}.${low >> 8}.0/24`;
  }
  return `${ipv6Text([...groups.slice(0, 3), 0, 0, 0, 0, 0])}/48`;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4Octets(text: string): number[] | undefined {
  const m = IPV4.exec(text);
  if (m === null) return undefined;
  const octets = m.slice(1, 5).map(Number);
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** The eight 16-bit groups of an IPv6 address (a zone id `%eth0` ignored), or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  const address = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  if (!isIPv6(address)) return undefined;
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      const v4 = piece.includes('.') ? ipv4Octets(piece) : undefined;
      if (v4 !== undefined)
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      else out.push(parseInt(piece, 16));
    }
    return out;
  };
  const left = parse(head);
  if (tail === undefined) return left.length === 8 ? left : undefined;
  const right = parse(tail);
  const zeros = 8 - left.length - right.length;
  if (zeros < 0) return undefined;
  return [...left, ...new Array<number>(zeros).fill(0), ...right];
}

function isMappedIpv4(groups: readonly number[]): boolean {
  return groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
}

/** Eight groups in RFC 5952's form: lower-case hex, the longest run of two or more zero groups as `::`. */
function ipv6Text(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
