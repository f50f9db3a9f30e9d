/**
 * `seal status`: what the Clusterfile says (phase, each host's last condition) next to what each
 * host answers now (reachable, hostname, seal's kubeadm marker, the kubelet unit's state), as a
 * table or as JSON. Read-only: no lock, nothing written but first-contact host keys.
 */
import { InputError } from "../errors.ts";
import { HostPool } from "../ssh/host-pool.ts";
import { parseHostKeyPin } from "../ssh/host-key-store.ts";
import { clusterHosts, type ClusterCondition } from "../cluster-state/clusterfile.ts";
import { readClusterfile, stateDir } from "../cluster-state/state-dir.ts";
import { markerPath } from "./remote-edits.ts";
import type { RunContext } from "./run-cluster.ts";

export interface StatusRequest {
  readonly cluster: string;
  readonly port: number;
  readonly acceptHostKey: readonly string[];
  readonly sshInsecure: boolean;
  readonly json: boolean;
  readonly home?: string;
}

export interface HostStatus {
  readonly address: string;
  readonly role: "master" | "worker";
  readonly reachable: boolean;
  readonly error?: string;
  readonly hostname?: string;
  readonly kubeadm?: "done" | "not done";
  readonly kubelet?: string;
  /** The Clusterfile's latest condition about this host. */
  readonly lastCondition?: { readonly type: string; readonly status: string; readonly message?: string };
}

export interface ClusterStatus {
  readonly cluster: string;
  readonly phase: string;
  readonly hosts: readonly HostStatus[];
}

const PROBE = 'hostname; test -e "$1" && echo done || echo "not done"; systemctl is-active kubelet 2>/dev/null || true';

function lastConditionFor(address: string, conditions: readonly ClusterCondition[]): HostStatus["lastCondition"] {
  const mine = conditions.filter((condition) => condition.type.endsWith(`/${address}`));
  const last = mine[mine.length - 1];
  return last === undefined ? undefined : { type: last.type, status: last.status, ...(last.message === undefined ? {} : { message: last.message }) };
}

export async function readClusterStatus(request: StatusRequest, context: RunContext): Promise<ClusterStatus> {
  const state = stateDir(request.cluster, request.home);
  const file = readClusterfile(state.clusterfile);
  if (file === undefined) throw new InputError(`no cluster "${request.cluster}": ${state.clusterfile} does not exist`);
  const { masters, nodes } = clusterHosts(file.cluster);
  const roles = [...masters.map((host) => ({ address: host.ip, role: "master" as const })), ...nodes.map((host) => ({ address: host.ip, role: "worker" as const }))];
  const conditions = file.cluster.status?.conditions ?? [];
  await using pool = new HostPool({
    credentials: await context.credentials(),
    port: masters[0]?.port ?? request.port,
    hostKeys: { knownHostsPath: state.knownHosts, pins: request.acceptHostKey.map(parseHostKeyPin), insecureAcceptChangedKeys: request.sshInsecure },
    logger: context.logger,
    progress: context.progress,
  });
  const results = await pool.forEach(roles.map((host) => host.address), async (host) => {
    const lines = (await host.run(["sh", "-c", PROBE, "seal-status", markerPath(request.cluster, "kubeadm")])).stdout.split("\n");
    return { hostname: lines[0] ?? "", kubeadm: lines[1] === "done" ? ("done" as const) : ("not done" as const), kubelet: lines[2] || "unknown" };
  });
  const hosts = results.map((result, index): HostStatus => {
    const role = roles[index]?.role ?? "worker";
    const lastCondition = lastConditionFor(result.address, conditions);
    const base = { address: result.address, role, ...(lastCondition === undefined ? {} : { lastCondition }) };
    return result.ok ? { ...base, reachable: true, ...result.value } : { ...base, reachable: false, error: result.error.message.split("\n")[0] ?? "" };
  });
  return { cluster: request.cluster, phase: file.cluster.status?.phase ?? "", hosts };
}

export function formatStatusTable(status: ClusterStatus): string {
  const header = ["HOST", "ROLE", "REACHABLE", "HOSTNAME", "KUBEADM", "KUBELET", "LAST STEP"];
  const rows = status.hosts.map((host) => [
    host.address,
    host.role,
    host.reachable ? "yes" : `no: ${host.error ?? ""}`,
    host.hostname ?? "-",
    host.kubeadm ?? "-",
    host.kubelet ?? "-",
    host.lastCondition === undefined ? "-" : `${host.lastCondition.type.split("/")[0]} ${host.lastCondition.status === "True" ? "done" : host.lastCondition.status === "False" ? `failed${host.lastCondition.message === undefined ? "" : `: ${host.lastCondition.message}`}` : "running"}`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
  const table = [header, ...rows].map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  "));
  return [`cluster "${status.cluster}": ${status.phase || "no phase"}`, ...table].join("\n");
}
