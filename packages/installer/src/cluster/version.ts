/** Which kubeadm configuration API a Kubernetes version speaks. */

export interface KubernetesVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** `v1.31.2` (always with the leading v, as kubeadm writes it). */
  readonly text: string;
}

export type KubeadmApiVersion = "kubeadm.k8s.io/v1beta3" | "kubeadm.k8s.io/v1beta4";

/** Oldest minor this installer renders: v1beta3 appeared in kubeadm 1.22. */
export const OLDEST_SUPPORTED_MINOR = 22;
/** kubeadm 1.31 introduced v1beta4; from there on it is the version to write. */
export const FIRST_V1BETA4_MINOR = 31;

export function parseKubernetesVersion(text: string): KubernetesVersion | { error: string } {
  const match = /^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/.exec(text);
  if (match === null) return { error: `"${text}" is not a release version like v1.31.2` };
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const version = { major, minor, patch, text: `v${major}.${minor}.${patch}` };
  if (major !== 1 || minor < OLDEST_SUPPORTED_MINOR) {
    return {
      error:
        `Kubernetes ${version.text} is not supported: seal writes kubeadm.k8s.io/v1beta3 (v1.22 to v1.30) ` +
        `or kubeadm.k8s.io/v1beta4 (v1.31 and later); older kubeadm only reads v1beta2 or earlier`,
    };
  }
  return version;
}

export function kubeadmApiVersionFor(version: KubernetesVersion): KubeadmApiVersion {
  return version.minor >= FIRST_V1BETA4_MINOR ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3";
}

/**
 * From 1.29 kubeadm splits the old all-powerful admin.conf: admin.conf is in kubeadm:cluster-admins
 * (an RBAC binding that can be revoked) and super-admin.conf alone is in system:masters.
 */
export function hasSuperAdmin(version: KubernetesVersion): boolean {
  return version.minor >= 29;
}

/** KubeletConfiguration.containerRuntimeEndpoint exists from 1.27; before it was a kubelet flag. */
export function kubeletConfigHasRuntimeEndpoint(version: KubernetesVersion): boolean {
  return version.minor >= 27;
}

/** kube-proxy's nftables mode is beta (on by default) from 1.31 and GA from 1.33; alpha before. */
export const FIRST_NFTABLES_PROXY_MINOR = 31;
export const NFTABLES_PROXY_GA_MINOR = 33;
/** kube-proxy's IPVS mode is deprecated from 1.35 (KEP-5495) and off by default from 1.40. */
export const IPVS_PROXY_DEPRECATED_MINOR = 35;
export const IPVS_PROXY_OFF_MINOR = 40;
