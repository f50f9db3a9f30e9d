/**
 * Turns what the user typed into a ClusterSpec, or refuses with one InputError naming the flag.
 * Pure: no file, clock or randomness, so the CLI can run it before touching anything.
 */
import { InputError } from "../errors.ts";
import { cidrContains, cidrsOverlap, formatCidr, parseCidr, type Cidr } from "../net/cidr.ts";
import { bitsOf, formatIp, parseIp, sameIp, specialUseReason, type IpAddress } from "@lvscare/contracts/ip";
import { parseValidity } from "./duration.ts";
import { isDnsSubdomain, isSanDnsName } from "./names.ts";
import { DEFAULTS, KEY_ALGORITHMS, type ClusterSpec, type HostSpec, type KeyAlgorithm } from "./spec.ts";
import { KUBE_PROXY_MODES, type KubeProxyMode } from "@lvscare/contracts/names";
import { FIRST_NFTABLES_PROXY_MINOR, IPVS_PROXY_OFF_MINOR, kubeadmApiVersionFor, parseKubernetesVersion } from "./version.ts";

/** The user's input, as strings, before any check (what the CLI flags carry). */
export interface ClusterInput {
  masters: readonly string[];
  nodes?: readonly string[];
  vip?: string;
  kubernetesVersion?: string;
  podCidr?: string;
  serviceCidr?: string;
  dnsDomain?: string;
  certSans?: readonly string[];
  /** `IP=NAME` pairs. */
  hostnames?: readonly string[];
  lvscareImage?: string;
  cluster?: string;
  keyAlgorithm?: string;
  certValidity?: string;
  allowEvenMasters?: boolean;
  criSocket?: string;
  cgroupDriver?: string;
  kubeProxyMode?: string;
}

// kube-apiserver refuses service ranges with more host bits than this (a /12 for IPv4).
const MAX_SERVICE_HOST_BITS = 20;
// kubeadm puts cluster DNS on the 10th service address, so the range must reach it.
const MIN_SERVICE_HOST_BITS = 4;

export function buildClusterSpec(input: ClusterInput): ClusterSpec {
  const name = input.cluster ?? DEFAULTS.cluster;
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
    fail(`--cluster: "${name}" is not a valid name (lower-case letters, digits and '-', at most 63)`);
  }

  const version = parseKubernetesVersion(input.kubernetesVersion ?? DEFAULTS.kubernetesVersion);
  if ("error" in version) fail(`--kubernetes-version: ${version.error}`);

  const masters = parseHostList("--masters", input.masters);
  const workers = parseHostList("--nodes", input.nodes ?? []);
  if (masters.length === 0) fail("--masters: at least one master is required");
  for (const worker of workers) {
    if (masters.some((master) => sameIp(master, worker))) {
      fail(`${formatIp(worker)} is listed both in --masters and in --nodes; a host has one role`);
    }
  }
  if (masters.length % 2 === 0 && input.allowEvenMasters !== true) {
    fail(
      `--masters: ${masters.length} masters tolerate no more failures than ${masters.length - 1} ` +
        `(etcd needs a majority); use an odd number or pass --allow-even-masters`,
    );
  }
  const family = (masters[0] as IpAddress).family;

  const vip = parseAddress("--vip", input.vip ?? DEFAULTS.vip);
  const podCidr = parseBlock("--pod-cidr", input.podCidr ?? DEFAULTS.podCidr);
  const serviceCidr = parseBlock("--service-cidr", input.serviceCidr ?? DEFAULTS.serviceCidr);
  const named: [string, { family: number }][] = [
    ...[...masters, ...workers].map((ip): [string, IpAddress] => [formatIp(ip), ip]),
    ["--vip", vip],
    ["--pod-cidr", podCidr.network],
    ["--service-cidr", serviceCidr.network],
  ];
  for (const [label, item] of named) {
    if (item.family !== family) {
      fail(`${label}: mixes IPv${item.family} with the IPv${family} masters; dual-stack is not supported`);
    }
  }

  const serviceHostBits = bitsOf(family) - serviceCidr.prefixLength;
  if (serviceHostBits > MAX_SERVICE_HOST_BITS || serviceHostBits < MIN_SERVICE_HOST_BITS) {
    fail(
      `--service-cidr: ${formatCidr(serviceCidr)} must have between ${MIN_SERVICE_HOST_BITS} and ` +
        `${MAX_SERVICE_HOST_BITS} host bits (kube-apiserver's limit, and room for the DNS address)`,
    );
  }
  if (cidrsOverlap(podCidr, serviceCidr)) {
    fail(`--pod-cidr ${formatCidr(podCidr)} overlaps --service-cidr ${formatCidr(serviceCidr)}`);
  }
  for (const [flag, block] of [["--pod-cidr", podCidr], ["--service-cidr", serviceCidr]] as const) {
    if (cidrContains(block, vip)) {
      fail(`--vip ${formatIp(vip)} lies inside ${flag} ${formatCidr(block)}; kube-proxy would capture it`);
    }
    for (const host of [...masters, ...workers]) {
      if (cidrContains(block, host)) {
        fail(`host ${formatIp(host)} lies inside ${flag} ${formatCidr(block)}; pick non-overlapping ranges`);
      }
    }
  }
  for (const host of [...masters, ...workers]) {
    if (sameIp(host, vip)) fail(`--vip ${formatIp(vip)} is also a host address; the VIP must be unused`);
  }

  const dnsDomain = input.dnsDomain ?? DEFAULTS.dnsDomain;
  if (!isDnsSubdomain(dnsDomain)) fail(`--dns-domain: "${dnsDomain}" is not a valid DNS domain`);

  const extraCertSans = (input.certSans ?? []).map((san) => {
    const ip = parseIp(san);
    if (ip !== undefined) return formatIp(ip);
    if (!isSanDnsName(san)) fail(`--cert-sans: "${san}" is neither an IP address nor a DNS name`);
    return san.toLowerCase();
  });

  const hostnames = parseHostnames(input.hostnames ?? [], [...masters, ...workers]);

  const keyAlgorithm = input.keyAlgorithm ?? DEFAULTS.keyAlgorithm;
  if (!(KEY_ALGORITHMS as readonly string[]).includes(keyAlgorithm)) {
    fail(`--key-algorithm: "${keyAlgorithm}" is not one of ${KEY_ALGORITHMS.join(", ")}`);
  }
  const validity = parseValidity(input.certValidity ?? DEFAULTS.certValidity);
  if (typeof validity !== "number") fail(`--cert-validity: ${validity.error}`);

  const lvscareImage = input.lvscareImage ?? DEFAULTS.lvscareImage;
  if (!/^[^\s]+$/.test(lvscareImage)) fail(`--lvscare-image: "${lvscareImage}" is not an image reference`);
  const criSocket = input.criSocket ?? DEFAULTS.criSocket;
  if (!/^unix:\/\/\/[^\s]+$/.test(criSocket)) fail(`--cri-socket: "${criSocket}" is not a unix:///path endpoint`);
  const cgroupDriver = input.cgroupDriver ?? DEFAULTS.cgroupDriver;
  if (cgroupDriver !== "systemd" && cgroupDriver !== "cgroupfs") {
    fail(`--cgroup-driver: "${cgroupDriver}" is not systemd or cgroupfs`);
  }

  const kubeProxyMode = input.kubeProxyMode ?? DEFAULTS.kubeProxyMode;
  if (!(KUBE_PROXY_MODES as readonly string[]).includes(kubeProxyMode)) {
    fail(`--kube-proxy-mode: "${kubeProxyMode}" is not one of ${KUBE_PROXY_MODES.join(", ")}`);
  }
  if (kubeProxyMode === "nftables" && version.minor < FIRST_NFTABLES_PROXY_MINOR) {
    fail(
      `--kube-proxy-mode nftables needs Kubernetes v1.${FIRST_NFTABLES_PROXY_MINOR} or later ` +
        `(beta from v1.31, GA from v1.33; alpha and off by default in ${version.text}); use iptables or a newer version`,
    );
  }
  if (kubeProxyMode === "ipvs" && version.minor >= IPVS_PROXY_OFF_MINOR) {
    fail(
      `--kube-proxy-mode ipvs: kube-proxy's IPVS mode is off by default from v1.${IPVS_PROXY_OFF_MINOR} ` +
        `(deprecated since v1.35, KEP-5495); use iptables (the default) or nftables`,
    );
  }

  const hosts: HostSpec[] = [
    ...masters.map((ip, index) => host(ip, "master", index === 0, hostnames)),
    ...workers.map((ip) => host(ip, "worker", false, hostnames)),
  ];
  const seen = new Map<string, string>();
  for (const { hostname, addressText } of hosts) {
    const other = seen.get(hostname);
    if (other !== undefined) fail(`--hostnames: ${other} and ${addressText} are both named "${hostname}"`);
    seen.set(hostname, addressText);
  }

  return {
    name,
    kubernetesVersion: version,
    kubeadmApiVersion: kubeadmApiVersionFor(version),
    vip,
    apiServerPort: DEFAULTS.apiServerPort,
    apiServerName: DEFAULTS.apiServerName,
    podCidr,
    serviceCidr,
    dnsDomain,
    extraCertSans: [...new Set(extraCertSans)],
    hosts,
    lvscareImage,
    keyAlgorithm: keyAlgorithm as KeyAlgorithm,
    certValidityHours: validity,
    criSocket,
    cgroupDriver,
    kubeProxyMode: kubeProxyMode as KubeProxyMode,
  };
}

function fail(message: string): never {
  throw new InputError(message);
}

function parseAddress(flag: string, text: string): IpAddress {
  const ip = parseIp(text.trim());
  if (ip === undefined) fail(`${flag}: "${text}" is not an IP address`);
  const special = specialUseReason(ip);
  if (special !== undefined) fail(`${flag}: ${text} is ${special}`);
  return ip;
}

function parseHostList(flag: string, items: readonly string[]): IpAddress[] {
  const result: IpAddress[] = [];
  for (const item of items) {
    const ip = parseAddress(flag, item);
    if (result.some((seen) => sameIp(seen, ip))) fail(`${flag}: ${formatIp(ip)} is listed twice`);
    result.push(ip);
  }
  return result;
}

function parseBlock(flag: string, text: string): Cidr {
  const cidr = parseCidr(text.trim());
  if ("error" in cidr) fail(`${flag}: "${text}" is not a CIDR block (${cidr.error})`);
  return cidr;
}

function parseHostnames(pairs: readonly string[], hosts: readonly IpAddress[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 0) fail(`--hostnames: "${pair}" is not IP=NAME`);
    const ip = parseIp(pair.slice(0, eq).trim());
    const name = pair.slice(eq + 1).trim();
    if (ip === undefined) fail(`--hostnames: "${pair.slice(0, eq)}" is not an IP address`);
    if (!hosts.some((host) => sameIp(host, ip))) {
      fail(`--hostnames: ${formatIp(ip)} is neither in --masters nor in --nodes`);
    }
    if (!isDnsSubdomain(name)) {
      fail(`--hostnames: "${name}" is not a valid node name (lower-case RFC 1123, like node-1.example)`);
    }
    if (names.has(formatIp(ip))) fail(`--hostnames: ${formatIp(ip)} is named twice`);
    names.set(formatIp(ip), name);
  }
  return names;
}

function host(ip: IpAddress, role: HostSpec["role"], master0: boolean, names: Map<string, string>): HostSpec {
  const addressText = formatIp(ip);
  return { address: ip, addressText, hostname: names.get(addressText) ?? defaultHostname(addressText), role, master0 };
}

/**
 * A node name derived from the address (`ip-10-0-0-11`), used when --hostnames does not name the
 * host: offline we cannot ask the machine, and the certificates need a name now.
 */
export function defaultHostname(addressText: string): string {
  const name = `ip-${addressText.replaceAll(/[.:]/g, "-")}`;
  return name.endsWith("-") ? `${name}0` : name;
}
