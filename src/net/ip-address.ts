/**
 * IP addresses as bytes (4 for IPv4, 16 for IPv6) and sets of address ranges in CIDR
 * notation, for deciding which peers are trusted proxies.
 */

/** Parses an IPv4 or IPv6 address (IPv6 may carry brackets; either may carry a port); null if it is not one. */
export function parseIpAddress(text: string): Uint8Array | null {
  let s = text.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return null;
    s = s.slice(1, end);
  } else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(s)) {
    s = s.slice(0, s.indexOf(':'));
  }
  return s.includes(':') ? parseIpv6(s) : parseIpv4(s);
}

function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseIpv6(s: string): Uint8Array | null {
  // A zone (fe80::1%eth0) names an interface of the sender, not an address of ours.
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === null) return null;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** An IPv4 address mapped into IPv6 (::ffff:a.b.c.d) as its 4 bytes; any other address unchanged. */
export function unmapIpv4(raw: Uint8Array): Uint8Array {
  if (raw.length !== 16) return raw;
  for (let i = 0; i < 10; i++) if (raw[i] !== 0) return raw;
  return raw[10] === 0xff && raw[11] === 0xff ? raw.subarray(12) : raw;
}

interface Range {
  bytes: Uint8Array;
  prefixBits: number;
}

/**
 * A set of address ranges from a comma-separated list of addresses and CIDR blocks
 * (`10.0.0.0/8, 192.168.1.7, fd00::/8`). IPv4-mapped IPv6 addresses match IPv4 ranges.
 * Throws on an entry that is not an address or a block.
 */
export class AddressRanges {
  private readonly ranges: Range[] = [];

  constructor(list: string) {
    for (const part of list.split(',')) {
      const entry = part.trim();
      if (entry === '') continue;
      const slash = entry.indexOf('/');
      const address = slash < 0 ? entry : entry.slice(0, slash);
      const bytes = address.includes('[') ? null : parseIpAddress(address);
      if (bytes === null || (slash < 0 ? false : !/^\d{1,3}$/.test(entry.slice(slash + 1)))) {
        throw new Error(`${JSON.stringify(entry)} is not an IP address or a CIDR block such as 10.0.0.0/8 or fd00::/8`);
      }
      const bits = bytes.length * 8;
      const prefixBits = slash < 0 ? bits : Number(entry.slice(slash + 1));
      if (prefixBits > bits) throw new Error(`${JSON.stringify(entry)}: the prefix is longer than the address`);
      // ::ffff:10.0.0.0/104 is 10.0.0.0/8: kept as IPv4, as peers' mapped addresses are compared.
      const unmapped = unmapIpv4(bytes);
      this.ranges.push({ bytes: unmapped, prefixBits: unmapped.length < bytes.length ? Math.max(0, prefixBits - 96) : prefixBits });
    }
  }

  get size(): number {
    return this.ranges.length;
  }

  contains(address: Uint8Array): boolean {
    const a = unmapIpv4(address);
    for (const r of this.ranges) if (r.bytes.length === a.length && samePrefix(r.bytes, a, r.prefixBits)) return true;
    return false;
  }
}

function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole] as number) & mask) === ((b[whole] as number) & mask);
}
