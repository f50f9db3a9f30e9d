/**
 * Reading hosts-file lines as the C library does: `#` starts a comment anywhere, fields are
 * separated by white space (C's isspace: blank, tab, CR, vertical tab, form feed), the first
 * field is the address and the others are names. The installer writes lines the daemon reads
 * (`<node IP> lvscare.node.ip`), so both read them here.
 */
import { canonicalIp, type IpFamily } from "./ip.ts";

/** The address and names of one line (without its end of line); undefined for blank and comment-only lines. */
export function hostsLineFields(line: string): { address: string; names: string[] } | undefined {
  const [data = ""] = line.split("#", 1);
  const [address, ...names] = data.split(/[ \t\r\v\f]+/).filter((field) => field !== "");
  return address === undefined ? undefined : { address, names };
}

/**
 * The canonical address of the first line naming `name` (case-insensitive, as resolvers compare)
 * whose address has the wanted family; a dual-stack node may carry one line per family.
 */
export function findHostsAddress(hostsText: string, name: string, family: IpFamily): string | undefined {
  const wanted = name.toLowerCase();
  for (const line of hostsText.split(/\r?\n/)) {
    const fields = hostsLineFields(line);
    if (fields === undefined || !fields.names.some((candidate) => candidate.toLowerCase() === wanted)) continue;
    const ip = canonicalIp(fields.address);
    if (ip !== undefined && ip.family === family) return ip.ip;
  }
  return undefined;
}
