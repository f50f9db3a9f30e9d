/**
 * What the chosen kube-proxy mode means for lvscare, said to the user at render time. The hard
 * limits (nftables before 1.31, IPVS from 1.40) are refused in validate.ts; these only warn.
 */
import { dataplaneForKubeProxyMode, type DataplaneName } from "@lvscare/contracts/names";
import type { ClusterSpec } from "./spec.ts";
import { IPVS_PROXY_DEPRECATED_MINOR, NFTABLES_PROXY_GA_MINOR } from "./version.ts";

/** The `lvscare care --dataplane` the workers run next to this cluster's kube-proxy. */
export function lvscareDataplane(spec: ClusterSpec): DataplaneName {
  return dataplaneForKubeProxyMode(spec.kubeProxyMode);
}

export function kubeProxyModeWarnings(spec: ClusterSpec): string[] {
  const minor = spec.kubernetesVersion.minor;
  if (spec.kubeProxyMode === "nftables") {
    const warnings = [
      "--kube-proxy-mode nftables: kube-proxy flushes every IPVS virtual server each time it starts; " +
        "the workers' lvscare runs with --dataplane nftables and restores its rules",
    ];
    if (minor < NFTABLES_PROXY_GA_MINOR) {
      warnings.push(`--kube-proxy-mode nftables is beta in ${spec.kubernetesVersion.text} (GA from v1.${NFTABLES_PROXY_GA_MINOR})`);
    }
    return warnings;
  }
  if (spec.kubeProxyMode === "ipvs" && minor >= IPVS_PROXY_DEPRECATED_MINOR) {
    return [`--kube-proxy-mode ipvs is deprecated in ${spec.kubernetesVersion.text} (KEP-5495; off by default from v1.40)`];
  }
  return [];
}
