/**
 * Preflight (issue 9, section 3.1): every host is asked everything before anything changes, and
 * the answers are shown in one table. A host that has already finished its kubeadm step (a
 * resumed run) is not asked for free control-plane ports: its own etcd holds them.
 */
import type { DataplaneName } from "@lvscare/contracts/names";
import type { HostPool } from "../ssh/host-pool.ts";
import type { RemoteHost } from "../ssh/remote-host.ts";
import { isMarked } from "./remote-edits.ts";

export const CONTROL_PLANE_PORTS = [6443, 2379, 2380, 10250] as const;
export const MAX_CLOCK_SKEW_MS = 5000;
const REQUIRED_TOOLS = ["kubeadm", "kubelet", "containerd"] as const;

export interface PreflightHost {
  readonly address: string;
  readonly role: "master" | "worker";
}

export interface PreflightRow {
  readonly address: string;
  readonly role: string;
  hostname: string;
  clockSkewMs: number | undefined;
  kubeadmVersion: string;
  arch: string;
  swap: string;
  problems: string[];
}

// One round trip for every answer: tab-separated KEY=VALUE lines.
const PROBE = `
echo "hostname=$(hostname)"
echo "arch=$(uname -m)"
echo "clock=$(date +%s%3N)"
echo "swap=$(($(wc -l < /proc/swaps) - 1))"
for tool in ${REQUIRED_TOOLS.join(" ")}; do command -v "$tool" >/dev/null 2>&1 && echo "tool.$tool=yes" || echo "tool.$tool=no"; done
command -v kubeadm >/dev/null 2>&1 && echo "kubeadm=$(kubeadm version -o short 2>/dev/null)"
command -v nft >/dev/null 2>&1 && echo nft=yes || echo nft=no
if [ -e /proc/net/ip_vs ]; then echo ipvs=yes; elif [ -e /proc/modules ] && modprobe -n ip_vs 2>/dev/null; then echo ipvs=loadable; else echo ipvs=no; fi
if command -v ss >/dev/null 2>&1; then echo "listening=$(ss -Htln | awk '{print $4}' | sed 's/.*://' | sort -un | tr '\\n' ' ')"; fi
`;

/** A probe's `KEY=VALUE` lines (the value trimmed; lines without `=` ignored). */
export function parseKeyValueLines(stdout: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) values.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return values;
}

/** What a worker's lvscare needs for its dataplane (auto: either IPVS or nft will do). */
export function dataplaneProblem(values: Map<string, string>, dataplane: DataplaneName): string | undefined {
  const ipvs = values.get("ipvs") !== "no";
  const nft = values.get("nft") === "yes";
  if (dataplane === "ipvs" && !ipvs) return "no IPVS: ip_vs is neither in the kernel nor loadable (lvscare needs it on workers)";
  if (dataplane === "nftables" && !nft) return "no nft: lvscare --dataplane nftables needs the nft tool (Debian: nftables)";
  if (dataplane === "auto" && !ipvs && !nft) return "neither IPVS (ip_vs) nor the nft tool: lvscare --dataplane auto needs one of them";
  return undefined;
}

async function probe(host: RemoteHost, role: PreflightHost["role"], cluster: string, haveBundle: boolean, workerDataplane: DataplaneName): Promise<Omit<PreflightRow, "address" | "role">> {
  const sent = Date.now();
  const result = await host.run(["sh", "-c", PROBE]);
  const received = Date.now();
  const values = parseKeyValueLines(result.stdout);
  const problems: string[] = [];
  const remoteClock = Number(values.get("clock"));
  const clockSkewMs = Number.isFinite(remoteClock) ? Math.round(remoteClock - (sent + received) / 2) : undefined;
  if (!haveBundle) {
    const missing = REQUIRED_TOOLS.filter((tool) => values.get(`tool.${tool}`) !== "yes");
    if (missing.length > 0) problems.push(`missing ${missing.join(", ")} (install them or give --bundle)`);
  }
  const dataplane = role === "worker" ? dataplaneProblem(values, workerDataplane) : undefined;
  if (dataplane !== undefined) problems.push(dataplane);
  if (role === "master" && !(await isMarked(host, cluster, "kubeadm"))) {
    const listening = new Set((values.get("listening") ?? "").split(/\s+/).filter((port) => port !== "").map(Number));
    if (!values.has("listening")) problems.push("cannot check ports: ss (iproute2) is missing");
    const busy = CONTROL_PLANE_PORTS.filter((port) => listening.has(port));
    if (busy.length > 0) problems.push(`port${busy.length > 1 ? "s" : ""} ${busy.join(", ")} already in use`);
  }
  const swaps = Number(values.get("swap") ?? "0");
  return { hostname: values.get("hostname") ?? "", clockSkewMs, kubeadmVersion: values.get("kubeadm") ?? "", arch: values.get("arch") ?? "", swap: swaps > 0 ? "on (turned off)" : "off", problems };
}

export interface PreflightResult {
  readonly rows: PreflightRow[];
  readonly ok: boolean;
  /** The kubeadm version every host agrees on ("" when not all answered). */
  readonly kubeadmVersion: string;
}

export async function runPreflight(pool: HostPool, hosts: readonly PreflightHost[], options: { cluster: string; haveBundle: boolean; workerDataplane: DataplaneName }): Promise<PreflightResult> {
  const roles = new Map(hosts.map((host) => [host.address, host.role]));
  const results = await pool.forEach(hosts.map((host) => host.address), async (host, progress) => {
    progress.step("checking");
    return probe(host, roles.get(host.address) ?? "worker", options.cluster, options.haveBundle, options.workerDataplane);
  }, { title: "preflight" });
  const rows: PreflightRow[] = results.map((result) => {
    const role = roles.get(result.address) ?? "worker";
    if (result.ok) return { address: result.address, role, ...result.value };
    return { address: result.address, role, hostname: "", clockSkewMs: undefined, kubeadmVersion: "", arch: "", swap: "", problems: [result.error.message] };
  });
  const byName = new Map<string, string[]>();
  for (const row of rows) if (row.hostname !== "") byName.set(row.hostname, [...(byName.get(row.hostname) ?? []), row.address]);
  for (const row of rows) {
    const same = byName.get(row.hostname) ?? [];
    if (same.length > 1) row.problems.push(`hostname ${row.hostname} also used by ${same.filter((address) => address !== row.address).join(", ")}`);
  }
  const clocks = rows.filter((row) => row.clockSkewMs !== undefined).map((row) => row.clockSkewMs as number);
  if (clocks.length > 1 && Math.max(...clocks) - Math.min(...clocks) > MAX_CLOCK_SKEW_MS) {
    for (const row of rows) if (row.clockSkewMs !== undefined) row.problems.push(`clocks differ by more than ${MAX_CLOCK_SKEW_MS / 1000} s across hosts (this one ${row.clockSkewMs} ms from here)`);
  }
  const versions = new Set(rows.map((row) => row.kubeadmVersion).filter((version) => version !== ""));
  if (versions.size > 1) for (const row of rows) row.problems.push(`kubeadm versions differ: ${[...versions].sort().join(", ")}`);
  const ok = rows.every((row) => row.problems.length === 0);
  return { rows, ok, kubeadmVersion: versions.size === 1 ? ([...versions][0] as string) : "" };
}

export function formatPreflightTable(rows: readonly PreflightRow[]): string {
  const header = ["HOST", "ROLE", "HOSTNAME", "CLOCK", "KUBEADM", "ARCH", "SWAP", "RESULT"];
  const lines = rows.map((row) => [
    row.address,
    row.role,
    row.hostname || "-",
    row.clockSkewMs === undefined ? "-" : `${row.clockSkewMs >= 0 ? "+" : ""}${row.clockSkewMs}ms`,
    row.kubeadmVersion || "-",
    row.arch || "-",
    row.swap || "-",
    row.problems.length === 0 ? "ok" : row.problems.join("; "),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => (line[column] ?? "").length)));
  return [header, ...lines].map((line) => line.map((cell, column) => (column === line.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  ")).join("\n");
}
