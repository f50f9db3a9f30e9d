/**
 * `kubeadm reset`: asks unless -f; removes this master's etcd member when the cluster answers
 * (kubeadm's remove-etcd-member phase: a failure is a warning); stops the kubelet, the etcd and
 * stand-in API server daemons; then deletes exactly what kubeadm reset deletes:
 *   contents of /etc/kubernetes/manifests, /var/lib/kubelet, the certificates dir
 *   (/etc/kubernetes/pki), the etcd data dir (/var/lib/etcd), /etc/kubernetes/tmp with
 *   --cleanup-tmp-dir; the files /etc/kubernetes/{admin,super-admin,kubelet,bootstrap-kubelet,
 *   controller-manager,scheduler}.conf. Nothing else (not /etc/cni, not $HOME/.kube, not
 *   /etc/hosts, not the fakes' own call log).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { parseFlags } from "../lib/flags.ts";
import { readKubeconfig } from "../lib/kubeconfig.ts";
import { apiOk } from "../lib/kube-client.ts";
import { etcdClientUrls } from "./cluster-api.ts";
import { GLOBAL_FLAGS } from "./common.ts";
import { manifestCommand, stopControlPlane } from "./control-plane.ts";
import { KUBERNETES_DIR } from "./init.ts";
import { etcdctl } from "./join.ts";
import { kubeadmError, print, say, warn } from "./output.ts";
import { MANIFESTS_DIR, rootCheck, runChecks } from "./preflight.ts";

const RESET_FLAGS = [
  ...GLOBAL_FLAGS,
  { name: "force", short: "f", kind: "bool" as const },
  { name: "cert-dir", kind: "string" as const },
  { name: "cri-socket", kind: "string" as const },
  { name: "cleanup-tmp-dir", kind: "bool" as const },
  { name: "ignore-preflight-errors", kind: "strings" as const },
  { name: "skip-phases", kind: "strings" as const },
  { name: "kubeconfig", kind: "string" as const },
  { name: "dry-run", kind: "bool" as const },
  { name: "config", kind: "string" as const },
];

function readLine(): string {
  const buffer = Buffer.alloc(256);
  try {
    const length = readSync(0, buffer, 0, buffer.length, null);
    return buffer.subarray(0, length).toString().split("\n")[0] ?? "";
  } catch {
    return "";
  }
}

function cleanDir(path: string): void {
  if (!existsSync(path)) return;
  for (const name of readdirSync(path)) rmSync(join(path, name), { recursive: true, force: true });
}

const flagValue = (command: readonly string[] | undefined, name: string) => command?.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);

export async function runReset(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, RESET_FLAGS);
  if (flags.args.length > 0) throw kubeadmError(`unknown command "${flags.args[0]}" for "kubeadm reset"`);
  if (flags.bool("dry-run") || flags.string("config") !== undefined) throw kubeadmError("--dry-run and --config are not modelled by this fake for reset");
  const kubeconfigPath = flags.string("kubeconfig") ?? join(KUBERNETES_DIR, "admin.conf");
  const certificatesDir = flags.string("cert-dir") ?? "/etc/kubernetes/pki";
  let cluster: Record<string, unknown> | undefined;
  if (existsSync(kubeconfigPath)) {
    say("reset", "Reading configuration from the cluster...");
    try {
      const config = (await apiOk(readKubeconfig(kubeconfigPath), "GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config", undefined, { timeoutMs: 5000 })) as { data?: Record<string, string> };
      cluster = parse(config.data?.["ClusterConfiguration"] ?? "{}") as Record<string, unknown>;
    } catch (error) {
      warn(`[reset] WARNING: Unable to fetch the kubeadm-config ConfigMap from cluster: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else {
    warn(`[reset] WARNING: Unable to fetch the kubeadm-config ConfigMap from cluster: failed to get config map: open ${kubeconfigPath}: no such file or directory`);
  }
  if (!flags.bool("force")) {
    process.stdout.write("[reset] (FAKE kubeadm) Are you sure you want to proceed? [y/N]: ");
    if (readLine().trim().toLowerCase() !== "y") throw kubeadmError("won't proceed; the user didn't answer (Y|n) in order to continue");
  }
  say("preflight", "Running pre-flight checks");
  await runChecks([rootCheck()], flags.strings("ignore-preflight-errors"));

  const etcdCommand = manifestCommand("etcd");
  const dataDir = flagValue(etcdCommand, "data-dir") ?? "/var/lib/etcd";
  if (etcdCommand !== undefined && cluster !== undefined) {
    const peerUrl = flagValue(etcdCommand, "initial-advertise-peer-urls");
    try {
      const endpoints = await etcdClientUrls(readKubeconfig(kubeconfigPath));
      // The simple format prints member IDs in hex; JSON would give 64-bit numbers that lose precision.
      const listed = etcdctl(["--endpoints", endpoints.join(","), "member", "list"], certificatesDir);
      if (!listed.ok) throw new Error(listed.output);
      const members = listed.output
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => line.split(", "))
        .map((fields) => ({ id: fields[0] ?? "", peerURLs: (fields[3] ?? "").split(",") }));
      const own = members.find((member) => member.peerURLs.includes(peerUrl ?? ""));
      if (members.length === 1 && own !== undefined) {
        say("reset", "This is the only remaining etcd member in the etcd cluster, skip removing it");
      } else if (own === undefined) {
        throw new Error(`no etcd member with peer URL ${peerUrl}`);
      } else {
        const id = own.id;
        const removed = etcdctl(["--endpoints", endpoints.join(","), "member", "remove", id], certificatesDir);
        if (!removed.ok) throw new Error(removed.output);
        say("reset", `Removed the etcd member ${id} (${peerUrl}) from the etcd cluster`);
      }
    } catch (error) {
      warn(`[reset] Failed to remove etcd member: ${error instanceof Error ? error.message : String(error)}, please manually remove this etcd member using etcdctl`);
    }
  } else if (etcdCommand === undefined) {
    say("reset", "No etcd config found. Assuming external etcd");
  }

  say("reset", "Stopping the kubelet service");
  const stop = spawnSync("systemctl", ["stop", "kubelet"], { encoding: "utf8" });
  if (stop.error !== undefined || stop.status !== 0) warn(`[reset] The kubelet service could not be stopped by kubeadm: [${(stop.stderr ?? stop.error?.message ?? "").trim()}]`);
  const stopped = await stopControlPlane();
  say("reset", `Removing Kubernetes-managed containers (FAKE: stopped ${stopped.length === 0 ? "nothing" : stopped.join(", ")})`);
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    cleanDir(dataDir);
    say("reset", `Deleted contents of the etcd data directory: ${dataDir}`);
  }
  const dirs = [MANIFESTS_DIR, "/var/lib/kubelet", certificatesDir, ...(flags.bool("cleanup-tmp-dir") ? [join(KUBERNETES_DIR, "tmp")] : [])];
  say("reset", `Deleting contents of directories: [${dirs.join(" ")}]`);
  for (const dir of dirs) cleanDir(dir);
  const files = ["admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf", "controller-manager.conf", "scheduler.conf"].map((file) => join(KUBERNETES_DIR, file));
  say("reset", `Deleting files: [${files.join(" ")}]`);
  for (const file of files) rmSync(file, { force: true });
  print(
    "\nThe reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d\n\nThe reset process does not reset or clean up iptables rules or IPVS tables.\n\nThe reset process does not clean your kubeconfig files and you must remove them manually.\nPlease, check the contents of the $HOME/.kube/config file.",
  );
  return 0;
}
