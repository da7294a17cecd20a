import { isIPv4, isIPv6 } from 'node:net';

/**
 * Which IP addresses a webhook may reach (docs/read-api.md §6): public unicast only. A
 * webhook URL is chosen by a tenant and fetched by the receiver from inside its network, so
 * without this a tenant could make the receiver POST to its own loopback, a cloud metadata
 * service (169.254.169.254) or any private host beside it.
 *
 * IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are
 * judged by the IPv4 address they lead to, so `::ffff:127.0.0.1` is loopback too.
 */

interface Range {
  readonly bytes: readonly number[];
  readonly prefix: number;
  readonly why: string;
}

function v4(cidr: string, why: string): Range {
  const [addr = '', bits = '32'] = cidr.split('/');
  return { bytes: addr.split('.').map(Number), prefix: Number(bits), why };
}

function v6(cidr: string, why: string): Range {
  const [addr = '', bits = '128'] = cidr.split('/');
  const bytes = parseIPv6(addr);
  if (bytes === null) throw new Error(`bad range ${cidr}`);
  return { bytes, prefix: Number(bits), why };
}

const IPV4_REFUSED: readonly Range[] = [
  v4('0.0.0.0/8', 'unspecified'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'private (shared address space)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'reserved (IETF protocol assignments)'),
  v4('192.0.2.0/24', 'reserved (documentation)'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'reserved (benchmarking)'),
  v4('198.51.100.0/24', 'reserved (documentation)'),
  v4('203.0.113.0/24', 'reserved (documentation)'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved (including broadcast)'),
];

/** Ranges that embed an IPv4 address: [range, byte offset of the IPv4 address]. */
const IPV6_EMBEDDING: readonly (readonly [Range, number])[] = [
  [v6('::ffff:0:0/96', 'IPv4-mapped'), 12],
  [v6('64:ff9b::/96', 'NAT64'), 12],
  [v6('2002::/16', '6to4'), 2],
];

const IPV6_REFUSED: readonly Range[] = [
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  // IPv4-compatible addresses (deprecated); also covers :: and ::1, checked first above.
  v6('::/96', 'reserved (IPv4-compatible)'),
  v6('64:ff9b:1::/48', 'private (local-use NAT64)'),
  v6('100::/64', 'reserved (discard)'),
  v6('2001::/32', 'reserved (Teredo)'),
  v6('2001:db8::/32', 'reserved (documentation)'),
  v6('fc00::/7', 'unique-local'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'site-local'),
  v6('ff00::/8', 'multicast'),
];

function inRange(bytes: readonly number[], range: Range, offset = 0): boolean {
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[offset + i] ?? 0) & mask) !== ((range.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** 16 bytes of an IPv6 address (a zone `%…` is ignored), or null when it is not one. */
export function parseIPv6(text: string): number[] | null {
  let address = text.split('%')[0] ?? '';
  if (!isIPv6(address)) return null;
  // A trailing dotted quad (`::ffff:1.2.3.4`) becomes the two groups it stands for.
  const lastColon = address.lastIndexOf(':');
  const last = address.slice(lastColon + 1);
  if (last.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
    address = `${address.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const groupsOf = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const [left = '', right] = address.split('::');
  const l = groupsOf(left);
  const r = right === undefined ? [] : groupsOf(right);
  const groups = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  if (groups.length !== 8) return null;
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function refusedIPv4(bytes: readonly number[]): string | null {
  for (const range of IPV4_REFUSED) if (inRange(bytes, range)) return range.why;
  return null;
}

/**
 * Why `address` (an IPv4 or IPv6 literal, without brackets) may not be reached, or null
 * when it is a public unicast address. Anything that is not an IP address is refused.
 */
export function refusedAddressReason(address: string): string | null {
  if (isIPv4(address)) return refusedIPv4(address.split('.').map(Number));
  const bytes = parseIPv6(address);
  if (bytes === null) return 'not an IP address';
  for (const [range, offset] of IPV6_EMBEDDING) {
    if (inRange(bytes, range)) {
      const why = refusedIPv4(bytes.slice(offset, offset + 4));
      return why === null ? null : `${why} (${range.why})`;
    }
  }
  for (const range of IPV6_REFUSED) if (inRange(bytes, range)) return range.why;
  return null;
}
