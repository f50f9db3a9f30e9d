/**
 * The dataplane contract: everything the daemon asks of the machinery that balances the VIP, in
 * the spirit of kubernetes-sigs/knftables (an Interface, a Transaction, a Fake with its own tests).
 *
 * Two calls carry the table state:
 * - `read(vs)`: our virtual server as the backend has it now, destinations included, or undefined.
 * - `apply(ops)`: a typed list of operations carried out as one unit. Every op is checked first
 *   (validate.ts: scheduler, weight range, address family, forwarding method); one bad op and
 *   nothing is applied. Then:
 *   - a backend with `capabilities.atomicApply` (nftables: one `nft -f` transaction) applies all
 *     of them or none;
 *   - a backend without it (IPVS: one netlink request per op) applies them in order and stops at
 *     the first refusal.
 *   Either way a refusal rejects with a DataplaneApplyError (error.ts): `code` is the errno name
 *   of the refusal (EEXIST, ESRCH, ENOENT, ERANGE, EINVAL...), `failed`/`failedIndex` say which op
 *   was refused, and `applied` lists the ops that took effect: always a prefix of `ops`, empty
 *   for an atomic backend and for bad input. Anything else that rejects (a closed dataplane) is a
 *   plain DataplaneError and changed nothing.
 *   The errno of each refusal is the kernel's IPVS answer, which every backend imitates:
 *   add-virtual-server EEXIST when present; update/delete-virtual-server ESRCH when absent
 *   (deleting one removes its destinations); add-destination ESRCH without the virtual server,
 *   EEXIST when present; update/delete-destination ESRCH / ENOENT without the virtual server /
 *   the destination; an unknown scheduler ENOENT; a weight outside 0..maxWeight ERANGE.
 *
 * Host duties that are not table state are separate small calls: the mode's "ruler"
 * (ensureRuler/removeRuler), sysctls, the whole listing for `lvscare ipvs list`, close.
 *
 * Specs are backend-neutral: no kernel flag numbers here (IP_VS_SVC_F_*, weight limits live in
 * @lvscare/ipvs-native and reach only the IPVS backend and the ipvsadm-style formatter). All
 * addresses are canonical (address.ts); every virtual server here is TCP.
 */
import type { Endpoint, IpFamily } from "../address.ts";

/** The table technology behind a dataplane; also the prefix of the daemon's table log lines. */
export type DataplaneKind = "ipvs" | "nftables";

/** Forwarding method; lvscare always uses masq (NAT), others appear in foreign IPVS tables. */
export type ForwardMethod = "masq" | "local" | "tunnel" | "route" | "bypass";

export interface VirtualServerSpec {
  /** TCP address of the virtual server. */
  readonly address: Endpoint;
  /** Scheduler name (rr, wrr, ...); "none" when the kernel reports no scheduler. */
  readonly scheduler: string;
  /** Client affinity: seconds a client stays with the real server it got; 0 = none (lvscare's). */
  readonly persistenceTimeout: number;
}

export interface DestinationSpec {
  readonly address: Endpoint;
  /** 0..capabilities.maxWeight; 0 = quiesced (no new connections, existing ones stay). */
  readonly weight: number;
  readonly forward: ForwardMethod;
}

export interface DestinationState extends DestinationSpec {
  readonly activeConnections: number;
  readonly inactiveConnections: number;
}

/** A virtual server as read back from the backend. */
export interface ObservedVirtualServer extends VirtualServerSpec {
  /**
   * Settings the backend has that VirtualServerSpec cannot express, in words for logs (IPVS:
   * "one-packet scheduling", "flags 0x10"). lvscare wants none: an update clears them.
   */
  readonly extraSettings: readonly string[];
  readonly destinations: readonly DestinationState[];
}

/**
 * One change to the table. `reason` is carried for logs only. Ops name their virtual server, so a
 * list may touch several (the contract suite does; the daemon touches its own).
 */
export type DataplaneOp =
  | { readonly kind: "add-virtual-server"; readonly spec: VirtualServerSpec; readonly reason?: string }
  | { readonly kind: "update-virtual-server"; readonly spec: VirtualServerSpec; readonly reason?: string }
  | { readonly kind: "delete-virtual-server"; readonly address: Endpoint; readonly reason?: string }
  | {
      readonly kind: "add-destination" | "update-destination";
      readonly virtualServer: Endpoint;
      readonly destination: DestinationSpec;
      readonly reason?: string;
    }
  | { readonly kind: "delete-destination"; readonly virtualServer: Endpoint; readonly address: Endpoint; readonly reason?: string };

export type DataplaneOpKind = DataplaneOp["kind"];

/** What a backend supports, so the daemon and the contract suite can ask instead of assume. */
export interface DataplaneCapabilities {
  /** Scheduler names apply accepts; any other is refused up front with ENOENT. */
  readonly schedulers: readonly string[];
  /** Largest persistenceTimeout in seconds; 0 when the backend has no persistence (else EOPNOTSUPP). */
  readonly maxPersistenceTimeout: number;
  /** Largest destination weight (IPVS: 65535, ipvsadm's limit); beyond it ERANGE. */
  readonly maxWeight: number;
  /** Forwarding methods a destination may be given (else EOPNOTSUPP). lvscare uses masq. */
  readonly forwardMethods: readonly ForwardMethod[];
  /** apply() is all-or-nothing; otherwise in order, stopping at the first refusal. */
  readonly atomicApply: boolean;
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
 * What makes locally originated packets to the VIP reach the balancer (IPVS's LOCAL_OUT hook):
 * route mode: `VIP/32 via gateway metric 50` (gateway = this node's IP);
 * link mode: the VIP on a dummy interface plus masquerade of VIP traffic (so a real server on
 * this same host answers to a routable source).
 */
export type Ruler =
  | (Extract<RulerTarget, { mode: "route" }> & { readonly gateway: string })
  | (Extract<RulerTarget, { mode: "link" }> & { readonly virtualServer: Endpoint });

/**
 * One virtual server as `ipvsadm -Ln` lists it (any protocol, fwmark services included). The
 * listing is in ipvsadm's terms, so `flags` are IPVS service flags; a backend that is not IPVS
 * lists what ipvsadm would show for the equivalent service.
 */
export interface ListedVirtualServer {
  readonly family: IpFamily;
  /** "TCP" | "UDP" | "SCTP" for address services, "FWM" for firewall-mark services. */
  readonly protocol: "TCP" | "UDP" | "SCTP" | "FWM";
  /** Set for address services. */
  readonly address: Endpoint | undefined;
  /** Set for fwmark services. */
  readonly fwmark: number | undefined;
  readonly scheduler: string;
  /** IPVS service flags without the kernel-internal HASHED bit. */
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
  readonly kind: DataplaneKind;
  readonly capabilities: DataplaneCapabilities;
  /** Our TCP virtual server at `address` with its destinations, or undefined when there is none. */
  read(address: Endpoint): Promise<ObservedVirtualServer | undefined>;
  /** Carries out `ops` as one unit; see the file header for the failure semantics. */
  apply(ops: readonly DataplaneOp[]): Promise<void>;
  /** Creates or repairs the mode's ruler; idempotent and cheap when nothing is missing. */
  ensureRuler(ruler: Ruler): Promise<void>;
  /** Removes what ensureRuler created; absent pieces are not an error. */
  removeRuler(target: RulerTarget): Promise<void>;
  /**
   * Sets a sysctl such as `net.ipv4.vs.expire_nodest_conn` (dotted name) and returns its previous
   * value. ENOENT when the kernel has no such sysctl.
   */
  setSysctl(name: string, value: string): Promise<string>;
  /** Every virtual server the backend has, for `lvscare ipvs list`. */
  listAll(): Promise<IpvsTable>;
  /**
   * Deletes every table this dataplane owns whole (nftables: `ip lvscare`, `ip6 lvscare`), for
   * -C after the virtual server is gone; absent when the backend owns no table of its own (IPVS).
   */
  removeOwnTables?(): Promise<void>;
  /** Releases sockets; the table stays as it is. */
  close(): Promise<void>;
}
