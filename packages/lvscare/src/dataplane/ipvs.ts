/**
 * The IPVS backend: the table over generic netlink through @lvscare/ipvs-native (no exec on the
 * probe path), one request per op, so apply() goes in order and stops at the first refusal; the
 * host duties through KernelHost. This and the ipvsadm-style formatter are the only places that
 * know IPVS's flag numbers.
 */
import {
  IP_VS_SVC_F_HASHED,
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_PERSISTENT,
  IpvsClient,
  type Destination,
  type Service,
  type ServiceKey,
} from "@lvscare/ipvs-native";
import type { Endpoint, IpFamily } from "../address.ts";
import { applyInOrder } from "./apply-in-order.ts";
import { DataplaneError } from "./error.ts";
import { IPVS_CAPABILITIES } from "./ipvs-capabilities.ts";
import { KernelHost, call, translate, type KernelHostOptions } from "./kernel-host.ts";
import { OPERATION_NAMES } from "./ops.ts";
import type {
  Dataplane,
  DataplaneOp,
  DestinationSpec,
  DestinationState,
  IpvsTable,
  ListedVirtualServer,
  ObservedVirtualServer,
  Ruler,
  RulerTarget,
  VirtualServerSpec,
} from "./types.ts";

export type IpvsDataplaneOptions = KernelHostOptions;

function serviceKey(address: Endpoint): ServiceKey {
  return { protocol: "tcp", address: address.ip, port: address.port };
}

function familyOf(family: "ipv4" | "ipv6"): IpFamily {
  return family === "ipv6" ? 6 : 4;
}

function toDestinationState(d: Destination): DestinationState {
  return {
    address: { ip: d.address, port: d.port, family: familyOf(d.family) },
    weight: d.weight,
    forward: d.forward,
    activeConnections: d.activeConns,
    inactiveConnections: d.inactiveConns,
  };
}

/** Flags beyond persistence, in words; HASHED is the kernel's bookkeeping, never configuration. */
function extraSettings(flags: number): string[] {
  const extra: string[] = [];
  if (flags & IP_VS_SVC_F_ONEPACKET) extra.push("one-packet scheduling");
  const unknown = flags & ~(IP_VS_SVC_F_HASHED | IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_ONEPACKET);
  if (unknown !== 0) extra.push(`flags 0x${unknown.toString(16)}`);
  return extra;
}

function serviceSpec(spec: VirtualServerSpec) {
  const persistent = spec.persistenceTimeout > 0;
  return { ...serviceKey(spec.address), scheduler: spec.scheduler, persistent, ...(persistent ? { timeout: spec.persistenceTimeout } : {}) };
}

function destinationSpec(destination: DestinationSpec) {
  if (destination.forward === "bypass") {
    // findInvalidOp refuses it first (not in the capabilities); this keeps the types honest.
    throw new DataplaneError("destination", "EOPNOTSUPP", "the bypass forwarding method cannot be programmed");
  }
  return { address: destination.address.ip, port: destination.address.port, weight: destination.weight, forward: destination.forward };
}

export class IpvsDataplane implements Dataplane {
  readonly kind = "ipvs";
  readonly capabilities = IPVS_CAPABILITIES;
  private readonly ipvs: IpvsClient;
  private readonly host: KernelHost;

  private constructor(ipvs: IpvsClient, host: KernelHost) {
    this.ipvs = ipvs;
    this.host = host;
  }

  /** Opens the netlink sockets; fails with a clear DataplaneError when the kernel has no IPVS. */
  static open(options: IpvsDataplaneOptions = {}): IpvsDataplane {
    const ipvs = call("open IPVS", () => IpvsClient.open(options.netns === undefined ? {} : { netns: options.netns }));
    try {
      return new IpvsDataplane(ipvs, KernelHost.open(options));
    } catch (err) {
      ipvs.close();
      throw translate("open rtnetlink", err);
    }
  }

  async read(address: Endpoint): Promise<ObservedVirtualServer | undefined> {
    const service = call("read", () => this.ipvs.getService(serviceKey(address)));
    if (service === undefined) return undefined;
    // GET_DEST of a service deleted in between lists nothing, which reads as an empty server.
    const destinations = call("read", () => this.ipvs.listDestinations(serviceKey(address)).map(toDestinationState));
    return {
      address,
      scheduler: service.scheduler,
      persistenceTimeout: service.persistent ? service.timeout : 0,
      extraSettings: extraSettings(service.flags),
      destinations,
    };
  }

  apply(ops: readonly DataplaneOp[]): Promise<void> {
    return applyInOrder(ops, this.capabilities, (op) => call(OPERATION_NAMES[op.kind], () => this.applyOne(op)));
  }

  private applyOne(op: DataplaneOp): void {
    switch (op.kind) {
      case "add-virtual-server":
        return this.ipvs.addService(serviceSpec(op.spec));
      case "update-virtual-server":
        return this.ipvs.updateService(serviceSpec(op.spec));
      case "delete-virtual-server":
        return this.ipvs.deleteService(serviceKey(op.address));
      case "add-destination":
        return this.ipvs.addDestination(serviceKey(op.virtualServer), destinationSpec(op.destination));
      case "update-destination":
        return this.ipvs.updateDestination(serviceKey(op.virtualServer), destinationSpec(op.destination));
      case "delete-destination":
        return this.ipvs.deleteDestination(serviceKey(op.virtualServer), { address: op.address.ip, port: op.address.port });
    }
  }

  ensureRuler(ruler: Ruler): Promise<void> {
    return this.host.ensureRuler(ruler);
  }

  removeRuler(target: RulerTarget): Promise<void> {
    return this.host.removeRuler(target);
  }

  setSysctl(name: string, value: string): Promise<string> {
    return this.host.setSysctl(name, value);
  }

  async listAll(): Promise<IpvsTable> {
    return call("listAll", () => {
      const info = this.ipvs.info();
      const services: ListedVirtualServer[] = this.ipvs.listServices().map((s: Service) => {
        const family = familyOf(s.family);
        const fwmark = "fwmark" in s ? s.fwmark : undefined;
        const address = "address" in s ? { ip: s.address, port: s.port, family } : undefined;
        const protocol = fwmark !== undefined ? "FWM" : (("protocol" in s ? s.protocol : "tcp").toUpperCase() as "TCP" | "UDP" | "SCTP");
        return {
          family,
          protocol,
          address,
          fwmark,
          scheduler: s.scheduler,
          flags: s.flags & ~IP_VS_SVC_F_HASHED,
          timeout: s.timeout,
          netmask: String(s.netmask),
          destinations: this.ipvs.listDestinations(s).map(toDestinationState),
        };
      });
      return { version: info.version, connectionTableSize: info.connTableSize, services };
    });
  }

  async close(): Promise<void> {
    this.ipvs.close();
    this.host.close();
  }
}
