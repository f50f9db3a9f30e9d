/**
 * IP addresses and `IP:port` endpoints: the one parser and the one canonical form that the daemon,
 * the netlink client and the installer share, so that an address the installer writes, the daemon
 * reads and the kernel dumps back compares equal as a string.
 *
 * Parsing is strict (no leading zeros, no zone ids, no shorthand IPv4 such as "10.1", no
 * surrounding blanks) because an address we silently misread would program the wrong rule, and
 * Go (kubeadm, the kubelet) refuses the same spellings. Canonical text is the dotted quad for
 * IPv4 and RFC 5952 for IPv6, IPv4-mapped addresses with their dotted tail (RFC 5952 section 5),
 * which is also what inet_ntop, and so ipvsadm, prints.
 *
 * Three forms of one address: text, network-order bytes (netlink) and an unsigned integer (CIDR
 * math). Nothing here throws on bad input: parsers return undefined or `{ error }`, and each
 * package turns that into its own error at its edge (lvscare's UsageError names the flag, the
 * installer's InputError, ipvs-native's IpvsError).
 */

export type IpFamily = 4 | 6;

/** An address as 4 or 16 bytes in network order: the form netlink carries. */
export interface IpBytes {
  readonly family: IpFamily;
  readonly bytes: Uint8Array;
}

/** An address as an unsigned integer of 32 or 128 bits: the form containment and ranges use. */
export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

export function bitsOf(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

// ---- text -> bytes ------------------------------------------------------------------------------

const IPV4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4Into(text: string, out: Uint8Array, offset: number): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!IPV4_PART.test(part)) return false;
    out[offset + i] = Number(part);
  }
  return true;
}

function writeGroup(out: Uint8Array, at: number, group: string): void {
  const value = parseInt(group, 16);
  out[at] = value >> 8;
  out[at + 1] = value & 0xff;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  // A trailing dotted quad ("::ffff:10.0.0.1") stands for the last two groups.
  const bytes = new Uint8Array(16);
  const last = halves.length === 2 ? tail : head;
  const lastGroup = last[last.length - 1];
  const embedded = lastGroup !== undefined && lastGroup.includes(".");
  if (embedded) {
    if (!parseIpv4Into(lastGroup, bytes, 12)) return undefined;
    last.pop();
  }
  const groupCount = head.length + tail.length + (embedded ? 2 : 0);
  if (halves.length === 1 ? groupCount !== 8 : groupCount > 7) return undefined;
  for (const group of head) if (!HEX_GROUP.test(group)) return undefined;
  for (const group of tail) if (!HEX_GROUP.test(group)) return undefined;
  head.forEach((group, i) => writeGroup(bytes, i * 2, group));
  const tailStart = 16 - (tail.length * 2 + (embedded ? 4 : 0));
  tail.forEach((group, i) => writeGroup(bytes, tailStart + i * 2, group));
  return bytes;
}

/** Parses an IPv4 or IPv6 address into bytes; undefined if `text` is not exactly one. */
export function parseIpBytes(text: string): IpBytes | undefined {
  // Callers validating untyped input (JSON, JavaScript users of ipvs-native) may pass anything.
  if (typeof text !== "string") return undefined;
  if (text.includes(":")) {
    const bytes = parseIpv6(text);
    return bytes === undefined ? undefined : { family: 6, bytes };
  }
  const bytes = new Uint8Array(4);
  return parseIpv4Into(text, bytes, 0) ? { family: 4, bytes } : undefined;
}

// ---- bytes -> text: the hot path of formatting a kernel dump -----------------------------------

// Decimal text of every byte value, so formatting a dump of IPv4 addresses converts no numbers.
const OCTETS: readonly string[] = Array.from({ length: 256 }, (_, value) => String(value));

/** Dotted quad of the 4 bytes at `offset`. */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  const octet = (i: number): string => OCTETS[bytes[offset + i] as number] as string;
  return octet(0) + "." + octet(1) + "." + octet(2) + "." + octet(3);
}

/** RFC 5952 text of the 16 bytes at `offset`: lower case, the longest run (>= 2) of zero groups as "::". */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  // One pass over the groups without intermediate arrays: this runs once per address of a dump.
  const group = (i: number): number => ((bytes[offset + i * 2] as number) << 8) | (bytes[offset + i * 2 + 1] as number);
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed (RFC 5952 4.2.2)
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if (group(i) !== 0) {
      runStart = -1;
      continue;
    }
    if (runStart < 0) runStart = i;
    if (i - runStart + 1 > bestLength) {
      bestStart = runStart;
      bestLength = i - runStart + 1;
    }
  }
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 section 5), as inet_ntop prints them.
  if (bestStart === 0 && bestLength === 5 && group(5) === 0xffff) return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  let text = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += "::";
      i += bestLength - 1;
      continue;
    }
    if (text !== "" && !text.endsWith(":")) text += ":";
    text += group(i).toString(16);
  }
  return text;
}

export function formatIpBytes(ip: IpBytes): string {
  return ip.family === 4 ? formatIpv4(ip.bytes) : formatIpv6(ip.bytes);
}

/** The canonical text of an address, with its family; undefined when `text` is not one. */
export function canonicalIp(text: string): { ip: string; family: IpFamily } | undefined {
  const parsed = parseIpBytes(text);
  return parsed === undefined ? undefined : { ip: formatIpBytes(parsed), family: parsed.family };
}

/** True for 0.0.0.0 and :: (canonical text), which mean "every address" to a listening socket. */
export function isUnspecifiedIp(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::";
}

// ---- the integer form ---------------------------------------------------------------------------

export function ipFromBytes(ip: IpBytes): IpAddress {
  let value = 0n;
  for (const byte of ip.bytes) value = (value << 8n) | BigInt(byte);
  return { family: ip.family, value };
}

export function ipToBytes(ip: IpAddress): IpBytes {
  const bytes = new Uint8Array(ip.family === 4 ? 4 : 16);
  let value = ip.value;
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return { family: ip.family, bytes };
}

/** Parses an IPv4 or IPv6 address into its integer form; undefined if `text` is not one. */
export function parseIp(text: string): IpAddress | undefined {
  const parsed = parseIpBytes(text);
  return parsed === undefined ? undefined : ipFromBytes(parsed);
}

/** The canonical text form (see the file header). */
export function formatIp(ip: IpAddress): string {
  return formatIpBytes(ipToBytes(ip));
}

export function sameIp(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.value === b.value;
}

/** Why a node, a VIP or an API server can never have this address; undefined when it can. */
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

// ---- endpoints ----------------------------------------------------------------------------------

/** An IP address with a TCP port, as IPVS identifies virtual and real servers. */
export interface Endpoint {
  /** Canonical text of the address, without brackets. */
  readonly ip: string;
  readonly port: number;
  readonly family: IpFamily;
}

/** Parses a decimal TCP port 1..65535; undefined for anything else (signs, hex, blanks). */
export function parsePort(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * Parses `IP:port` or `[IPv6]:port` (blanks around it are ignored). On bad input, `error` says
 * what is wrong and quotes the input, for the caller to prefix with the flag or file it came from.
 */
export function parseEndpoint(text: string): Endpoint | { error: string } {
  const value = text.trim();
  let host: string;
  let portText: string;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close < 0 || value[close + 1] !== ":") return { error: `"${text}" is not IP:port (IPv6 is written [addr]:port)` };
    host = value.slice(1, close);
    portText = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(":");
    if (colon < 0) return { error: `"${text}" has no port (expected IP:port)` };
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(":")) return { error: `"${text}" looks like IPv6 without brackets (write [addr]:port)` };
  }
  if (portText === "") return { error: `"${text}" has no port (expected IP:port)` };
  const ip = canonicalIp(host);
  if (ip === undefined) return { error: `"${host}" in "${text}" is not a valid IP address` };
  const port = parsePort(portText);
  if (port === undefined) return { error: `port "${portText}" in "${text}" is not 1..65535` };
  return { ip: ip.ip, port, family: ip.family };
}

/** `1.2.3.4:6443` or `[2001:db8::1]:6443`: what users write, ipvsadm prints and Go's net.JoinHostPort makes. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.family === 6 ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`;
}

/** formatEndpoint for an address in integer form. */
export function joinHostPort(ip: IpAddress, port: number): string {
  return formatEndpoint({ ip: formatIp(ip), port, family: ip.family });
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.ip === b.ip && a.port === b.port && a.family === b.family;
}
