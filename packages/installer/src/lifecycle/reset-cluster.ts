/**
 * `seal reset`: undo everything seal did, on every host of the cluster's Clusterfile, and nothing
 * of the user's: workers first (`lvscare care -C`, kubeadm reset, the lvscare executable, image
 * and archive), then the masters one at a time, last joined first (each kubeadm reset removes its
 * own etcd member while the others still answer). On every host: our names in the /etc/hosts
 * managed block (user lines untouched), our modules-load and sysctl files, /var/lib/seal/<cluster>
 * and the Clusterfile copy. Locally the Clusterfile and render go; pki/ and known_hosts stay.
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { API_SERVER_HOST_NAME, NODE_IP_HOST_NAME } from "@lvscare/contracts/names";
import { InputError } from "../errors.ts";
import { HostPool } from "../ssh/host-pool.ts";
import { parseHostKeyPin } from "../ssh/host-key-store.ts";
import type { RemoteHost } from "../ssh/remote-host.ts";
import { clusterHosts } from "../cluster-state/clusterfile.ts";
import { acquireClusterLock } from "../cluster-state/lock.ts";
import { MASTER_CLUSTERFILE_PATH, readClusterfile, stateDir } from "../cluster-state/state-dir.ts";
import { MODULES_LOAD_PATH, SYSCTL_PATH } from "./node-prep.ts";
import { HOST_LVSCARE_PATH, imageArchivePath } from "./host-steps.ts";
import { removeRemoteHostsNames } from "./remote-edits.ts";
import { loadRenderedPlan } from "./rendered-plan.ts";
import type { RunContext } from "./run-cluster.ts";
import { StepFailedError } from "./step-runner.ts";
import { PLAN_FILE_NAME, type Plan } from "../plan/plan.ts";
import { DEFAULTS } from "../cluster/spec.ts";

export interface ResetRequest {
  readonly cluster: string;
  readonly port: number;
  readonly acceptHostKey: readonly string[];
  readonly sshInsecure: boolean;
  readonly dryRun: boolean;
  readonly home?: string;
}

const KUBEADM_TIMEOUT_MS = 10 * 60_000;

function ourHostsNames(plan: Plan | undefined): string[] {
  if (plan === undefined) return [API_SERVER_HOST_NAME, NODE_IP_HOST_NAME];
  const names = plan.hosts.flatMap((host) => [...host.hostsEntries, ...host.afterKubeadm.hostsEntries].flatMap((entry) => entry.names));
  return [...new Set(names)];
}

export function describeReset(role: "master" | "worker", cluster: string, image: string | undefined): string[] {
  return [
    ...(role === "worker" ? [`${HOST_LVSCARE_PATH} care -C (the virtual server and its route)`] : []),
    "kubeadm reset -f",
    ...(role === "worker" ? [`remove ${HOST_LVSCARE_PATH}, ${imageArchivePath(cluster)}${image === undefined ? "" : `, image ${image}`}`] : []),
    `remove seal's /etc/hosts entries, ${MODULES_LOAD_PATH}, ${SYSCTL_PATH}, /var/lib/seal/${cluster}, ${MASTER_CLUSTERFILE_PATH}`,
  ];
}

async function has(host: RemoteHost, command: string): Promise<boolean> {
  return (await host.run(["sh", "-c", 'command -v "$1" >/dev/null 2>&1', "seal-has", command], { allowExitCodes: [0, 1] })).exitCode === 0;
}

export async function resetHost(host: RemoteHost, role: "master" | "worker", cluster: string, plan: Plan | undefined, image: string, step: (text: string) => void): Promise<void> {
  const planHost = plan?.hosts.find((candidate) => candidate.address === host.address);
  if (role === "worker" && planHost?.virtualServer !== undefined && (await has(host, HOST_LVSCARE_PATH))) {
    step("lvscare care -C");
    // -C must clean the dataplane the worker ran (nftables leaves no IPVS to clean, and the kernel may have none).
    const dataplane = planHost.virtualServer.dataplane === undefined ? [] : ["--dataplane", planHost.virtualServer.dataplane];
    await host.run([HOST_LVSCARE_PATH, "care", "-C", "--vs", planHost.virtualServer.address, ...dataplane]);
  }
  if (await has(host, "kubeadm")) {
    step("kubeadm reset -f");
    await host.run(["kubeadm", "reset", "-f"], { timeoutMs: KUBEADM_TIMEOUT_MS });
  }
  if (role === "worker") {
    step("lvscare executable and image");
    if (await has(host, "ctr")) await host.run(["ctr", "-n", "k8s.io", "images", "rm", image], { allowExitCodes: [0, 1] });
    await host.run(["rm", "-f", HOST_LVSCARE_PATH]);
  }
  step("seal's files and hosts entries");
  await removeRemoteHostsNames(host, ourHostsNames(plan));
  await host.run(["rm", "-rf", MODULES_LOAD_PATH, SYSCTL_PATH, `/var/lib/seal/${cluster}`, MASTER_CLUSTERFILE_PATH]);
  await host.run(["sh", "-c", "rmdir /etc/seal /var/lib/seal 2>/dev/null; exit 0"]);
}

export async function resetCluster(request: ResetRequest, context: RunContext): Promise<void> {
  const state = stateDir(request.cluster, request.home);
  const file = readClusterfile(state.clusterfile);
  if (file === undefined) throw new InputError(`no cluster "${request.cluster}": ${state.clusterfile} does not exist`);
  const { masters, nodes } = clusterHosts(file.cluster);
  const pins = request.acceptHostKey.map(parseHostKeyPin);
  const plan = existsSync(join(state.renderDir, PLAN_FILE_NAME)) ? loadRenderedPlan(state.renderDir).plan : undefined;
  const ports = new Set([...masters, ...nodes].map((host) => host.port ?? request.port));
  if (ports.size > 1) throw new InputError(`the Clusterfile's hosts use several SSH ports (${[...ports].join(", ")}); seal reset needs one`);
  const port = [...ports][0] ?? request.port;
  const image = file.config.lvscareImage ?? DEFAULTS.lvscareImage;
  if (request.dryRun) {
    context.print(`dry run: seal reset would do, in this order; nothing was contacted or changed:`);
    for (const node of nodes) context.print(`${node.ip} worker:\n${describeReset("worker", request.cluster, image).map((line) => `  ${line}`).join("\n")}`);
    for (const master of [...masters].reverse()) context.print(`${master.ip} master:\n${describeReset("master", request.cluster, image).map((line) => `  ${line}`).join("\n")}`);
    context.print(`locally: remove ${state.clusterfile} and ${state.renderDir} (keeping ${state.pkiDir} and ${state.knownHosts})`);
    return;
  }
  const lock = acquireClusterLock(state.lock, "seal reset", (message) => context.logger.log("warn", message));
  try {
    await using pool = new HostPool({
      credentials: await context.credentials(),
      port,
      hostKeys: { knownHostsPath: state.knownHosts, pins, insecureAcceptChangedKeys: request.sshInsecure },
      logger: context.logger,
      progress: context.progress,
    });
    const failures: string[] = [];
    const collect = (results: readonly { address: string; ok: boolean; error?: Error }[]) => {
      for (const result of results) if (!result.ok) failures.push(`${result.address}: ${result.error?.message.split("\n")[0] ?? "failed"}`);
    };
    if (nodes.length > 0) {
      collect(await pool.forEach(nodes.map((node) => node.ip), (host, progress) => resetHost(host, "worker", request.cluster, plan, image, (text) => progress.step(text)), { title: "reset workers" }));
    }
    for (const master of [...masters].reverse()) {
      collect(await pool.forEach([master.ip], (host, progress) => resetHost(host, "master", request.cluster, plan, image, (text) => progress.step(text)), { title: "reset master" }));
    }
    if (failures.length > 0) throw new StepFailedError(`reset failed on ${failures.length} hosts: ${failures.join("; ")}; run seal reset again once they answer (the local state is kept until every host is reset)`);
    rmSync(state.clusterfile, { force: true });
    rmSync(state.renderDir, { recursive: true, force: true });
    context.logger.log("info", `cluster "${request.cluster}" reset on ${masters.length + nodes.length} hosts (kept ${state.pkiDir} and ${state.knownHosts})`);
  } finally {
    lock.release();
  }
}
