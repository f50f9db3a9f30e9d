/**
 * FAKE dataplane: an in-memory IPVS table, route table, dummy links and sysctls for tests on hosts
 * without IPVS. It imitates the kernel's IPVS backend (ipvs.ts): the same capabilities (weight
 * limit 65535), the same errno for every refusal (EEXIST, ESRCH, ENOENT, ERANGE, EINVAL), ops
 * applied in order up to the first refusal; with `{ capabilities: { atomicApply: true } }` it
 * applies all or nothing instead, as a transactional backend (nftables) does. The contract suite
 * (test/dataplane-contract.ts) runs the same scenarios against it and against the real kernel.
 *
 * For tests: every change is recorded in `operations`, `failNext` makes the kernel refuse the next
 * matching call, `flushAll` is someone else's IPVS FLUSH, and `dump()` prints the table as
 * `ipvsadm -Ln` does, for assertion messages a person can read.
 */
import { IP_VS_SVC_F_PERSISTENT } from "@lvscare/ipvs-native";
import { type Endpoint, formatEndpoint } from "../address.ts";
import { formatIpvsTable } from "../ipvs-format.ts";
import { withCode } from "./apply-in-order.ts";
import { DataplaneApplyError, DataplaneError } from "./error.ts";
import { IPVS_CAPABILITIES } from "./ipvs-capabilities.ts";
import { OPERATION_NAMES } from "./ops.ts";
import type {
  Dataplane,
  DataplaneCapabilities,
  DataplaneOp,
  DestinationSpec,
  DestinationState,
  IpvsTable,
  ObservedVirtualServer,
  Ruler,
  RulerTarget,
  VirtualServerSpec,
} from "./types.ts";
import { findInvalidOp } from "./validate.ts";

export interface FakeOperation {
  /** The IPVS call: "addVirtualServer", "updateDestination", ..., "ensureRuler", "setSysctl". */
  readonly op: string;
  /** Human-readable target: "1.2.3.4:6443", "1.2.3.4:6443 -> 10.0.0.1:6443 w=1", ... */
  readonly target: string;
}

/** Calls `failNext` can target: the op names of OPERATION_NAMES, and the other calls. */
export type FakeCall = (typeof OPERATION_NAMES)[keyof typeof OPERATION_NAMES] | "read" | "listAll" | "ensureRuler" | "removeRuler" | "setSysctl";

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

export interface FakeDataplaneOptions {
  /**
   * What differs from IPVS's capabilities, e.g. `{ atomicApply: true }` to apply op lists all or
   * nothing as a transactional backend does, or fewer schedulers.
   */
  readonly capabilities?: Partial<DataplaneCapabilities>;
}

interface StoredService {
  spec: VirtualServerSpec;
  destinations: Map<string, DestinationState>;
}

const key = (endpoint: Endpoint): string => formatEndpoint(endpoint);

export class FakeDataplane implements Dataplane {
  readonly kind = "ipvs";
  readonly capabilities: DataplaneCapabilities;
  readonly operations: FakeOperation[] = [];
  readonly sysctls = new Map<string, string>([
    ["net.ipv4.vs.expire_nodest_conn", "0"],
    ["net.ipv4.vs.conntrack", "0"],
    ["net.ipv4.vs.conn_reuse_mode", "1"],
    ["net.ipv4.ip_forward", "0"],
  ]);
  private services = new Map<string, StoredService>();
  private readonly routes = new Map<string, FakeRoute>();
  private readonly links = new Map<string, FakeLink>();
  private readonly faults: Array<{ call: FakeCall; code: string }> = [];
  private closed = false;

  constructor(options: FakeDataplaneOptions = {}) {
    this.capabilities = { ...IPVS_CAPABILITIES, ...options.capabilities };
  }

  /** The next `call` (e.g. "addDestination", "read") is refused with `code`, as the kernel would. */
  failNext(call: FakeCall, code: string): void {
    this.faults.push({ call, code });
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

  /** The whole table as `ipvsadm -Ln` prints it. */
  dump(): string {
    return formatIpvsTable(this.table());
  }

  async read(address: Endpoint): Promise<ObservedVirtualServer | undefined> {
    this.enter("read");
    const service = this.services.get(key(address));
    if (service === undefined) return undefined;
    return { ...service.spec, extraSettings: [], destinations: [...service.destinations.values()] };
  }

  async apply(ops: readonly DataplaneOp[]): Promise<void> {
    this.checkOpen("apply");
    const invalid = findInvalidOp(ops, this.capabilities);
    if (invalid !== undefined) throw new DataplaneApplyError(ops, invalid.index, 0, invalid.error);
    const before = this.capabilities.atomicApply ? this.snapshot() : undefined;
    const recorded = this.operations.length;
    for (const [index, op] of ops.entries()) {
      try {
        this.applyOne(op);
      } catch (err) {
        if (before !== undefined) {
          this.services = before;
          this.operations.length = recorded;
        }
        throw new DataplaneApplyError(ops, index, before === undefined ? index : 0, withCode(op, err));
      }
    }
  }

  private applyOne(op: DataplaneOp): void {
    const name = OPERATION_NAMES[op.kind];
    this.enter(name);
    switch (op.kind) {
      case "add-virtual-server": {
        if (this.services.has(key(op.spec.address))) throw new DataplaneError(name, "EEXIST", "Service already exists");
        this.services.set(key(op.spec.address), { spec: op.spec, destinations: new Map() });
        this.record(name, `${key(op.spec.address)} ${op.spec.scheduler}`);
        return;
      }
      case "update-virtual-server": {
        this.requireService(name, op.spec.address).spec = op.spec;
        this.record(name, `${key(op.spec.address)} ${op.spec.scheduler} persistence=${op.spec.persistenceTimeout}`);
        return;
      }
      case "delete-virtual-server": {
        this.requireService(name, op.address);
        this.services.delete(key(op.address));
        this.record(name, key(op.address));
        return;
      }
      case "add-destination": {
        const service = this.requireService(name, op.virtualServer);
        if (service.destinations.has(key(op.destination.address))) throw new DataplaneError(name, "EEXIST", "Destination already exists");
        service.destinations.set(key(op.destination.address), { ...op.destination, activeConnections: 0, inactiveConnections: 0 });
        this.record(name, destinationTarget(op.virtualServer, op.destination));
        return;
      }
      case "update-destination": {
        const service = this.requireService(name, op.virtualServer);
        const current = service.destinations.get(key(op.destination.address));
        if (!current) throw new DataplaneError(name, "ENOENT", "No such destination");
        service.destinations.set(key(op.destination.address), { ...current, ...op.destination });
        this.record(name, destinationTarget(op.virtualServer, op.destination));
        return;
      }
      case "delete-destination": {
        const service = this.requireService(name, op.virtualServer);
        if (!service.destinations.delete(key(op.address))) throw new DataplaneError(name, "ENOENT", "No such destination");
        this.record(name, `${key(op.virtualServer)} -> ${key(op.address)}`);
        return;
      }
    }
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
    return this.table();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private table(): IpvsTable {
    const services = [...this.services.values()].map(({ spec, destinations }) => ({
      family: spec.address.family,
      protocol: "TCP" as const,
      address: spec.address,
      fwmark: undefined,
      scheduler: spec.scheduler,
      flags: spec.persistenceTimeout > 0 ? IP_VS_SVC_F_PERSISTENT : 0,
      timeout: spec.persistenceTimeout,
      netmask: spec.address.family === 4 ? "255.255.255.255" : "128",
      destinations: [...destinations.values()],
    }));
    return { version: "1.2.1", connectionTableSize: 4096, services };
  }

  private snapshot(): Map<string, StoredService> {
    return new Map([...this.services].map(([k, s]) => [k, { spec: s.spec, destinations: new Map(s.destinations) }]));
  }

  private checkOpen(call: string): void {
    if (this.closed) throw new DataplaneError(call, "EBADF", "dataplane is closed");
  }

  private enter(call: FakeCall): void {
    this.checkOpen(call);
    const index = this.faults.findIndex((fault) => fault.call === call);
    if (index >= 0) {
      const [fault] = this.faults.splice(index, 1);
      throw new DataplaneError(call, fault?.code ?? "EIO", "injected fault");
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
}

function destinationTarget(virtualServer: Endpoint, destination: DestinationSpec): string {
  return `${key(virtualServer)} -> ${key(destination.address)} w=${destination.weight}`;
}
