/**
 * Every value that reaches a rule is checked here before anything is rendered: canonical IPs of
 * the table's family (so no text but an address can get into the script), integer ports and
 * weights, known schedulers, no duplicates. A failure names the value and changes nothing.
 */
import { MAX_WEIGHT } from "@lvscare/ipvs-native";
import { canonicalIp, type Endpoint, formatEndpoint, type IpFamily } from "../../address.ts";
import { SCHEDULERS } from "../../config.ts";
import { DataplaneError } from "../error.ts";
import { liveDestinations, type NftFamilyState } from "./model.ts";
import { isRotating } from "./schedule.ts";

function invalid(message: string): DataplaneError {
  return new DataplaneError("nftables", "EINVAL", message);
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

export function checkIp(ip: unknown, family: IpFamily, what: string): string {
  const canonical = typeof ip === "string" ? canonicalIp(ip) : undefined;
  if (canonical === undefined) throw invalid(`${what}: ${describe(ip)} is not an IP address`);
  if (canonical.ip !== ip) throw invalid(`${what}: ${describe(ip)} is not in canonical form (${canonical.ip})`);
  if (canonical.family !== family) throw invalid(`${what}: ${ip} is not an IPv${family} address`);
  return ip;
}

export function checkEndpoint(endpoint: Endpoint, family: IpFamily, what: string): void {
  checkIp(endpoint.ip, family, what);
  if (endpoint.family !== family) throw invalid(`${what}: ${endpoint.ip} is marked IPv${endpoint.family}, expected IPv${family}`);
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) {
    throw invalid(`${what}: port ${describe(endpoint.port)} is not an integer from 1 to 65535`);
  }
}

function checkUnique(keys: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) throw invalid(`${what} ${key} appears twice`);
    seen.add(key);
  }
}

/** Throws a DataplaneError (EINVAL) on the first value that could not be rendered as intended. */
export function validateFamilyState(state: NftFamilyState): void {
  const family = state.family;
  if (family !== 4 && family !== 6) throw invalid(`address family ${describe(family)} is neither 4 nor 6`);
  for (const vs of state.virtualServers) {
    checkEndpoint(vs.address, family, "virtual server");
    const where = `virtual server ${formatEndpoint(vs.address)}`;
    if (!(SCHEDULERS as readonly string[]).includes(vs.scheduler)) {
      throw invalid(`${where}: scheduler ${describe(vs.scheduler)} is not one of ${SCHEDULERS.join(", ")}`);
    }
    for (const destination of vs.destinations) {
      checkEndpoint(destination.address, family, `${where}: destination`);
      const weight = destination.weight;
      if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) {
        throw invalid(`${where}: destination ${formatEndpoint(destination.address)} weight ${describe(weight)} is not an integer from 0 to ${MAX_WEIGHT}`);
      }
    }
    checkUnique(vs.destinations.map((d) => formatEndpoint(d.address)), `${where}: destination`);
    if (vs.rotation !== undefined && vs.rotation !== 0) {
      const live = liveDestinations(vs.destinations).length;
      if (!isRotating(vs.scheduler)) throw invalid(`${where}: scheduler ${vs.scheduler} has no rotation (${describe(vs.rotation)})`);
      if (!Number.isInteger(vs.rotation) || vs.rotation < 0 || vs.rotation >= live) {
        throw invalid(`${where}: rotation ${describe(vs.rotation)} is not an integer from 0 to ${live - 1} (the live destinations)`);
      }
    }
  }
  checkUnique(state.virtualServers.map((vs) => formatEndpoint(vs.address)), "virtual server");
  for (const vip of state.masquerade) checkEndpoint(vip, family, "masqueraded VIP");
  checkUnique(state.masquerade.map(formatEndpoint), "masqueraded VIP");
  for (const removed of state.removed) {
    checkIp(removed.vip, family, "removed destination's VIP");
    checkEndpoint(removed.destination, family, `removed destination of ${removed.vip}`);
  }
  checkUnique(state.removed.map((r) => `${r.vip} -> ${formatEndpoint(r.destination)}`), "removed destination");
}
