/**
 * Reads the route-mode gateway from the hosts file, where sealos writes `<node IP> lvscare.node.ip`
 * on every worker. Tolerant of what real hosts files contain: comments, tabs, several names per
 * line, CRLF endings, a last line without newline.
 */
import { canonicalIp, type IpFamily } from "./address.ts";

export const NODE_IP_HOST_NAME = "lvscare.node.ip";

/**
 * The address of the first line naming `name` (case-insensitive) whose address has the wanted
 * family; a dual-stack node may carry one line per family.
 */
export function findHostsAddress(hostsText: string, name: string, family: IpFamily): string | undefined {
  const wanted = name.toLowerCase();
  for (const rawLine of hostsText.split(/\r?\n/)) {
    const line = rawLine.replace(/#.*/, "").trim();
    if (line === "") continue;
    const [address, ...names] = line.split(/\s+/);
    if (address === undefined || !names.some((n) => n.toLowerCase() === wanted)) continue;
    const ip = canonicalIp(address);
    if (ip && ip.family === family) return ip.ip;
  }
  return undefined;
}
