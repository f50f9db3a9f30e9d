import { type Endpoint, formatEndpoint, parseEndpoint, sameEndpoint } from "./address.ts";
import { UsageError } from "./errors.ts";

export interface ServerList {
  readonly virtualServer: Endpoint;
  readonly realServers: readonly Endpoint[];
}

/**
 * Splits repeated and comma-separated `--rs` values (`--rs a --rs b,c`) into single entries;
 * blanks around commas are tolerated, empty entries are an error rather than silently dropped.
 */
export function splitRealServerArgs(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    for (const part of value.split(",")) {
      const entry = part.trim();
      if (entry === "") throw new UsageError(`--rs: empty entry in "${value}"`);
      out.push(entry);
    }
  }
  return out;
}

/** Validates the virtual server and its real servers together (the checks that need both). */
export function parseServerList(vs: string, rs: readonly string[]): ServerList {
  const virtualServer = parseEndpoint(vs, "--vs");
  const entries = splitRealServerArgs(rs);
  if (entries.length === 0) throw new UsageError("--rs: at least one real server is required");
  const realServers: Endpoint[] = [];
  for (const entry of entries) {
    const endpoint = parseEndpoint(entry, "--rs");
    if (sameEndpoint(endpoint, virtualServer)) {
      throw new UsageError(`--rs: ${formatEndpoint(endpoint)} is the virtual server itself (--vs)`);
    }
    if (endpoint.family !== virtualServer.family) {
      throw new UsageError(
        `--rs: ${formatEndpoint(endpoint)} is IPv${endpoint.family} but --vs ${formatEndpoint(virtualServer)} is IPv${virtualServer.family} (IPVS NAT cannot mix families)`,
      );
    }
    if (realServers.some((known) => sameEndpoint(known, endpoint))) {
      throw new UsageError(`--rs: ${formatEndpoint(endpoint)} is listed twice`);
    }
    realServers.push(endpoint);
  }
  return { virtualServer, realServers };
}
