/**
 * Types that kubeadm.k8s.io/v1beta3 and v1beta4 share byte for byte, plus the core/v1 and
 * bootstraptoken/v1 types they embed. Field names follow the Go json tags exactly.
 */
import {
  boolean,
  duration,
  int32,
  listOf,
  mapOf,
  oneOf,
  optional,
  quantity,
  required,
  string,
  struct,
  time,
  type Fields,
  type Infer,
} from "./codec.ts";

export const typeMeta = { apiVersion: required(string), kind: required(string) };

export const APIEndpoint = struct("APIEndpoint", {
  advertiseAddress: optional(string),
  bindPort: optional(int32),
});
export type APIEndpoint = Infer<typeof APIEndpoint>;

export const imageMetaFields = {
  imageRepository: optional(string),
  imageTag: optional(string),
};

export const Networking = struct("Networking", {
  serviceSubnet: optional(string),
  podSubnet: optional(string),
  dnsDomain: optional(string),
});
export type Networking = Infer<typeof Networking>;

export const HostPathMount = struct("HostPathMount", {
  name: required(string),
  hostPath: required(string),
  mountPath: required(string),
  readOnly: optional(boolean),
  pathType: optional(
    oneOf("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"),
  ),
});

export const Patches = struct("Patches", { directory: optional(string) });

export const ExternalEtcd = struct("ExternalEtcd", {
  endpoints: required(listOf(string)),
  caFile: optional(string),
  certFile: optional(string),
  keyFile: optional(string),
});

export const FileDiscovery = struct("FileDiscovery", { kubeConfigPath: required(string) });

export const BootstrapTokenDiscovery = struct("BootstrapTokenDiscovery", {
  token: required(string),
  apiServerEndpoint: optional(string),
  caCertHashes: optional(listOf(string)),
  unsafeSkipCAVerification: optional(boolean),
});
export type BootstrapTokenDiscovery = Infer<typeof BootstrapTokenDiscovery>;

/** bootstraptoken/v1 BootstrapToken (the token kubeadm init creates for joins). */
export const BootstrapToken = struct("BootstrapToken", {
  token: required(string),
  description: optional(string),
  ttl: optional(duration),
  expires: optional(time),
  usages: optional(listOf(string)),
  groups: optional(listOf(string)),
});
export type BootstrapToken = Infer<typeof BootstrapToken>;

/** core/v1 Taint. */
export const Taint = struct("Taint", {
  key: required(string),
  value: optional(string),
  effect: required(oneOf("NoSchedule", "PreferNoSchedule", "NoExecute")),
  timeAdded: optional(time),
});

export const pullPolicy = oneOf("Always", "IfNotPresent", "Never");

const keySelectorFields = { name: optional(string), key: required(string), optional: optional(boolean) };

/** core/v1 EnvVar (v1beta4's extraEnvs). */
export const EnvVar = struct("EnvVar", {
  name: required(string),
  value: optional(string),
  valueFrom: optional(
    struct("EnvVarSource", {
      fieldRef: optional(struct("ObjectFieldSelector", { apiVersion: optional(string), fieldPath: required(string) })),
      resourceFieldRef: optional(
        struct("ResourceFieldSelector", {
          containerName: optional(string),
          resource: required(string),
          divisor: optional(quantity),
        }),
      ),
      configMapKeyRef: optional(struct("ConfigMapKeySelector", keySelectorFields)),
      secretKeyRef: optional(struct("SecretKeySelector", keySelectorFields)),
      fileKeyRef: optional(
        struct("FileKeySelector", {
          volumeName: required(string),
          path: required(string),
          key: required(string),
          optional: optional(boolean),
        }),
      ),
    }),
  ),
});


export const JoinControlPlane = struct("JoinControlPlane", {
  localAPIEndpoint: optional(APIEndpoint),
  certificateKey: optional(string),
});

/** ClusterConfiguration.etcd; `localFields` are the version's own LocalEtcd fields (extraArgs...). */
export function etcdCodec<F extends Fields>(localFields: F) {
  return struct("Etcd", {
    local: optional(
      struct("LocalEtcd", {
        ...imageMetaFields,
        dataDir: optional(string),
        ...localFields,
        serverCertSANs: optional(listOf(string)),
        peerCertSANs: optional(listOf(string)),
      }),
    ),
    external: optional(ExternalEtcd),
  });
}

/** ClusterConfiguration fields that did not change between v1beta3 and v1beta4. */
export const clusterConfigurationFields = {
  networking: optional(Networking),
  kubernetesVersion: optional(string),
  controlPlaneEndpoint: optional(string),
  certificatesDir: optional(string),
  imageRepository: optional(string),
  featureGates: optional(mapOf(boolean)),
  clusterName: optional(string),
};
