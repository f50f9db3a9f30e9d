/**
 * The host-side duties of a kernel dataplane, whatever balances the VIP: the mode's ruler (routes
 * and dummy links over rtnetlink through @lvscare/ipvs-native, link mode's masquerade through
 * kernel-masquerade.ts) and sysctls through /proc/sys. The IPVS backend composes it; an nftables
 * backend can do the same.
 */
import { readFile, writeFile } from "node:fs/promises";
import { RouteClient, isIpvsError } from "@lvscare/ipvs-native";
import type { IpFamily } from "../address.ts";
import { DataplaneError } from "./error.ts";
import { Masquerade, type CommandRunner, type MasqueradeBackend } from "./kernel-masquerade.ts";
import type { Ruler, RulerTarget } from "./types.ts";

/** How often link mode re-checks its masquerade rules (an exec) when nothing else changed. */
const MASQUERADE_RECHECK_MS = 30_000;

export interface KernelHostOptions {
  /** Work in /run/netns/<netns> instead of the current network namespace (tests, tools). */
  readonly netns?: string;
  /** Exec for nft/iptables; replaced in tests of the command lines only. */
  readonly runCommand?: CommandRunner;
  /** Link mode's masquerade tool (LVSCARE_MASQUERADE); default auto. */
  readonly masquerade?: MasqueradeBackend;
}

function hostPrefix(ip: string, family: IpFamily): string {
  return `${ip}/${family === 6 ? 128 : 32}`;
}

/** Every failure leaves a kernel dataplane as a DataplaneError whose code is the errno name. */
export function translate(operation: string, err: unknown): DataplaneError {
  if (err instanceof DataplaneError) return err;
  if (isIpvsError(err)) {
    const code = err.kind === "ipvs-unavailable" ? "ENOPROTOOPT" : err.code;
    return new DataplaneError(operation, code, err.message);
  }
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  return new DataplaneError(operation, typeof errno === "string" ? errno : "EIO", err instanceof Error ? err.message : String(err));
}

/** Runs a synchronous netlink call, translating its failure. */
export function call<T>(operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw translate(operation, err);
  }
}

export class KernelHost {
  private readonly routes: RouteClient;
  private readonly masquerade: Masquerade;
  private masqueradeCheckedAt = -Infinity;

  private constructor(routes: RouteClient, masquerade: Masquerade) {
    this.routes = routes;
    this.masquerade = masquerade;
  }

  /** Opens the rtnetlink socket; changes nothing on the host. */
  static open(options: KernelHostOptions = {}): KernelHost {
    const routes = call("open rtnetlink", () => RouteClient.open(options.netns === undefined ? {} : { netns: options.netns }));
    return new KernelHost(routes, new Masquerade(options.runCommand, options.masquerade));
  }

  async ensureRuler(ruler: Ruler): Promise<void> {
    if (ruler.mode === "route") {
      call("ensureRoute", () => this.ensureRoute(ruler.vip, ruler.family, ruler.gateway, ruler.metric));
      return;
    }
    const repaired = call("ensureLink", () => this.ensureLink(ruler.iface, ruler.vip, ruler.family));
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

  /**
   * Link mode's interface alone, without the masquerade: for a dataplane that masquerades in its
   * own nftables table (the nftables dataplane), which must not be stacked with Masquerade's.
   * Returns true when something was repaired.
   */
  ensureLinkOnly(iface: string, vip: string, family: IpFamily): boolean {
    return call("ensureLink", () => this.ensureLink(iface, vip, family));
  }

  /** Removes link mode's dummy interface (only a dummy one); absent is fine. */
  removeLinkOnly(iface: string): void {
    call("removeLink", () => {
      const link = this.routes.getLink(iface);
      if (link !== undefined && (link.kind === undefined || link.kind === "dummy")) this.routes.deleteLink(iface);
    });
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
      call("removeRoute", () => {
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
    this.removeLinkOnly(target.iface);
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

  close(): void {
    this.routes.close();
  }
}
