/** A file as a host will receive it. */
export interface HostFile {
  /** Absolute path on the host. */
  readonly path: string;
  readonly mode: number;
  readonly content: string;
}

/** Keys, kubeconfigs, kubeadm configs (bootstrap token) and static pods: owner only. */
export const SECRET_MODE = 0o600;
/** Certificates and public keys. */
export const PUBLIC_MODE = 0o644;

export const KUBERNETES_DIR = "/etc/kubernetes";
export const PKI_DIR = "/etc/kubernetes/pki";

export function formatMode(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}
