/**
 * The nftables dataplane: the Dataplane contract over the nftables engine (nftables/README.md).
 * A thin adapter: apply(ops) is one engine edit, i.e. one nft transaction (all or nothing); routes,
 * link mode's dummy interface and sysctls go through KernelHost like IPVS's.
 *
 * Link mode's masquerade is the one host duty done differently: it lives in our own nftables
 * table (the engine's `masquerade` list), never in kernel-masquerade.ts's table of the same name,
 * so the two are never stacked. The VIPs to masquerade are remembered here and merged into every
 * edit, so a table flushed behind our back comes back whole with the next reconcile, masquerade
 * included, not only at the next ruler check.
 *
 * When the last virtual server and masquerade are gone (`lvscare care -C`), our tables are
 * deleted whole: -C leaves no `lvscare` table behind and touches nothing else.
 */
import { type Endpoint, type IpFamily, sameEndpoint } from "../address.ts";
import { DataplaneApplyError } from "./error.ts";
import { KernelHost, translate } from "./kernel-host.ts";
import { applyOps, NFTABLES_CAPABILITIES, NftablesBackend, type NftDesiredState, NftOpRefused, type NftVirtualServer } from "./nftables/index.ts";
import type { NftRunner } from "./nftables/runner.ts";
import type {
  Dataplane,
  DataplaneCapabilities,
  DataplaneOp,
  DestinationState,
  IpvsTable,
  ListedVirtualServer,
  ObservedVirtualServer,
  Ruler,
  RulerTarget,
} from "./types.ts";
import { findInvalidOp } from "./validate.ts";

export interface NftablesDataplaneOptions {
  /** Work in /run/netns/<netns> instead of the current network namespace (tests, tools). */
  readonly netns?: string;
  /** "interactive" (default: one long-lived `nft -i`), "exec", or a runner of your own. */
  readonly runner?: "interactive" | "exec" | NftRunner;
  /** How long one nft command may take before nft counts as wedged (killed, the command retried). Default 5 s. */
  readonly commandTimeoutMs?: number;
  /** Told, in one line, when nft was lost (wedged or dead) and what was done about it. */
  readonly onProcessLost?: (message: string) => void;
  /** Told, in one line, when something works less well than it should (no change check: every pass lists our tables). */
  readonly onWarning?: (message: string) => void;
}

const FAMILIES: readonly IpFamily[] = [4, 6];

function destinationsOf(vs: NftVirtualServer): DestinationState[] {
  // nftables keeps no per-destination connection counts (conntrack would have to be walked).
  return vs.destinations.map((d) => ({ address: d.address, weight: d.weight, forward: "masq", activeConnections: 0, inactiveConnections: 0 }));
}

function withMasquerade(state: NftDesiredState, wanted: readonly Endpoint[]): NftDesiredState {
  const missing = wanted.filter((vip) => !state.masquerade.some((m) => sameEndpoint(m, vip)));
  return missing.length === 0 ? state : { ...state, masquerade: [...state.masquerade, ...missing] };
}

export class NftablesDataplane implements Dataplane {
  readonly kind = "nftables";
  readonly capabilities: DataplaneCapabilities = NFTABLES_CAPABILITIES;
  private readonly backend: NftablesBackend;
  private readonly host: KernelHost;
  /** Link mode's VIPs (with their port), kept in our table's masquerade chain. */
  private masquerade: Endpoint[] = [];

  private constructor(backend: NftablesBackend, host: KernelHost) {
    this.backend = backend;
    this.host = host;
  }

  /** Starts nft and opens rtnetlink; changes nothing. Fails with a clear DataplaneError without nft or nf_tables. */
  static async open(options: NftablesDataplaneOptions = {}): Promise<NftablesDataplane> {
    const netns = options.netns === undefined ? {} : { netns: options.netns };
    const backend = await NftablesBackend.open({
      ...netns,
      ...(options.runner === undefined ? {} : { runner: options.runner }),
      ...(options.commandTimeoutMs === undefined ? {} : { timeoutMs: options.commandTimeoutMs }),
      ...(options.onProcessLost === undefined ? {} : { onProcessLost: options.onProcessLost }),
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    });
    try {
      return new NftablesDataplane(backend, KernelHost.open(netns));
    } catch (err) {
      await backend.close();
      throw translate("open rtnetlink", err);
    }
  }

  async read(address: Endpoint): Promise<ObservedVirtualServer | undefined> {
    const vs = await this.backend.readVirtualServer(address);
    if (vs === undefined) return undefined;
    return { address: vs.address, scheduler: vs.scheduler, persistenceTimeout: 0, extraSettings: [], destinations: destinationsOf(vs) };
  }

  async apply(ops: readonly DataplaneOp[]): Promise<void> {
    const invalid = findInvalidOp(ops, this.capabilities);
    if (invalid !== undefined) throw new DataplaneApplyError(ops, invalid.index, 0, invalid.error);
    try {
      await this.edit((current) => applyOps(current, ops));
    } catch (err) {
      if (err instanceof NftOpRefused) throw new DataplaneApplyError(ops, err.index, 0, err);
      throw translate("apply", err);
    }
  }

  /** One transaction from the current tables plus link mode's masquerade; our tables go when nothing is left in them. */
  private async edit(change: (current: NftDesiredState) => NftDesiredState): Promise<void> {
    let left = true;
    await this.backend.edit((current) => {
      const next = withMasquerade(change(withMasquerade(current, this.masquerade)), this.masquerade);
      left = next.virtualServers.length > 0 || next.masquerade.length > 0;
      return next;
    });
    // The removed set alone (connections to reset) has nothing left to protect once no VIP is DNATed.
    if (!left) await this.backend.remove();
  }

  async ensureRuler(ruler: Ruler): Promise<void> {
    if (ruler.mode === "route") return this.host.ensureRuler(ruler);
    this.host.ensureLinkOnly(ruler.iface, ruler.vip, ruler.family);
    if (!this.masquerade.some((vip) => sameEndpoint(vip, ruler.virtualServer))) this.masquerade = [...this.masquerade, ruler.virtualServer];
    try {
      await this.edit((current) => current);
    } catch (err) {
      throw translate("ensureMasquerade", err);
    }
  }

  async removeRuler(target: RulerTarget): Promise<void> {
    if (target.mode === "route") return this.host.removeRuler(target);
    this.host.removeLinkOnly(target.iface);
    this.masquerade = this.masquerade.filter((vip) => vip.ip !== target.vip);
    try {
      await this.edit((current) => ({ ...current, masquerade: current.masquerade.filter((vip) => vip.ip !== target.vip) }));
    } catch (err) {
      throw translate("removeMasquerade", err);
    }
  }

  setSysctl(name: string, value: string): Promise<string> {
    return this.host.setSysctl(name, value);
  }

  /** Our virtual servers in ipvsadm's terms (TCP, masq, no flags); nftables has no connection table size. */
  async listAll(): Promise<IpvsTable> {
    const services: ListedVirtualServer[] = [];
    for (const family of FAMILIES) {
      const { state } = await this.backend.read(family);
      for (const vs of state.virtualServers) {
        services.push({
          family,
          protocol: "TCP",
          address: vs.address,
          fwmark: undefined,
          scheduler: vs.scheduler,
          flags: 0,
          timeout: 0,
          netmask: family === 6 ? "128" : "255.255.255.255",
          destinations: destinationsOf(vs),
        });
      }
    }
    return { version: undefined, connectionTableSize: undefined, services };
  }

  /** Removes our tables (both families) and nothing else; absent ones are fine. */
  async removeOwnTables(): Promise<void> {
    this.masquerade = [];
    await this.backend.remove();
  }

  async close(): Promise<void> {
    this.host.close();
    await this.backend.close();
  }
}
