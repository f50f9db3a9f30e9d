/**
 * `seal status`, the asking part: the Clusterfile (phase, hosts, each host's last condition) and
 * the rendered plan (hostnames, master0) make the cluster description; each host is asked in one
 * round trip (hostname, seal's kubeadm marker, the kubelet unit and version, on workers the lvscare
 * manifest, on masters the certificates' expiry) and masters' API servers answer /healthz. The
 * report and its table/JSON are status/status-report.ts's. Read-only: no lock, nothing written but
 * first-contact host keys.
 */
import { existsSync } from "node:fs";
import { LVSCARE_MANIFEST_PATH } from "@lvscare/contracts/names";
import { InputError } from "../errors.ts";
import { healthzArgv } from "../cert/distribute.ts";
import { PKI_DIR } from "../plan/files.ts";
import { HostPool } from "../ssh/host-pool.ts";
import { parseHostKeyPin } from "../ssh/host-key-store.ts";
import type { RemoteHost } from "../ssh/remote-host.ts";
import { clusterHosts, type ClusterCondition } from "../cluster-state/clusterfile.ts";
import { readClusterfile, stateDir } from "../cluster-state/state-dir.ts";
import { buildStatusReport, type CertificateExpiry, type HostAnswer, type StatusHost, type StatusReport } from "../status/status-report.ts";
import { parseKeyValueLines } from "./preflight.ts";
import { markerPath } from "./remote-edits.ts";
import { loadRenderedPlan } from "./rendered-plan.ts";
import type { RunContext } from "./run-cluster.ts";

export interface StatusRequest {
  readonly cluster: string;
  readonly port: number;
  readonly acceptHostKey: readonly string[];
  readonly sshInsecure: boolean;
  readonly home?: string;
  /** Default: now. */
  readonly now?: Date;
}

/** The masters' leaf certificates whose expiry is reported (paths under /etc/kubernetes/pki). */
const MASTER_CERTIFICATES = ["apiserver", "apiserver-kubelet-client", "apiserver-etcd-client", "front-proxy-client", "etcd/server", "etcd/peer", "etcd/healthcheck-client"] as const;

// KEY=VALUE lines; $1 the kubeadm marker, $2 the role, $3 the lvscare manifest, then the certificates.
const PROBE = `
marker=$1 role=$2 manifest=$3; shift 3
echo "hostname=$(hostname)"
test -e "$marker" && echo kubeadm=done || echo "kubeadm=not done"
echo "kubelet=$(systemctl is-active kubelet 2>/dev/null)"
echo "kubeletVersion=$(kubelet --version 2>/dev/null | awk '{print $2}')"
if [ "$role" = worker ]; then test -e "$manifest" && echo lvscare=yes || echo lvscare=no; fi
if command -v openssl >/dev/null 2>&1; then
  for name in "$@"; do
    file=${PKI_DIR}/$name.crt
    test -e "$file" && echo "cert.$name=$(openssl x509 -enddate -noout -in "$file" 2>/dev/null | sed 's/^notAfter=//')"
  done
fi
true
`;

async function askHost(host: RemoteHost, role: StatusHost["role"], cluster: string): Promise<Omit<HostAnswer, "address" | "reachable">> {
  const argv = ["sh", "-c", PROBE, "seal-status", markerPath(cluster, "kubeadm"), role, LVSCARE_MANIFEST_PATH, ...(role === "master" ? MASTER_CERTIFICATES : [])];
  const values = parseKeyValueLines((await host.run(argv)).stdout);
  const unit = values.get("kubelet") ?? "";
  const certificates: CertificateExpiry[] = [];
  for (const [key, value] of values) {
    const end = new Date(value);
    if (key.startsWith("cert.") && !Number.isNaN(end.getTime())) certificates.push({ name: key.slice("cert.".length), notAfter: end.toISOString() });
  }
  let apiServer: HostAnswer["apiServer"];
  if (role === "master") {
    const healthz = await host.run(healthzArgv(host.address, undefined), { allowExitCodes: [0, 6, 7, 22, 28, 35, 60, 127] });
    apiServer = healthz.exitCode === 127 ? "unknown" : healthz.exitCode === 0 ? "healthy" : "unhealthy";
  }
  const kubeletVersion = values.get("kubeletVersion") ?? "";
  return {
    ...(values.has("hostname") ? { hostname: values.get("hostname") } : {}),
    kubeadm: values.get("kubeadm") === "done" ? "done" : "not done",
    kubelet: unit === "active" ? "healthy" : unit === "" ? "unknown" : "unhealthy",
    ...(apiServer === undefined ? {} : { apiServer }),
    ...(role === "worker" ? { lvscarePod: values.get("lvscare") === "yes" } : {}),
    ...(kubeletVersion === "" ? {} : { versions: { kubelet: kubeletVersion } }),
    ...(certificates.length === 0 ? {} : { certificates }),
  } as Omit<HostAnswer, "address" | "reachable">;
}

function lastStepFor(address: string, conditions: readonly ClusterCondition[]): StatusHost["lastStep"] {
  const mine = conditions.filter((condition) => condition.type.endsWith(`/${address}`));
  const last = mine[mine.length - 1];
  return last === undefined ? undefined : { type: last.type, status: last.status, ...(last.message === undefined ? {} : { message: last.message }) };
}

export async function readClusterStatus(request: StatusRequest, context: RunContext): Promise<StatusReport> {
  const state = stateDir(request.cluster, request.home);
  const file = readClusterfile(state.clusterfile);
  if (file === undefined) throw new InputError(`no cluster "${request.cluster}": ${state.clusterfile} does not exist`);
  const { masters, nodes } = clusterHosts(file.cluster);
  const planned = existsSync(state.renderDir) ? loadRenderedPlan(state.renderDir).plan.hosts : [];
  const conditions = file.cluster.status?.conditions ?? [];
  const hosts = [...masters.map((host) => ({ address: host.ip, role: "master" as const })), ...nodes.map((host) => ({ address: host.ip, role: "worker" as const }))].map((host): StatusHost => {
    const plan = planned.find((candidate) => candidate.address === host.address);
    const lastStep = lastStepFor(host.address, conditions);
    return { ...host, ...(plan === undefined ? {} : { hostname: plan.hostname, master0: plan.master0 }), ...(lastStep === undefined ? {} : { lastStep }) };
  });
  await using pool = new HostPool({
    credentials: await context.credentials(),
    port: masters[0]?.port ?? request.port,
    hostKeys: { knownHostsPath: state.knownHosts, pins: request.acceptHostKey.map(parseHostKeyPin), insecureAcceptChangedKeys: request.sshInsecure },
    logger: context.logger,
    progress: context.progress,
  });
  const roles = new Map(hosts.map((host) => [host.address, host.role]));
  const results = await pool.forEach(hosts.map((host) => host.address), (host) => askHost(host, roles.get(host.address) ?? "worker", request.cluster), { title: "status" });
  const answers = results.map((result): HostAnswer =>
    result.ok ? { address: result.address, reachable: true, ...result.value } : { address: result.address, reachable: false, error: result.error.message.split("\n")[0] ?? "" },
  );
  const version = file.config.kubernetesVersion;
  return buildStatusReport(
    { name: request.cluster, ...(file.cluster.status?.phase === undefined ? {} : { phase: file.cluster.status.phase }), ...(version === undefined || version === "" ? {} : { kubernetesVersion: version }), hosts },
    answers,
    { now: request.now ?? new Date() },
  );
}
