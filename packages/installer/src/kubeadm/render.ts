/**
 * The kubeadm --config file of each host: master0 runs `kubeadm init` with Init, Cluster,
 * KubeProxy and Kubelet configurations; every other host runs `kubeadm join`. Pure: the secrets
 * (bootstrap token, CA pin) come in as arguments, so the same inputs give the same bytes.
 */
import { formatIp, joinHostPort } from "@lvscare/contracts/ip";
import { goDurationFromHours } from "../cluster/duration.ts";
import { master0Of, mastersOf, type ClusterSpec, type HostSpec } from "../cluster/spec.ts";
import { kubeletConfigHasRuntimeEndpoint } from "../cluster/version.ts";
import { formatCidr, hostCidr } from "../net/cidr.ts";
import {
  KUBE_PROXY_API_VERSION,
  KUBELET_API_VERSION,
  type KubeletConfiguration,
  type KubeProxyConfiguration,
} from "./component-configs.ts";
import type { ConfigDocument } from "./documents.ts";
import type { BootstrapToken } from "./shared-types.ts";
import type * as v1beta3 from "./v1beta3.ts";
import type * as v1beta4 from "./v1beta4.ts";

export interface JoinSecrets {
  /** `abcdef.0123456789abcdef`: created by kubeadm init, used by every join for discovery and TLS bootstrap. */
  readonly bootstrapToken: string;
  /** `sha256:<hex>` of the cluster CA's SubjectPublicKeyInfo, pinning discovery to our CA. */
  readonly caCertHash: string;
}

/** Where kubeadm's generated files live; fixed by kubeadm, listed here because plans name them. */
export const ETCD_DATA_DIR = "/var/lib/etcd";
const BOOTSTRAP_TOKEN_TTL = "24h0m0s";
// Joining masters get their kubelet.conf from us (with the long-lived identity) instead of TLS
// bootstrapping it; kubeadm's preflight would otherwise refuse an existing kubelet.conf.
const JOIN_MASTER_PREFLIGHT_IGNORES = ["FileAvailable--etc-kubernetes-kubelet.conf"];

export function renderKubeadmDocuments(spec: ClusterSpec, host: HostSpec, secrets: JoinSecrets): ConfigDocument[] {
  const kubelet = kubeletConfiguration(spec);
  if (host.master0) return [initConfiguration(spec, host, secrets), clusterConfiguration(spec), kubeProxyConfiguration(spec), kubelet];
  return [joinConfiguration(spec, host, secrets), kubelet];
}

/** The SANs kubeadm is told about; the certificates we sign contain these and the per-host names. */
export function apiServerCertSans(spec: ClusterSpec): string[] {
  const sans = [
    "127.0.0.1",
    spec.apiServerName,
    formatIp(spec.vip),
    ...mastersOf(spec).map((master) => master.addressText),
    ...spec.extraCertSans,
  ];
  return [...new Set(sans)];
}

export function controlPlaneEndpoint(spec: ClusterSpec): string {
  return `${spec.apiServerName}:${spec.apiServerPort}`;
}

function isV1beta4(spec: ClusterSpec): boolean {
  return spec.kubeadmApiVersion === "kubeadm.k8s.io/v1beta4";
}

/** v1beta4 turned v1beta3's flag maps into ordered {name, value} lists. */
function argList(args: Record<string, string>): v1beta4.Arg[] {
  return Object.entries(args).map(([name, value]) => ({ name, value }));
}

interface RegistrationParts {
  readonly criSocket: string;
  readonly name: string;
  readonly kubeletArgs: Record<string, string>;
  readonly ignorePreflightErrors?: string[];
}

function registrationParts(spec: ClusterSpec, host: HostSpec): RegistrationParts {
  return {
    criSocket: spec.criSocket,
    name: host.hostname,
    // The kubelet otherwise picks the address of the default route, which on multi-homed hosts
    // is not the one the cluster was declared with.
    kubeletArgs: { "node-ip": host.addressText },
    ...(host.role === "master" && !host.master0 ? { ignorePreflightErrors: JOIN_MASTER_PREFLIGHT_IGNORES } : {}),
  };
}

function registrationV1beta3(parts: RegistrationParts): v1beta3.NodeRegistrationOptions {
  const { kubeletArgs, ...rest } = parts;
  return { ...rest, kubeletExtraArgs: kubeletArgs };
}

function registrationV1beta4(parts: RegistrationParts): v1beta4.NodeRegistrationOptions {
  const { kubeletArgs, ...rest } = parts;
  return { ...rest, kubeletExtraArgs: argList(kubeletArgs) };
}

function bootstrapToken(secrets: JoinSecrets): BootstrapToken {
  return {
    token: secrets.bootstrapToken,
    description: "seal: joins the other masters and the workers",
    ttl: BOOTSTRAP_TOKEN_TTL,
    usages: ["signing", "authentication"],
    groups: ["system:bootstrappers:kubeadm:default-node-token"],
  };
}

function initConfiguration(
  spec: ClusterSpec,
  host: HostSpec,
  secrets: JoinSecrets,
): v1beta3.InitConfiguration | v1beta4.InitConfiguration {
  const common = {
    apiVersion: spec.kubeadmApiVersion,
    kind: "InitConfiguration",
    bootstrapTokens: [bootstrapToken(secrets)],
    localAPIEndpoint: { advertiseAddress: host.addressText, bindPort: spec.apiServerPort },
  };
  const parts = registrationParts(spec, host);
  if (isV1beta4(spec)) return { ...common, nodeRegistration: registrationV1beta4(parts) };
  return { ...common, nodeRegistration: registrationV1beta3(parts) };
}

function clusterConfiguration(spec: ClusterSpec): v1beta3.ClusterConfiguration | v1beta4.ClusterConfiguration {
  const validity = goDurationFromHours(spec.certValidityHours);
  const common = {
    apiVersion: spec.kubeadmApiVersion,
    kind: "ClusterConfiguration",
    clusterName: spec.name,
    kubernetesVersion: spec.kubernetesVersion.text,
    controlPlaneEndpoint: controlPlaneEndpoint(spec),
    apiServer: { certSANs: apiServerCertSans(spec) },
    etcd: { local: { dataDir: ETCD_DATA_DIR } },
    networking: {
      dnsDomain: spec.dnsDomain,
      podSubnet: formatCidr(spec.podCidr),
      serviceSubnet: formatCidr(spec.serviceCidr),
    },
  };
  // Certificates the kubelets request later (and anything kubeadm signs itself) get the same
  // lifetime as ours instead of kubeadm's one year.
  const controllerManagerArgs = { "cluster-signing-duration": validity };
  if (isV1beta4(spec)) {
    return {
      ...common,
      controllerManager: { extraArgs: argList(controllerManagerArgs) },
      encryptionAlgorithm: spec.keyAlgorithm === "rsa-2048" ? "RSA-2048" : "ECDSA-P256",
      certificateValidityPeriod: validity,
      caCertificateValidityPeriod: validity,
    };
  }
  return { ...common, controllerManager: { extraArgs: controllerManagerArgs } };
}

function kubeProxyConfiguration(spec: ClusterSpec): KubeProxyConfiguration {
  const config: KubeProxyConfiguration = {
    apiVersion: KUBE_PROXY_API_VERSION,
    kind: "KubeProxyConfiguration",
    // Written even for kubeadm's own default (iptables), so the file says what runs.
    mode: spec.kubeProxyMode,
  };
  // kube-proxy's IPVS proxier deletes virtual servers it does not own at each sync; without this
  // it would remove lvscare's VIP on every worker. (Its start-up flush is not prevented by it.)
  if (spec.kubeProxyMode === "ipvs") config.ipvs = { excludeCIDRs: [formatCidr(hostCidr(spec.vip))] };
  return config;
}

function kubeletConfiguration(spec: ClusterSpec): KubeletConfiguration {
  const config: KubeletConfiguration = {
    apiVersion: KUBELET_API_VERSION,
    kind: "KubeletConfiguration",
    cgroupDriver: spec.cgroupDriver,
  };
  if (kubeletConfigHasRuntimeEndpoint(spec.kubernetesVersion)) config.containerRuntimeEndpoint = spec.criSocket;
  return config;
}

function joinConfiguration(
  spec: ClusterSpec,
  host: HostSpec,
  secrets: JoinSecrets,
): v1beta3.JoinConfiguration | v1beta4.JoinConfiguration {
  const master = host.role === "master";
  // Masters discover through master0 directly; workers through the VIP, which lvscare serves
  // (its rules are created with --run-once before the join).
  const discoveryEndpoint = master
    ? joinHostPort(master0Of(spec).address, spec.apiServerPort)
    : joinHostPort(spec.vip, spec.apiServerPort);
  const common = {
    apiVersion: spec.kubeadmApiVersion,
    kind: "JoinConfiguration",
    discovery: {
      bootstrapToken: {
        token: secrets.bootstrapToken,
        apiServerEndpoint: discoveryEndpoint,
        caCertHashes: [secrets.caCertHash],
      },
    },
    ...(master
      ? { controlPlane: { localAPIEndpoint: { advertiseAddress: host.addressText, bindPort: spec.apiServerPort } } }
      : {}),
  };
  const parts = registrationParts(spec, host);
  if (isV1beta4(spec)) return { ...common, nodeRegistration: registrationV1beta4(parts) };
  return { ...common, nodeRegistration: registrationV1beta3(parts) };
}
