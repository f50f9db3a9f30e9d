/**
 * Names and defaults that the installer writes and the daemon (or the kubelet running it) reads.
 * Each is sealos's value, so nodes installed by either tool look alike; changing one here changes
 * both sides at once.
 */

/** The daemon's version; lvscare's package.json must say the same (test/cli.test.ts checks). */
export const LVSCARE_VERSION = "0.1.0";

/**
 * Our daemon's image as the installer references it by default: built from images/lvscare and
 * imported into containerd on each worker (offline installs have no registry), so its tag follows
 * the daemon's version.
 */
export const DEFAULT_LVSCARE_IMAGE = `localhost/lvscare:${LVSCARE_VERSION}`;

/**
 * `npm run image`'s archives in dist/ (release/lib/layout.ts), which `seal run` uploads to workers
 * by default: the OCI archive (skopeo/podman/umoci: `oci-archive:PATH`) and the same image as
 * docker-archive; `ctr -n k8s.io images import` takes either.
 */
export const IMAGE_OCI_ARCHIVE = "lvscare-image-linux-amd64.oci.tar";
export const IMAGE_DOCKER_ARCHIVE = "lvscare-image-linux-amd64.docker.tar";

/** Where the installer writes the names below and the daemon reads NODE_IP_HOST_NAME. */
export const HOSTS_FILE = "/etc/hosts";

/** The hosts-file name of a worker's own address: lvscare's route-mode gateway. */
export const NODE_IP_HOST_NAME = "lvscare.node.ip";

/** The DNS name of the API servers in controlPlaneEndpoint, resolved through /etc/hosts on every node. */
export const API_SERVER_HOST_NAME = "apiserver.cluster.local";

/** The virtual server every worker reaches the API servers through. */
export const DEFAULT_VIP = "10.103.97.2";
export const API_SERVER_PORT = 6443;
export const DEFAULT_VIRTUAL_SERVER = `${DEFAULT_VIP}:${API_SERVER_PORT}`;

/** The kubelet's static pod directory, as kubeadm configures it. */
export const STATIC_POD_DIR = "/etc/kubernetes/manifests";

/** Pod and container name of the lvscare static pod, and the base name of its manifest. */
export const LVSCARE_STATIC_POD_NAME = "kube-sealos-lvscare";
export const LVSCARE_MANIFEST_PATH = `${STATIC_POD_DIR}/${LVSCARE_STATIC_POD_NAME}.yaml`;

/** Where the image puts the daemon; sealos's manifest runs this command. */
export const LVSCARE_COMMAND = "/usr/bin/lvscare";

/**
 * The daemon's dataplanes (`lvscare care --dataplane`, env LVSCARE_DATAPLANE). IPVS stays the
 * default and upstream's behaviour; `auto` picks IPVS when the kernel has it, nftables otherwise.
 */
export const DATAPLANES = ["ipvs", "nftables", "auto"] as const;
export type DataplaneName = (typeof DATAPLANES)[number];
export const DEFAULT_DATAPLANE: DataplaneName = "ipvs";

/**
 * kube-proxy's modes as `seal render`/`seal run --kube-proxy-mode` takes them. The default is
 * kubeadm's (iptables), which leaves IPVS alone; kube-proxy in nftables mode flushes every IPVS
 * service each time it starts, so with it the installer gives lvscare `--dataplane nftables`.
 */
export const KUBE_PROXY_MODES = ["iptables", "nftables", "ipvs"] as const;
export type KubeProxyMode = (typeof KUBE_PROXY_MODES)[number];
export const DEFAULT_KUBE_PROXY_MODE: KubeProxyMode = "iptables";

/** The lvscare dataplane that keeps working beside kube-proxy in `mode`. */
export function dataplaneForKubeProxyMode(mode: KubeProxyMode): DataplaneName {
  return mode === "nftables" ? "nftables" : "ipvs";
}
