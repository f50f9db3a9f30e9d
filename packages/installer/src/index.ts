/**
 * @lvscare/installer: render every node's artifacts offline (`seal render`) and edit /etc/hosts
 * through a managed block (`seal hosts`); the SSH layer that applies them to hosts.
 */
export { InputError } from "./errors.ts";
export { buildClusterSpec, defaultHostname, type ClusterInput } from "./cluster/validate.ts";
export { DEFAULTS, type ClusterSpec, type HostSpec, type HostRole, type KeyAlgorithm } from "./cluster/spec.ts";
export { parseKubernetesVersion, kubeadmApiVersionFor, type KubernetesVersion } from "./cluster/version.ts";
export { renderKubeadmDocuments, apiServerCertSans, type JoinSecrets } from "./kubeadm/render.ts";
export { decodeConfigFile, encodeConfigFile, ConfigDecodeError, type ConfigDocument } from "./kubeadm/documents.ts";
export { renderCluster, kubeadmConfigFile, type RenderedCluster, type RenderOptions } from "./render/render-cluster.ts";
export { checkOutputDirectory, writeRenderOutput } from "./render/write-output.ts";
export { readPkiDir, EMPTY_PKI_DIR, type PkiDirContents } from "./pki/pki-dir.ts";
export { leafProfiles, kubeconfigProfiles, type LeafProfile, type KubeconfigProfile } from "./pki/profiles.ts";
export { caCertHash } from "./pki/discovery-hash.ts";
export { PLAN_FILE_NAME, type Plan, type PlanHost, type PlanFile, type PlanHostsEntry, type PlanStep } from "./plan/plan.ts";
export {
  setHostsEntries,
  removeHostsEntries,
  readManagedEntries,
  describeConflict,
  BLOCK_BEGIN,
  BLOCK_END,
  type HostsEntry,
  type HostsConflict,
  type HostsEditResult,
} from "./hosts/hosts-file.ts";
export { editHostsFile } from "./hosts/hosts-io.ts";
export { main } from "./cli/main.ts";
// The SSH layer (host pool, known hosts, logger, progress): see the README's "SSH layer".
export * from "./ssh/index.ts";
