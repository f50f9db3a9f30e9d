/**
 * `seal run` (issue 9, section 3): validate everything, take the cluster lock, preflight every
 * host (one table, nothing changed when a host fails), render once into ~/.seal/<cluster>/render
 * (a resumed run reuses it), prepare the nodes, master0, the other masters one at a time, the
 * workers in parallel, then a copy of the Clusterfile on every master. Each step records a
 * condition in the Clusterfile; a failure says host, step, the command's stderr tail and how to
 * resume (run the same command again).
 */
import { existsSync } from "node:fs";
import { buildClusterSpec, type ClusterInput } from "../cluster/validate.ts";
import { DEFAULTS, type ClusterSpec } from "../cluster/spec.ts";
import { lvscareDataplane } from "../cluster/kube-proxy.ts";
import { InputError } from "../errors.ts";
import { EMPTY_PKI_DIR, readPkiDir } from "../pki/pki-dir.ts";
import { renderCluster } from "../render/render-cluster.ts";
import { writeRenderOutput } from "../render/write-output.ts";
import type { PlanHost } from "../plan/plan.ts";
import { HostPool, parseHostAddresses } from "../ssh/host-pool.ts";
import type { SshCredentials } from "../ssh/credentials.ts";
import { parseHostKeyPin } from "../ssh/host-key-store.ts";
import type { SealLogger } from "../ssh/logger.ts";
import type { ProgressReporter } from "../ssh/progress.ts";
import { CLUSTER_API_VERSION, CLUSTER_KIND, formatClusterfile, hostGroups, withoutSecrets, type Cluster, type Clusterfile, type SealConfig } from "../cluster-state/clusterfile.ts";
import { acquireClusterLock } from "../cluster-state/lock.ts";
import { MASTER_CLUSTERFILE_PATH, readClusterfile, stateDir, type StateDir } from "../cluster-state/state-dir.ts";
import { condition, createStepRunner, StepFailedError } from "./step-runner.ts";
import { applyHost, describeHostSteps, type WorkerArtifacts } from "./host-steps.ts";
import { prepareNode } from "./node-prep.ts";
import { formatPreflightTable, runPreflight } from "./preflight.ts";
import { loadRenderedPlan, type RenderedPlan } from "./rendered-plan.ts";
import { planHostOf, storedBootstrapToken } from "./render-extend.ts";
import { refreshBootstrapToken } from "./bootstrap-token.ts";
import { isMarked } from "./remote-edits.ts";
import { installBundle, type Bundle } from "./bundle.ts";
import { resolveWorkerArtifacts, type ArtifactOptions } from "./artifacts.ts";

export interface RunRequest {
  /** Every `seal render` setting but the output; `kubernetesVersion` undefined: read from master0's kubeadm. */
  readonly cluster: Omit<ClusterInput, "kubernetesVersion"> & { readonly kubernetesVersion?: string; readonly cluster: string };
  readonly port: number;
  readonly acceptHostKey: readonly string[];
  readonly sshInsecure: boolean;
  readonly bundle?: Bundle;
  readonly artifacts: ArtifactOptions;
  readonly dryRun: boolean;
  /** Where the state lives; default the user's home. */
  readonly home?: string;
}

export interface RunContext {
  readonly logger: SealLogger;
  readonly progress: ProgressReporter;
  readonly credentials: () => Promise<SshCredentials>;
  /** Lines of the command's own output (the preflight table, the dry run's steps). */
  readonly print: (line: string) => void;
}

/** What a request asks for, as stored: the Cluster's hosts and seal's settings. */
function requestedClusterfile(request: RunRequest, kubernetesVersion: string | undefined, ssh: SshCredentials | undefined): Clusterfile {
  const input = request.cluster;
  const port = request.port;
  const cluster: Cluster = {
    apiVersion: CLUSTER_API_VERSION,
    kind: CLUSTER_KIND,
    metadata: { name: input.cluster },
    spec: {
      ssh: { user: ssh?.user ?? "root", ...(ssh?.privateKey === undefined ? {} : { pk: ssh.privateKey.path }), port },
      hosts: hostGroups(input.masters, input.nodes ?? [], port),
    },
  };
  const config: SealConfig = Object.fromEntries(
    Object.entries({
      vip: input.vip,
      kubernetesVersion,
      podCidr: input.podCidr,
      serviceCidr: input.serviceCidr,
      dnsDomain: input.dnsDomain,
      certSans: input.certSans,
      hostnames: input.hostnames,
      lvscareImage: input.lvscareImage,
      keyAlgorithm: input.keyAlgorithm,
      certValidity: input.certValidity,
      allowEvenMasters: input.allowEvenMasters,
      criSocket: input.criSocket,
      cgroupDriver: input.cgroupDriver,
      kubeProxyMode: input.kubeProxyMode,
    }).filter(([, value]) => value !== undefined && !(Array.isArray(value) && value.length === 0)),
  ) as SealConfig;
  return { cluster, config };
}

/** Hosts and settings of two Clusterfiles, ignoring status and the discovered version when not asked for. */
function sameRequest(stored: Clusterfile, requested: Clusterfile): boolean {
  const { kubernetesVersion: storedVersion, ...storedRest } = stored.config;
  const { kubernetesVersion: requestedVersion, ...requestedRest } = requested.config;
  const hosts = (file: Clusterfile) => JSON.stringify(file.cluster.spec.hosts);
  return (
    hosts(stored) === hosts(requested) &&
    JSON.stringify(Object.entries(storedRest).sort()) === JSON.stringify(Object.entries(requestedRest).sort()) &&
    (requestedVersion === undefined || requestedVersion === storedVersion)
  );
}

function buildSpec(request: RunRequest, kubernetesVersion: string): ClusterSpec {
  return buildClusterSpec({ ...request.cluster, kubernetesVersion });
}

export async function runCluster(request: RunRequest, context: RunContext): Promise<void> {
  // 1. Everything that can be refused, before any connection or file.
  const masters = request.cluster.masters;
  const nodes = request.cluster.nodes ?? [];
  parseHostAddresses([...masters, ...nodes], request.port);
  const provisional = buildSpec(request, request.cluster.kubernetesVersion ?? DEFAULTS.kubernetesVersion);
  const pins = request.acceptHostKey.map(parseHostKeyPin);
  const state = stateDir(provisional.name, request.home);
  const stored = readClusterfile(state.clusterfile);
  if (stored !== undefined && !sameRequest(stored, requestedClusterfile(request, request.cluster.kubernetesVersion, undefined))) {
    throw new InputError(
      `cluster "${provisional.name}" already exists with other hosts or settings (${state.clusterfile}); run the same command as before to resume it, or seal reset --cluster ${provisional.name} first`,
    );
  }
  const reuse = stored !== undefined && existsSync(state.renderDir);
  if (nodes.length > 0) resolveWorkerArtifacts(request.artifacts, "x86_64", { checkExists: !request.dryRun });

  if (request.dryRun) {
    await printDryRun(request, state, reuse, context);
    return;
  }

  const lock = acquireClusterLock(state.lock, "seal run", (message) => context.logger.log("warn", message));
  try {
    const credentials = await context.credentials();
    await using pool = new HostPool({
      credentials,
      port: request.port,
      hostKeys: { knownHostsPath: state.knownHosts, pins, insecureAcceptChangedKeys: request.sshInsecure },
      logger: context.logger,
      progress: context.progress,
    });
    const roles = [...masters.map((address) => ({ address, role: "master" as const })), ...nodes.map((address) => ({ address, role: "worker" as const }))];

    // 2. Preflight: every host, one table; nothing changes unless all pass.
    const preflight = await runPreflight(pool, roles, { cluster: provisional.name, haveBundle: request.bundle !== undefined, workerDataplane: lvscareDataplane(provisional) });
    context.print(formatPreflightTable(preflight.rows));
    if (!preflight.ok) {
      const failed = preflight.rows.filter((row) => row.problems.length > 0).length;
      throw new StepFailedError(`preflight failed on ${failed} of ${preflight.rows.length} hosts (table above); nothing was changed`);
    }
    const version = request.cluster.kubernetesVersion ?? (stored?.config.kubernetesVersion || preflight.kubeadmVersion);
    if (version === "") throw new StepFailedError("cannot tell the Kubernetes version: no --kubernetes-version and master0's kubeadm did not answer `kubeadm version -o short`");
    const spec = buildSpec(request, version);
    const archOf = new Map(preflight.rows.map((row) => [row.address, row.arch]));
    const workerArtifacts = new Map<string, WorkerArtifacts>(nodes.map((address) => [address, resolveWorkerArtifacts(request.artifacts, archOf.get(address) ?? "", { checkExists: true })]));

    // 3. The render: once per cluster, then reused (same certificates, same token).
    let file: Clusterfile = stored ?? requestedClusterfile(request, version, credentials);
    if (!reuse) {
      const now = new Date();
      const pkiDir = existsSync(state.pkiDir) ? await readPkiDir(state.pkiDir, now) : EMPTY_PKI_DIR;
      const rendered = await renderCluster(spec, pkiDir, { now });
      await writeRenderOutput(state.renderDir, rendered, state.pkiDir);
      file = requestedClusterfile(request, spec.kubernetesVersion.text, credentials);
    }
    const rendered = loadRenderedPlan(state.renderDir);
    const resume = `fix it and run the same seal run again: finished steps are skipped (state: ${state.clusterfile})`;
    const steps = createStepRunner({ pool, clusterfilePath: state.clusterfile, file, resume });
    steps.record("ClusterInProcess", [condition("Preflight", "True", "Passed")]);
    const step = steps.step;

    const planOf = (address: string): PlanHost => planHostOf(rendered, address);
    const all = rendered.plan.hosts.map((host) => host.address);
    const [master0, ...otherMasters] = rendered.plan.hosts.filter((host) => host.role === "master").map((host) => host.address);
    const workers = rendered.plan.hosts.filter((host) => host.role === "worker").map((host) => host.address);

    // 4. Nodes, bundle, master0, masters one at a time, workers in parallel.
    await step("PrepareNode", all, async (address, progress) => {
      await prepareNode(pool.host(address), progress);
    });
    if (request.bundle !== undefined) {
      const bundle = request.bundle;
      await step("Bundle", all, async (address, progress) => installBundle(pool.host(address), bundle, spec.name, progress));
    }
    const install = (address: string, progress: (text: string) => void) =>
      applyHost(pool.host(address), planOf(address), { cluster: spec.name, rendered, step: progress, ...(workerArtifacts.has(address) ? { worker: workerArtifacts.get(address) } : {}) });
    // A resumed run whose master0 was installed earlier may come a day later: the token it joins with has a 24 h TTL.
    const master0Before = master0 !== undefined && reuse && (await isMarked(pool.host(master0), spec.name, "kubeadm"));
    if (master0 !== undefined) await step("InstallMaster0", [master0], install);
    if (master0 !== undefined && master0Before) {
      const pendingJoins = await pool.forEach([...otherMasters, ...workers], async (host) => !(await isMarked(host, spec.name, "kubeadm")), { title: "joins left" });
      if (pendingJoins.some((result) => !result.ok || result.value)) {
        const token = storedBootstrapToken(rendered);
        pool.redactor.add(token);
        await step("BootstrapToken", [master0], (address) => refreshBootstrapToken(pool.host(address), token));
      }
    }
    for (const master of otherMasters) await step("JoinMaster", [master], install);
    if (workers.length > 0) await step("JoinWorker", workers, install);

    // 5. The Clusterfile (no secrets) on every master: losing the workstation loses nothing.
    steps.record("ClusterSuccess", []);
    const copy = formatClusterfile({ ...steps.file, cluster: withoutSecrets(steps.file.cluster) });
    await step("CopyClusterfile", [master0, ...otherMasters].filter((address): address is string => address !== undefined), async (address) => {
      await pool.host(address).writeFileAtomic(MASTER_CLUSTERFILE_PATH, copy, { mode: 0o600 });
    });
    steps.record("ClusterSuccess", []);
    context.logger.log("info", `cluster "${spec.name}" is up: ${masters.length} masters, ${nodes.length} workers (state: ${state.dir})`);
  } finally {
    lock.release();
  }
}

async function printDryRun(request: RunRequest, state: StateDir, reuse: boolean, context: RunContext): Promise<void> {
  let rendered: RenderedPlan | { plan: RenderedPlan["plan"] };
  let versionNote = "";
  if (reuse) {
    rendered = loadRenderedPlan(state.renderDir);
    versionNote = ` (the render in ${state.renderDir}, which a run resumes)`;
  } else {
    const version = request.cluster.kubernetesVersion ?? DEFAULTS.kubernetesVersion;
    if (request.cluster.kubernetesVersion === undefined) versionNote = ` (shown for ${version}; a run renders for the version master0's kubeadm reports)`;
    const spec = buildSpec(request, version);
    rendered = await renderCluster(spec, EMPTY_PKI_DIR, { now: new Date() });
  }
  context.print(`dry run: seal run would do, in this order${versionNote}; nothing was contacted or changed:`);
  context.print(`preflight on every host: ${rendered.plan.hosts.map((host) => host.address).join(", ")}`);
  if (request.bundle !== undefined) context.print(`every host: upload ${request.bundle.path} (sha256 checked), unpack, run kube/shell/init.sh`);
  for (const host of rendered.plan.hosts) {
    const role = host.master0 ? "master0" : host.role === "master" ? "master (one at a time)" : "worker (in parallel)";
    context.print(`${host.address} ${host.hostname} ${role}:`);
    const artifacts = host.role === "worker" ? resolveWorkerArtifacts(request.artifacts, "x86_64", { checkExists: false }) : undefined;
    for (const line of describeHostSteps(host, artifacts === undefined ? {} : { lvscareBinary: artifacts.lvscareBinary, ...(artifacts.imageArchive === undefined ? {} : { imageArchive: artifacts.imageArchive }) })) context.print(`  ${line}`);
  }
  context.print(`every master: ${MASTER_CLUSTERFILE_PATH} (the Clusterfile without secrets)`);
}

