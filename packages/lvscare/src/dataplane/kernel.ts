/**
 * The real dataplane: IPVS over generic netlink and routes/links over rtnetlink (both through
 * @lvscare/ipvs-native, no exec on the probe path), sysctls through /proc/sys, and link mode's
 * masquerade through nftables (kernel-masquerade.ts).
 */
import { readFile, writeFile } from "node:fs/promises";
import {
  IpvsClient,
  RouteClient,
  isIpvsError,
  type Destination,
  type Service,
  type ServiceKey,
} from "@lvscare/ipvs-native";
import type { Endpoint, IpFamily } from "../address.ts";
import { DataplaneError } from "./error.ts";
import { Masquerade, type CommandRunner, type MasqueradeBackend } from "./kernel-masquerade.ts";
import type {
  Dataplane,
  DestinationSpec,
  DestinationState,
  IpvsTable,
  ListedVirtualServer,
  Ruler,
  RulerTarget,
  VirtualServerSpec,
} from "./types.ts";

/** IP_VS_SVC_F_HASHED: set by the kernel on every live service, never ours to compare. */
const SVC_F_HASHED = 0x2;
const SVC_F_PERSISTENT = 0x1;
/** How often link mode re-checks its masquerade rules (an exec) when nothing else changed. */
const MASQUERADE_RECHECK_MS = 30_000;

export interface KernelDataplaneOptions {
  /** Work in /run/netns/<netns> instead of the current network namespace (tests, tools). */
  readonly netns?: string;
  /** Exec for nft/iptables; replaced in tests of the command lines only. */
  readonly runCommand?: CommandRunner;
  /** Link mode's masquerade tool (LVSCARE_MASQUERADE); default auto. */
  readonly masquerade?: MasqueradeBackend;
}

function serviceKey(address: Endpoint): ServiceKey {
  return { protocol: "tcp", address: address.ip, port: address.port };
}

function familyOf(family: "ipv4" | "ipv6"): IpFamily {
  return family === "ipv6" ? 6 : 4;
}

function hostPrefix(ip: string, family: IpFamily): string {
  return `${ip}/${family === 6 ? 128 : 32}`;
}

/** Every failure leaves here as a DataplaneError whose code is the errno name. */
function translate(operation: string, err: unknown): DataplaneError {
  if (err instanceof DataplaneError) return err;
  if (isIpvsError(err)) {
    const code = err.kind === "ipvs-unavailable" ? "ENOPROTOOPT" : err.code;
    return new DataplaneError(operation, code, err.message);
  }
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  return new DataplaneError(operation, typeof errno === "string" ? errno : "EIO", err instanceof Error ? err.message : String(err));
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

function toVirtualServerSpec(address: Endpoint, s: Service): VirtualServerSpec {
  return { address, scheduler: s.scheduler, flags: s.flags & ~SVC_F_HASHED, timeout: s.timeout };
}

export class KernelDataplane implements Dataplane {
  private readonly ipvs: IpvsClient;
  private readonly routes: RouteClient;
  private readonly masquerade: Masquerade;
  private masqueradeCheckedAt = -Infinity;

  private constructor(ipvs: IpvsClient, routes: RouteClient, masquerade: Masquerade) {
    this.ipvs = ipvs;
    this.routes = routes;
    this.masquerade = masquerade;
  }

  /** Opens both netlink sockets; fails with a clear DataplaneError when the kernel has no IPVS. */
  static open(options: KernelDataplaneOptions = {}): KernelDataplane {
    const where = options.netns === undefined ? {} : { netns: options.netns };
    let ipvs: IpvsClient;
    try {
      ipvs = IpvsClient.open(where);
    } catch (err) {
      throw translate("open IPVS", err);
    }
    try {
      return new KernelDataplane(ipvs, RouteClient.open(where), new Masquerade(options.runCommand, options.masquerade));
    } catch (err) {
      ipvs.close();
      throw translate("open rtnetlink", err);
    }
  }

  private call<T>(operation: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw translate(operation, err);
    }
  }

  async getVirtualServer(address: Endpoint): Promise<VirtualServerSpec | undefined> {
    const service = this.call("getVirtualServer", () => this.ipvs.getService(serviceKey(address)));
    return service === undefined ? undefined : toVirtualServerSpec(address, service);
  }

  async listDestinations(virtualServer: Endpoint): Promise<DestinationState[]> {
    return this.call("listDestinations", () => this.ipvs.listDestinations(serviceKey(virtualServer)).map(toDestinationState));
  }

  async addVirtualServer(spec: VirtualServerSpec): Promise<void> {
    this.call("addVirtualServer", () => this.ipvs.addService(this.serviceSpec(spec)));
  }

  async updateVirtualServer(spec: VirtualServerSpec): Promise<void> {
    this.call("updateVirtualServer", () => this.ipvs.updateService(this.serviceSpec(spec)));
  }

  private serviceSpec(spec: VirtualServerSpec) {
    const persistent = (spec.flags & SVC_F_PERSISTENT) !== 0;
    return {
      ...serviceKey(spec.address),
      scheduler: spec.scheduler,
      persistent,
      ...(persistent ? { timeout: spec.timeout } : {}),
    };
  }

  async deleteVirtualServer(address: Endpoint): Promise<void> {
    this.call("deleteVirtualServer", () => this.ipvs.deleteService(serviceKey(address)));
  }

  async addDestination(virtualServer: Endpoint, destination: DestinationSpec): Promise<void> {
    this.call("addDestination", () => this.ipvs.addDestination(serviceKey(virtualServer), this.destinationSpec(destination)));
  }

  async updateDestination(virtualServer: Endpoint, destination: DestinationSpec): Promise<void> {
    this.call("updateDestination", () => this.ipvs.updateDestination(serviceKey(virtualServer), this.destinationSpec(destination)));
  }

  private destinationSpec(destination: DestinationSpec) {
    if (destination.forward === "bypass") {
      throw new DataplaneError("destination", "EINVAL", "the bypass forwarding method cannot be programmed");
    }
    return { address: destination.address.ip, port: destination.address.port, weight: destination.weight, forward: destination.forward };
  }

  async deleteDestination(virtualServer: Endpoint, destination: Endpoint): Promise<void> {
    this.call("deleteDestination", () =>
      this.ipvs.deleteDestination(serviceKey(virtualServer), { address: destination.ip, port: destination.port }),
    );
  }

  async ensureRuler(ruler: Ruler): Promise<void> {
    if (ruler.mode === "route") {
      this.call("ensureRoute", () => this.ensureRoute(ruler.vip, ruler.family, ruler.gateway, ruler.metric));
      return;
    }
    const repaired = this.call("ensureLink", () => this.ensureLink(ruler.iface, ruler.vip, ruler.family));
    const spec = { vip: ruler.vip, port: ruler.virtualServer.port, family: ruler.family, masqueradeBit: ruler.masqueradeBit };
    const now = performance.now();
    if (repaired || now - this.masqueradeCheckedAt >= MASQUERADE_RECHECK_MS) {
      try {
        if (repaired || !(await this.masquerade.present(spec))) await this.masquerade.ensure(spec);
      } catch (err) {
        throw translate("ensureMasquerade", err);
      }
      this.masqueradeCheckedAt = now;
    }
  }

  /**
   * Route mode. IPv4: `VIP/32 via <node IP> metric M`, upstream's route. IPv6 refuses a local
   * address as gateway ("Gateway can not be a local address"), so there the same effect (packets
   * to the VIP leave with the node IP as source, IPVS rewrites them in LOCAL_OUT) comes from
   * `VIP/128 dev <the node IP's link> src <node IP> metric M`. A route of ours that differs is replaced.
   */
  private ensureRoute(vip: string, family: IpFamily, nodeIp: string, metric: number): void {
    const destination = hostPrefix(vip, family);
    const existing = this.routes.listRoutes({ destination }).filter((r) => r.metric === metric);
    if (family === 4) {
      if (existing.some((r) => r.gateway === nodeIp)) return;
      this.routes.replaceRoute({ destination, gateway: nodeIp, metric });
      return;
    }
    const holder = this.routes.listAddresses(undefined, "ipv6").find((a) => a.address === nodeIp);
    if (holder === undefined) {
      throw new DataplaneError("ensureRoute", "EADDRNOTAVAIL", `no interface of this node has the address ${nodeIp} (the route-mode source for ${vip})`);
    }
    if (existing.some((r) => r.source === nodeIp && r.linkIndex === holder.linkIndex && r.gateway === undefined)) return;
    this.routes.replaceRoute({ destination, link: holder.linkIndex, source: nodeIp, metric });
  }

  /** Link mode: the dummy link exists and holds the VIP. Returns true when something was repaired. */
  private ensureLink(iface: string, vip: string, family: IpFamily): boolean {
    let repaired = false;
    let link = this.routes.getLink(iface);
    if (link === undefined) {
      this.routes.addDummyLink(iface);
      link = this.routes.getLink(iface);
      repaired = true;
    } else if (link.kind !== undefined && link.kind !== "dummy") {
      throw new DataplaneError("ensureLink", "EEXIST", `interface ${iface} exists and is a ${link.kind}, not a dummy interface`);
    }
    const addresses = this.routes.listAddresses(iface);
    if (!addresses.some((a) => a.address === vip)) {
      this.routes.addAddress(iface, hostPrefix(vip, family), { noDad: true });
      repaired = true;
    }
    return repaired;
  }

  async removeRuler(target: RulerTarget): Promise<void> {
    if (target.mode === "route") {
      this.call("removeRoute", () => {
        for (const route of this.routes.listRoutes({ destination: hostPrefix(target.vip, target.family) })) {
          if (route.metric !== target.metric) continue;
          this.routes.deleteRoute({
            destination: route.destination,
            metric: route.metric,
            ...(route.gateway === undefined ? {} : { gateway: route.gateway }),
          });
        }
      });
      return;
    }
    this.call("removeLink", () => {
      const link = this.routes.getLink(target.iface);
      if (link !== undefined && (link.kind === undefined || link.kind === "dummy")) this.routes.deleteLink(target.iface);
    });
    try {
      await this.masquerade.remove({ vip: target.vip, port: 0, family: target.family, masqueradeBit: target.masqueradeBit });
    } catch (err) {
      throw translate("removeMasquerade", err);
    }
  }

  async setSysctl(name: string, value: string): Promise<string> {
    if (!/^[a-z0-9_]+(\.[a-z0-9_-]+)+$/.test(name)) {
      throw new DataplaneError("setSysctl", "EINVAL", `"${name}" is not a sysctl name`);
    }
    const path = `/proc/sys/${name.replaceAll(".", "/")}`;
    try {
      const previous = (await readFile(path, "utf8")).trim();
      if (previous !== value) await writeFile(path, `${value}\n`);
      return previous;
    } catch (err) {
      throw translate(`setSysctl ${name}`, err);
    }
  }

  async listAll(): Promise<IpvsTable> {
    return this.call("listAll", () => {
      const info = this.ipvs.info();
      const services: ListedVirtualServer[] = this.ipvs.listServices().map((s) => {
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
          flags: s.flags & ~SVC_F_HASHED,
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
    this.routes.close();
  }
}
