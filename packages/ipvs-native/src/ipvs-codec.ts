import { malformed } from './errors.ts';
import { genlPayload } from './genl.ts';
import { AF_INET, AF_INET6, formatIpv4, formatIpv6, type AddressFamily } from './inet.ts';
import { forwardNumbers, isFullService, protocolNumbers } from './ipvs-wire.ts';
import type { WireDest, WireDestKey, WireService, WireServiceKey } from './ipvs-wire.ts';
import {
  GENL_HDRLEN,
  IPVS_CMD,
  IPVS_CMD_ATTR,
  IPVS_DEST_ATTR,
  IPVS_GENL_VERSION,
  IPVS_INFO_ATTR,
  IPVS_STATS_ATTR,
  IPVS_SVC_ATTR,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_SVC_F_PERSISTENT,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  NLMSG_HDRLEN,
  NLM_F_ACK,
  NLM_F_DUMP,
  ipvsCommandName,
} from './kernel-constants.ts';
import {
  Attrs,
  align4,
  alignedMessage,
  isWordAligned,
  attrLength,
  wordsOf,
  type MessageHeader,
  type NetlinkRequest,
  type PayloadWriter,
} from './nlmsg.ts';
import type { Destination, ForwardMethod, IpvsInfo, IpvsTimeouts, Protocol, Service, Stats } from './types.ts';

// The IPVS generic netlink protocol (include/uapi/linux/ip_vs.h), pure: bytes in, bytes out.
// Requests are encoded like moby/ipvs (4-byte IPv4 addresses, nests without NLA_F_NESTED, the
// full service nest where moby sends one). Replies are decoded from the kernel's messages, and
// requests in moby's or libipvs's (ipvsadm's) layout decode too.

/** The FLAGS attribute is {flags, mask}; we always set every bit of the mask. */
const FLAGS_MASK_ALL = 0xffffffff;

/** What a do request asks beyond the socket's REQUEST|ACK: nothing. */
const DO_FLAGS = 0;
/** moby asks for an ACK on dumps too; the kernel ends a dump with NLMSG_DONE either way. */
const DUMP_FLAGS = NLM_F_DUMP | NLM_F_ACK;

function start(cmd: number): PayloadWriter {
  return genlPayload(cmd, IPVS_GENL_VERSION);
}

function request(cmd: number, flags: number, w: PayloadWriter): NetlinkRequest {
  return { command: ipvsCommandName(cmd), flags, payload: w.finish() };
}

function writeServiceNest(w: PayloadWriter, service: WireServiceKey): void {
  const nest = w.beginNest(IPVS_CMD_ATTR.SERVICE);
  w.u16(IPVS_SVC_ATTR.AF, service.af);
  if (service.fwmark !== undefined) {
    w.u32(IPVS_SVC_ATTR.FWMARK, service.fwmark);
  } else {
    w.u16(IPVS_SVC_ATTR.PROTOCOL, service.protocol ?? 0);
    w.bytes(IPVS_SVC_ATTR.ADDR, service.addr ?? Buffer.alloc(4));
    w.be16(IPVS_SVC_ATTR.PORT, service.port ?? 0);
  }
  if (isFullService(service)) {
    w.string(IPVS_SVC_ATTR.SCHED_NAME, service.scheduler);
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(service.flags >>> 0, 0);
    flags.writeUInt32LE(FLAGS_MASK_ALL, 4);
    w.bytes(IPVS_SVC_ATTR.FLAGS, flags);
    w.u32(IPVS_SVC_ATTR.TIMEOUT, service.timeout);
    w.u32(IPVS_SVC_ATTR.NETMASK, service.netmask);
  }
  w.endNest(nest);
}

function writeDestNest(w: PayloadWriter, service: WireServiceKey, dest: WireDestKey | WireDest): void {
  const nest = w.beginNest(IPVS_CMD_ATTR.DEST);
  // moby leaves ADDR_FAMILY out (the kernel then assumes the service's family); we add it only
  // when the families differ, which moby cannot express at all.
  if (dest.af !== service.af) w.u16(IPVS_DEST_ATTR.ADDR_FAMILY, dest.af);
  w.bytes(IPVS_DEST_ATTR.ADDR, dest.addr);
  w.be16(IPVS_DEST_ATTR.PORT, dest.port);
  if ('forward' in dest) {
    w.u32(IPVS_DEST_ATTR.FWD_METHOD, dest.forward);
    w.u32(IPVS_DEST_ATTR.WEIGHT, dest.weight);
    w.u32(IPVS_DEST_ATTR.U_THRESH, dest.upperThreshold);
    w.u32(IPVS_DEST_ATTR.L_THRESH, dest.lowerThreshold);
  }
  w.endNest(nest);
}

function serviceCommand(cmd: number, flags: number, service: WireServiceKey): NetlinkRequest {
  const w = start(cmd);
  writeServiceNest(w, service);
  return request(cmd, flags, w);
}

function destCommand(cmd: number, service: WireServiceKey, dest: WireDestKey | WireDest): NetlinkRequest {
  const w = start(cmd);
  writeServiceNest(w, service);
  writeDestNest(w, service, dest);
  return request(cmd, DO_FLAGS, w);
}

export function encodeNewService(service: WireService): NetlinkRequest {
  return serviceCommand(IPVS_CMD.NEW_SERVICE, DO_FLAGS, service);
}

export function encodeSetService(service: WireService): NetlinkRequest {
  return serviceCommand(IPVS_CMD.SET_SERVICE, DO_FLAGS, service);
}

export function encodeDelService(service: WireServiceKey): NetlinkRequest {
  return serviceCommand(IPVS_CMD.DEL_SERVICE, DO_FLAGS, service);
}

/** Non-dump GET_SERVICE: one service by identity (ESRCH if missing). */
export function encodeGetService(service: WireServiceKey): NetlinkRequest {
  return serviceCommand(IPVS_CMD.GET_SERVICE, DO_FLAGS, service);
}

/** GET_SERVICE dump of every service; moby sends an empty SERVICE nest. */
export function encodeGetServices(): NetlinkRequest {
  const w = start(IPVS_CMD.GET_SERVICE);
  w.endNest(w.beginNest(IPVS_CMD_ATTR.SERVICE));
  return request(IPVS_CMD.GET_SERVICE, DUMP_FLAGS, w);
}

export function encodeNewDest(service: WireServiceKey, dest: WireDest): NetlinkRequest {
  return destCommand(IPVS_CMD.NEW_DEST, service, dest);
}

export function encodeSetDest(service: WireServiceKey, dest: WireDest): NetlinkRequest {
  return destCommand(IPVS_CMD.SET_DEST, service, dest);
}

export function encodeDelDest(service: WireServiceKey, dest: WireDestKey): NetlinkRequest {
  return destCommand(IPVS_CMD.DEL_DEST, service, dest);
}

/** GET_DEST dump of one service's destinations (the kernel has no non-dump GET_DEST). */
export function encodeGetDests(service: WireServiceKey): NetlinkRequest {
  return serviceCommand(IPVS_CMD.GET_DEST, DUMP_FLAGS, service);
}

export function encodeGetInfo(): NetlinkRequest {
  return request(IPVS_CMD.GET_INFO, DO_FLAGS, start(IPVS_CMD.GET_INFO));
}

export function encodeGetConfig(): NetlinkRequest {
  return request(IPVS_CMD.GET_CONFIG, DO_FLAGS, start(IPVS_CMD.GET_CONFIG));
}

/** SET_CONFIG with only the given timeouts (an absent attribute keeps the kernel's value). */
export function encodeSetConfig(timeouts: Partial<IpvsTimeouts>): NetlinkRequest {
  const w = start(IPVS_CMD.SET_CONFIG);
  if (timeouts.tcp !== undefined) w.u32(IPVS_CMD_ATTR.TIMEOUT_TCP, timeouts.tcp);
  if (timeouts.tcpFin !== undefined) w.u32(IPVS_CMD_ATTR.TIMEOUT_TCP_FIN, timeouts.tcpFin);
  if (timeouts.udp !== undefined) w.u32(IPVS_CMD_ATTR.TIMEOUT_UDP, timeouts.udp);
  return request(IPVS_CMD.SET_CONFIG, DO_FLAGS, w);
}

/** ZERO the counters of one service (and its destinations), or of everything without a key. */
export function encodeZero(service: WireServiceKey | undefined): NetlinkRequest {
  const w = start(IPVS_CMD.ZERO);
  if (service !== undefined) writeServiceNest(w, service);
  return request(IPVS_CMD.ZERO, DO_FLAGS, w);
}

export function encodeFlush(): NetlinkRequest {
  return request(IPVS_CMD.FLUSH, DO_FLAGS, start(IPVS_CMD.FLUSH));
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** The inverse of a name -> number table, indexed by number (small numbers: an array lookup). */
function byNumber<T extends string>(numbers: Readonly<Record<T, number>>): readonly (T | undefined)[] {
  const names: (T | undefined)[] = [];
  for (const [name, value] of Object.entries(numbers) as [T, number][]) names[value] = name;
  return names;
}

const protocolNames = byNumber<Protocol>(protocolNumbers);
const forwardNames = byNumber<ForwardMethod>(forwardNumbers);

function familyFromAf(af: number, context: string): AddressFamily {
  if (af === AF_INET) return 'ipv4';
  if (af === AF_INET6) return 'ipv6';
  throw malformed(context, `unsupported address family ${af}`);
}

/** An address attribute: IPv4 in the first 4 bytes (replies carry 16), IPv6 needs all 16. */
function readAddress(attrs: Attrs, type: number, family: AddressFamily): string {
  return family === 'ipv4' ? formatIpv4(attrs.buf, attrs.offsetOf(type, 4)) : formatIpv6(attrs.buf, attrs.offsetOf(type, 16));
}

function u32Or0(attrs: Attrs, type: number): number {
  return attrs.has(type) ? attrs.u32(type) : 0;
}

// Decoding runs synchronously and never re-enters itself, so one table per nesting level can be
// reused for every message of a dump instead of allocating tables per message.
const topTable = new Attrs(IPVS_CMD_ATTR.TIMEOUT_UDP);
const serviceTable = new Attrs(IPVS_SVC_ATTR.STATS64);

function needBytes(length: number, size: number, type: number, context: string): void {
  if (length < size) throw malformed(context, `attribute ${type} has ${length} bytes, needs ${size}`);
}

// The attribute types the dump path switches on, as this module's own constants: V8 folds
// those into the switch, but not a property load through an imported object (a 10,000-destination
// dump decoded about 20% slower that way, measured side by side).
const {
  ADDR: DEST_ADDR,
  PORT: DEST_PORT,
  FWD_METHOD: DEST_FWD_METHOD,
  WEIGHT: DEST_WEIGHT,
  U_THRESH: DEST_U_THRESH,
  L_THRESH: DEST_L_THRESH,
  ACTIVE_CONNS: DEST_ACTIVE_CONNS,
  INACT_CONNS: DEST_INACT_CONNS,
  PERSIST_CONNS: DEST_PERSIST_CONNS,
  STATS: DEST_STATS,
  ADDR_FAMILY: DEST_ADDR_FAMILY,
  STATS64: DEST_STATS64,
} = IPVS_DEST_ATTR;
const {
  CONNS: STATS_CONNS,
  INPKTS: STATS_INPKTS,
  OUTPKTS: STATS_OUTPKTS,
  INBYTES: STATS_INBYTES,
  OUTBYTES: STATS_OUTBYTES,
  CPS: STATS_CPS,
  INPPS: STATS_INPPS,
  OUTPPS: STATS_OUTPPS,
  INBPS: STATS_INBPS,
  OUTBPS: STATS_OUTBPS,
} = IPVS_STATS_ATTR;
const { DEST: CMD_ATTR_DEST } = IPVS_CMD_ATTR;

/**
 * Decodes a STATS (u32 counters, u64 byte counts) or STATS64 (all u64) nest in one pass over
 * 32-bit words: a dump of 10,000 destinations decodes 10,000 of these. `start` is 4-aligned.
 */
function decodeStatsNest(buf: Buffer, start: number, end: number, all64: boolean, context: string): Stats {
  const stats: Stats = { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0, cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };
  const words = wordsOf(buf);
  for (let off = start; off + NLA_HDRLEN <= end; ) {
    const head = words[off >> 2] as number;
    const len = head & 0xffff;
    if (len < NLA_HDRLEN || off + len > end) attrLength(buf, off, end, context); // throws the typed error
    const type = (head >>> 16) & NLA_TYPE_MASK;
    // IPVS_STATS_ATTR_PAD (11) and anything newer fall outside this range and are skipped.
    if (type >= STATS_CONNS && type <= STATS_OUTBPS) {
      const wide = all64 || type === STATS_INBYTES || type === STATS_OUTBYTES;
      needBytes(len - NLA_HDRLEN, wide ? 8 : 4, type, context);
      const w = (off >> 2) + 1;
      const value = wide ? (words[w] as number) + (words[w + 1] as number) * 0x1_0000_0000 : (words[w] as number);
      switch (type) {
        case STATS_CONNS: stats.conns = value; break;
        case STATS_INPKTS: stats.inPackets = value; break;
        case STATS_OUTPKTS: stats.outPackets = value; break;
        case STATS_INBYTES: stats.inBytes = value; break;
        case STATS_OUTBYTES: stats.outBytes = value; break;
        case STATS_CPS: stats.cps = value; break;
        case STATS_INPPS: stats.inPps = value; break;
        case STATS_OUTPPS: stats.outPps = value; break;
        case STATS_INBPS: stats.inBps = value; break;
        default: stats.outBps = value;
      }
    }
    off += align4(len);
  }
  return stats;
}

/** STATS64 when present, else STATS, else zeros. */
function decodeStats(parent: Attrs, stats32Type: number, stats64Type: number): Stats {
  const all64 = parent.has(stats64Type);
  const type = all64 ? stats64Type : stats32Type;
  const at = parent.has(type) ? parent.offsetOf(type, 0) : 0;
  return decodeStatsNest(parent.buf, at, at + Math.max(0, parent.lengthOf(type)), all64, parent.context);
}

function netmaskText(family: AddressFamily, attrs: Attrs): string | number {
  if (family === 'ipv6') return attrs.has(IPVS_SVC_ATTR.NETMASK) ? attrs.u32(IPVS_SVC_ATTR.NETMASK) : 128;
  if (!attrs.has(IPVS_SVC_ATTR.NETMASK)) return '255.255.255.255';
  return formatIpv4(attrs.buf, attrs.offsetOf(IPVS_SVC_ATTR.NETMASK, 4));
}

/**
 * Decodes the attributes of an IPVS_CMD_ATTR_SERVICE nest. Identity attributes are required;
 * the rest default to what an unset field means (no flags, no timeout, zero counters).
 */
export function decodeService(attrs: Attrs): Service {
  const family = familyFromAf(attrs.u16(IPVS_SVC_ATTR.AF), attrs.context);
  const flags = attrs.has(IPVS_SVC_ATTR.FLAGS) ? attrs.u32(IPVS_SVC_ATTR.FLAGS) : 0;
  const state = {
    family,
    scheduler: attrs.has(IPVS_SVC_ATTR.SCHED_NAME) ? attrs.string(IPVS_SVC_ATTR.SCHED_NAME) : '',
    persistent: (flags & IP_VS_SVC_F_PERSISTENT) !== 0,
    timeout: u32Or0(attrs, IPVS_SVC_ATTR.TIMEOUT),
    netmask: netmaskText(family, attrs),
    flags,
    ...(attrs.has(IPVS_SVC_ATTR.PE_NAME) ? { persistenceEngine: attrs.string(IPVS_SVC_ATTR.PE_NAME) } : {}),
    stats: decodeStats(attrs, IPVS_SVC_ATTR.STATS, IPVS_SVC_ATTR.STATS64),
  };
  if (attrs.has(IPVS_SVC_ATTR.FWMARK) && attrs.u32(IPVS_SVC_ATTR.FWMARK) !== 0) {
    return { fwmark: attrs.u32(IPVS_SVC_ATTR.FWMARK), ...state };
  }
  const protocolNumber = attrs.u16(IPVS_SVC_ATTR.PROTOCOL);
  const protocol = protocolNames[protocolNumber];
  if (protocol === undefined) throw malformed(attrs.context, `unsupported service protocol ${protocolNumber}`);
  return { protocol, address: readAddress(attrs, IPVS_SVC_ATTR.ADDR, family), port: attrs.be16(IPVS_SVC_ATTR.PORT), ...state };
}

/**
 * Decodes the IPVS_CMD_ATTR_DEST nest `buf[start, end)` in one pass over 32-bit words (this is
 * the hot path of listing 10,000 destinations); `buf` and `start` must be 4-byte aligned, as the
 * message entry points ensure. `serviceFamily` is used when the message has no ADDR_FAMILY
 * (kernels before 3.18, moby-style requests); failing that, a 4-byte address is IPv4.
 */
export function decodeDestination(buf: Buffer, start: number, end: number, context: string, serviceFamily?: AddressFamily): Destination {
  const words = wordsOf(buf);
  let addrAt = -1;
  let addrLength = 0;
  let port = -1;
  let af = 0;
  let forwardNumber = 0;
  let weight = 0;
  let upperThreshold = 0;
  let lowerThreshold = 0;
  let activeConns = 0;
  let inactiveConns = 0;
  let persistConns = 0;
  // An absent nest is an empty range: all counters 0.
  let stats32At = 0;
  let stats32End = 0;
  let stats64At = -1;
  let stats64End = 0;
  for (let off = start; off + NLA_HDRLEN <= end; ) {
    const head = words[off >> 2] as number;
    const len = head & 0xffff;
    if (len < NLA_HDRLEN || off + len > end) attrLength(buf, off, end, context); // throws the typed error
    const at = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    const type = (head >>> 16) & NLA_TYPE_MASK;
    switch (type) {
      case DEST_ADDR:
        addrAt = at;
        addrLength = n;
        break;
      case DEST_PORT:
        needBytes(n, 2, type, context);
        port = ((buf[at] as number) << 8) | (buf[at + 1] as number);
        break;
      case DEST_ADDR_FAMILY:
        needBytes(n, 2, type, context);
        af = (words[at >> 2] as number) & 0xffff;
        break;
      case DEST_STATS:
        stats32At = at;
        stats32End = at + n;
        break;
      case DEST_STATS64:
        stats64At = at;
        stats64End = at + n;
        break;
      case DEST_FWD_METHOD:
      case DEST_WEIGHT:
      case DEST_U_THRESH:
      case DEST_L_THRESH:
      case DEST_ACTIVE_CONNS:
      case DEST_INACT_CONNS:
      case DEST_PERSIST_CONNS: {
        needBytes(n, 4, type, context);
        const value = words[at >> 2] as number;
        if (type === DEST_FWD_METHOD) forwardNumber = value & IP_VS_CONN_F_FWD_MASK;
        else if (type === DEST_WEIGHT) weight = value;
        else if (type === DEST_U_THRESH) upperThreshold = value;
        else if (type === DEST_L_THRESH) lowerThreshold = value;
        else if (type === DEST_ACTIVE_CONNS) activeConns = value;
        else if (type === DEST_INACT_CONNS) inactiveConns = value;
        else persistConns = value;
        break;
      }
      default: // TUN_* and attributes newer than this decoder
    }
    off += align4(len);
  }
  if (addrAt < 0) throw malformed(context, `attribute ${DEST_ADDR} is missing`);
  if (port < 0) throw malformed(context, `attribute ${DEST_PORT} is missing`);
  let family: AddressFamily;
  if (af !== 0) family = familyFromAf(af, context);
  else if (serviceFamily !== undefined) family = serviceFamily;
  else family = addrLength === 4 ? 'ipv4' : 'ipv6';
  needBytes(addrLength, family === 'ipv4' ? 4 : 16, DEST_ADDR, context);
  const forward = forwardNames[forwardNumber];
  if (forward === undefined) throw malformed(context, `unsupported forwarding method ${forwardNumber}`);
  const all64 = stats64At >= 0;
  return {
    address: family === 'ipv4' ? formatIpv4(buf, addrAt) : formatIpv6(buf, addrAt),
    port,
    family,
    weight,
    forward,
    upperThreshold,
    lowerThreshold,
    activeConns,
    inactiveConns,
    persistConns,
    stats: all64 ? decodeStatsNest(buf, stats64At, stats64End, true, context) : decodeStatsNest(buf, stats32At, stats32End, false, context),
  };
}

/** Checks that the message lies inside `buf` and has room for both headers; returns its end. */
function checkGenlHeaders(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>, context: string): number {
  const end = header.offset + header.length;
  if (header.offset < 0 || end > buf.length || header.length < NLMSG_HDRLEN + GENL_HDRLEN) {
    throw malformed(context, `message of ${header.length} bytes is too short for the netlink and genetlink headers`);
  }
  return end;
}

/**
 * Checks the netlink and genetlink headers and parses the top-level attributes into `into`
 * (by default a table shared by the decoders of this module). Returns the genl command.
 */
export function genlAttrs(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>, context: string, into: Attrs = topTable): number {
  const end = checkGenlHeaders(buf, header, context);
  const at = header.offset + NLMSG_HDRLEN;
  into.fill(buf, at + GENL_HDRLEN, end, context);
  return buf[at] as number;
}

function expectCommand(cmd: number, expected: number, context: string): void {
  if (cmd !== expected) throw malformed(context, `expected genl command ${expected}, got ${cmd}`);
}

/** A GET_SERVICE reply or dump part (cmd NEW_SERVICE). */
export function decodeServiceMessage(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>): Service {
  checkGenlHeaders(buf, header, 'IPVS service');
  if (!isWordAligned(buf, header.offset)) {
    const aligned = alignedMessage(buf, header);
    return decodeServiceMessage(aligned.buf, aligned.header);
  }
  expectCommand(genlAttrs(buf, header, 'IPVS service'), IPVS_CMD.NEW_SERVICE, 'IPVS service');
  return decodeService(topTable.nested(IPVS_CMD_ATTR.SERVICE, serviceTable));
}

/** A GET_DEST dump part (cmd NEW_DEST): finds the DEST nest without building a table. */
export function decodeDestinationMessage(
  buf: Buffer,
  header: Pick<MessageHeader, 'offset' | 'length'>,
  serviceFamily?: AddressFamily,
): Destination {
  const context = 'IPVS destination';
  const end = checkGenlHeaders(buf, header, context);
  if (!isWordAligned(buf, header.offset)) {
    const aligned = alignedMessage(buf, header);
    return decodeDestinationMessage(aligned.buf, aligned.header, serviceFamily);
  }
  expectCommand(buf[header.offset + NLMSG_HDRLEN] as number, IPVS_CMD.NEW_DEST, context);
  const words = wordsOf(buf);
  let nestAt = -1;
  let nestEnd = 0;
  for (let off = header.offset + NLMSG_HDRLEN + GENL_HDRLEN; off + NLA_HDRLEN <= end; ) {
    const head = words[off >> 2] as number;
    const len = head & 0xffff;
    if (len < NLA_HDRLEN || off + len > end) attrLength(buf, off, end, context); // throws the typed error
    if (((head >>> 16) & NLA_TYPE_MASK) === CMD_ATTR_DEST) {
      nestAt = off + NLA_HDRLEN;
      nestEnd = off + len;
    }
    off += align4(len);
  }
  if (nestAt < 0) throw malformed(context, `attribute ${IPVS_CMD_ATTR.DEST} is missing`);
  return decodeDestination(buf, nestAt, nestEnd, context, serviceFamily);
}

/** The GET_CONFIG reply (cmd SET_CONFIG): all three timeouts are required. */
export function decodeConfigMessage(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>): IpvsTimeouts {
  expectCommand(genlAttrs(buf, header, 'IPVS config'), IPVS_CMD.SET_CONFIG, 'IPVS config');
  return {
    tcp: topTable.u32(IPVS_CMD_ATTR.TIMEOUT_TCP),
    tcpFin: topTable.u32(IPVS_CMD_ATTR.TIMEOUT_TCP_FIN),
    udp: topTable.u32(IPVS_CMD_ATTR.TIMEOUT_UDP),
  };
}

function decodeInfo(attrs: Attrs): IpvsInfo {
  const code = attrs.u32(IPVS_INFO_ATTR.VERSION);
  return {
    version: `${(code >>> 16) & 0xff}.${(code >>> 8) & 0xff}.${code & 0xff}`,
    connTableSize: attrs.u32(IPVS_INFO_ATTR.CONN_TAB_SIZE),
  };
}

/** The GET_INFO reply (cmd SET_INFO). */
export function decodeInfoMessage(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>): IpvsInfo {
  expectCommand(genlAttrs(buf, header, 'IPVS info'), IPVS_CMD.SET_INFO, 'IPVS info');
  return decodeInfo(topTable);
}
