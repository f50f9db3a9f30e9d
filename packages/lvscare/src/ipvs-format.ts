/**
 * `lvscare ipvs list`: the IPVS table as `ipvsadm -Ln` prints it (same columns and widths), or
 * as JSON, for images that carry no ipvsadm.
 */
import { formatEndpoint } from "./address.ts";
import type { ForwardMethod, IpvsTable, ListedVirtualServer } from "./dataplane/types.ts";

const FORWARD_NAMES: Record<ForwardMethod, string> = { masq: "Masq", local: "Local", tunnel: "Tunnel", route: "Route", bypass: "Bypass" };
const IP_VS_SVC_F_PERSISTENT = 0x1;
const IP_VS_SVC_F_ONEPACKET = 0x4;

export function formatIpvsTable(table: IpvsTable): string {
  const lines: string[] = [];
  const version = table.version ?? "unknown";
  lines.push(`IP Virtual Server version ${version} (size=${table.connectionTableSize ?? 0})`);
  lines.push("Prot LocalAddress:Port Scheduler Flags");
  lines.push("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn");
  for (const service of table.services) {
    lines.push(serviceLine(service));
    for (const d of service.destinations) {
      const name = formatEndpoint(d.address).padEnd(28);
      const forward = FORWARD_NAMES[d.forward].padEnd(7);
      lines.push(`  -> ${name} ${forward} ${String(d.weight).padEnd(6)} ${String(d.activeConnections).padEnd(10)} ${String(d.inactiveConnections).padEnd(10)}`.trimEnd());
    }
  }
  return `${lines.join("\n")}\n`;
}

function serviceLine(service: ListedVirtualServer): string {
  let line: string;
  if (service.protocol === "FWM") {
    line = `FWM  ${service.fwmark ?? 0} ${service.family === 6 ? "IPv6 " : ""}${service.scheduler}`;
  } else {
    line = `${service.protocol}  ${service.address ? formatEndpoint(service.address) : "?"} ${service.scheduler}`;
  }
  if (service.flags & IP_VS_SVC_F_PERSISTENT) {
    line += ` persistent ${service.timeout}`;
    const defaultMask = service.family === 4 ? "255.255.255.255" : "128";
    if (service.netmask !== defaultMask) line += ` mask ${service.netmask}`;
  }
  if (service.flags & IP_VS_SVC_F_ONEPACKET) line += " ops";
  return line;
}

/** JSON form: addresses as `IP:port` strings, everything else as the table holds it. */
export function ipvsTableToJson(table: IpvsTable): string {
  const services = table.services.map((s) => ({
    protocol: s.protocol,
    ...(s.address ? { address: formatEndpoint(s.address) } : { fwmark: s.fwmark, family: `ipv${s.family}` }),
    scheduler: s.scheduler,
    flags: s.flags,
    timeout: s.timeout,
    netmask: s.netmask,
    destinations: s.destinations.map((d) => ({
      address: formatEndpoint(d.address),
      forward: d.forward,
      weight: d.weight,
      activeConnections: d.activeConnections,
      inactiveConnections: d.inactiveConnections,
    })),
  }));
  return `${JSON.stringify({ version: table.version, connectionTableSize: table.connectionTableSize, services }, null, 2)}\n`;
}
