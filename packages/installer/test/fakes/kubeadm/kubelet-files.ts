/** The files kubeadm writes for the kubelet: its config from the cluster, its flags, and a restart. */
import { spawnSync } from "node:child_process";
import { parse, stringify } from "yaml";
import { say, warn } from "./output.ts";
import { writeFileAtomic } from "./control-plane.ts";

export const KUBELET_CONFIG = "/var/lib/kubelet/config.yaml";
export const KUBELET_FLAGS = "/var/lib/kubelet/kubeadm-flags.env";

export function writeKubeletFiles(kubeletYaml: string | undefined, criSocket: string, extraArgs: ReadonlyMap<string, string>, clusterDomain: string, dnsIp: string): void {
  const config = { ...((kubeletYaml === undefined ? {} : parse(kubeletYaml)) as Record<string, unknown>) };
  config["apiVersion"] ??= "kubelet.config.k8s.io/v1beta1";
  config["kind"] ??= "KubeletConfiguration";
  config["authentication"] ??= { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: "/etc/kubernetes/pki/ca.crt" } };
  config["authorization"] ??= { mode: "Webhook" };
  config["clusterDNS"] ??= [dnsIp];
  config["clusterDomain"] ??= clusterDomain;
  config["rotateCertificates"] ??= true;
  config["staticPodPath"] ??= "/etc/kubernetes/manifests";
  say("kubelet-start", `Writing kubelet configuration to file "${KUBELET_CONFIG}"`);
  writeFileAtomic(KUBELET_CONFIG, stringify(config), 0o644);
  const args = new Map<string, string>([["container-runtime-endpoint", criSocket], ...extraArgs]);
  say("kubelet-start", `Writing kubelet environment file with flags to file "${KUBELET_FLAGS}"`);
  writeFileAtomic(KUBELET_FLAGS, `KUBELET_KUBEADM_ARGS="${[...args].map(([name, value]) => `--${name}=${value}`).join(" ")}"\n`, 0o644);
}

/** kubeadm restarts the kubelet through the init system on PATH (the fake systemctl on test hosts). */
export function restartKubelet(): void {
  say("kubelet-start", "Starting the kubelet");
  const result = spawnSync("systemctl", ["restart", "kubelet"], { encoding: "utf8" });
  if (result.error !== undefined || result.status !== 0) {
    warn(`[kubelet-start] WARNING: unable to start the kubelet service: [${(result.stderr ?? result.error?.message ?? "").trim()}]`);
    warn("[kubelet-start] Please ensure kubelet is reloaded and running manually.");
  }
}
