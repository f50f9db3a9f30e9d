/**
 * Addresses and endpoints in the daemon's terms: the shared contract (@lvscare/contracts/ip)
 * with errors that name the flag. Bodies live in the contracts package; these re-exports are
 * kept until lvscare's modules import it directly.
 */
import { parseEndpoint as parseEndpointText, parsePort, type Endpoint } from "@lvscare/contracts/ip";
import { UsageError } from "./errors.ts";

export { canonicalIp, formatEndpoint, isUnspecifiedIp, parsePort, sameEndpoint, type Endpoint, type IpFamily } from "@lvscare/contracts/ip";

/**
 * Parses `IP:port` or `[IPv6]:port`. `what` names the input in the error (e.g. `--rs`), so the
 * user sees which of several flags is wrong.
 */
export function parseEndpoint(text: string, what: string): Endpoint {
  const parsed = parseEndpointText(text);
  if ("error" in parsed) throw new UsageError(`${what}: ${parsed.error}`);
  return parsed;
}

/** Where an HTTP server listens: `IP:port`, `[IPv6]:port`, or `:port` for every address. */
export interface ListenAddress {
  /** undefined = all addresses */
  readonly ip: string | undefined;
  readonly port: number;
}

export function parseListenAddress(text: string, what: string): ListenAddress {
  const value = text.trim();
  if (value.startsWith(":")) {
    const port = parsePort(value.slice(1));
    if (port === undefined) throw new UsageError(`${what}: port in "${text}" is not 1..65535`);
    return { ip: undefined, port };
  }
  const endpoint = parseEndpoint(value, what);
  return { ip: endpoint.ip, port: endpoint.port };
}
