/**
 * FAKE dataplane: an in-memory IPVS table, route table, dummy links and sysctls for unit tests on
 * hosts without IPVS. It answers the way the kernel does (EEXIST, ESRCH, ENOENT, ERANGE, EINVAL)
 * so that code which only works against a forgiving fake fails here too. Every mutating call is
 * recorded in `operations`, and `failNext` injects a kernel error into the next matching call.
 * The real behaviour is proven against a real kernel by the kernel suite (test/kernel/).
 */
import { type Endpoint, formatEndpoint } from "../address.ts";
import { DataplaneError } from "./error.ts";
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

/** Schedulers a stock kernel builds (ipvs-netlink.md 4.5); others answer ENOENT like a missing module. */
const KERNEL_SCHEDULERS = new Set(["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos", "none"]);
const MAX_WEIGHT = 2 ** 31 - 1;

export interface FakeOperation {
  readonly op: string;
  /** Human-readable target: "1.2.3.4:6443", "1.2.3.4:6443 -> 10.0.0.1:6443 w=1", ... */
  readonly target: string;
}

export interface FakeRoute {
  readonly destination: string;
  readonly gateway: string;
  readonly metric: number;
}

export interface FakeLink {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly masqueradeBit: number;
}

interface StoredService {
  spec: VirtualServerSpec;
  destinations: Map<string, DestinationState>;
}

const key = (endpoint: Endpoint): string => formatEndpoint(endpoint);

export class FakeDataplane implements Dataplane {
  readonly operations: FakeOperation[] = [];
  readonly sysctls = new Map<string, string>([
    ["net.ipv4.vs.expire_nodest_conn", "0"],
    ["net.ipv4.vs.conntrack", "0"],
    ["net.ipv4.vs.conn_reuse_mode", "1"],
    ["net.ipv4.ip_forward", "0"],
  ]);
  private readonly services = new Map<string, StoredService>();
  private readonly routes = new Map<string, FakeRoute>();
  private readonly links = new Map<string, FakeLink>();
  private readonly faults: Array<{ op: string; code: string }> = [];
  private closed = false;

  /** The next call of `op` (e.g. "addDestination") rejects with `code`, as the kernel would. */
  failNext(op: string, code: string): void {
    this.faults.push({ op, code });
  }

  /** What someone else does behind the daemon's back: kube-proxy's cleanup issues IPVS FLUSH. */
  flushAll(): void {
    this.services.clear();
  }

  routeList(): FakeRoute[] {
    return [...this.routes.values()];
  }

  linkList(): FakeLink[] {
    return [...this.links.values()];
  }

  /** Destinations of a virtual server as `address -> weight`, for compact assertions. */
  weights(virtualServer: Endpoint): Record<string, number> | undefined {
    const service = this.services.get(key(virtualServer));
    if (!service) return undefined;
    return Object.fromEntries([...service.destinations.values()].map((d) => [formatEndpoint(d.address), d.weight]));
  }

  async getVirtualServer(address: Endpoint): Promise<VirtualServerSpec | undefined> {
    this.enter("getVirtualServer");
    return this.services.get(key(address))?.spec;
  }

  async listDestinations(virtualServer: Endpoint): Promise<DestinationState[]> {
    this.enter("listDestinations");
    // GET_DEST on a missing service is an empty dump, not ESRCH (ipvs-netlink.md 5).
    return [...(this.services.get(key(virtualServer))?.destinations.values() ?? [])];
  }

  async addVirtualServer(spec: VirtualServerSpec): Promise<void> {
    this.enter("addVirtualServer");
    this.checkServiceSpec("addVirtualServer", spec);
    if (this.services.has(key(spec.address))) throw new DataplaneError("addVirtualServer", "EEXIST", "Service already exists");
    this.services.set(key(spec.address), { spec, destinations: new Map() });
    this.record("addVirtualServer", `${key(spec.address)} ${spec.scheduler}`);
  }

  async updateVirtualServer(spec: VirtualServerSpec): Promise<void> {
    this.enter("updateVirtualServer");
    this.checkServiceSpec("updateVirtualServer", spec);
    const service = this.requireService("updateVirtualServer", spec.address);
    service.spec = spec;
    this.record("updateVirtualServer", `${key(spec.address)} ${spec.scheduler} flags=${spec.flags} timeout=${spec.timeout}`);
  }

  async deleteVirtualServer(address: Endpoint): Promise<void> {
    this.enter("deleteVirtualServer");
    this.requireService("deleteVirtualServer", address);
    this.services.delete(key(address));
    this.record("deleteVirtualServer", key(address));
  }

  async addDestination(virtualServer: Endpoint, destination: DestinationSpec): Promise<void> {
    this.enter("addDestination");
    const service = this.requireService("addDestination", virtualServer);
    this.checkDestination("addDestination", virtualServer, destination);
    if (service.destinations.has(key(destination.address))) {
      throw new DataplaneError("addDestination", "EEXIST", "Destination already exists");
    }
    service.destinations.set(key(destination.address), { ...destination, activeConnections: 0, inactiveConnections: 0 });
    this.record("addDestination", `${key(virtualServer)} -> ${key(destination.address)} w=${destination.weight}`);
  }

  async updateDestination(virtualServer: Endpoint, destination: DestinationSpec): Promise<void> {
    this.enter("updateDestination");
    const service = this.requireService("updateDestination", virtualServer);
    this.checkDestination("updateDestination", virtualServer, destination);
    const current = service.destinations.get(key(destination.address));
    if (!current) throw new DataplaneError("updateDestination", "ENOENT", "No such destination");
    service.destinations.set(key(destination.address), { ...current, ...destination });
    this.record("updateDestination", `${key(virtualServer)} -> ${key(destination.address)} w=${destination.weight}`);
  }

  async deleteDestination(virtualServer: Endpoint, destination: Endpoint): Promise<void> {
    this.enter("deleteDestination");
    const service = this.requireService("deleteDestination", virtualServer);
    if (!service.destinations.delete(key(destination))) {
      throw new DataplaneError("deleteDestination", "ENOENT", "No such destination");
    }
    this.record("deleteDestination", `${key(virtualServer)} -> ${key(destination)}`);
  }

  async ensureRuler(ruler: Ruler): Promise<void> {
    this.enter("ensureRuler");
    if (ruler.mode === "route") {
      if (!ruler.gateway) throw new DataplaneError("ensureRuler", "EINVAL", "route needs a gateway");
      const prefix = ruler.family === 4 ? 32 : 128;
      const route = { destination: `${ruler.vip}/${prefix}`, gateway: ruler.gateway, metric: ruler.metric };
      const routeKey = `${route.destination} metric ${route.metric}`;
      const existing = this.routes.get(routeKey);
      if (existing?.gateway === route.gateway) return;
      this.routes.set(routeKey, route);
      this.record("ensureRuler", `route ${route.destination} via ${route.gateway} metric ${route.metric}`);
      return;
    }
    const link = this.links.get(ruler.iface);
    if (link?.addresses.includes(ruler.vip) && link.masqueradeBit === ruler.masqueradeBit) return;
    const addresses = [...new Set([...(link?.addresses ?? []), ruler.vip])];
    this.links.set(ruler.iface, { name: ruler.iface, addresses, masqueradeBit: ruler.masqueradeBit });
    this.record("ensureRuler", `link ${ruler.iface} ${ruler.vip} masquerade bit ${ruler.masqueradeBit}`);
  }

  async removeRuler(target: RulerTarget): Promise<void> {
    this.enter("removeRuler");
    if (target.mode === "route") {
      const prefix = target.family === 4 ? 32 : 128;
      if (this.routes.delete(`${target.vip}/${prefix} metric ${target.metric}`)) {
        this.record("removeRuler", `route ${target.vip}/${prefix} metric ${target.metric}`);
      }
      return;
    }
    if (this.links.delete(target.iface)) this.record("removeRuler", `link ${target.iface}`);
  }

  async setSysctl(name: string, value: string): Promise<string> {
    this.enter("setSysctl");
    const previous = this.sysctls.get(name);
    if (previous === undefined) throw new DataplaneError("setSysctl", "ENOENT", `no sysctl ${name}`);
    this.sysctls.set(name, value);
    if (previous !== value) this.record("setSysctl", `${name}=${value}`);
    return previous;
  }

  async listAll(): Promise<IpvsTable> {
    this.enter("listAll");
    const services: ListedVirtualServer[] = [...this.services.values()].map(({ spec, destinations }) => ({
      family: spec.address.family,
      protocol: "TCP",
      address: spec.address,
      fwmark: undefined,
      scheduler: spec.scheduler,
      flags: spec.flags,
      timeout: spec.timeout,
      netmask: spec.address.family === 4 ? "255.255.255.255" : "128",
      destinations: [...destinations.values()],
    }));
    return { version: "1.2.1", connectionTableSize: 4096, services };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private enter(op: string): void {
    if (this.closed) throw new DataplaneError(op, "EBADF", "dataplane is closed");
    const index = this.faults.findIndex((fault) => fault.op === op);
    if (index >= 0) {
      const [fault] = this.faults.splice(index, 1);
      throw new DataplaneError(op, fault?.code ?? "EIO", "injected fault");
    }
  }

  private record(op: string, target: string): void {
    this.operations.push({ op, target });
  }

  private requireService(op: string, address: Endpoint): StoredService {
    const service = this.services.get(key(address));
    if (!service) throw new DataplaneError(op, "ESRCH", "No such service");
    return service;
  }

  private checkServiceSpec(op: string, spec: VirtualServerSpec): void {
    if (!KERNEL_SCHEDULERS.has(spec.scheduler)) {
      throw new DataplaneError(op, "ENOENT", `Scheduler or persistence engine not found: ${spec.scheduler}`);
    }
    if (!Number.isInteger(spec.flags) || spec.flags < 0 || !Number.isInteger(spec.timeout) || spec.timeout < 0) {
      throw new DataplaneError(op, "EINVAL", "invalid flags or timeout");
    }
  }

  private checkDestination(op: string, virtualServer: Endpoint, destination: DestinationSpec): void {
    if (!Number.isInteger(destination.weight) || destination.weight < 0 || destination.weight > MAX_WEIGHT) {
      throw new DataplaneError(op, "ERANGE", `weight ${destination.weight} out of range`);
    }
    if (destination.address.family !== virtualServer.family && destination.forward !== "tunnel") {
      throw new DataplaneError(op, "EINVAL", "address family differs from the service's");
    }
    if (destination.address.ip === "0.0.0.0" || destination.address.ip === "::") {
      throw new DataplaneError(op, "EINVAL", "destination address is not unicast");
    }
  }
}
