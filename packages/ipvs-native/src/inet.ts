// IP address text <-> bytes. Strict parsing (no leading zeros, no zone ids, no shorthand IPv4
// forms like "10.1") because an address we silently misread would program the wrong rule.
// IPv6 output is the RFC 5952 canonical form, so equal addresses always compare equal as strings.

export type AddressFamily = 'ipv4' | 'ipv6';

export const AF_INET = 2;
export const AF_INET6 = 10;

export interface ParsedAddress {
  family: AddressFamily;
  /** 4 or 16 bytes, network order. */
  bytes: Buffer;
}

export interface ParsedPrefix extends ParsedAddress {
  prefixLength: number;
}

const ipv4Part = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const hexGroup = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4Into(text: string, out: Buffer, offset: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!ipv4Part.test(part)) return false;
    out[offset + i] = Number(part);
  }
  return true;
}

function parseIpv6(text: string): Buffer | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const bytes = Buffer.alloc(16);
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  // A trailing dotted quad ("::ffff:10.0.0.1") stands for the last two groups.
  const last = halves.length === 2 ? tail : head;
  let embedded: Buffer | undefined;
  const lastGroup = last[last.length - 1];
  if (lastGroup !== undefined && lastGroup.includes('.')) {
    embedded = Buffer.alloc(4);
    if (!parseIpv4Into(lastGroup, embedded, 0)) return undefined;
    last.pop();
  }
  const groupCount = head.length + tail.length + (embedded === undefined ? 0 : 2);
  if (halves.length === 1 ? groupCount !== 8 : groupCount > 7) return undefined;
  for (const group of [...head, ...tail]) if (!hexGroup.test(group)) return undefined;
  head.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  const tailStart = 16 - (tail.length * 2 + (embedded === undefined ? 0 : 4));
  tail.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), tailStart + i * 2));
  if (embedded !== undefined) embedded.copy(bytes, 12);
  return bytes;
}

/** Parses an IPv4 or IPv6 address; undefined if `text` is not one. */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (typeof text !== 'string') return undefined;
  if (text.includes(':')) {
    const bytes = parseIpv6(text);
    return bytes === undefined ? undefined : { family: 'ipv6', bytes };
  }
  const bytes = Buffer.alloc(4);
  return parseIpv4Into(text, bytes, 0) ? { family: 'ipv4', bytes } : undefined;
}

/** Parses "ADDR/LEN" (or a bare address, meaning a host prefix /32 or /128). */
export function parsePrefix(text: string): ParsedPrefix | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const address = parseAddress(slash === -1 ? text : text.slice(0, slash));
  if (address === undefined) return undefined;
  const max = address.family === 'ipv4' ? 32 : 128;
  if (slash === -1) return { ...address, prefixLength: max };
  const lengthText = text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  return prefixLength > max ? undefined : { ...address, prefixLength };
}

// Decimal text of every byte value, so formatting a dump of IPv4 addresses converts no numbers.
const OCTETS: readonly string[] = Array.from({ length: 256 }, (_, value) => String(value));

export function formatIpv4(buf: Uint8Array, offset = 0): string {
  const octet = (i: number): string => OCTETS[buf[offset + i] as number] as string;
  return octet(0) + '.' + octet(1) + '.' + octet(2) + '.' + octet(3);
}

/** RFC 5952: lower case, no leading zeros, the longest run (>= 2) of zero groups as "::". */
export function formatIpv6(buf: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((buf[offset + i * 2] as number) << 8) | (buf[offset + i * 2 + 1] as number));
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 section 5).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(buf, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
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

/** Formats 4 or 16 network-order bytes. */
export function formatAddress(family: AddressFamily, buf: Uint8Array, offset = 0): string {
  return family === 'ipv4' ? formatIpv4(buf, offset) : formatIpv6(buf, offset);
}

/** Returns the canonical text of an address, or undefined if it is not one. */
export function canonicalAddress(text: string): string | undefined {
  const parsed = parseAddress(text);
  return parsed === undefined ? undefined : formatAddress(parsed.family, parsed.bytes);
}

/** Prefix length -> IPv4 netmask bytes (24 -> ff ff ff 00). */
export function ipv4MaskBytes(prefixLength: number): Buffer {
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(mask, 0);
  return bytes;
}
