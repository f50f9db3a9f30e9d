/**
 * Where a master keeps the credentials `seal cert` renews: the leaf certificates under
 * /etc/kubernetes/pki (with the CA that signs each) and the kubeconfigs under /etc/kubernetes.
 * The same names seal render writes (profiles.ts); a test keeps the two lists equal.
 */
import { KUBERNETES_DIR, PKI_DIR } from "../plan/files.ts";
import type { AuthorityName } from "./profiles.ts";

export interface MasterLeaf {
  /** `apiserver`, `etcd/server`: the .crt and .key under /etc/kubernetes/pki. */
  readonly baseName: string;
  readonly authority: AuthorityName;
}

export const MASTER_LEAVES: readonly MasterLeaf[] = [
  { baseName: "apiserver", authority: "ca" },
  { baseName: "apiserver-kubelet-client", authority: "ca" },
  { baseName: "front-proxy-client", authority: "front-proxy-ca" },
  { baseName: "apiserver-etcd-client", authority: "etcd/ca" },
  { baseName: "etcd/server", authority: "etcd/ca" },
  { baseName: "etcd/peer", authority: "etcd/ca" },
  { baseName: "etcd/healthcheck-client", authority: "etcd/ca" },
];

/** Every kubeconfig kubeadm may have put on a master; super-admin.conf only on the init node (1.29+). */
export const MASTER_KUBECONFIGS: readonly string[] = ["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"];

/** The API server's serving certificate: what --alt-names changes. */
export const API_SERVER_LEAF = "apiserver";

export function leafCertificatePath(baseName: string): string {
  return `${PKI_DIR}/${baseName}.crt`;
}

export function leafKeyPath(baseName: string): string {
  return `${PKI_DIR}/${baseName}.key`;
}

export function kubeconfigPath(fileName: string): string {
  return `${KUBERNETES_DIR}/${fileName}`;
}
