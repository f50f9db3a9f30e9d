/**
 * kubeadm.k8s.io/v1beta4 (kubeadm 1.31 and later), from cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go.
 * Differences from v1beta3 that matter here: extraArgs are lists of {name, value}; timeouts moved
 * to `timeouts`; certificate validity periods and the key algorithm are configurable.
 */
import { boolean, duration, listOf, oneOf, optional, required, string, struct, type Infer } from "./codec.ts";
import {
  APIEndpoint,
  BootstrapToken,
  BootstrapTokenDiscovery,
  clusterConfigurationFields,
  EnvVar,
  etcdCodec,
  FileDiscovery,
  HostPathMount,
  imageMetaFields,
  JoinControlPlane,
  Patches,
  pullPolicy,
  Taint,
  typeMeta,
} from "./shared-types.ts";

export const API_VERSION = "kubeadm.k8s.io/v1beta4";

export const Arg = struct("Arg", { name: required(string), value: required(string) });
export type Arg = Infer<typeof Arg>;

const NodeRegistrationOptions = struct("NodeRegistrationOptions", {
  name: optional(string),
  criSocket: optional(string),
  taints: optional(listOf(Taint)),
  kubeletExtraArgs: optional(listOf(Arg)),
  ignorePreflightErrors: optional(listOf(string)),
  imagePullPolicy: optional(pullPolicy),
  imagePullSerial: optional(boolean),
});
export type NodeRegistrationOptions = Infer<typeof NodeRegistrationOptions>;

const controlPlaneComponentFields = {
  extraArgs: optional(listOf(Arg)),
  extraVolumes: optional(listOf(HostPathMount)),
  extraEnvs: optional(listOf(EnvVar)),
};

const Timeouts = struct("Timeouts", {
  controlPlaneComponentHealthCheck: optional(duration),
  kubeletHealthCheck: optional(duration),
  kubernetesAPICall: optional(duration),
  etcdAPICall: optional(duration),
  tlsBootstrap: optional(duration),
  discovery: optional(duration),
  upgradeManifests: optional(duration),
});

export const EncryptionAlgorithm = oneOf("RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256");

export const InitConfiguration = struct("InitConfiguration", {
  ...typeMeta,
  bootstrapTokens: optional(listOf(BootstrapToken)),
  dryRun: optional(boolean),
  nodeRegistration: optional(NodeRegistrationOptions),
  localAPIEndpoint: optional(APIEndpoint),
  certificateKey: optional(string),
  skipPhases: optional(listOf(string)),
  patches: optional(Patches),
  timeouts: optional(Timeouts),
});
export type InitConfiguration = Infer<typeof InitConfiguration>;

export const ClusterConfiguration = struct("ClusterConfiguration", {
  ...typeMeta,
  etcd: optional(etcdCodec({
    extraArgs: optional(listOf(Arg)),
    extraEnvs: optional(listOf(EnvVar)),
  })),
  ...clusterConfigurationFields,
  apiServer: optional(struct("APIServer", { ...controlPlaneComponentFields, certSANs: optional(listOf(string)) })),
  controllerManager: optional(struct("ControlPlaneComponent", controlPlaneComponentFields)),
  scheduler: optional(struct("ControlPlaneComponent", controlPlaneComponentFields)),
  dns: optional(struct("DNS", { ...imageMetaFields, disabled: optional(boolean) })),
  proxy: optional(struct("Proxy", { disabled: optional(boolean) })),
  encryptionAlgorithm: optional(EncryptionAlgorithm),
  certificateValidityPeriod: optional(duration),
  caCertificateValidityPeriod: optional(duration),
});
export type ClusterConfiguration = Infer<typeof ClusterConfiguration>;

export const JoinConfiguration = struct("JoinConfiguration", {
  ...typeMeta,
  dryRun: optional(boolean),
  nodeRegistration: optional(NodeRegistrationOptions),
  caCertPath: optional(string),
  discovery: required(
    struct("Discovery", {
      bootstrapToken: optional(BootstrapTokenDiscovery),
      file: optional(FileDiscovery),
      tlsBootstrapToken: optional(string),
    }),
  ),
  controlPlane: optional(JoinControlPlane),
  skipPhases: optional(listOf(string)),
  patches: optional(Patches),
  timeouts: optional(Timeouts),
});
export type JoinConfiguration = Infer<typeof JoinConfiguration>;
