/** CIDR blocks for the pod and service networks and the checks kubeadm's users trip over. */
import { bitsOf, formatIp, parseIp, type IpAddress } from "@lvscare/contracts/ip";

export interface Cidr {
  readonly network: IpAddress;
  readonly prefixLength: number;
}

/**
 * Parses `ADDRESS/PREFIX`. The address must be the network address itself (10.96.0.0/22, not
 * 10.96.0.5/22), because a host address here is almost always a typo for another block.
 */
export function parseCidr(text: string): Cidr | { error: string } {
  const slash = text.indexOf("/");
  if (slash < 0) return { error: "missing /PREFIX" };
  const ip = parseIp(text.slice(0, slash));
  if (ip === undefined) return { error: "not an IP address before the /" };
  const prefixText = text.slice(slash + 1);
  const bits = bitsOf(ip.family);
  if (!/^(0|[1-9][0-9]*)$/.test(prefixText) || Number(prefixText) > bits) {
    return { error: `prefix must be 0-${bits}` };
  }
  const prefixLength = Number(prefixText);
  const cidr = { network: ip, prefixLength };
  const network = networkOf(cidr);
  if (network.value !== ip.value) {
    return { error: `host bits set; the network is ${formatIp(network)}/${prefixLength}` };
  }
  return cidr;
}

function hostMask(cidr: Cidr): bigint {
  return (1n << BigInt(bitsOf(cidr.network.family) - cidr.prefixLength)) - 1n;
}

function networkOf(cidr: Cidr): IpAddress {
  return { family: cidr.network.family, value: cidr.network.value & ~hostMask(cidr) };
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  return ip.family === cidr.network.family && (ip.value & ~hostMask(cidr)) === cidr.network.value;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.network) || cidrContains(b, a.network);
}

/** The n-th address of the block (n = 1: the first service IP kubeadm gives `kubernetes`). */
export function nthAddress(cidr: Cidr, n: number): IpAddress | undefined {
  if (BigInt(n) > hostMask(cidr)) return undefined;
  return { family: cidr.network.family, value: cidr.network.value + BigInt(n) };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.network)}/${cidr.prefixLength}`;
}

/** The single-address block of `ip` (/32 or /128), as kube-proxy's ipvs.excludeCIDRs wants it. */
export function hostCidr(ip: IpAddress): Cidr {
  return { network: ip, prefixLength: bitsOf(ip.family) };
}
