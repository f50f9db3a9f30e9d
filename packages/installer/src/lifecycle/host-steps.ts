/**
 * What happens on one host, in order (issue 9, section 3.4), as named steps that each check
 * before they act: files (written only when different), hosts entries (the managed block), on
 * workers the lvscare executable, its image and `lvscare care --run-once` (the join discovers the
 * cluster through the VIP), kubeadm (skipped once our marker says it finished; an interrupted
 * kubeadm is undone with `kubeadm reset -f` first, as a resumed run must start it clean), then
 * the plan's afterKubeadm files and entries. `describeHostSteps` is the dry run of the same list.
 */
import type { PlanHost, PlanStep } from "../plan/plan.ts";
import type { RemoteHost } from "../ssh/remote-host.ts";
import type { RenderedPlan } from "./rendered-plan.ts";
import { isMarked, mark, setRemoteHostsEntries } from "./remote-edits.ts";

export interface WorkerArtifacts {
  /** The single-file lvscare executable for the worker's architecture. */
  readonly lvscareBinary: string;
  /** The lvscare image archive (`npm run image`), imported into containerd's k8s.io namespace. */
  readonly imageArchive: string | undefined;
}

export interface HostStepContext {
  readonly cluster: string;
  readonly rendered: RenderedPlan;
  readonly worker?: WorkerArtifacts;
  step(text: string): void;
}

const KUBEADM_TIMEOUT_MS = 15 * 60_000;

/**
 * Where seal puts the lvscare executable on a worker, for --run-once and -C (the static pod runs
 * the image's own copy). /usr/local/bin: the administrator's place, and writable where /usr is not.
 */
export const HOST_LVSCARE_PATH = "/usr/local/bin/lvscare";

export function imageArchivePath(cluster: string): string {
  return `/var/lib/seal/${cluster}/lvscare-image.tar`;
}

function runOnceArgv(host: PlanHost): string[] {
  const virtualServer = host.virtualServer;
  if (virtualServer === undefined) return [];
  // The plan names a dataplane only when it is not lvscare's default, as the static pod does.
  const dataplane = virtualServer.dataplane === undefined ? [] : ["--dataplane", virtualServer.dataplane];
  return [HOST_LVSCARE_PATH, "care", "--vs", virtualServer.address, ...virtualServer.realServers.flatMap((server) => ["--rs", server]), ...dataplane, "--run-once"];
}

function kubeadmArgv(host: PlanHost): string[] {
  return ["kubeadm", host.kubeadm.command, "--config", host.kubeadm.config, ...(host.kubeadm.command === "init" ? ["--skip-token-print", "--skip-certificate-key-print"] : [])];
}

export function describeHostSteps(host: PlanHost, options: { lvscareBinary?: string; imageArchive?: string } = {}): string[] {
  const describe = (step: PlanStep, when: string) => [
    ...(step.files.length > 0 ? [`${when}write ${step.files.length} ${step.files.length === 1 ? "file" : "files"}: ${step.files.map((file) => file.path).join(", ")}`] : []),
    ...(step.hostsEntries.length > 0 ? [`${when}set /etc/hosts entries: ${step.hostsEntries.map((entry) => `${entry.ip} ${entry.names.join(" ")}`).join(", ")}`] : []),
  ];
  return [
    "prepare node: /etc/modules-load.d/seal.conf, /etc/sysctl.d/99-seal.conf, swap off, containerd and kubelet enabled",
    ...describe(host, ""),
    ...(host.virtualServer === undefined
      ? []
      : [
          `upload ${options.lvscareBinary ?? "the lvscare executable"} to ${HOST_LVSCARE_PATH}`,
          ...(options.imageArchive === undefined ? [] : [`upload ${options.imageArchive} and import it: ctr -n k8s.io images import`]),
          `run ${runOnceArgv(host).join(" ")}`,
        ]),
    `run ${kubeadmArgv(host).join(" ")}`,
    ...describe(host.afterKubeadm, "then "),
  ];
}

async function writeFiles(host: RemoteHost, step: PlanStep, context: HostStepContext): Promise<void> {
  for (const file of step.files) await host.writeFileAtomic(file.path, context.rendered.content(file), { mode: Number.parseInt(file.mode, 8) });
  await setRemoteHostsEntries(host, step.hostsEntries);
}

/**
 * The host as it is once finished: its files and afterKubeadm's, and hosts entries where
 * afterKubeadm's win (a joined master's apiserver.cluster.local is itself). A repeated run writes
 * this in one go, so a finished host sees no change at all.
 */
function finalStep(host: PlanHost): PlanStep {
  const later = new Set(host.afterKubeadm.hostsEntries.flatMap((entry) => entry.names));
  const earlier = host.hostsEntries.map((entry) => ({ ip: entry.ip, names: entry.names.filter((name) => !later.has(name)) })).filter((entry) => entry.names.length > 0);
  return { files: [...host.files, ...host.afterKubeadm.files], hostsEntries: [...earlier, ...host.afterKubeadm.hostsEntries] };
}

/**
 * A host whose kubeadm step finished gets its finished files again (written only where they
 * differ): after add/delete that is a worker's lvscare static pod listing the masters as they
 * are now. A host that has not finished is left to its resumed run. Returns whether it had.
 */
export async function refreshFinishedHost(host: RemoteHost, planHost: PlanHost, context: HostStepContext): Promise<boolean> {
  if (!(await isMarked(host, context.cluster, "kubeadm"))) return false;
  context.step("files and hosts entries as finished");
  await writeFiles(host, finalStep(planHost), context);
  return true;
}

async function kubeadmFinishedPartly(host: RemoteHost): Promise<boolean> {
  // What kubeadm init/join leave behind (kubeadm's own files, not the ones seal places).
  const result = await host.run(["sh", "-c", "ls -A /etc/kubernetes/manifests 2>/dev/null; ls -A /var/lib/kubelet 2>/dev/null; ls -A /var/lib/etcd 2>/dev/null"], { allowExitCodes: [0, 1, 2] });
  return result.stdout.trim() !== "";
}

export async function applyHost(host: RemoteHost, planHost: PlanHost, context: HostStepContext): Promise<void> {
  if (await isMarked(host, context.cluster, "kubeadm")) {
    context.step(`kubeadm ${planHost.kubeadm.command} done before; files and hosts entries as finished`);
    await writeFiles(host, finalStep(planHost), context);
    return;
  }
  context.step("files and hosts entries");
  await writeFiles(host, planHost, context);
  if (planHost.virtualServer !== undefined) {
    const worker = context.worker;
    if (worker === undefined) throw new Error(`invariant: worker ${planHost.address} without the lvscare executable`);
    context.step("lvscare executable");
    await host.upload(worker.lvscareBinary, HOST_LVSCARE_PATH, { mode: 0o755 });
    if (worker.imageArchive !== undefined) {
      context.step("lvscare image");
      const archive = imageArchivePath(context.cluster);
      const { skipped } = await host.upload(worker.imageArchive, archive, { mode: 0o644 });
      if (!skipped) await host.run(["ctr", "-n", "k8s.io", "images", "import", archive]);
    }
    context.step("lvscare care --run-once");
    await host.run(runOnceArgv(planHost), { timeoutMs: 2 * 60_000 });
  }
  if (await kubeadmFinishedPartly(host)) {
    context.step("kubeadm reset -f (an earlier kubeadm was interrupted)");
    await host.run(["kubeadm", "reset", "-f"], { timeoutMs: KUBEADM_TIMEOUT_MS });
    await writeFiles(host, planHost, context);
  }
  context.step(`kubeadm ${planHost.kubeadm.command}`);
  await host.run(kubeadmArgv(planHost), { timeoutMs: KUBEADM_TIMEOUT_MS });
  await mark(host, context.cluster, "kubeadm");
  context.step("after kubeadm: files and hosts entries");
  await writeFiles(host, planHost.afterKubeadm, context);
}
