/** kubeadm.k8s.io/v1beta3 (kubeadm 1.22 to 1.30), from cmd/kubeadm/app/apis/kubeadm/v1beta3/types.go. */
import { duration, listOf, mapOf, optional, required, string, struct, type Infer } from "./codec.ts";
import {
  APIEndpoint,
  BootstrapToken,
  BootstrapTokenDiscovery,
  clusterConfigurationFields,
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

export const API_VERSION = "kubeadm.k8s.io/v1beta3";

const NodeRegistrationOptions = struct("NodeRegistrationOptions", {
  name: optional(string),
  criSocket: optional(string),
  taints: optional(listOf(Taint)),
  kubeletExtraArgs: optional(mapOf(string)),
  ignorePreflightErrors: optional(listOf(string)),
  imagePullPolicy: optional(pullPolicy),
});
export type NodeRegistrationOptions = Infer<typeof NodeRegistrationOptions>;

const controlPlaneComponentFields = {
  extraArgs: optional(mapOf(string)),
  extraVolumes: optional(listOf(HostPathMount)),
};

export const InitConfiguration = struct("InitConfiguration", {
  ...typeMeta,
  bootstrapTokens: optional(listOf(BootstrapToken)),
  nodeRegistration: optional(NodeRegistrationOptions),
  localAPIEndpoint: optional(APIEndpoint),
  certificateKey: optional(string),
  skipPhases: optional(listOf(string)),
  patches: optional(Patches),
});
export type InitConfiguration = Infer<typeof InitConfiguration>;

export const ClusterConfiguration = struct("ClusterConfiguration", {
  ...typeMeta,
  etcd: optional(etcdCodec({ extraArgs: optional(mapOf(string)) })),
  ...clusterConfigurationFields,
  apiServer: optional(
    struct("APIServer", {
      ...controlPlaneComponentFields,
      certSANs: optional(listOf(string)),
      timeoutForControlPlane: optional(duration),
    }),
  ),
  controllerManager: optional(struct("ControlPlaneComponent", controlPlaneComponentFields)),
  scheduler: optional(struct("ControlPlaneComponent", controlPlaneComponentFields)),
  dns: optional(struct("DNS", { ...imageMetaFields })),
});
export type ClusterConfiguration = Infer<typeof ClusterConfiguration>;

export const JoinConfiguration = struct("JoinConfiguration", {
  ...typeMeta,
  nodeRegistration: optional(NodeRegistrationOptions),
  caCertPath: optional(string),
  discovery: required(
    struct("Discovery", {
      bootstrapToken: optional(BootstrapTokenDiscovery),
      file: optional(FileDiscovery),
      tlsBootstrapToken: optional(string),
      timeout: optional(duration),
    }),
  ),
  controlPlane: optional(JoinControlPlane),
  skipPhases: optional(listOf(string)),
  patches: optional(Patches),
});
export type JoinConfiguration = Infer<typeof JoinConfiguration>;
