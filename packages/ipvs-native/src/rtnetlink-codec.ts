import { malformed } from './errors.ts';
import { AF_INET, AF_INET6, formatAddress, type AddressFamily } from './inet.ts';
import {
  MessageWriter,
  NLMSG_HDRLEN,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  parseAttrs,
  type Attrs,
  type MessageHeader,
} from './nlmsg.ts';

// rtnetlink messages (linux/rtnetlink.h, if_link.h, if_addr.h), pure: the fixed family headers
// (ifinfomsg, ifaddrmsg, rtmsg) followed by attributes.

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

export const rtmNames: Readonly<Record<number, string>> = {
  16: 'RTM_NEWLINK',
  17: 'RTM_DELLINK',
  18: 'RTM_GETLINK',
  20: 'RTM_NEWADDR',
  21: 'RTM_DELADDR',
  22: 'RTM_GETADDR',
  24: 'RTM_NEWROUTE',
  25: 'RTM_DELROUTE',
  26: 'RTM_GETROUTE',
};

const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTMSG_LEN = 12;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
export const IFA_F_NODAD = 0x02;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;

export const IFF_UP = 0x1;
export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_NOWHERE = 255;
export const RTN_UNICAST = 1;

const AF_UNSPEC = 0;

export function afOf(family: AddressFamily | undefined): number {
  if (family === undefined) return AF_UNSPEC;
  return family === 'ipv4' ? AF_INET : AF_INET6;
}

// ---------------------------------------------------------------------------------------------
// Links

export interface Link {
  index: number;
  name: string;
  /** IFF_* flags. */
  flags: number;
  up: boolean;
  /** Link kind from IFLA_INFO_KIND ("dummy", "veth", ...); absent for plain devices such as lo. */
  kind?: string;
  mtu?: number;
  /** Hardware address, "aa:bb:cc:dd:ee:ff", when the device has one. */
  mac?: string;
}

function ifinfomsg(index: number, flags: number, change: number): Uint8Array {
  const header = Buffer.alloc(IFINFOMSG_LEN);
  header.writeInt32LE(index, 4);
  header.writeUInt32LE(flags >>> 0, 8);
  header.writeUInt32LE(change >>> 0, 12);
  return header;
}

/** RTM_GETLINK for one link by name (answered with RTM_NEWLINK, or ENODEV). */
export function encodeGetLinkByName(name: string): Buffer {
  return new MessageWriter(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK).raw(ifinfomsg(0, 0, 0)).string(IFLA_IFNAME, name).finish();
}

/** RTM_NEWLINK creating a link of `kind` (e.g. "dummy"); EEXIST if the name is taken. */
export function encodeNewLink(name: string, kind: string): Buffer {
  const w = new MessageWriter(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).raw(ifinfomsg(0, 0, 0));
  w.string(IFLA_IFNAME, name);
  const info = w.beginNest(IFLA_LINKINFO);
  w.string(IFLA_INFO_KIND, kind);
  w.endNest(info);
  return w.finish();
}

export function encodeDelLink(index: number): Buffer {
  return new MessageWriter(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK).raw(ifinfomsg(index, 0, 0)).finish();
}

/** RTM_NEWLINK changing only the IFF_UP bit of an existing link. */
export function encodeSetLinkUp(index: number, up: boolean): Buffer {
  return new MessageWriter(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK).raw(ifinfomsg(index, up ? IFF_UP : 0, IFF_UP)).finish();
}

function fixedHeader(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>, size: number, context: string): number {
  if (header.length < NLMSG_HDRLEN + size || header.offset + header.length > buf.length) {
    throw malformed(context, `message of ${header.length} bytes is too short for its ${size}-byte family header`);
  }
  return header.offset + NLMSG_HDRLEN;
}

function formatMac(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function decodeLink(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>): Link {
  const at = fixedHeader(buf, header, IFINFOMSG_LEN, 'RTM_NEWLINK');
  const flags = buf.readUInt32LE(at + 8);
  const attrs = parseAttrs(buf, at + IFINFOMSG_LEN, header.offset + header.length, 'RTM_NEWLINK');
  const link: Link = { index: buf.readInt32LE(at + 4), name: attrs.string(IFLA_IFNAME), flags, up: (flags & IFF_UP) !== 0 };
  if (attrs.has(IFLA_LINKINFO)) {
    const info = attrs.nested(IFLA_LINKINFO);
    if (info.has(IFLA_INFO_KIND)) link.kind = info.string(IFLA_INFO_KIND);
  }
  if (attrs.has(IFLA_MTU)) link.mtu = attrs.u32(IFLA_MTU);
  if (attrs.lengthOf(IFLA_ADDRESS) > 0) link.mac = formatMac(attrs.bytes(IFLA_ADDRESS));
  return link;
}

// ---------------------------------------------------------------------------------------------
// Addresses

export interface LinkAddress {
  family: AddressFamily;
  address: string;
  prefixLength: number;
  linkIndex: number;
  scope: number;
  /** IFA_F_* flags (IFA_FLAGS when present, it has the bits beyond 8). */
  flags: number;
}

export interface WirePrefix {
  family: AddressFamily;
  bytes: Buffer;
  prefixLength: number;
}

function ifaddrmsg(family: AddressFamily | undefined, prefixLength: number, flags: number, index: number): Uint8Array {
  const header = Buffer.alloc(IFADDRMSG_LEN);
  header[0] = afOf(family);
  header[1] = prefixLength;
  header[2] = flags & 0xff;
  header.writeUInt32LE(index, 4);
  return header;
}

/** RTM_NEWADDR/RTM_DELADDR with both IFA_LOCAL and IFA_ADDRESS set to the address, as `ip addr` does. */
export function encodeAddress(type: typeof RTM_NEWADDR | typeof RTM_DELADDR, index: number, prefix: WirePrefix, extraFlags = 0): Buffer {
  const flags = type === RTM_NEWADDR ? NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL : NLM_F_REQUEST | NLM_F_ACK;
  const w = new MessageWriter(type, flags).raw(ifaddrmsg(prefix.family, prefix.prefixLength, extraFlags, index));
  w.bytes(IFA_LOCAL, prefix.bytes);
  w.bytes(IFA_ADDRESS, prefix.bytes);
  if (extraFlags !== 0) w.u32(IFA_FLAGS, extraFlags);
  return w.finish();
}

export function encodeGetAddresses(family?: AddressFamily): Buffer {
  return new MessageWriter(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP).raw(ifaddrmsg(family, 0, 0, 0)).finish();
}

function familyFromAf(af: number, context: string): AddressFamily | undefined {
  if (af === AF_INET) return 'ipv4';
  if (af === AF_INET6) return 'ipv6';
  if (af === AF_UNSPEC) return undefined;
  throw malformed(context, `unexpected address family ${af}`);
}

function readAddress(attrs: Attrs, type: number, family: AddressFamily): string {
  const bytes = attrs.bytes(type);
  const need = family === 'ipv4' ? 4 : 16;
  if (bytes.length < need) throw malformed(attrs.context, `address attribute ${type} has ${bytes.length} bytes, needs ${need}`);
  return formatAddress(family, bytes);
}

/** Decodes RTM_NEWADDR; undefined for families other than IPv4/IPv6. */
export function decodeAddress(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>): LinkAddress | undefined {
  const at = fixedHeader(buf, header, IFADDRMSG_LEN, 'RTM_NEWADDR');
  const family = familyFromAf(buf[at] as number, 'RTM_NEWADDR');
  if (family === undefined) return undefined;
  const attrs = parseAttrs(buf, at + IFADDRMSG_LEN, header.offset + header.length, 'RTM_NEWADDR');
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
  const type = family === 'ipv4' && attrs.has(IFA_LOCAL) ? IFA_LOCAL : IFA_ADDRESS;
  return {
    family,
    address: readAddress(attrs, type, family),
    prefixLength: buf[at + 1] as number,
    linkIndex: buf.readUInt32LE(at + 4),
    scope: buf[at + 3] as number,
    flags: attrs.has(IFA_FLAGS) ? attrs.u32(IFA_FLAGS) : (buf[at + 2] as number),
  };
}

// ---------------------------------------------------------------------------------------------
// Routes

export interface Route {
  family: AddressFamily;
  /** "10.103.97.2/32", "::/0" */
  destination: string;
  gateway?: string;
  /** RTA_PRIORITY; 0 when absent. */
  metric: number;
  table: number;
  linkIndex?: number;
  source?: string;
  protocol: number;
  scope: number;
  type: number;
}

export interface WireRoute {
  destination: WirePrefix;
  gateway?: Buffer;
  metric?: number;
  table: number;
  linkIndex?: number;
  source?: Buffer;
}

function rtmsg(family: AddressFamily | undefined, dstLen: number, table: number, protocol: number, scope: number, type: number): Uint8Array {
  const header = Buffer.alloc(RTMSG_LEN);
  header[0] = afOf(family);
  header[1] = dstLen;
  header[4] = table < 256 ? table : RT_TABLE_UNSPEC;
  header[5] = protocol;
  header[6] = scope;
  header[7] = type;
  return header;
}

export type RouteOperation = 'add' | 'replace' | 'delete';

/**
 * RTM_NEWROUTE (add: fails with EEXIST; replace: creates or overwrites) or RTM_DELROUTE. A
 * delete matches on destination and table plus whatever else is given (gateway, metric, link).
 */
export function encodeRoute(operation: RouteOperation, route: WireRoute): Buffer {
  const { destination } = route;
  let w: MessageWriter;
  if (operation === 'delete') {
    w = new MessageWriter(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK);
    w.raw(rtmsg(destination.family, destination.prefixLength, route.table, 0, RT_SCOPE_NOWHERE, 0));
  } else {
    const flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (operation === 'add' ? NLM_F_EXCL : NLM_F_REPLACE);
    // Without a gateway the destination is on-link (scope link), as `ip route add ... dev X` does.
    const scope = route.gateway === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
    w = new MessageWriter(RTM_NEWROUTE, flags);
    w.raw(rtmsg(destination.family, destination.prefixLength, route.table, RTPROT_BOOT, scope, RTN_UNICAST));
  }
  w.u32(RTA_TABLE, route.table);
  w.bytes(RTA_DST, destination.bytes);
  if (route.gateway !== undefined) w.bytes(RTA_GATEWAY, route.gateway);
  if (route.metric !== undefined) w.u32(RTA_PRIORITY, route.metric);
  if (route.linkIndex !== undefined) w.u32(RTA_OIF, route.linkIndex);
  if (route.source !== undefined) w.bytes(RTA_PREFSRC, route.source);
  return w.finish();
}

export function encodeGetRoutes(family?: AddressFamily): Buffer {
  return new MessageWriter(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP).raw(rtmsg(family, 0, 0, 0, 0, 0)).finish();
}

/** Decodes RTM_NEWROUTE; undefined for families other than IPv4/IPv6. */
export function decodeRoute(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>): Route | undefined {
  const at = fixedHeader(buf, header, RTMSG_LEN, 'RTM_NEWROUTE');
  const family = familyFromAf(buf[at] as number, 'RTM_NEWROUTE');
  if (family === undefined) return undefined;
  const attrs = parseAttrs(buf, at + RTMSG_LEN, header.offset + header.length, 'RTM_NEWROUTE');
  const dstLen = buf[at + 1] as number;
  const max = family === 'ipv4' ? 32 : 128;
  if (dstLen > max) throw malformed('RTM_NEWROUTE', `prefix length ${dstLen} for ${family}`);
  const destination = attrs.has(RTA_DST) ? readAddress(attrs, RTA_DST, family) : family === 'ipv4' ? '0.0.0.0' : '::';
  const route: Route = {
    family,
    destination: `${destination}/${dstLen}`,
    metric: attrs.has(RTA_PRIORITY) ? attrs.u32(RTA_PRIORITY) : 0,
    table: attrs.has(RTA_TABLE) ? attrs.u32(RTA_TABLE) : (buf[at + 4] as number),
    protocol: buf[at + 5] as number,
    scope: buf[at + 6] as number,
    type: buf[at + 7] as number,
  };
  if (attrs.has(RTA_GATEWAY)) route.gateway = readAddress(attrs, RTA_GATEWAY, family);
  if (attrs.has(RTA_OIF)) route.linkIndex = attrs.u32(RTA_OIF);
  if (attrs.has(RTA_PREFSRC)) route.source = readAddress(attrs, RTA_PREFSRC, family);
  return route;
}
