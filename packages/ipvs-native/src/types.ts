import type { AddressFamily } from './inet.ts';

export type { AddressFamily } from './inet.ts';

export type Protocol = 'tcp' | 'udp' | 'sctp';
export type ForwardMethod = 'masq' | 'local' | 'tunnel' | 'route';

/** A virtual service identified by protocol, address and port. */
export interface AddressServiceKey {
  protocol: Protocol;
  /** IPv4 or IPv6 address; returned IPv6 addresses are in RFC 5952 canonical form. */
  address: string;
  port: number;
}

/** A virtual service identified by a firewall mark. */
export interface FwmarkServiceKey {
  fwmark: number;
  family: AddressFamily;
}

export type ServiceKey = AddressServiceKey | FwmarkServiceKey;

export interface ServiceOptions {
  /** Scheduler name (kernel module ip_vs_<name>); default "rr". */
  scheduler?: string;
  /** Client affinity (IP_VS_SVC_F_PERSISTENT). */
  persistent?: boolean;
  /** Persistence timeout in seconds; only with `persistent` (default 360 then, as ipvsadm). */
  timeout?: number;
  /**
   * Persistence granularity. IPv4: a dotted mask ("255.255.255.0") or a prefix length (24);
   * default /32. IPv6: a prefix length 1-128, default 128. Returned as a dotted string (IPv4)
   * or a number (IPv6).
   */
  netmask?: string | number;
}

export type ServiceSpec = ServiceKey & ServiceOptions;

/**
 * Traffic counters. 64-bit kernel counters (STATS64, preferred when present) are returned as
 * numbers: exact up to 2^53, rounded beyond, which no real counter reaches.
 */
export interface Stats {
  conns: number;
  inPackets: number;
  outPackets: number;
  inBytes: number;
  outBytes: number;
  cps: number;
  inPps: number;
  outPps: number;
  inBps: number;
  outBps: number;
}

export interface ServiceState {
  family: AddressFamily;
  scheduler: string;
  persistent: boolean;
  timeout: number;
  netmask: string | number;
  /** Raw IP_VS_SVC_F_* flags as the kernel reports them (0x2 HASHED is always set on live services). */
  flags: number;
  /** Persistence engine (e.g. "sip"), when one is set. */
  persistenceEngine?: string;
  stats: Stats;
}

export type Service = (AddressServiceKey | FwmarkServiceKey) & ServiceState;

export interface DestinationSpec {
  address: string;
  port: number;
  /** 0-65535 (ipvsadm's range); 0 quiesces the destination. Default 1. */
  weight?: number;
  /** Default "masq". */
  forward?: ForwardMethod;
  /** Connection limits, 0 = none (0 to 2^31-1; lower <= upper). */
  upperThreshold?: number;
  lowerThreshold?: number;
}

export interface Destination {
  address: string;
  port: number;
  family: AddressFamily;
  weight: number;
  forward: ForwardMethod;
  upperThreshold: number;
  lowerThreshold: number;
  activeConns: number;
  inactiveConns: number;
  persistConns: number;
  stats: Stats;
}

export interface IpvsInfo {
  /** "1.2.1" */
  version: string;
  connTableSize: number;
}

/** IPVS connection timeouts in seconds. */
export interface IpvsTimeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}

export function isFwmarkKey(key: ServiceKey): key is FwmarkServiceKey {
  return 'fwmark' in key && key.fwmark !== undefined;
}
