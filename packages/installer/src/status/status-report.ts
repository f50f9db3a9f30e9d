/**
 * `seal status`, the pure part: what the cluster description says and what each host answered,
 * joined into one report with the problems spelled out, rendered as a table or as JSON. Asking
 * the hosts is the caller's job (over the SSH layer); nothing here does I/O or reads the clock.
 */

export type Health = "healthy" | "unhealthy" | "unknown";

/** A host as the cluster description (Clusterfile) lists it. */
export interface StatusHost {
  readonly address: string;
  readonly hostname?: string;
  readonly role: "master" | "worker";
  readonly master0?: boolean;
  /** The Clusterfile's latest condition about this host (`InstallMaster0/10.0.0.2`, True/False/Unknown). */
  readonly lastStep?: { readonly type: string; readonly status: string; readonly message?: string };
}

export interface StatusCluster {
  readonly name: string;
  /** The Clusterfile's status.phase (ClusterInProcess, ClusterSuccess, ClusterFailed). */
  readonly phase?: string;
  /** What the hosts should run, `v1.37.1`; compared with each kubelet's version. */
  readonly kubernetesVersion?: string;
  readonly hosts: readonly StatusHost[];
}

export interface CertificateExpiry {
  /** `apiserver`, `etcd/server`, `admin.conf`... */
  readonly name: string;
  /** ISO 8601. */
  readonly notAfter: string;
}

/** What one host answered; only `address` and `reachable` are required (an unreachable host says nothing else). */
export interface HostAnswer {
  readonly address: string;
  readonly reachable: boolean;
  /** Why it is unreachable, or what failed while asking (one line, already redacted). */
  readonly error?: string;
  /** What the host calls itself (`hostname`). */
  readonly hostname?: string;
  /** Whether seal's marker says this host's kubeadm init/join finished. */
  readonly kubeadm?: "done" | "not done";
  readonly kubelet?: Health;
  /** Masters: GET https://<address>:6443/healthz. */
  readonly apiServer?: Health;
  /** Workers: /etc/kubernetes/manifests/kube-sealos-lvscare.yaml present. */
  readonly lvscarePod?: boolean;
  readonly versions?: { readonly kubelet?: string; readonly kubeadm?: string; readonly containerd?: string };
  readonly certificates?: readonly CertificateExpiry[];
}

export interface HostStatus extends StatusHost {
  readonly answered: boolean;
  /** The name the host answered with (the description's `hostname` is what it should be). */
  readonly answeredHostname: string | undefined;
  readonly kubeadm: "done" | "not done" | undefined;
  readonly reachable: boolean;
  readonly kubelet: Health;
  /** Undefined on workers. */
  readonly apiServer: Health | undefined;
  /** Undefined on masters. */
  readonly lvscarePod: boolean | undefined;
  readonly versions: { readonly kubelet?: string; readonly kubeadm?: string; readonly containerd?: string };
  /** The certificate that expires first. */
  readonly firstExpiry: CertificateExpiry | undefined;
  readonly problems: readonly string[];
}

export interface StatusReport {
  readonly cluster: string;
  readonly phase: string | undefined;
  readonly kubernetesVersion: string | undefined;
  /** ISO 8601: when the answers were judged (expiry warnings are relative to it). */
  readonly checkedAt: string;
  readonly ok: boolean;
  readonly hosts: readonly HostStatus[];
  /** Answers from hosts the description does not list. */
  readonly unknownHosts: readonly string[];
}

export interface StatusOptions {
  readonly now: Date;
  /** A certificate expiring within this many days is a problem (default 30). */
  readonly expiryWarningDays?: number;
}

const DAY_MS = 24 * 3_600_000;

export function buildStatusReport(cluster: StatusCluster, answers: readonly HostAnswer[], options: StatusOptions): StatusReport {
  const byAddress = new Map(answers.map((answer) => [answer.address, answer]));
  const warnBefore = options.now.getTime() + (options.expiryWarningDays ?? 30) * DAY_MS;
  const hosts = cluster.hosts.map((host): HostStatus => {
    const answer = byAddress.get(host.address);
    const master = host.role === "master";
    const problems: string[] = [];
    const certificates = [...(answer?.certificates ?? [])].sort((a, b) => Date.parse(a.notAfter) - Date.parse(b.notAfter));
    const status: Omit<HostStatus, "problems"> = {
      ...host,
      answered: answer !== undefined,
      answeredHostname: answer?.hostname,
      kubeadm: answer?.kubeadm,
      reachable: answer?.reachable ?? false,
      kubelet: answer?.kubelet ?? "unknown",
      apiServer: master ? (answer?.apiServer ?? "unknown") : undefined,
      lvscarePod: master ? undefined : answer?.lvscarePod,
      versions: answer?.versions ?? {},
      firstExpiry: certificates[0],
    };
    if (host.lastStep?.status === "False") {
      problems.push(`${host.lastStep.type.split("/")[0] ?? host.lastStep.type} failed${host.lastStep.message === undefined ? "" : `: ${host.lastStep.message}`}`);
    }
    if (answer === undefined) problems.push("no answer");
    else if (!answer.reachable) problems.push(`unreachable${answer.error === undefined ? "" : `: ${answer.error}`}`);
    else {
      if (answer.error !== undefined) problems.push(answer.error);
      if (host.hostname !== undefined && answer.hostname !== undefined && answer.hostname !== host.hostname) problems.push(`hostname ${answer.hostname}, expected ${host.hostname}`);
      if (answer.kubeadm === "not done") problems.push("kubeadm not done");
      if (status.kubelet !== "healthy") problems.push(`kubelet ${status.kubelet}`);
      if (master && status.apiServer !== "healthy") problems.push(`apiserver ${status.apiServer ?? "unknown"}`);
      if (!master && status.lvscarePod !== true) problems.push("lvscare static pod missing");
      const kubeletVersion = status.versions.kubelet;
      if (cluster.kubernetesVersion !== undefined && kubeletVersion !== undefined && kubeletVersion !== cluster.kubernetesVersion) {
        problems.push(`kubelet ${kubeletVersion}, cluster ${cluster.kubernetesVersion}`);
      }
      for (const certificate of certificates) {
        const end = Date.parse(certificate.notAfter);
        if (end <= options.now.getTime()) problems.push(`${certificate.name} expired ${certificate.notAfter}`);
        else if (end <= warnBefore) problems.push(`${certificate.name} expires ${certificate.notAfter}`);
      }
    }
    return { ...status, problems };
  });
  const listed = new Set(cluster.hosts.map((host) => host.address));
  const unknownHosts = answers.map((answer) => answer.address).filter((address) => !listed.has(address));
  return {
    cluster: cluster.name,
    phase: cluster.phase,
    kubernetesVersion: cluster.kubernetesVersion,
    checkedAt: options.now.toISOString(),
    ok: hosts.every((host) => host.problems.length === 0),
    hosts,
    unknownHosts,
  };
}

const HEADERS = ["HOST", "NAME", "ROLE", "SSH", "KUBEADM", "KUBELET", "APISERVER", "LVSCARE", "VERSION", "CERTS UNTIL", "LAST STEP", "PROBLEMS"] as const;

function healthText(health: Health | undefined): string {
  if (health === undefined) return "-";
  return { healthy: "ok", unhealthy: "FAIL", unknown: "?" }[health];
}

function lastStepText(step: StatusHost["lastStep"]): string {
  if (step === undefined) return "-";
  const name = step.type.split("/")[0] ?? step.type;
  if (step.status === "True") return `${name} done`;
  if (step.status === "False") return `${name} failed`;
  return `${name} running`;
}

function row(host: HostStatus): string[] {
  const role = host.role === "master" ? (host.master0 === true ? "master0" : "master") : "worker";
  return [
    host.address,
    host.answeredHostname ?? host.hostname ?? "-",
    role,
    host.answered ? (host.reachable ? "ok" : "FAIL") : "?",
    host.reachable ? (host.kubeadm ?? "-") : "-",
    host.reachable ? healthText(host.kubelet) : "-",
    host.reachable ? healthText(host.apiServer) : "-",
    host.lvscarePod === undefined || !host.reachable ? "-" : host.lvscarePod ? "ok" : "missing",
    host.versions.kubelet ?? "-",
    host.firstExpiry === undefined ? "-" : host.firstExpiry.notAfter.slice(0, 10),
    lastStepText(host.lastStep),
    host.problems.length === 0 ? "-" : host.problems.join("; "),
  ];
}

/** Aligned columns, one line per host, then one summary line. */
export function renderStatusTable(report: StatusReport): string {
  const rows = [[...HEADERS], ...report.hosts.map(row)];
  const widths = HEADERS.map((_, column) => Math.max(...rows.map((cells) => (cells[column] ?? "").length)));
  const lines = rows.map((cells) =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  ").trimEnd(),
  );
  const failing = report.hosts.filter((host) => host.problems.length > 0).length;
  const version = report.kubernetesVersion === undefined ? "" : ` (Kubernetes ${report.kubernetesVersion})`;
  const phase = report.phase === undefined || report.phase === "" ? "" : ` ${report.phase},`;
  lines.push(
    `cluster "${report.cluster}"${version}:${phase} ${report.hosts.length} hosts, ` +
      (failing === 0 ? "all healthy" : `${failing} with problems`),
  );
  if (report.unknownHosts.length > 0) lines.push(`answers from hosts not in the cluster: ${report.unknownHosts.join(", ")}`);
  return `${lines.join("\n")}\n`;
}

/** `seal status --json`: the report as it is, one object. */
export function renderStatusJson(report: StatusReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
