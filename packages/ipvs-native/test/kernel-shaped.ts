// Builders for replies shaped exactly like the kernel's (ip_vs_genl_fill_service / _fill_dest
// in net/netfilter/ipvs/ip_vs_ctl.c, per ipvs-netlink.md sections 5.1 and 5.2). They write
// attributes by hand, in the kernel's order, independent of the codec under test.
import { PayloadWriter, encodeMessage } from '../src/nlmsg.ts';
import type { Stats } from '../src/types.ts';

export const FAMILY_ID = 0x24;
const NLMSG_DONE = 3;
/** Set by the kernel on every message of a dump; nothing we decode depends on it. */
const NLM_F_MULTI = 0x2;

/** A message as the kernel sends it: `payload` under a netlink header of `type`. */
export function kernelMessage(type: number, flags: number, payload: PayloadWriter, seq = 1, pid = 0): Buffer {
  return encodeMessage({ type, flags, seq, pid }, payload.finish());
}

export type StatsValues = Stats;

function u64(w: PayloadWriter, type: number, value: number): void {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt(value), 0);
  w.bytes(type, bytes);
}

/** STATS: u32 counters except the two byte counts (u64). */
export function writeStats32(w: PayloadWriter, type: number, s: StatsValues): void {
  const nest = w.beginNest(type);
  w.u32(1, s.conns).u32(2, s.inPackets).u32(3, s.outPackets);
  u64(w, 4, s.inBytes);
  u64(w, 5, s.outBytes);
  w.u32(6, s.cps).u32(7, s.inPps).u32(8, s.outPps).u32(9, s.inBps).u32(10, s.outBps);
  w.endNest(nest);
}

/** STATS64: everything u64. */
export function writeStats64(w: PayloadWriter, type: number, s: StatsValues): void {
  const nest = w.beginNest(type);
  const values = [s.conns, s.inPackets, s.outPackets, s.inBytes, s.outBytes, s.cps, s.inPps, s.outPps, s.inBps, s.outBps];
  values.forEach((value, i) => u64(w, i + 1, value));
  w.endNest(nest);
}

export interface KernelService {
  af: number;
  protocol?: number;
  /** 16 bytes, as the kernel always sends. */
  addr?: Buffer;
  port?: number;
  fwmark?: number;
  scheduler: string;
  peName?: string;
  flags: number;
  timeout: number;
  /** The raw 4 NETMASK bytes. */
  netmask: Buffer;
  stats: StatsValues;
  stats64?: StatsValues;
}

export function kernelServiceMessage(s: KernelService, seq = 1, pid = 0, multi = true): Buffer {
  const w = new PayloadWriter().raw(Uint8Array.of(1, 1, 0, 0));
  const nest = w.beginNest(1);
  w.u16(1, s.af);
  if (s.fwmark !== undefined) {
    w.u32(5, s.fwmark);
  } else {
    w.u16(2, s.protocol ?? 6);
    w.bytes(3, s.addr ?? Buffer.alloc(16));
    w.be16(4, s.port ?? 0);
  }
  w.string(6, s.scheduler);
  if (s.peName !== undefined) w.string(11, s.peName);
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(s.flags, 0);
  flags.writeUInt32LE(0xffffffff, 4);
  w.bytes(7, flags);
  w.u32(8, s.timeout);
  w.bytes(9, s.netmask);
  writeStats32(w, 10, s.stats);
  if (s.stats64 !== undefined) writeStats64(w, 12, s.stats64);
  w.endNest(nest);
  return kernelMessage(FAMILY_ID, multi ? NLM_F_MULTI : 0, w, seq, pid);
}

export interface KernelDest {
  addr: Buffer;
  port: number;
  forward: number;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
  activeConns: number;
  inactiveConns: number;
  persistConns: number;
  /** Omitted by kernels before ~3.18. */
  af?: number;
  /** Omitted by kernels before ~5.2. */
  tunnel?: boolean;
  stats: StatsValues;
  stats64?: StatsValues;
}

export function kernelDestMessage(d: KernelDest, seq = 1, pid = 0): Buffer {
  const w = new PayloadWriter().raw(Uint8Array.of(5, 1, 0, 0));
  const nest = w.beginNest(2);
  w.bytes(1, d.addr);
  w.be16(2, d.port);
  w.u32(3, d.forward);
  w.u32(4, d.weight);
  if (d.tunnel !== false) {
    w.bytes(13, Uint8Array.of(0));
    w.be16(14, 0);
    w.u16(15, 0);
  }
  w.u32(5, d.upperThreshold).u32(6, d.lowerThreshold);
  w.u32(7, d.activeConns).u32(8, d.inactiveConns).u32(9, d.persistConns);
  if (d.af !== undefined) w.u16(11, d.af);
  writeStats32(w, 10, d.stats);
  if (d.stats64 !== undefined) writeStats64(w, 12, d.stats64);
  w.endNest(nest);
  return kernelMessage(FAMILY_ID, NLM_F_MULTI, w, seq, pid);
}

export function doneMessage(seq = 1, pid = 0): Buffer {
  return kernelMessage(NLMSG_DONE, NLM_F_MULTI, new PayloadWriter().raw(Buffer.alloc(4)), seq, pid);
}

/** 16 bytes: the IPv4 address in the first 4, as in union nf_inet_addr. */
export function inetUnion(bytes: number[]): Buffer {
  const addr = Buffer.alloc(16);
  Buffer.from(bytes).copy(addr);
  return addr;
}

export const someStats = (base: number): StatsValues => ({
  conns: base + 1,
  inPackets: base + 2,
  outPackets: base + 3,
  inBytes: base + 4,
  outBytes: base + 5,
  cps: base + 6,
  inPps: base + 7,
  outPps: base + 8,
  inBps: base + 9,
  outBps: base + 10,
});

/** A kernel GET_SERVICE message for an IPv4 TCP service on port 80 ("rr"), with overrides. */
export function ipv4ServiceMessage(octets: number[], overrides: Partial<KernelService> = {}): Buffer {
  return kernelServiceMessage({
    af: 2,
    protocol: 6,
    addr: inetUnion(octets),
    port: 80,
    scheduler: 'rr',
    flags: 2,
    timeout: 0,
    netmask: Buffer.from('ffffffff', 'hex'),
    stats: someStats(0),
    ...overrides,
  });
}
