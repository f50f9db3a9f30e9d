/**
 * The component configurations kubeadm carries in its config file: kube-proxy's
 * kubeproxy.config.k8s.io/v1alpha1 and the kubelet's kubelet.config.k8s.io/v1beta1
 * (staging/src/k8s.io/kube-proxy and k8s.io/kubelet config types), with the component-base
 * types they embed. Every field of the current Go types is listed, so a valid configuration
 * decodes and a misspelt one does not.
 */
import {
  boolean,
  duration,
  either,
  float64,
  int32,
  int64,
  listOf,
  mapOf,
  oneOf,
  optional,
  quantity,
  required,
  string,
  struct,
  uint32,
  type Infer,
} from "./codec.ts";
import { Taint } from "./shared-types.ts";

const typeMeta = { apiVersion: required(string), kind: required(string) };

const loggingOutputFields = { splitStream: optional(boolean), infoBufferSize: optional(quantity) };

/** component-base logs/api/v1 LoggingConfiguration. */
const LoggingConfiguration = struct("LoggingConfiguration", {
  format: optional(string),
  flushFrequency: optional(either(duration, int64)),
  verbosity: optional(uint32),
  vmodule: optional(listOf(struct("VModuleItem", { filePattern: required(string), verbosity: required(uint32) }))),
  options: optional(
    struct("FormatOptions", {
      text: optional(struct("TextOptions", loggingOutputFields)),
      json: optional(struct("JSONOptions", loggingOutputFields)),
    }),
  ),
});

const ClientConnectionConfiguration = struct("ClientConnectionConfiguration", {
  kubeconfig: optional(string),
  acceptContentTypes: optional(string),
  contentType: optional(string),
  qps: optional(float64),
  burst: optional(int32),
});

export const KUBE_PROXY_API_VERSION = "kubeproxy.config.k8s.io/v1alpha1";

export const KubeProxyConfiguration = struct("KubeProxyConfiguration", {
  ...typeMeta,
  featureGates: optional(mapOf(boolean)),
  clientConnection: optional(ClientConnectionConfiguration),
  logging: optional(LoggingConfiguration),
  hostnameOverride: optional(string),
  bindAddress: optional(string),
  healthzBindAddress: optional(string),
  metricsBindAddress: optional(string),
  bindAddressHardFail: optional(boolean),
  enableProfiling: optional(boolean),
  showHiddenMetricsForVersion: optional(string),
  mode: optional(oneOf("", "iptables", "ipvs", "nftables", "kernelspace")),
  iptables: optional(
    struct("KubeProxyIPTablesConfiguration", {
      masqueradeBit: optional(int32),
      masqueradeAll: optional(boolean),
      localhostNodePorts: optional(boolean),
      snatNodeInternalIP: optional(boolean),
      syncPeriod: optional(duration),
      minSyncPeriod: optional(duration),
    }),
  ),
  ipvs: optional(
    struct("KubeProxyIPVSConfiguration", {
      syncPeriod: optional(duration),
      minSyncPeriod: optional(duration),
      scheduler: optional(string),
      excludeCIDRs: optional(listOf(string)),
      strictARP: optional(boolean),
      tcpTimeout: optional(duration),
      tcpFinTimeout: optional(duration),
      udpTimeout: optional(duration),
    }),
  ),
  nftables: optional(
    struct("KubeProxyNFTablesConfiguration", {
      masqueradeBit: optional(int32),
      masqueradeAll: optional(boolean),
      syncPeriod: optional(duration),
      minSyncPeriod: optional(duration),
    }),
  ),
  winkernel: optional(
    struct("KubeProxyWinkernelConfiguration", {
      networkName: optional(string),
      sourceVip: optional(string),
      enableDSR: optional(boolean),
      rootHnsEndpointName: optional(string),
      forwardHealthCheckVip: optional(boolean),
    }),
  ),
  detectLocalMode: optional(string),
  detectLocal: optional(
    struct("DetectLocalConfiguration", { bridgeInterface: optional(string), interfaceNamePrefix: optional(string) }),
  ),
  clusterCIDR: optional(string),
  nodePortAddresses: optional(listOf(string)),
  oomScoreAdj: optional(int32),
  conntrack: optional(
    struct("KubeProxyConntrackConfiguration", {
      maxPerCore: optional(int32),
      min: optional(int32),
      tcpEstablishedTimeout: optional(duration),
      tcpCloseWaitTimeout: optional(duration),
      tcpBeLiberal: optional(boolean),
      udpTimeout: optional(duration),
      udpStreamTimeout: optional(duration),
    }),
  ),
  configSyncPeriod: optional(duration),
  portRange: optional(string),
  windowsRunAsService: optional(boolean),
});
export type KubeProxyConfiguration = Infer<typeof KubeProxyConfiguration>;

export const KUBELET_API_VERSION = "kubelet.config.k8s.io/v1beta1";

export const KubeletConfiguration = struct("KubeletConfiguration", {
  ...typeMeta,
  enableServer: optional(boolean),
  staticPodPath: optional(string),
  podLogsDir: optional(string),
  syncFrequency: optional(duration),
  fileCheckFrequency: optional(duration),
  httpCheckFrequency: optional(duration),
  staticPodURL: optional(string),
  staticPodURLHeader: optional(mapOf(listOf(string))),
  address: optional(string),
  port: optional(int32),
  readOnlyPort: optional(int32),
  tlsCertFile: optional(string),
  tlsPrivateKeyFile: optional(string),
  tlsCipherSuites: optional(listOf(string)),
  tlsCurvePreferences: optional(listOf(int32)),
  tlsMinVersion: optional(string),
  rotateCertificates: optional(boolean),
  serverTLSBootstrap: optional(boolean),
  authentication: optional(
    struct("KubeletAuthentication", {
      x509: optional(struct("KubeletX509Authentication", { clientCAFile: optional(string) })),
      webhook: optional(
        struct("KubeletWebhookAuthentication", { enabled: optional(boolean), cacheTTL: optional(duration) }),
      ),
      anonymous: optional(struct("KubeletAnonymousAuthentication", { enabled: optional(boolean) })),
    }),
  ),
  authorization: optional(
    struct("KubeletAuthorization", {
      mode: optional(oneOf("AlwaysAllow", "Webhook")),
      webhook: optional(
        struct("KubeletWebhookAuthorization", {
          cacheAuthorizedTTL: optional(duration),
          cacheUnauthorizedTTL: optional(duration),
        }),
      ),
    }),
  ),
  registryPullQPS: optional(int32),
  registryBurst: optional(int32),
  imagePullCredentialsVerificationPolicy: optional(string),
  preloadedImagesVerificationAllowlist: optional(listOf(string)),
  eventRecordQPS: optional(int32),
  eventBurst: optional(int32),
  enableDebuggingHandlers: optional(boolean),
  enableContentionProfiling: optional(boolean),
  healthzPort: optional(int32),
  healthzBindAddress: optional(string),
  oomScoreAdj: optional(int32),
  clusterDomain: optional(string),
  clusterDNS: optional(listOf(string)),
  streamingConnectionIdleTimeout: optional(duration),
  nodeStatusUpdateFrequency: optional(duration),
  nodeStatusReportFrequency: optional(duration),
  nodeLeaseDurationSeconds: optional(int32),
  imageMinimumGCAge: optional(duration),
  imageMaximumGCAge: optional(duration),
  imageGCHighThresholdPercent: optional(int32),
  imageGCLowThresholdPercent: optional(int32),
  volumeStatsAggPeriod: optional(duration),
  kubeletCgroups: optional(string),
  systemCgroups: optional(string),
  cgroupRoot: optional(string),
  cgroupsPerQOS: optional(boolean),
  cgroupDriver: optional(oneOf("systemd", "cgroupfs")),
  cpuManagerPolicy: optional(string),
  singleProcessOOMKill: optional(boolean),
  cpuManagerPolicyOptions: optional(mapOf(string)),
  cpuManagerReconcilePeriod: optional(duration),
  draManagerReconcilePeriod: optional(duration),
  memoryManagerPolicy: optional(string),
  topologyManagerPolicy: optional(string),
  topologyManagerScope: optional(string),
  topologyManagerPolicyOptions: optional(mapOf(string)),
  qosReserved: optional(mapOf(string)),
  runtimeRequestTimeout: optional(duration),
  hairpinMode: optional(string),
  maxPods: optional(int32),
  podCIDR: optional(string),
  podPidsLimit: optional(int64),
  resolvConf: optional(string),
  runOnce: optional(boolean),
  cpuCFSQuota: optional(boolean),
  cpuCFSQuotaPeriod: optional(duration),
  nodeStatusMaxImages: optional(int32),
  maxOpenFiles: optional(int64),
  contentType: optional(string),
  kubeAPIQPS: optional(int32),
  kubeAPIBurst: optional(int32),
  serializeImagePulls: optional(boolean),
  maxParallelImagePulls: optional(int32),
  evictionHard: optional(mapOf(string)),
  evictionSoft: optional(mapOf(string)),
  evictionSoftGracePeriod: optional(mapOf(string)),
  evictionPressureTransitionPeriod: optional(duration),
  evictionMaxPodGracePeriod: optional(int32),
  evictionMinimumReclaim: optional(mapOf(string)),
  mergeDefaultEvictionSettings: optional(boolean),
  podsPerCore: optional(int32),
  enableControllerAttachDetach: optional(boolean),
  protectKernelDefaults: optional(boolean),
  makeIPTablesUtilChains: optional(boolean),
  iptablesMasqueradeBit: optional(int32),
  iptablesDropBit: optional(int32),
  featureGates: optional(mapOf(boolean)),
  failSwapOn: optional(boolean),
  memorySwap: optional(struct("MemorySwapConfiguration", { swapBehavior: optional(string) })),
  containerLogMaxSize: optional(string),
  containerLogMaxFiles: optional(int32),
  containerLogMaxWorkers: optional(int32),
  containerLogMonitorInterval: optional(duration),
  configMapAndSecretChangeDetectionStrategy: optional(oneOf("Get", "Cache", "Watch")),
  systemReserved: optional(mapOf(string)),
  kubeReserved: optional(mapOf(string)),
  reservedSystemCPUs: optional(string),
  showHiddenMetricsForVersion: optional(string),
  systemReservedCgroup: optional(string),
  kubeReservedCgroup: optional(string),
  enforceNodeAllocatable: optional(listOf(string)),
  allowedUnsafeSysctls: optional(listOf(string)),
  volumePluginDir: optional(string),
  providerID: optional(string),
  kernelMemcgNotification: optional(boolean),
  logging: optional(LoggingConfiguration),
  enableSystemLogHandler: optional(boolean),
  enableSystemLogQuery: optional(boolean),
  shutdownGracePeriod: optional(duration),
  shutdownGracePeriodCriticalPods: optional(duration),
  shutdownGracePeriodByPodPriority: optional(
    listOf(
      struct("ShutdownGracePeriodByPodPriority", {
        priority: required(int32),
        shutdownGracePeriodSeconds: required(int64),
      }),
    ),
  ),
  crashLoopBackOff: optional(
    struct("CrashLoopBackOffConfig", { maxContainerRestartPeriod: optional(duration) }),
  ),
  reservedMemory: optional(
    listOf(struct("MemoryReservation", { numaNode: required(int32), limits: required(mapOf(quantity)) })),
  ),
  enableProfilingHandler: optional(boolean),
  enableDebugFlagsHandler: optional(boolean),
  seccompDefault: optional(boolean),
  memoryThrottlingFactor: optional(float64),
  memoryReservationPolicy: optional(oneOf("None", "TieredReservation")),
  registerWithTaints: optional(listOf(Taint)),
  registerNode: optional(boolean),
  tracing: optional(
    struct("TracingConfiguration", { endpoint: optional(string), samplingRatePerMillion: optional(int32) }),
  ),
  localStorageCapacityIsolation: optional(boolean),
  containerRuntimeEndpoint: optional(string),
  imageServiceEndpoint: optional(string),
  failCgroupV1: optional(boolean),
  userNamespaces: optional(struct("UserNamespaces", { idsPerPod: optional(int64) })),
});
export type KubeletConfiguration = Infer<typeof KubeletConfiguration>;
