/**
 * `seal add --masters/--nodes` (issue 9, section 3.5): the new hosts checked before any
 * connection, preflight on them and master0 in one table (nothing changes unless all pass), the
 * cluster rendered for its new members from the stored CAs and bootstrap token (installed
 * masters keep their files), the token made valid again on master0 (it expires 24 h after init),
 * then exactly `seal run`'s host steps: node preparation, the `--bundle` if given, masters one at
 * a time, workers in parallel; last, when masters were added, every finished worker's lvscare static pod lists them,
 * and the Clusterfile copy on every master. Resumed by running the same command again.
 */
import { parseYamlDocuments } from "@lvscare/contracts/yaml";
import { buildClusterSpec } from "../cluster/validate.ts";
import type { RemoteHost } from "../ssh/remote-host.ts";
import { lvscareDataplane } from "../cluster/kube-proxy.ts";
import { InputError } from "../errors.ts";
import { parseHostKeyPin } from "../ssh/host-key-store.ts";
import { acquireClusterLock } from "../cluster-state/lock.ts";
import { MASTER_CLUSTERFILE_PATH, readClusterfile, stateDir } from "../cluster-state/state-dir.ts";
import { resolveWorkerArtifacts, type ArtifactOptions } from "./artifacts.ts";
import { refreshBootstrapToken } from "./bootstrap-token.ts";
import { installBundle, type Bundle } from "./bundle.ts";
import { applyHost, describeHostSteps, refreshFinishedHost, type WorkerArtifacts } from "./host-steps.ts";
import { canonicalHosts, clusterInputOf, hostnamesFor, membersAfterAdd, membersOf, withMembers } from "./membership.ts";
import { prepareNode } from "./node-prep.ts";
import { formatPreflightTable, runPreflight } from "./preflight.ts";
import { loadRenderedPlan } from "./rendered-plan.ts";
import { planHostOf, renderMembers, replaceRender, storedBootstrapToken } from "./render-extend.ts";
import type { RunContext } from "./run-cluster.ts";
import { finishWithClusterfileCopies, openClusterPool } from "./cluster-session.ts";
import { createStepRunner, StepFailedError } from "./step-runner.ts";
import type { MembershipRequest } from "./delete-hosts.ts";

export interface AddRequest extends MembershipRequest {
  /** `IP=NAME` for the new hosts. */
  readonly hostnames: readonly string[];
  readonly artifacts: ArtifactOptions;
  /** sealos's offline package, installed on the new hosts (as `seal run --bundle` does on all). */
  readonly bundle?: Bundle;
}

const ALWAYS_IN_CERTIFICATES = new Set(["127.0.0.1", "localhost"]);

/** The API server names of the cluster's kubeadm-config ClusterConfiguration, read with kubectl on master0. */
async function uploadedCertSans(master0: RemoteHost, warn: (message: string) => void): Promise<string[]> {
  const result = await master0.run(
    ["sh", "-c", 'command -v kubectl >/dev/null 2>&1 || { echo "kubectl is not installed" >&2; exit 127; }; exec kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get configmap kubeadm-config -o "jsonpath={.data.ClusterConfiguration}"'],
    { allowExitCodes: [0, 1, 127], timeoutMs: 60_000 },
  );
  if (result.exitCode !== 0) {
    warn(`cannot read the cluster's ClusterConfiguration on ${master0.address} (${result.stderr.trim().split("\n").slice(-1)[0] ?? ""}): new masters' certificates get today's names only`);
    return [];
  }
  const { values } = parseYamlDocuments(result.stdout);
  const sans = ((values[0] as { apiServer?: { certSANs?: unknown } } | undefined)?.apiServer?.certSANs ?? []) as unknown[];
  return sans.filter((san): san is string => typeof san === "string" && !ALWAYS_IN_CERTIFICATES.has(san));
}

export async function addHosts(request: AddRequest, context: RunContext): Promise<void> {
  const state = stateDir(request.cluster, request.home);
  const stored = readClusterfile(state.clusterfile);
  if (stored === undefined) throw new InputError(`no cluster "${request.cluster}": ${state.clusterfile} does not exist (seal run creates it)`);
  const members = membersOf(stored, request.port);
  const add = canonicalHosts(request.hosts, members.port);
  request.acceptHostKey.forEach(parseHostKeyPin);
  const after = membersAfterAdd(members, add, request.cluster);
  const hostnames = hostnamesFor(stored.config.hostnames ?? [], request.hostnames, after);
  const next = withMembers(stored, after, members.port, hostnames);
  const spec = buildClusterSpec(clusterInputOf(next, after));
  const master0 = after.masters[0] as string;
  if (add.nodes.length > 0) resolveWorkerArtifacts(request.artifacts, "x86_64", { checkExists: !request.dryRun });
  const mastersChanged = add.masters.length > 0;
  if (request.dryRun) {
    const merged = await renderMembers(state.renderDir, state.pkiDir, spec, new Set(members.masters));
    context.print(`dry run: seal add would do, in this order; nothing was contacted or changed:`);
    context.print(`preflight on ${[...add.masters, ...add.nodes].join(", ")} and master0 ${master0}`);
    context.print(`on ${master0}: kubeadm token create (the cluster's bootstrap token, valid again for 24 h)`);
    if (request.bundle !== undefined) context.print(`${[...add.masters, ...add.nodes].join(", ")}: upload ${request.bundle.path} (sha256 checked), unpack, run kube/shell/init.sh`);
    for (const address of [...add.masters, ...add.nodes]) {
      const host = merged.plan.hosts.find((candidate) => candidate.address === address);
      if (host === undefined) continue;
      context.print(`${address} ${host.hostname} ${host.role === "master" ? "master (one at a time)" : "worker (in parallel)"}:`);
      for (const line of describeHostSteps(host)) context.print(`  ${line}`);
    }
    if (mastersChanged && members.nodes.length > 0) context.print(`every worker (${members.nodes.join(", ")}): the lvscare static pod with masters ${after.masters.join(", ")}`);
    context.print(`every master (${after.masters.join(", ")}): ${MASTER_CLUSTERFILE_PATH}`);
    return;
  }
  const lock = acquireClusterLock(state.lock, "seal add", (message) => context.logger.log("warn", message));
  try {
    await using pool = await openClusterPool(state, members.port, request, context);
    const roles = [{ address: master0, role: "master" as const }, ...add.masters.map((address) => ({ address, role: "master" as const })), ...add.nodes.map((address) => ({ address, role: "worker" as const }))];
    const preflight = await runPreflight(pool, roles, { cluster: request.cluster, haveBundle: request.bundle !== undefined, workerDataplane: lvscareDataplane(spec) });
    context.print(formatPreflightTable(preflight.rows));
    if (!preflight.ok) {
      const failed = preflight.rows.filter((row) => row.problems.length > 0).length;
      throw new StepFailedError(`preflight failed on ${failed} of ${preflight.rows.length} hosts (table above); nothing was changed`);
    }
    const archOf = new Map(preflight.rows.map((row) => [row.address, row.arch]));
    const workerArtifacts = new Map<string, WorkerArtifacts>(add.nodes.map((address) => [address, resolveWorkerArtifacts(request.artifacts, archOf.get(address) ?? "", { checkExists: true })]));

    // kubeadm join checks a joining master's apiserver certificate against the names in the
    // cluster's ClusterConfiguration (uploaded by init: the masters of that day, maybe gone now).
    const clusterSans = await uploadedCertSans(pool.host(master0), (message) => context.logger.log("warn", message));
    const renderSpec = buildClusterSpec({ ...clusterInputOf(next, after), certSans: [...new Set([...(next.config.certSans ?? []), ...clusterSans])] });

    // The render and the Clusterfile name the new hosts from here on: a rerun resumes them.
    const known = new Set(loadRenderedPlan(state.renderDir).plan.hosts.map((host) => host.address));
    const rendered = [...add.masters, ...add.nodes].every((address) => known.has(address)) && !mastersChanged
      ? loadRenderedPlan(state.renderDir)
      : await replaceRender(state.renderDir, await renderMembers(state.renderDir, state.pkiDir, renderSpec, new Set(after.masters.filter((address) => known.has(address)))));
    const resume = `fix it and run the same seal add again: finished steps are skipped (state: ${state.clusterfile})`;
    const steps = createStepRunner({ pool, clusterfilePath: state.clusterfile, file: stored, resume });
    steps.replace(next, "ClusterInProcess");

    const token = storedBootstrapToken(rendered);
    pool.redactor.add(token);
    await steps.step("BootstrapToken", [master0], (address) => refreshBootstrapToken(pool.host(address), token));
    await steps.step("PrepareNode", [...add.masters, ...add.nodes], async (address, progress) => {
      await prepareNode(pool.host(address), progress);
    });
    if (request.bundle !== undefined) {
      const bundle = request.bundle;
      await steps.step("Bundle", [...add.masters, ...add.nodes], async (address, progress) => installBundle(pool.host(address), bundle, request.cluster, progress));
    }
    const install = (address: string, progress: (text: string) => void) =>
      applyHost(pool.host(address), planHostOf(rendered, address), { cluster: request.cluster, rendered, step: progress, ...(workerArtifacts.has(address) ? { worker: workerArtifacts.get(address) } : {}) });
    for (const master of add.masters) await steps.step("JoinMaster", [master], install);
    if (add.nodes.length > 0) await steps.step("JoinWorker", add.nodes, install);
    if (mastersChanged && members.nodes.length > 0) {
      await steps.step("UpdateLvscare", members.nodes, async (address, progress) => {
        await refreshFinishedHost(pool.host(address), planHostOf(rendered, address), { cluster: request.cluster, rendered, step: progress });
      });
    }
    await finishWithClusterfileCopies(steps, pool, after.masters);
    context.logger.log("info", `added ${[...add.masters, ...add.nodes].join(", ")} to cluster "${request.cluster}": ${after.masters.length} masters, ${after.nodes.length} workers`);
  } finally {
    lock.release();
  }
}
