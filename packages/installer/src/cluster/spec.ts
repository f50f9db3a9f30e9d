/** The validated description of a cluster: everything rendering needs, nothing left to parse. */
import type { Cidr } from "../net/cidr.ts";
import type { IpAddress } from "@lvscare/contracts/ip";
import {
  API_SERVER_HOST_NAME,
  API_SERVER_PORT,
  DEFAULT_KUBE_PROXY_MODE,
  DEFAULT_LVSCARE_IMAGE,
  DEFAULT_VIP,
  type KubeProxyMode,
} from "@lvscare/contracts/names";
import type { KubeadmApiVersion, KubernetesVersion } from "./version.ts";

export type HostRole = "master" | "worker";
export type KeyAlgorithm = "rsa-2048" | "ecdsa-p256";
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ["rsa-2048", "ecdsa-p256"];

export interface HostSpec {
  readonly address: IpAddress;
  /** Canonical text of `address`; also the host's key in plan.json and its directory in the output. */
  readonly addressText: string;
  /** Node name: nodeRegistration.name, the kubelet identity and the etcd member name. */
  readonly hostname: string;
  readonly role: HostRole;
  /** The master that runs `kubeadm init`; every other host joins. */
  readonly master0: boolean;
}

export interface ClusterSpec {
  /** Our name for the cluster: plan.json, kubeadm's clusterName, paths under /var/lib/seal. */
  readonly name: string;
  readonly kubernetesVersion: KubernetesVersion;
  readonly kubeadmApiVersion: KubeadmApiVersion;
  /** The address lvscare gives every worker for the API servers (default: sealos's). */
  readonly vip: IpAddress;
  readonly apiServerPort: number;
  /** The DNS name in controlPlaneEndpoint, resolved through /etc/hosts on every node. */
  readonly apiServerName: string;
  readonly podCidr: Cidr;
  readonly serviceCidr: Cidr;
  readonly dnsDomain: string;
  /** User SANs for the API server certificate, in the order given, canonical IP text. */
  readonly extraCertSans: readonly string[];
  /** master0 first, then the other masters in the order given, then the workers. */
  readonly hosts: readonly HostSpec[];
  readonly lvscareImage: string;
  readonly keyAlgorithm: KeyAlgorithm;
  readonly certValidityHours: number;
  readonly criSocket: string;
  readonly cgroupDriver: "systemd" | "cgroupfs";
  /** kube-proxy's `mode`; also decides the lvscare dataplane (dataplaneForKubeProxyMode). */
  readonly kubeProxyMode: KubeProxyMode;
}

export const DEFAULTS = {
  cluster: "default",
  // The newest release at the time of writing (1.37.1, 2026-09-15; 1.38 is due in December):
  // kubeadm v1beta4, nftables kube-proxy GA. Older versions down to 1.22 still render.
  kubernetesVersion: "v1.37.1",
  kubeProxyMode: DEFAULT_KUBE_PROXY_MODE,
  vip: DEFAULT_VIP,
  podCidr: "100.64.0.0/10",
  serviceCidr: "10.96.0.0/22",
  dnsDomain: "cluster.local",
  keyAlgorithm: "rsa-2048",
  certValidity: "99y",
  criSocket: "unix:///run/containerd/containerd.sock",
  cgroupDriver: "systemd",
  // Our daemon's image (`npm run image`), imported into containerd on each worker (offline
  // installs have no registry); --lvscare-image points elsewhere.
  lvscareImage: DEFAULT_LVSCARE_IMAGE,
  apiServerName: API_SERVER_HOST_NAME,
  apiServerPort: API_SERVER_PORT,
} as const;

export function mastersOf(spec: ClusterSpec): HostSpec[] {
  return spec.hosts.filter((host) => host.role === "master");
}

export function workersOf(spec: ClusterSpec): HostSpec[] {
  return spec.hosts.filter((host) => host.role === "worker");
}

export function master0Of(spec: ClusterSpec): HostSpec {
  const master0 = spec.hosts.find((host) => host.master0);
  if (master0 === undefined) throw new Error("invariant: a validated cluster has a master0");
  return master0;
}
