import { isIPv4, isIPv6 } from "node:net";
import { UsageError } from "./errors.ts";

export type IpFamily = 4 | 6;

/** An IP address with a TCP port, as IPVS identifies virtual and real servers. */
export interface Endpoint {
  /** Canonical text form: dotted quad, or compressed lower-case IPv6 without brackets. */
  readonly ip: string;
  readonly port: number;
  readonly family: IpFamily;
}

/**
 * Canonical form of an IP address, or undefined when `text` is not one. IPv6 is compressed and
 * lower-cased so that `2001:DB8:0::1` and `2001:db8::1` compare equal; zone ids are refused
 * because IPVS has no notion of them.
 */
export function canonicalIp(text: string): { ip: string; family: IpFamily } | undefined {
  if (isIPv4(text)) return { ip: text, family: 4 };
  if (!isIPv6(text) || text.includes("%")) return undefined;
  // The WHATWG URL parser produces the RFC 5952 form; cheaper than writing a compressor.
  const host = new URL(`http://[${text}]/`).hostname;
  return { ip: host.slice(1, -1), family: 6 };
}

/** Parses a decimal TCP port 1..65535; undefined for anything else (signs, hex, blanks). */
export function parsePort(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * Parses `IP:port` or `[IPv6]:port`. `what` names the input in the error (e.g. `--rs`), so the
 * user sees which of several flags is wrong.
 */
export function parseEndpoint(text: string, what: string): Endpoint {
  const value = text.trim();
  let host: string;
  let portText: string;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close < 0 || value[close + 1] !== ":") {
      throw new UsageError(`${what}: "${text}" is not IP:port (IPv6 is written [addr]:port)`);
    }
    host = value.slice(1, close);
    portText = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(":");
    if (colon < 0) throw new UsageError(`${what}: "${text}" has no port (expected IP:port)`);
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(":")) {
      throw new UsageError(`${what}: "${text}" looks like IPv6 without brackets (write [addr]:port)`);
    }
  }
  if (portText === "") throw new UsageError(`${what}: "${text}" has no port (expected IP:port)`);
  const ip = canonicalIp(host);
  if (!ip) throw new UsageError(`${what}: "${host}" in "${text}" is not a valid IP address`);
  const port = parsePort(portText);
  if (port === undefined) throw new UsageError(`${what}: port "${portText}" in "${text}" is not 1..65535`);
  return { ip: ip.ip, port, family: ip.family };
}

/** `1.2.3.4:6443` or `[2001:db8::1]:6443`: the form users write and ipvsadm prints. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.family === 6 ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`;
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.ip === b.ip && a.port === b.port && a.family === b.family;
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

/** True for 0.0.0.0 and ::, which mean "every address" to a listening socket. */
export function isUnspecifiedIp(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::";
}
