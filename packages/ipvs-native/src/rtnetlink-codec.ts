import { malformed } from './errors.ts';
import { formatAddress, type AddressFamily } from './inet.ts';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFA,
  IFF_UP,
  IFLA,
  IFLA_INFO,
  NLMSG_HDRLEN,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RTA,
  RTM,
  RTN,
  RTPROT,
  RT_SCOPE,
  RT_TABLE,
  rtmName,
} from './kernel-constants.ts';
import { PayloadWriter, parseAttrs, type Attrs, type MessageHeader, type NetlinkRequest } from './nlmsg.ts';

// rtnetlink messages (linux/rtnetlink.h, if_link.h, if_addr.h), pure: the fixed family headers
// (ifinfomsg, ifaddrmsg, rtmsg) followed by attributes.

// sizeof the fixed family headers.
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTMSG_LEN = 12;

/** An rtnetlink request: its message type (RTM_*) goes in the netlink header. */
export interface RtnlRequest extends NetlinkRequest {
  type: number;
}

function rtnlRequest(type: number, flags: number, w: PayloadWriter): RtnlRequest {
  return { type, command: rtmName(type), flags, payload: w.finish() };
}

function afOf(family: AddressFamily | undefined): number {
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
export function encodeGetLinkByName(name: string): RtnlRequest {
  return rtnlRequest(RTM.GETLINK, 0, new PayloadWriter().raw(ifinfomsg(0, 0, 0)).string(IFLA.IFNAME, name));
}

/** RTM_NEWLINK creating a link of `kind` (e.g. "dummy"); EEXIST if the name is taken. */
export function encodeNewLink(name: string, kind: string): RtnlRequest {
  const w = new PayloadWriter().raw(ifinfomsg(0, 0, 0));
  w.string(IFLA.IFNAME, name);
  const info = w.beginNest(IFLA.LINKINFO);
  w.string(IFLA_INFO.KIND, kind);
  w.endNest(info);
  return rtnlRequest(RTM.NEWLINK, NLM_F_CREATE | NLM_F_EXCL, w);
}

export function encodeDelLink(index: number): RtnlRequest {
  return rtnlRequest(RTM.DELLINK, 0, new PayloadWriter().raw(ifinfomsg(index, 0, 0)));
}

/** RTM_NEWLINK changing only the IFF_UP bit of an existing link. */
export function encodeSetLinkUp(index: number, up: boolean): RtnlRequest {
  return rtnlRequest(RTM.NEWLINK, 0, new PayloadWriter().raw(ifinfomsg(index, up ? IFF_UP : 0, IFF_UP)));
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
  const link: Link = { index: buf.readInt32LE(at + 4), name: attrs.string(IFLA.IFNAME), flags, up: (flags & IFF_UP) !== 0 };
  if (attrs.has(IFLA.LINKINFO)) {
    const info = attrs.nested(IFLA.LINKINFO);
    if (info.has(IFLA_INFO.KIND)) link.kind = info.string(IFLA_INFO.KIND);
  }
  if (attrs.has(IFLA.MTU)) link.mtu = attrs.u32(IFLA.MTU);
  if (attrs.lengthOf(IFLA.ADDRESS) > 0) link.mac = formatMac(attrs.bytes(IFLA.ADDRESS));
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
export function encodeAddress(type: typeof RTM.NEWADDR | typeof RTM.DELADDR, index: number, prefix: WirePrefix, extraFlags = 0): RtnlRequest {
  const flags = type === RTM.NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0;
  const w = new PayloadWriter().raw(ifaddrmsg(prefix.family, prefix.prefixLength, extraFlags, index));
  w.bytes(IFA.LOCAL, prefix.bytes);
  w.bytes(IFA.ADDRESS, prefix.bytes);
  if (extraFlags !== 0) w.u32(IFA.FLAGS, extraFlags);
  return rtnlRequest(type, flags, w);
}

export function encodeGetAddresses(family?: AddressFamily): RtnlRequest {
  return rtnlRequest(RTM.GETADDR, NLM_F_DUMP, new PayloadWriter().raw(ifaddrmsg(family, 0, 0, 0)));
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
  const type = family === 'ipv4' && attrs.has(IFA.LOCAL) ? IFA.LOCAL : IFA.ADDRESS;
  return {
    family,
    address: readAddress(attrs, type, family),
    prefixLength: buf[at + 1] as number,
    linkIndex: buf.readUInt32LE(at + 4),
    scope: buf[at + 3] as number,
    flags: attrs.has(IFA.FLAGS) ? attrs.u32(IFA.FLAGS) : (buf[at + 2] as number),
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
  header[4] = table < 256 ? table : RT_TABLE.UNSPEC;
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
export function encodeRoute(operation: RouteOperation, route: WireRoute): RtnlRequest {
  const { destination } = route;
  const w = new PayloadWriter();
  let type: number;
  let flags: number;
  if (operation === 'delete') {
    type = RTM.DELROUTE;
    flags = 0;
    w.raw(rtmsg(destination.family, destination.prefixLength, route.table, 0, RT_SCOPE.NOWHERE, 0));
  } else {
    type = RTM.NEWROUTE;
    flags = NLM_F_CREATE | (operation === 'add' ? NLM_F_EXCL : NLM_F_REPLACE);
    // Without a gateway the destination is on-link (scope link), as `ip route add ... dev X` does.
    const scope = route.gateway === undefined ? RT_SCOPE.LINK : RT_SCOPE.UNIVERSE;
    w.raw(rtmsg(destination.family, destination.prefixLength, route.table, RTPROT.BOOT, scope, RTN.UNICAST));
  }
  w.u32(RTA.TABLE, route.table);
  w.bytes(RTA.DST, destination.bytes);
  if (route.gateway !== undefined) w.bytes(RTA.GATEWAY, route.gateway);
  if (route.metric !== undefined) w.u32(RTA.PRIORITY, route.metric);
  if (route.linkIndex !== undefined) w.u32(RTA.OIF, route.linkIndex);
  if (route.source !== undefined) w.bytes(RTA.PREFSRC, route.source);
  return rtnlRequest(type, flags, w);
}

export function encodeGetRoutes(family?: AddressFamily): RtnlRequest {
  return rtnlRequest(RTM.GETROUTE, NLM_F_DUMP, new PayloadWriter().raw(rtmsg(family, 0, 0, 0, 0, 0)));
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
  const destination = attrs.has(RTA.DST) ? readAddress(attrs, RTA.DST, family) : family === 'ipv4' ? '0.0.0.0' : '::';
  const route: Route = {
    family,
    destination: `${destination}/${dstLen}`,
    metric: attrs.has(RTA.PRIORITY) ? attrs.u32(RTA.PRIORITY) : 0,
    table: attrs.has(RTA.TABLE) ? attrs.u32(RTA.TABLE) : (buf[at + 4] as number),
    protocol: buf[at + 5] as number,
    scope: buf[at + 6] as number,
    type: buf[at + 7] as number,
  };
  if (attrs.has(RTA.GATEWAY)) route.gateway = readAddress(attrs, RTA.GATEWAY, family);
  if (attrs.has(RTA.OIF)) route.linkIndex = attrs.u32(RTA.OIF);
  if (attrs.has(RTA.PREFSRC)) route.source = readAddress(attrs, RTA.PREFSRC, family);
  return route;
}
