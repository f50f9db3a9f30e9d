// Requests laid out as libipvs (ipvsadm, through libnl >= 3.5) sends them, per ipvs-netlink.md
// section 6.1: nests flagged NLA_F_NESTED, addresses always the 16-byte union nf_inet_addr,
// ADDR_FAMILY and the TUN_* attributes in every destination, no nest in the GET_SERVICE dump.
// The client never sends these; they are test inputs for the decoders, pinned by the golden
// vectors. Built from the same validated wire values as the client's own requests.
import { genlPayload } from '../src/genl.ts';
import { isFullService, type WireDest, type WireService, type WireServiceKey } from '../src/ipvs-wire.ts';
import {
  IPVS_CMD,
  IPVS_CMD_ATTR,
  IPVS_DEST_ATTR,
  IPVS_GENL_VERSION,
  IPVS_SVC_ATTR,
  NLA_F_NESTED,
  NLM_F_ACK,
  NLM_F_DUMP,
  ipvsCommandName,
} from '../src/kernel-constants.ts';
import type { NetlinkRequest } from '../src/nlmsg.ts';

/** One attribute: its type and its payload bytes, in the order libipvs writes them. */
type Attr = readonly [type: number, payload: Uint8Array];

const u16 = (value: number): Buffer => Buffer.from(Uint16Array.of(value).buffer);
const u32 = (value: number): Buffer => Buffer.from(Uint32Array.of(value).buffer);
const be16 = (value: number): Buffer => Buffer.from([value >> 8, value & 0xff]);
const cString = (value: string): Buffer => Buffer.from(`${value}\0`);

/** union nf_inet_addr: an IPv4 address in its first 4 of 16 bytes. */
function inetUnion(addr: Buffer): Buffer {
  const padded = Buffer.alloc(16);
  addr.copy(padded, 0);
  return padded;
}

function serviceAttrs(service: WireServiceKey): Attr[] {
  const attrs: Attr[] = [[IPVS_SVC_ATTR.AF, u16(service.af)]];
  if (service.fwmark !== undefined) attrs.push([IPVS_SVC_ATTR.FWMARK, u32(service.fwmark)]);
  else {
    attrs.push(
      [IPVS_SVC_ATTR.PROTOCOL, u16(service.protocol ?? 0)],
      [IPVS_SVC_ATTR.ADDR, inetUnion(service.addr ?? Buffer.alloc(4))],
      [IPVS_SVC_ATTR.PORT, be16(service.port ?? 0)],
    );
  }
  if (isFullService(service)) {
    attrs.push(
      [IPVS_SVC_ATTR.SCHED_NAME, cString(service.scheduler)],
      [IPVS_SVC_ATTR.FLAGS, Buffer.concat([u32(service.flags), u32(0xffffffff)])],
      [IPVS_SVC_ATTR.TIMEOUT, u32(service.timeout)],
      [IPVS_SVC_ATTR.NETMASK, u32(service.netmask)],
    );
  }
  return attrs;
}

function destAttrs(dest: WireDest): Attr[] {
  return [
    [IPVS_DEST_ATTR.ADDR_FAMILY, u16(dest.af)],
    [IPVS_DEST_ATTR.ADDR, inetUnion(dest.addr)],
    [IPVS_DEST_ATTR.PORT, be16(dest.port)],
    [IPVS_DEST_ATTR.FWD_METHOD, u32(dest.forward)],
    [IPVS_DEST_ATTR.WEIGHT, u32(dest.weight)],
    [IPVS_DEST_ATTR.TUN_TYPE, Uint8Array.of(0)],
    [IPVS_DEST_ATTR.TUN_PORT, be16(0)],
    [IPVS_DEST_ATTR.TUN_FLAGS, u16(0)],
    [IPVS_DEST_ATTR.U_THRESH, u32(dest.upperThreshold)],
    [IPVS_DEST_ATTR.L_THRESH, u32(dest.lowerThreshold)],
  ];
}

/** A genl request of IPVS command `cmd` whose attributes are the given NLA_F_NESTED nests. */
function request(cmd: number, flags: number, nests: readonly (readonly [type: number, attrs: Attr[]])[]): NetlinkRequest {
  const w = genlPayload(cmd, IPVS_GENL_VERSION);
  for (const [type, attrs] of nests) {
    const nest = w.beginNest(type | NLA_F_NESTED);
    for (const [attr, payload] of attrs) w.bytes(attr, payload);
    w.endNest(nest);
  }
  return { command: ipvsCommandName(cmd), flags, payload: w.finish() };
}

export function libipvsNewService(service: WireService): NetlinkRequest {
  return request(IPVS_CMD.NEW_SERVICE, 0, [[IPVS_CMD_ATTR.SERVICE, serviceAttrs(service)]]);
}

export function libipvsNewDest(service: WireServiceKey, dest: WireDest): NetlinkRequest {
  return request(IPVS_CMD.NEW_DEST, 0, [
    [IPVS_CMD_ATTR.SERVICE, serviceAttrs(service)],
    [IPVS_CMD_ATTR.DEST, destAttrs(dest)],
  ]);
}

/** libnl adds NLM_F_ACK to dumps as well. */
export function libipvsGetServices(): NetlinkRequest {
  return request(IPVS_CMD.GET_SERVICE, NLM_F_DUMP | NLM_F_ACK, []);
}

/** GET_DEST dump with an identity-only service nest. */
export function libipvsGetDests(service: WireServiceKey): NetlinkRequest {
  return request(IPVS_CMD.GET_DEST, NLM_F_DUMP | NLM_F_ACK, [[IPVS_CMD_ATTR.SERVICE, serviceAttrs(service)]]);
}
