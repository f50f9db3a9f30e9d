/** What besides the IPVS table each mode needs on the host: the "ruler" and sysctls. */
import type { CareConfig } from "./config.ts";
import type { Dataplane, DataplaneKind, Ruler, RulerTarget } from "./dataplane/types.ts";
import type { Logger } from "./log.ts";

/** Upstream's metric for the VIP route; a lower-metric route someone else adds wins over ours. */
export const ROUTE_METRIC = 50;

export function rulerTargetFor(config: CareConfig): RulerTarget | undefined {
  const vip = config.virtualServer.ip;
  const family = config.virtualServer.family;
  switch (config.mode) {
    case "route":
      return { mode: "route", vip, family, metric: ROUTE_METRIC };
    case "link":
      return { mode: "link", vip, family, iface: config.iface, masqueradeBit: config.masqueradeBit };
    case "none":
      return undefined;
  }
}

/** The ruler to ensure; route mode needs the gateway (node IP) resolved by the caller. */
export function rulerFor(config: CareConfig, gateway: string | undefined): Ruler | undefined {
  const target = rulerTargetFor(config);
  if (target === undefined) return undefined;
  if (target.mode === "route") {
    if (gateway === undefined) throw new Error("route mode needs the node IP as gateway");
    return { ...target, gateway };
  }
  return { ...target, virtualServer: config.virtualServer };
}

/** "route 10.103.97.2/32 via 192.168.0.10 metric 50", "link lvscare 10.103.97.2 + masquerade (mark bit 0)" */
export function describeRuler(ruler: Ruler): string {
  if (ruler.mode === "route") {
    return `route ${ruler.vip}/${ruler.family === 4 ? 32 : 128} via ${ruler.gateway} metric ${ruler.metric}`;
  }
  return `link ${ruler.iface} ${ruler.vip} + masquerade (mark bit ${ruler.masqueradeBit})`;
}

export interface SysctlSetting {
  readonly name: string;
  readonly value: string;
  readonly why: string;
}

/** The kernel settings the daemon needs under a dataplane of `kind` (IPVS's own knobs only for IPVS). */
export function requiredSysctls(config: CareConfig, kind: DataplaneKind): SysctlSetting[] {
  if (kind !== "ipvs") return [];
  const settings: SysctlSetting[] = [
    {
      name: "net.ipv4.vs.expire_nodest_conn",
      value: "1",
      why: "connections to a removed master are torn down at once, so clients reconnect to a live one instead of waiting ~45 s for HTTP/2 pings",
    },
  ];
  if (config.mode === "link") {
    settings.push({
      name: "net.ipv4.vs.conntrack",
      value: "1",
      why: "link mode masquerades VIP traffic, which needs conntrack entries for IPVS connections",
    });
  }
  return settings;
}

/** Sets each sysctl, logging what changed; a failure is logged and returned, not thrown. */
export async function applySysctls(dataplane: Dataplane, config: CareConfig, logger: Logger): Promise<Error | undefined> {
  let failure: Error | undefined;
  for (const setting of requiredSysctls(config, dataplane.kind)) {
    try {
      const previous = await dataplane.setSysctl(setting.name, setting.value);
      if (previous.trim() === setting.value) logger.debug({ sysctl: setting.name, value: setting.value }, "sysctl already set");
      else logger.info({ sysctl: setting.name, value: setting.value, previous: previous.trim(), why: setting.why }, "sysctl set");
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
      logger.error({ sysctl: setting.name, value: setting.value, err: failure.message }, "cannot set sysctl (is the ip_vs module loaded?)");
    }
  }
  return failure;
}
