/**
 * IP addresses as numbers, so that containment, equality and formatting do not depend on how the
 * user spelt an address (10.0.0.1 vs 10.000.0.1 is refused; 2001:DB8::1 equals 2001:db8:0::1).
 */
import { isIPv4, isIPv6 } from "node:net";

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  /** The address as an unsigned integer of 32 or 128 bits. */
  readonly value: bigint;
}

export function bitsOf(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** Parses an IPv4 or IPv6 address; returns undefined for anything else (no zones, no brackets). */
export function parseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) return parseIpv4(text);
  if (isIPv6(text) && !text.includes("%")) return parseIpv6(text);
  return undefined;
}

function parseIpv4(text: string): IpAddress | undefined {
  const parts = text.split(".");
  // node's isIPv4 accepts no leading zeros already, but Go (and so kubeadm) refuses them too:
  // keep the rule explicit here since the two must agree.
  if (parts.some((part) => part.length > 1 && part.startsWith("0"))) return undefined;
  let value = 0n;
  for (const part of parts) value = (value << 8n) | BigInt(Number(part));
  return { family: 4, value };
}

function parseIpv6(text: string): IpAddress {
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(":");
  const maybeV4 = text.slice(lastColon + 1);
  if (maybeV4.includes(".")) {
    const v4 = parseIpv4(maybeV4);
    if (v4 === undefined) throw new Error(`unreachable: node accepted ${text}`);
    tailV4 = v4.value;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left = "", right] = head.split("::");
  const leftGroups = left === "" ? [] : left.split(":");
  const rightGroups = right === undefined || right === "" ? [] : right.split(":");
  const missing = 8 - leftGroups.length - rightGroups.length;
  const groups = right === undefined ? leftGroups : [...leftGroups, ...Array<string>(missing).fill("0"), ...rightGroups];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(parseInt(group, 16));
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return { family: 6, value };
}

/** The canonical text form: dotted quad, or RFC 5952 (lower case, longest zero run as "::"). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join(".");
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((ip.value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed (RFC 5952 4.2.2)
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

export function sameIp(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.value === b.value;
}

/** `IP:port`, with brackets around IPv6 as URLs and Go's net.JoinHostPort write it. */
export function joinHostPort(ip: IpAddress, port: number): string {
  return ip.family === 6 ? `[${formatIp(ip)}]:${port}` : `${formatIp(ip)}:${port}`;
}

/** Addresses a node, a VIP or an API server can never have. */
export function specialUseReason(ip: IpAddress): string | undefined {
  if (ip.value === 0n) return "the unspecified address";
  if (ip.family === 4) {
    if (ip.value >> 24n === 127n) return "a loopback address";
    if (ip.value >> 28n === 0xen) return "a multicast address";
    if (ip.value === 0xffffffffn) return "the broadcast address";
    return undefined;
  }
  if (ip.value === 1n) return "a loopback address";
  if (ip.value >> 120n === 0xffn) return "a multicast address";
  return undefined;
}
