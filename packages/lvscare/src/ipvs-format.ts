/**
 * `lvscare ipvs list`: the IPVS table as `ipvsadm -Ln` prints it (same columns and widths), or
 * as JSON, for images that carry no ipvsadm.
 */
import { IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT } from "@lvscare/ipvs-native";
import { formatEndpoint } from "./address.ts";
import type { ForwardMethod, IpvsTable, ListedVirtualServer } from "./dataplane/types.ts";

const FORWARD_NAMES: Record<ForwardMethod, string> = { masq: "Masq", local: "Local", tunnel: "Tunnel", route: "Route", bypass: "Bypass" };

const PROTOCOL_NUMBERS: Record<ListedVirtualServer["protocol"], number> = { TCP: 6, UDP: 17, SCTP: 132, FWM: 0 };

/** Address bytes as 32-bit words in network order, as libipvs compares them. */
function addressWords(ip: string, family: 4 | 6): number[] {
  if (family === 4) return [ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0)];
  const groups = expandIpv6(ip);
  return [0, 1, 2, 3].map((i) => (groups[2 * i] as number) * 0x10000 + (groups[2 * i + 1] as number));
}

function expandIpv6(text: string): number[] {
  const [head = "", tail] = text.split("::");
  const parse = (part: string): number[] => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** libipvs's comparators compute `(int)(a - b)` on unsigned words; `| 0` reproduces that wrap. */
function wrapped(a: number, b: number): number {
  return (a - b) | 0;
}

function compareAddresses(a: string, b: string, family: 4 | 6): number {
  const wa = addressWords(a, family);
  const wb = addressWords(b, family);
  for (let i = 0; i < wa.length; i++) {
    const r = wrapped(wa[i] as number, wb[i] as number);
    if (r !== 0) return r;
  }
  return 0;
}

/** ipvsadm sorts by default (ipvs_cmp_services / ipvs_cmp_dests); `-Ln` output is in this order. */
export function sortLikeIpvsadm(table: IpvsTable): IpvsTable {
  const services = [...table.services]
    .sort((s1, s2) => {
      let r = (s1.fwmark ?? 0) - (s2.fwmark ?? 0);
      if (r === 0) r = (s1.family === 6 ? 10 : 2) - (s2.family === 6 ? 10 : 2);
      if (r === 0) r = PROTOCOL_NUMBERS[s1.protocol] - PROTOCOL_NUMBERS[s2.protocol];
      if (r === 0 && s1.address && s2.address) {
        r = compareAddresses(s1.address.ip, s2.address.ip, s1.family);
        if (r === 0) r = s1.address.port - s2.address.port;
      }
      return r;
    })
    .map((service) => ({
      ...service,
      destinations: [...service.destinations].sort((d1, d2) => {
        const r = d1.address.family === d2.address.family ? compareAddresses(d1.address.ip, d2.address.ip, d1.address.family) : d1.address.family - d2.address.family;
        return r !== 0 ? r : d1.address.port - d2.address.port;
      }),
    }));
  return { ...table, services };
}

export function formatIpvsTable(unsorted: IpvsTable): string {
  const table = sortLikeIpvsadm(unsorted);
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
      // ipvsadm: "  -> %-28s %-7s %-6d %-10u %-10u\n", trailing blanks included.
      lines.push(`  -> ${name} ${forward} ${String(d.weight).padEnd(6)} ${String(d.activeConnections).padEnd(10)} ${String(d.inactiveConnections).padEnd(10)}`);
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
  const services = sortLikeIpvsadm(table).services.map((s) => ({
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
