/**
 * The contract between the daemon's logic and the kernel. The care loop only ever talks to a
 * Dataplane: the real one (kernel.ts, IPVS over generic netlink, routes over rtnetlink, nftables)
 * or the in-memory fake (fake.ts) that unit tests use.
 *
 * Every method may reject with a DataplaneError whose `code` is the kernel's errno name
 * (EEXIST, ESRCH, ENOENT, EPERM, ...), so callers can tell "already there" from "broken".
 * All addresses are canonical (see address.ts); every virtual server here is TCP.
 */
import type { Endpoint, IpFamily } from "../address.ts";

/** IPVS forwarding method; lvscare always uses masq (NAT), others appear in foreign tables. */
export type ForwardMethod = "masq" | "local" | "tunnel" | "route" | "bypass";

export interface VirtualServerSpec {
  /** TCP address of the virtual server. */
  readonly address: Endpoint;
  /** Kernel scheduler name (rr, wrr, ...); "none" when the kernel reports no scheduler. */
  readonly scheduler: string;
  /** IP_VS_SVC_F_* flags without the kernel-internal HASHED bit (0x2). lvscare wants 0. */
  readonly flags: number;
  /** Persistence timeout in seconds. lvscare wants 0. */
  readonly timeout: number;
}

export interface DestinationSpec {
  readonly address: Endpoint;
  readonly weight: number;
  readonly forward: ForwardMethod;
}

export interface DestinationState extends DestinationSpec {
  readonly activeConnections: number;
  readonly inactiveConnections: number;
}

/** Identifies the mode's "ruler" for removal (-C); enough to find what ensureRuler created. */
export type RulerTarget =
  | {
      readonly mode: "route";
      /** The VIP; the route is VIP/32 (or /128) with `metric`. */
      readonly vip: string;
      readonly family: IpFamily;
      readonly metric: number;
    }
  | {
      readonly mode: "link";
      readonly vip: string;
      readonly family: IpFamily;
      /** Dummy interface holding the VIP (created if missing, left DOWN like kube-ipvs0). */
      readonly iface: string;
      /** Mark bit used to select VIP traffic for masquerade, 0..31. */
      readonly masqueradeBit: number;
    };

/**
 * What makes locally originated packets to the VIP reach IPVS's LOCAL_OUT hook:
 * route mode: `VIP/32 via gateway metric 50` (gateway = this node's IP);
 * link mode: the VIP on a dummy interface plus masquerade of VIP traffic (so a real server on
 * this same host answers to a routable source).
 */
export type Ruler =
  | (Extract<RulerTarget, { mode: "route" }> & { readonly gateway: string })
  | (Extract<RulerTarget, { mode: "link" }> & { readonly virtualServer: Endpoint });

/** One virtual server as `ipvsadm -Ln` lists it (any protocol, fwmark services included). */
export interface ListedVirtualServer {
  readonly family: IpFamily;
  /** "TCP" | "UDP" | "SCTP" for address services, "FWM" for firewall-mark services. */
  readonly protocol: "TCP" | "UDP" | "SCTP" | "FWM";
  /** Set for address services. */
  readonly address: Endpoint | undefined;
  /** Set for fwmark services. */
  readonly fwmark: number | undefined;
  readonly scheduler: string;
  readonly flags: number;
  readonly timeout: number;
  /** IPv4 netmask as dotted quad or IPv6 prefix length, shown for persistent services. */
  readonly netmask: string;
  readonly destinations: readonly DestinationState[];
}

export interface IpvsTable {
  /** e.g. "1.2.1"; undefined when the implementation cannot tell. */
  readonly version: string | undefined;
  readonly connectionTableSize: number | undefined;
  readonly services: readonly ListedVirtualServer[];
}

export interface Dataplane {
  /** Our virtual server at `address` (TCP), or undefined when the kernel has none. */
  getVirtualServer(address: Endpoint): Promise<VirtualServerSpec | undefined>;
  /** Destinations of the TCP virtual server at `address`; [] when it does not exist. */
  listDestinations(virtualServer: Endpoint): Promise<DestinationState[]>;
  /** EEXIST when present. */
  addVirtualServer(spec: VirtualServerSpec): Promise<void>;
  /** ESRCH when absent. */
  updateVirtualServer(spec: VirtualServerSpec): Promise<void>;
  /** ESRCH when absent. Removes its destinations too. */
  deleteVirtualServer(address: Endpoint): Promise<void>;
  /** ESRCH when the virtual server is absent, EEXIST when the destination is present. */
  addDestination(virtualServer: Endpoint, destination: DestinationSpec): Promise<void>;
  /** ESRCH / ENOENT when the virtual server / destination is absent. */
  updateDestination(virtualServer: Endpoint, destination: DestinationSpec): Promise<void>;
  /** ESRCH / ENOENT when the virtual server / destination is absent. */
  deleteDestination(virtualServer: Endpoint, destination: Endpoint): Promise<void>;
  /** Creates or repairs the mode's ruler; idempotent and cheap when nothing is missing. */
  ensureRuler(ruler: Ruler): Promise<void>;
  /** Removes what ensureRuler created; absent pieces are not an error. */
  removeRuler(target: RulerTarget): Promise<void>;
  /**
   * Sets a sysctl such as `net.ipv4.vs.expire_nodest_conn` (dotted name) and returns its previous
   * value. ENOENT when the kernel has no such sysctl.
   */
  setSysctl(name: string, value: string): Promise<string>;
  /** The whole IPVS table, for `lvscare ipvs list`. */
  listAll(): Promise<IpvsTable>;
  /** Releases sockets; the kernel state stays as it is. */
  close(): Promise<void>;
}
