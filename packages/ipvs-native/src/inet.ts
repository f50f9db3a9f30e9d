// IP addresses in this package's terms: families named 'ipv4' / 'ipv6' as in its public types,
// bytes as Buffers for the netlink encoders, and the kernel's AF_* numbers. Parsing and the
// canonical text form are the shared contract in @lvscare/contracts/ip; this module only adapts it.
import { canonicalIp, formatIpv4, formatIpv6, parseIpBytes } from '@lvscare/contracts/ip';

export { formatIpv4, formatIpv6 } from '@lvscare/contracts/ip';

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

/** Parses an IPv4 or IPv6 address; undefined if `text` is not one. */
export function parseAddress(text: string): ParsedAddress | undefined {
  const parsed = parseIpBytes(text);
  if (parsed === undefined) return undefined;
  const bytes = Buffer.from(parsed.bytes.buffer, parsed.bytes.byteOffset, parsed.bytes.byteLength);
  return { family: parsed.family === 4 ? 'ipv4' : 'ipv6', bytes };
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

/** Formats 4 or 16 network-order bytes. */
export function formatAddress(family: AddressFamily, buf: Uint8Array, offset = 0): string {
  return family === 'ipv4' ? formatIpv4(buf, offset) : formatIpv6(buf, offset);
}

/** Returns the canonical text of an address, or undefined if it is not one. */
export function canonicalAddress(text: string): string | undefined {
  return canonicalIp(text)?.ip;
}

/** Prefix length -> IPv4 netmask bytes (24 -> ff ff ff 00). */
export function ipv4MaskBytes(prefixLength: number): Buffer {
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(mask, 0);
  return bytes;
}
