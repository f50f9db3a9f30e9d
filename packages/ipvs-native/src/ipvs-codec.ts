import { malformed } from './errors.ts';
import { GENL_HDRLEN, genlMessage } from './genl.ts';
import { AF_INET, AF_INET6, formatIpv4, formatIpv6, type AddressFamily } from './inet.ts';
import { IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IP_VS_SVC_F_PERSISTENT, isFullService } from './ipvs-wire.ts';
import type { WireDest, WireDestKey, WireService, WireServiceKey } from './ipvs-wire.ts';
import {
  Attrs,
  NLA_F_NESTED,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  NLMSG_HDRLEN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  align4,
  alignedMessage,
  isWordAligned,
  attrLength,
  wordsOf,
  type MessageHeader,
  type MessageWriter,
} from './nlmsg.ts';
import type { Destination, ForwardMethod, IpvsInfo, IpvsTimeouts, Protocol, Service, Stats } from './types.ts';

// The IPVS generic netlink protocol (include/uapi/linux/ip_vs.h), pure: bytes in, bytes out.
// Requests are encoded like moby/ipvs by default (4-byte IPv4 addresses, nests without
// NLA_F_NESTED, full service nest where moby sends one); "libipvs" style reproduces ipvsadm's
// messages. Replies are decoded from kernel and libipvs-style messages alike.

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const IPVS_CMD_NEW_SERVICE = 1;
export const IPVS_CMD_SET_SERVICE = 2;
export const IPVS_CMD_DEL_SERVICE = 3;
export const IPVS_CMD_GET_SERVICE = 4;
export const IPVS_CMD_NEW_DEST = 5;
export const IPVS_CMD_SET_DEST = 6;
export const IPVS_CMD_DEL_DEST = 7;
export const IPVS_CMD_GET_DEST = 8;
export const IPVS_CMD_SET_CONFIG = 12;
export const IPVS_CMD_GET_CONFIG = 13;
export const IPVS_CMD_SET_INFO = 14;
export const IPVS_CMD_GET_INFO = 15;
export const IPVS_CMD_ZERO = 16;
export const IPVS_CMD_FLUSH = 17;

/** Names used in errors ("IPVS_CMD_NEW_SERVICE"). */
export const ipvsCommandNames: Readonly<Record<number, string>> = {
  1: 'IPVS_CMD_NEW_SERVICE',
  2: 'IPVS_CMD_SET_SERVICE',
  3: 'IPVS_CMD_DEL_SERVICE',
  4: 'IPVS_CMD_GET_SERVICE',
  5: 'IPVS_CMD_NEW_DEST',
  6: 'IPVS_CMD_SET_DEST',
  7: 'IPVS_CMD_DEL_DEST',
  8: 'IPVS_CMD_GET_DEST',
  12: 'IPVS_CMD_SET_CONFIG',
  13: 'IPVS_CMD_GET_CONFIG',
  14: 'IPVS_CMD_SET_INFO',
  15: 'IPVS_CMD_GET_INFO',
  16: 'IPVS_CMD_ZERO',
  17: 'IPVS_CMD_FLUSH',
};

const CMD_ATTR_SERVICE = 1;
const CMD_ATTR_DEST = 2;
const CMD_ATTR_TIMEOUT_TCP = 4;
const CMD_ATTR_TIMEOUT_TCP_FIN = 5;
const CMD_ATTR_TIMEOUT_UDP = 6;
const INFO_ATTR_VERSION = 1;
const INFO_ATTR_CONN_TAB_SIZE = 2;

const SVC_ATTR_AF = 1;
const SVC_ATTR_PROTOCOL = 2;
const SVC_ATTR_ADDR = 3;
const SVC_ATTR_PORT = 4;
const SVC_ATTR_FWMARK = 5;
const SVC_ATTR_SCHED_NAME = 6;
const SVC_ATTR_FLAGS = 7;
const SVC_ATTR_TIMEOUT = 8;
const SVC_ATTR_NETMASK = 9;
const SVC_ATTR_STATS = 10;
const SVC_ATTR_PE_NAME = 11;
const SVC_ATTR_STATS64 = 12;

const DEST_ATTR_ADDR = 1;
const DEST_ATTR_PORT = 2;
const DEST_ATTR_FWD_METHOD = 3;
const DEST_ATTR_WEIGHT = 4;
const DEST_ATTR_U_THRESH = 5;
const DEST_ATTR_L_THRESH = 6;
const DEST_ATTR_ACTIVE_CONNS = 7;
const DEST_ATTR_INACT_CONNS = 8;
const DEST_ATTR_PERSIST_CONNS = 9;
const DEST_ATTR_STATS = 10;
const DEST_ATTR_ADDR_FAMILY = 11;
const DEST_ATTR_STATS64 = 12;
const DEST_ATTR_TUN_TYPE = 13;
const DEST_ATTR_TUN_PORT = 14;
const DEST_ATTR_TUN_FLAGS = 15;

const STATS_CONNS = 1;
const STATS_INPKTS = 2;
const STATS_OUTPKTS = 3;
const STATS_INBYTES = 4;
const STATS_OUTBYTES = 5;
const STATS_CPS = 6;
const STATS_INPPS = 7;
const STATS_OUTPPS = 8;
const STATS_INBPS = 9;
const STATS_OUTBPS = 10;

const FLAGS_MASK_ALL = 0xffffffff;
const IP_VS_CONN_F_FWD_MASK = 0x7;

export type EncodingStyle = 'moby' | 'libipvs';

export interface EncodeOptions {
  /** nlmsg_type; the client overwrites it with the resolved id. Default 0. */
  familyId?: number;
  seq?: number;
  style?: EncodingStyle;
}

const DO_FLAGS = NLM_F_REQUEST | NLM_F_ACK;
const DUMP_FLAGS = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;

function start(cmd: number, flags: number, options: EncodeOptions): MessageWriter {
  return genlMessage(options.familyId ?? 0, flags, cmd, IPVS_GENL_VERSION, options.seq ?? 0);
}

function nestType(type: number, style: EncodingStyle): number {
  return style === 'libipvs' ? type | NLA_F_NESTED : type;
}

/** libipvs always sends the 16-byte union nf_inet_addr; moby sends 4 bytes for IPv4. */
function wireAddress(addr: Buffer, style: EncodingStyle): Buffer {
  if (style === 'moby' || addr.length === 16) return addr;
  const padded = Buffer.alloc(16);
  addr.copy(padded, 0);
  return padded;
}

function writeServiceNest(w: MessageWriter, service: WireServiceKey, style: EncodingStyle): void {
  const nest = w.beginNest(nestType(CMD_ATTR_SERVICE, style));
  w.u16(SVC_ATTR_AF, service.af);
  if (service.fwmark !== undefined) {
    w.u32(SVC_ATTR_FWMARK, service.fwmark);
  } else {
    w.u16(SVC_ATTR_PROTOCOL, service.protocol ?? 0);
    w.bytes(SVC_ATTR_ADDR, wireAddress(service.addr ?? Buffer.alloc(4), style));
    w.be16(SVC_ATTR_PORT, service.port ?? 0);
  }
  if (isFullService(service)) {
    w.string(SVC_ATTR_SCHED_NAME, service.scheduler);
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(service.flags >>> 0, 0);
    flags.writeUInt32LE(FLAGS_MASK_ALL, 4);
    w.bytes(SVC_ATTR_FLAGS, flags);
    w.u32(SVC_ATTR_TIMEOUT, service.timeout);
    w.u32(SVC_ATTR_NETMASK, service.netmask);
  }
  w.endNest(nest);
}

function writeDestNest(w: MessageWriter, service: WireServiceKey, dest: WireDestKey | WireDest, style: EncodingStyle): void {
  const nest = w.beginNest(nestType(CMD_ATTR_DEST, style));
  // moby leaves ADDR_FAMILY out (the kernel then assumes the service's family); we add it only
  // when the families differ, which moby cannot express at all.
  if (style === 'libipvs' || dest.af !== service.af) w.u16(DEST_ATTR_ADDR_FAMILY, dest.af);
  w.bytes(DEST_ATTR_ADDR, wireAddress(dest.addr, style));
  w.be16(DEST_ATTR_PORT, dest.port);
  if ('forward' in dest) {
    w.u32(DEST_ATTR_FWD_METHOD, dest.forward);
    w.u32(DEST_ATTR_WEIGHT, dest.weight);
    if (style === 'libipvs') {
      w.u8(DEST_ATTR_TUN_TYPE, 0);
      w.be16(DEST_ATTR_TUN_PORT, 0);
      w.u16(DEST_ATTR_TUN_FLAGS, 0);
    }
    w.u32(DEST_ATTR_U_THRESH, dest.upperThreshold);
    w.u32(DEST_ATTR_L_THRESH, dest.lowerThreshold);
  }
  w.endNest(nest);
}

function serviceCommand(cmd: number, flags: number, service: WireServiceKey, options: EncodeOptions): Buffer {
  const w = start(cmd, flags, options);
  writeServiceNest(w, service, options.style ?? 'moby');
  return w.finish();
}

function destCommand(cmd: number, service: WireServiceKey, dest: WireDestKey | WireDest, options: EncodeOptions): Buffer {
  const style = options.style ?? 'moby';
  const w = start(cmd, DO_FLAGS, options);
  writeServiceNest(w, service, style);
  writeDestNest(w, service, dest, style);
  return w.finish();
}

export function encodeNewService(service: WireService, options: EncodeOptions = {}): Buffer {
  return serviceCommand(IPVS_CMD_NEW_SERVICE, DO_FLAGS, service, options);
}

export function encodeSetService(service: WireService, options: EncodeOptions = {}): Buffer {
  return serviceCommand(IPVS_CMD_SET_SERVICE, DO_FLAGS, service, options);
}

export function encodeDelService(service: WireServiceKey, options: EncodeOptions = {}): Buffer {
  return serviceCommand(IPVS_CMD_DEL_SERVICE, DO_FLAGS, service, options);
}

/** Non-dump GET_SERVICE: one service by identity (ESRCH if missing). */
export function encodeGetService(service: WireServiceKey, options: EncodeOptions = {}): Buffer {
  return serviceCommand(IPVS_CMD_GET_SERVICE, DO_FLAGS, service, options);
}

/** GET_SERVICE dump of every service; moby sends an empty SERVICE nest, libipvs nothing. */
export function encodeGetServices(options: EncodeOptions = {}): Buffer {
  const w = start(IPVS_CMD_GET_SERVICE, DUMP_FLAGS, options);
  if ((options.style ?? 'moby') === 'moby') w.endNest(w.beginNest(CMD_ATTR_SERVICE));
  return w.finish();
}

export function encodeNewDest(service: WireServiceKey, dest: WireDest, options: EncodeOptions = {}): Buffer {
  return destCommand(IPVS_CMD_NEW_DEST, service, dest, options);
}

export function encodeSetDest(service: WireServiceKey, dest: WireDest, options: EncodeOptions = {}): Buffer {
  return destCommand(IPVS_CMD_SET_DEST, service, dest, options);
}

export function encodeDelDest(service: WireServiceKey, dest: WireDestKey, options: EncodeOptions = {}): Buffer {
  return destCommand(IPVS_CMD_DEL_DEST, service, dest, options);
}

/** GET_DEST dump of one service's destinations (the kernel has no non-dump GET_DEST). */
export function encodeGetDests(service: WireServiceKey, options: EncodeOptions = {}): Buffer {
  return serviceCommand(IPVS_CMD_GET_DEST, DUMP_FLAGS, service, options);
}

export function encodeGetInfo(options: EncodeOptions = {}): Buffer {
  return start(IPVS_CMD_GET_INFO, DO_FLAGS, options).finish();
}

export function encodeGetConfig(options: EncodeOptions = {}): Buffer {
  return start(IPVS_CMD_GET_CONFIG, DO_FLAGS, options).finish();
}

/** SET_CONFIG with only the given timeouts (an absent attribute keeps the kernel's value). */
export function encodeSetConfig(timeouts: Partial<IpvsTimeouts>, options: EncodeOptions = {}): Buffer {
  const w = start(IPVS_CMD_SET_CONFIG, DO_FLAGS, options);
  if (timeouts.tcp !== undefined) w.u32(CMD_ATTR_TIMEOUT_TCP, timeouts.tcp);
  if (timeouts.tcpFin !== undefined) w.u32(CMD_ATTR_TIMEOUT_TCP_FIN, timeouts.tcpFin);
  if (timeouts.udp !== undefined) w.u32(CMD_ATTR_TIMEOUT_UDP, timeouts.udp);
  return w.finish();
}

/** ZERO the counters of one service (and its destinations), or of everything without a key. */
export function encodeZero(service: WireServiceKey | undefined, options: EncodeOptions = {}): Buffer {
  const w = start(IPVS_CMD_ZERO, DO_FLAGS, options);
  if (service !== undefined) writeServiceNest(w, service, options.style ?? 'moby');
  return w.finish();
}

export function encodeFlush(options: EncodeOptions = {}): Buffer {
  return start(IPVS_CMD_FLUSH, DO_FLAGS, options).finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding

const protocolNames: Readonly<Record<number, Protocol>> = { [IPPROTO_TCP]: 'tcp', [IPPROTO_UDP]: 'udp', [IPPROTO_SCTP]: 'sctp' };
const forwardNames: readonly ForwardMethod[] = ['masq', 'local', 'tunnel', 'route'];

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
const topTable = new Attrs(CMD_ATTR_TIMEOUT_UDP);
const serviceTable = new Attrs(SVC_ATTR_STATS64);

function needBytes(length: number, size: number, type: number, context: string): void {
  if (length < size) throw malformed(context, `attribute ${type} has ${length} bytes, needs ${size}`);
}

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
    // STATS_PAD (11) and anything newer fall outside this range and are skipped.
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
  if (family === 'ipv6') return attrs.has(SVC_ATTR_NETMASK) ? attrs.u32(SVC_ATTR_NETMASK) : 128;
  if (!attrs.has(SVC_ATTR_NETMASK)) return '255.255.255.255';
  return formatIpv4(attrs.buf, attrs.offsetOf(SVC_ATTR_NETMASK, 4));
}

/**
 * Decodes the attributes of an IPVS_CMD_ATTR_SERVICE nest. Identity attributes are required;
 * the rest default to what an unset field means (no flags, no timeout, zero counters).
 */
export function decodeService(attrs: Attrs): Service {
  const family = familyFromAf(attrs.u16(SVC_ATTR_AF), attrs.context);
  const flags = attrs.has(SVC_ATTR_FLAGS) ? attrs.u32(SVC_ATTR_FLAGS) : 0;
  const state = {
    family,
    scheduler: attrs.has(SVC_ATTR_SCHED_NAME) ? attrs.string(SVC_ATTR_SCHED_NAME) : '',
    persistent: (flags & IP_VS_SVC_F_PERSISTENT) !== 0,
    timeout: u32Or0(attrs, SVC_ATTR_TIMEOUT),
    netmask: netmaskText(family, attrs),
    flags,
    ...(attrs.has(SVC_ATTR_PE_NAME) ? { persistenceEngine: attrs.string(SVC_ATTR_PE_NAME) } : {}),
    stats: decodeStats(attrs, SVC_ATTR_STATS, SVC_ATTR_STATS64),
  };
  if (attrs.has(SVC_ATTR_FWMARK) && attrs.u32(SVC_ATTR_FWMARK) !== 0) {
    return { fwmark: attrs.u32(SVC_ATTR_FWMARK), ...state };
  }
  const protocolNumber = attrs.u16(SVC_ATTR_PROTOCOL);
  const protocol = protocolNames[protocolNumber];
  if (protocol === undefined) throw malformed(attrs.context, `unsupported service protocol ${protocolNumber}`);
  return { protocol, address: readAddress(attrs, SVC_ATTR_ADDR, family), port: attrs.be16(SVC_ATTR_PORT), ...state };
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
      case DEST_ATTR_ADDR:
        addrAt = at;
        addrLength = n;
        break;
      case DEST_ATTR_PORT:
        needBytes(n, 2, type, context);
        port = ((buf[at] as number) << 8) | (buf[at + 1] as number);
        break;
      case DEST_ATTR_ADDR_FAMILY:
        needBytes(n, 2, type, context);
        af = (words[at >> 2] as number) & 0xffff;
        break;
      case DEST_ATTR_STATS:
        stats32At = at;
        stats32End = at + n;
        break;
      case DEST_ATTR_STATS64:
        stats64At = at;
        stats64End = at + n;
        break;
      case DEST_ATTR_FWD_METHOD:
      case DEST_ATTR_WEIGHT:
      case DEST_ATTR_U_THRESH:
      case DEST_ATTR_L_THRESH:
      case DEST_ATTR_ACTIVE_CONNS:
      case DEST_ATTR_INACT_CONNS:
      case DEST_ATTR_PERSIST_CONNS: {
        needBytes(n, 4, type, context);
        const value = words[at >> 2] as number;
        if (type === DEST_ATTR_FWD_METHOD) forwardNumber = value & IP_VS_CONN_F_FWD_MASK;
        else if (type === DEST_ATTR_WEIGHT) weight = value;
        else if (type === DEST_ATTR_U_THRESH) upperThreshold = value;
        else if (type === DEST_ATTR_L_THRESH) lowerThreshold = value;
        else if (type === DEST_ATTR_ACTIVE_CONNS) activeConns = value;
        else if (type === DEST_ATTR_INACT_CONNS) inactiveConns = value;
        else persistConns = value;
        break;
      }
      default: // TUN_* and attributes newer than this decoder
    }
    off += align4(len);
  }
  if (addrAt < 0) throw malformed(context, `attribute ${DEST_ATTR_ADDR} is missing`);
  if (port < 0) throw malformed(context, `attribute ${DEST_ATTR_PORT} is missing`);
  let family: AddressFamily;
  if (af !== 0) family = familyFromAf(af, context);
  else if (serviceFamily !== undefined) family = serviceFamily;
  else family = addrLength === 4 ? 'ipv4' : 'ipv6';
  needBytes(addrLength, family === 'ipv4' ? 4 : 16, DEST_ATTR_ADDR, context);
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

/** Everything an IPVS message can carry, decoded; used for replies and for captured requests. */
export interface IpvsMessage {
  familyId: number;
  flags: number;
  seq: number;
  cmd: number;
  version: number;
  service?: Service;
  destination?: Destination;
  timeouts?: Partial<IpvsTimeouts>;
  info?: IpvsInfo;
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
  expectCommand(genlAttrs(buf, header, 'IPVS service'), IPVS_CMD_NEW_SERVICE, 'IPVS service');
  return decodeService(topTable.nested(CMD_ATTR_SERVICE, serviceTable));
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
  expectCommand(buf[header.offset + NLMSG_HDRLEN] as number, IPVS_CMD_NEW_DEST, context);
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
  if (nestAt < 0) throw malformed(context, `attribute ${CMD_ATTR_DEST} is missing`);
  return decodeDestination(buf, nestAt, nestEnd, context, serviceFamily);
}

function decodeTimeouts(attrs: Attrs): Partial<IpvsTimeouts> {
  const timeouts: Partial<IpvsTimeouts> = {};
  if (attrs.has(CMD_ATTR_TIMEOUT_TCP)) timeouts.tcp = attrs.u32(CMD_ATTR_TIMEOUT_TCP);
  if (attrs.has(CMD_ATTR_TIMEOUT_TCP_FIN)) timeouts.tcpFin = attrs.u32(CMD_ATTR_TIMEOUT_TCP_FIN);
  if (attrs.has(CMD_ATTR_TIMEOUT_UDP)) timeouts.udp = attrs.u32(CMD_ATTR_TIMEOUT_UDP);
  return timeouts;
}

/** The GET_CONFIG reply (cmd SET_CONFIG): all three timeouts are required. */
export function decodeConfigMessage(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>): IpvsTimeouts {
  expectCommand(genlAttrs(buf, header, 'IPVS config'), IPVS_CMD_SET_CONFIG, 'IPVS config');
  return {
    tcp: topTable.u32(CMD_ATTR_TIMEOUT_TCP),
    tcpFin: topTable.u32(CMD_ATTR_TIMEOUT_TCP_FIN),
    udp: topTable.u32(CMD_ATTR_TIMEOUT_UDP),
  };
}

function decodeInfo(attrs: Attrs): IpvsInfo {
  const code = attrs.u32(INFO_ATTR_VERSION);
  return {
    version: `${(code >>> 16) & 0xff}.${(code >>> 8) & 0xff}.${code & 0xff}`,
    connTableSize: attrs.u32(INFO_ATTR_CONN_TAB_SIZE),
  };
}

/** The GET_INFO reply (cmd SET_INFO). */
export function decodeInfoMessage(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>): IpvsInfo {
  expectCommand(genlAttrs(buf, header, 'IPVS info'), IPVS_CMD_SET_INFO, 'IPVS info');
  return decodeInfo(topTable);
}

/**
 * Decodes any IPVS message, request or reply, moby or libipvs style: the headers, then whatever
 * service/destination/timeouts/info it carries. For a whole datagram, pass `{offset: 0, length}`.
 */
export function decodeIpvsMessage(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'> = { offset: 0, length: buf.length }): IpvsMessage {
  checkGenlHeaders(buf, header, 'IPVS message');
  if (!isWordAligned(buf, header.offset)) {
    const aligned = alignedMessage(buf, header);
    return decodeIpvsMessage(aligned.buf, aligned.header);
  }
  const attrs = new Attrs();
  const cmd = genlAttrs(buf, header, 'IPVS message', attrs);
  const message: IpvsMessage = {
    familyId: buf.readUInt16LE(header.offset + 4),
    flags: buf.readUInt16LE(header.offset + 6),
    seq: buf.readUInt32LE(header.offset + 8),
    cmd,
    version: buf[header.offset + NLMSG_HDRLEN + 1] as number,
  };
  if (cmd === IPVS_CMD_SET_INFO) {
    message.info = decodeInfo(attrs);
    return message;
  }
  // An empty SERVICE nest (moby's GET_SERVICE dump) carries no service.
  if (attrs.lengthOf(CMD_ATTR_SERVICE) > 0) message.service = decodeService(attrs.nested(CMD_ATTR_SERVICE, serviceTable));
  if (attrs.has(CMD_ATTR_DEST)) {
    const at = attrs.offsetOf(CMD_ATTR_DEST, 0);
    message.destination = decodeDestination(buf, at, at + attrs.lengthOf(CMD_ATTR_DEST), 'IPVS message', message.service?.family);
  }
  const timeouts = decodeTimeouts(attrs);
  if (Object.keys(timeouts).length > 0) message.timeouts = timeouts;
  return message;
}
