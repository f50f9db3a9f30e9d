/** Phase names `--skip-phases` accepts, and whether a phase (or its parent) is skipped. */
import { kubeadmError } from "./output.ts";

const INIT_PHASES: Record<string, readonly string[]> = {
  preflight: [],
  certs: ["ca", "apiserver", "apiserver-kubelet-client", "front-proxy-ca", "front-proxy-client", "etcd-ca", "etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client", "sa"],
  kubeconfig: ["admin", "super-admin", "kubelet", "controller-manager", "scheduler"],
  etcd: ["local"],
  "control-plane": ["apiserver", "controller-manager", "scheduler"],
  "kubelet-start": [],
  "wait-control-plane": [],
  "upload-config": ["kubeadm", "kubelet"],
  "upload-certs": [],
  "mark-control-plane": [],
  "bootstrap-token": [],
  "kubelet-finalize": ["enable-client-cert-rotation", "experimental-cert-rotation"],
  addon: ["coredns", "kube-proxy"],
  "show-join-command": [],
};

const JOIN_PHASES: Record<string, readonly string[]> = {
  preflight: [],
  "control-plane-prepare": ["download-certs", "certs", "kubeconfig", "control-plane"],
  "kubelet-start": [],
  "control-plane-join": ["etcd", "update-status", "mark-control-plane"],
  "wait-control-plane": [],
};

export class Phases {
  readonly #skipped: Set<string>;
  constructor(skipped: readonly string[], command: "init" | "join") {
    const table = command === "init" ? INIT_PHASES : JOIN_PHASES;
    for (const phase of skipped) {
      const [parent, child] = phase.split("/");
      const children = table[parent ?? ""];
      if (children === undefined || (child !== undefined && child !== "all" && !children.includes(child))) throw kubeadmError(`invalid phase name: ${phase}`);
    }
    this.#skipped = new Set(skipped.map((phase) => phase.replace(/\/all$/, "")));
  }

  runs(phase: string): boolean {
    const parent = phase.split("/")[0] ?? phase;
    return !this.#skipped.has(phase) && !this.#skipped.has(parent);
  }
}
