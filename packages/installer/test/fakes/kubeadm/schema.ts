/**
 * kubeadm's configuration API, field by field, written for the fake from kubeadm's documented
 * types (kubeadm.k8s.io/v1beta3 and v1beta4, kubelet.config.k8s.io/v1beta1,
 * kubeproxy.config.k8s.io/v1alpha1). It is deliberately independent of the installer's own
 * model in src/kubeadm/: the fake checks the installer's output against a second reading of the
 * API, so one misreading cannot hide in both.
 */
export type FieldType =
  | "string"
  | "bool"
  | "int"
  | "duration"
  | "time"
  | "strings"
  | "stringMap"
  | "boolMap"
  | "any"
  | { readonly object: Schema }
  | { readonly list: Schema };

export interface Schema {
  readonly [field: string]: FieldType;
}

const obj = (schema: Schema): FieldType => ({ object: schema });
const list = (schema: Schema): FieldType => ({ list: schema });
const TYPE_META: Schema = { apiVersion: "string", kind: "string" };

const BOOTSTRAP_TOKEN: Schema = { token: "string", description: "string", ttl: "duration", expires: "time", usages: "strings", groups: "strings" };
const TAINT: Schema = { key: "string", value: "string", effect: "string", timeAdded: "time" };
const HOST_PATH_MOUNT: Schema = { name: "string", hostPath: "string", mountPath: "string", readOnly: "bool", pathType: "string" };
const API_ENDPOINT: Schema = { advertiseAddress: "string", bindPort: "int" };
const PATCHES: Schema = { directory: "string" };
const ARG: Schema = { name: "string", value: "string" };
const KEY_REF: Schema = { name: "string", key: "string", optional: "bool" };
const ENV_VAR: Schema = {
  name: "string",
  value: "string",
  valueFrom: obj({
    fieldRef: obj({ apiVersion: "string", fieldPath: "string" }),
    resourceFieldRef: obj({ containerName: "string", resource: "string", divisor: "any" }),
    configMapKeyRef: obj(KEY_REF),
    secretKeyRef: obj(KEY_REF),
  }),
};
const EXTERNAL_ETCD: Schema = { endpoints: "strings", caFile: "string", certFile: "string", keyFile: "string" };
const NETWORKING: Schema = { serviceSubnet: "string", podSubnet: "string", dnsDomain: "string" };
const TOKEN_DISCOVERY: Schema = { token: "string", apiServerEndpoint: "string", caCertHashes: "strings", unsafeSkipCAVerification: "bool" };
const FILE_DISCOVERY: Schema = { kubeConfigPath: "string" };

// v1beta3 (Kubernetes 1.22+): extra arguments are maps, timeouts live in their objects.
const V1BETA3_NODE_REGISTRATION: Schema = {
  name: "string",
  criSocket: "string",
  taints: list(TAINT),
  kubeletExtraArgs: "stringMap",
  ignorePreflightErrors: "strings",
  imagePullPolicy: "string",
};
const V1BETA3_COMPONENT: Schema = { extraArgs: "stringMap", extraVolumes: list(HOST_PATH_MOUNT) };

export const V1BETA3: Readonly<Record<string, Schema>> = {
  InitConfiguration: {
    ...TYPE_META,
    bootstrapTokens: list(BOOTSTRAP_TOKEN),
    nodeRegistration: obj(V1BETA3_NODE_REGISTRATION),
    localAPIEndpoint: obj(API_ENDPOINT),
    certificateKey: "string",
    skipPhases: "strings",
    patches: obj(PATCHES),
  },
  ClusterConfiguration: {
    ...TYPE_META,
    etcd: obj({
      local: obj({ imageRepository: "string", imageTag: "string", dataDir: "string", extraArgs: "stringMap", serverCertSANs: "strings", peerCertSANs: "strings" }),
      external: obj(EXTERNAL_ETCD),
    }),
    networking: obj(NETWORKING),
    kubernetesVersion: "string",
    controlPlaneEndpoint: "string",
    apiServer: obj({ ...V1BETA3_COMPONENT, certSANs: "strings", timeoutForControlPlane: "duration" }),
    controllerManager: obj(V1BETA3_COMPONENT),
    scheduler: obj(V1BETA3_COMPONENT),
    dns: obj({ imageRepository: "string", imageTag: "string" }),
    certificatesDir: "string",
    imageRepository: "string",
    featureGates: "boolMap",
    clusterName: "string",
  },
  JoinConfiguration: {
    ...TYPE_META,
    nodeRegistration: obj(V1BETA3_NODE_REGISTRATION),
    caCertPath: "string",
    discovery: obj({ bootstrapToken: obj(TOKEN_DISCOVERY), file: obj(FILE_DISCOVERY), tlsBootstrapToken: "string", timeout: "duration" }),
    controlPlane: obj({ localAPIEndpoint: obj(API_ENDPOINT), certificateKey: "string" }),
    skipPhases: "strings",
    patches: obj(PATCHES),
  },
};

// v1beta4 (Kubernetes 1.31+): extra arguments are name/value lists, timeouts gathered in one object.
const V1BETA4_NODE_REGISTRATION: Schema = {
  name: "string",
  criSocket: "string",
  taints: list(TAINT),
  kubeletExtraArgs: list(ARG),
  ignorePreflightErrors: "strings",
  imagePullPolicy: "string",
  imagePullSerial: "bool",
};
const V1BETA4_COMPONENT: Schema = { extraArgs: list(ARG), extraVolumes: list(HOST_PATH_MOUNT), extraEnvs: list(ENV_VAR) };
const TIMEOUTS: Schema = {
  controlPlaneComponentHealthCheck: "duration",
  kubeletHealthCheck: "duration",
  kubernetesAPICall: "duration",
  etcdAPICall: "duration",
  tlsBootstrap: "duration",
  discovery: "duration",
  upgradeManifests: "duration",
};

export const V1BETA4: Readonly<Record<string, Schema>> = {
  InitConfiguration: {
    ...TYPE_META,
    bootstrapTokens: list(BOOTSTRAP_TOKEN),
    dryRun: "bool",
    nodeRegistration: obj(V1BETA4_NODE_REGISTRATION),
    localAPIEndpoint: obj(API_ENDPOINT),
    certificateKey: "string",
    skipPhases: "strings",
    patches: obj(PATCHES),
    timeouts: obj(TIMEOUTS),
  },
  ClusterConfiguration: {
    ...TYPE_META,
    etcd: obj({
      local: obj({
        imageRepository: "string",
        imageTag: "string",
        dataDir: "string",
        extraArgs: list(ARG),
        extraEnvs: list(ENV_VAR),
        serverCertSANs: "strings",
        peerCertSANs: "strings",
      }),
      external: obj(EXTERNAL_ETCD),
    }),
    networking: obj(NETWORKING),
    kubernetesVersion: "string",
    controlPlaneEndpoint: "string",
    apiServer: obj({ ...V1BETA4_COMPONENT, certSANs: "strings" }),
    controllerManager: obj(V1BETA4_COMPONENT),
    scheduler: obj(V1BETA4_COMPONENT),
    dns: obj({ imageRepository: "string", imageTag: "string", disabled: "bool" }),
    proxy: obj({ disabled: "bool" }),
    certificatesDir: "string",
    imageRepository: "string",
    featureGates: "boolMap",
    clusterName: "string",
    encryptionAlgorithm: "string",
    certificateValidityPeriod: "duration",
    caCertificateValidityPeriod: "duration",
  },
  JoinConfiguration: {
    ...TYPE_META,
    dryRun: "bool",
    nodeRegistration: obj(V1BETA4_NODE_REGISTRATION),
    caCertPath: "string",
    discovery: obj({ bootstrapToken: obj(TOKEN_DISCOVERY), file: obj(FILE_DISCOVERY), tlsBootstrapToken: "string" }),
    controlPlane: obj({ localAPIEndpoint: obj(API_ENDPOINT), certificateKey: "string" }),
    skipPhases: "strings",
    patches: obj(PATCHES),
    timeouts: obj(TIMEOUTS),
  },
  ResetConfiguration: {
    ...TYPE_META,
    cleanupTmpDir: "bool",
    certificatesDir: "string",
    criSocket: "string",
    dryRun: "bool",
    force: "bool",
    ignorePreflightErrors: "strings",
    skipPhases: "strings",
    unmountFlags: "strings",
    timeouts: obj(TIMEOUTS),
  },
};

/**
 * KubeletConfiguration's top-level fields across the releases the installer targets (fields
 * removed in later releases are kept: an older kubelet still reads them). Nested objects are
 * not checked field by field.
 */
const KUBELET_FIELDS = [
  "enableServer", "staticPodPath", "podLogsDir", "syncFrequency", "fileCheckFrequency", "httpCheckFrequency", "staticPodURL",
  "staticPodURLHeader", "address", "port", "readOnlyPort", "tlsCertFile", "tlsPrivateKeyFile", "tlsCipherSuites", "tlsMinVersion",
  "rotateCertificates", "serverTLSBootstrap", "authentication", "authorization", "registryPullQPS", "registryBurst",
  "imagePullCredentialsVerificationPolicy", "preloadedImagesVerificationAllowlist", "eventRecordQPS", "eventBurst",
  "enableDebuggingHandlers", "enableContentionProfiling", "healthzPort", "healthzBindAddress", "oomScoreAdj", "clusterDomain",
  "clusterDNS", "streamingConnectionIdleTimeout", "nodeStatusUpdateFrequency", "nodeStatusReportFrequency",
  "nodeLeaseDurationSeconds", "imageMinimumGCAge", "imageMaximumGCAge", "imageGCHighThresholdPercent", "imageGCLowThresholdPercent",
  "volumeStatsAggPeriod", "kubeletCgroups", "systemCgroups", "cgroupRoot", "cgroupsPerQOS", "cgroupDriver", "cpuManagerPolicy",
  "singleProcessOOMKill", "cpuManagerPolicyOptions", "cpuManagerReconcilePeriod", "memoryManagerPolicy", "topologyManagerPolicy",
  "topologyManagerScope", "topologyManagerPolicyOptions", "qosReserved", "runtimeRequestTimeout", "hairpinMode", "maxPods", "podCIDR",
  "podPidsLimit", "resolvConf", "runOnce", "cpuCFSQuota", "cpuCFSQuotaPeriod", "nodeStatusMaxImages", "maxOpenFiles", "contentType",
  "kubeAPIQPS", "kubeAPIBurst", "serializeImagePulls", "maxParallelImagePulls", "evictionHard", "evictionSoft",
  "evictionSoftGracePeriod", "evictionPressureTransitionPeriod", "evictionMaxPodGracePeriod", "evictionMinimumReclaim",
  "mergeDefaultEvictionSettings", "podsPerCore", "enableControllerAttachDetach", "protectKernelDefaults", "makeIPTablesUtilChains",
  "iptablesMasqueradeBit", "iptablesDropBit", "featureGates", "failSwapOn", "memorySwap", "containerLogMaxSize",
  "containerLogMaxFiles", "containerLogMaxWorkers", "containerLogMonitorInterval", "configMapAndSecretChangeDetectionStrategy",
  "systemReserved", "kubeReserved", "reservedSystemCPUs", "showHiddenMetricsForVersion", "systemReservedCgroup",
  "kubeReservedCgroup", "enforceNodeAllocatable", "allowedUnsafeSysctls", "defaultPodSysctls", "volumePluginDir", "providerID",
  "kernelMemcgNotification", "logging", "enableSystemLogHandler", "enableSystemLogQuery", "shutdownGracePeriod",
  "shutdownGracePeriodCriticalPods", "shutdownGracePeriodByPodPriority", "crashLoopBackOff", "reservedMemory",
  "enableProfilingHandler", "enableDebugFlagsHandler", "seccompDefault", "memoryThrottlingFactor", "memoryReservationPolicy",
  "registerWithTaints", "registerNode", "tracing", "localStorageCapacityIsolation", "containerRuntimeEndpoint",
  "imageServiceEndpoint", "failCgroupV1", "userNamespaces", "tlsCurvePreferences",
];

const KUBE_PROXY: Schema = {
  ...TYPE_META,
  featureGates: "boolMap",
  clientConnection: "any",
  logging: "any",
  hostnameOverride: "string",
  bindAddress: "string",
  healthzBindAddress: "string",
  metricsBindAddress: "string",
  bindAddressHardFail: "bool",
  enableProfiling: "bool",
  showHiddenMetricsForVersion: "string",
  mode: "string",
  iptables: obj({ masqueradeBit: "int", masqueradeAll: "bool", localhostNodePorts: "bool", syncPeriod: "duration", minSyncPeriod: "duration" }),
  ipvs: obj({
    syncPeriod: "duration",
    minSyncPeriod: "duration",
    scheduler: "string",
    excludeCIDRs: "strings",
    strictARP: "bool",
    tcpTimeout: "duration",
    tcpFinTimeout: "duration",
    udpTimeout: "duration",
  }),
  nftables: obj({ masqueradeBit: "int", masqueradeAll: "bool", syncPeriod: "duration", minSyncPeriod: "duration" }),
  winkernel: "any",
  detectLocalMode: "string",
  detectLocal: obj({ bridgeInterface: "string", interfaceNamePrefix: "string" }),
  clusterCIDR: "string",
  nodePortAddresses: "strings",
  oomScoreAdj: "int",
  conntrack: obj({
    maxPerCore: "int",
    min: "int",
    tcpEstablishedTimeout: "duration",
    tcpCloseWaitTimeout: "duration",
    tcpBeLiberal: "bool",
    udpTimeout: "duration",
    udpStreamTimeout: "duration",
  }),
  configSyncPeriod: "duration",
  portRange: "string",
  udpIdleTimeout: "duration",
  windowsRunAsService: "bool",
};

/** Component configs kubeadm init accepts next to its own documents, by `apiVersion/kind`. */
export const COMPONENT_CONFIGS: Readonly<Record<string, Schema>> = {
  "kubelet.config.k8s.io/v1beta1/KubeletConfiguration": { ...TYPE_META, ...Object.fromEntries(KUBELET_FIELDS.map((field) => [field, "any" as const])) },
  "kubeproxy.config.k8s.io/v1alpha1/KubeProxyConfiguration": KUBE_PROXY,
};
