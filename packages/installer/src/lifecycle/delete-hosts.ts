/**
 * `seal delete --masters/--nodes` (issue 9, section 3.5): everything refused before any
 * connection (members only, never the last master); a master that stays must answer before
 * anything changes. Per deleted host, workers in parallel then masters one at a time: drain and
 * delete its Node through kubectl on the staying master (logged and skipped when the API does not
 * answer), the etcd member of a deleted master removed through the staying master (before the
 * reset stops it: a two-member etcd would lose its quorum), `kubeadm reset -f` and seal's node
 * preparation undone on it (reset's own per-host undo; an unreachable host is said and skipped). Then the render and the Clusterfile without the hosts (the first staying master
 * is master0), every finished worker's lvscare static pod listing the masters that are left, and
 * the Clusterfile copy on every master. Running it again after a failure finishes the job.
 */
import { buildClusterSpec } from "../cluster/validate.ts";
import { DEFAULTS } from "../cluster/spec.ts";
import { InputError } from "../errors.ts";
import { parseHostKeyPin } from "../ssh/host-key-store.ts";
import type { RemoteHost } from "../ssh/remote-host.ts";
import { acquireClusterLock } from "../cluster-state/lock.ts";
import { withoutHostConditions } from "../cluster-state/clusterfile.ts";
import { MASTER_CLUSTERFILE_PATH, readClusterfile, stateDir } from "../cluster-state/state-dir.ts";
import { removeEtcdMembersOf } from "./etcd-members.ts";
import { refreshFinishedHost } from "./host-steps.ts";
import { canonicalHosts, clusterInputOf, hostnamesFor, membersAfterDelete, membersOf, withMembers, type HostList } from "./membership.ts";
import { loadRenderedPlan } from "./rendered-plan.ts";
import { planHostOf, renderMembers, replaceRender } from "./render-extend.ts";
import { describeReset, resetHost } from "./reset-cluster.ts";
import type { RunContext } from "./run-cluster.ts";
import { finishWithClusterfileCopies, openClusterPool } from "./cluster-session.ts";
import { condition, createStepRunner, StepFailedError, stepFailure } from "./step-runner.ts";

export interface MembershipRequest {
  readonly cluster: string;
  readonly hosts: HostList;
  readonly port: number;
  readonly acceptHostKey: readonly string[];
  readonly sshInsecure: boolean;
  readonly dryRun: boolean;
  readonly home?: string;
}

const ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf";

/** Drains and deletes the node through the API on `via`; a cluster whose API does not answer is said, not fatal. */
async function removeNode(via: RemoteHost, nodeName: string, warn: (message: string) => void): Promise<void> {
  const kubectl = ["kubectl", "--kubeconfig", ADMIN_KUBECONFIG];
  const found = await via.run(["sh", "-c", 'command -v kubectl >/dev/null 2>&1 && exec "$@"; echo "kubectl is not installed" >&2; exit 127', "seal-kubectl", ...kubectl, "get", "node", nodeName, "-o", "name"], { allowExitCodes: [0, 1, 127], timeoutMs: 60_000 });
  if (found.exitCode !== 0) {
    const why = found.stderr.trim().split("\n").slice(-1)[0] ?? "";
    if (/not ?found/i.test(why) && found.exitCode === 1) return;
    warn(`node ${nodeName} not drained or deleted through the API on ${via.address}: ${why}`);
    return;
  }
  const drain = await via.run([...kubectl, "drain", nodeName, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=120s"], { allowExitCodes: [0, 1], timeoutMs: 180_000 });
  if (drain.exitCode !== 0) warn(`kubectl drain ${nodeName} failed (deleting the node anyway): ${drain.stderr.trim().split("\n").slice(-1)[0] ?? ""}`);
  await via.run([...kubectl, "delete", "node", nodeName, "--ignore-not-found"], { timeoutMs: 120_000 });
}

export async function deleteHosts(request: MembershipRequest, context: RunContext): Promise<void> {
  const state = stateDir(request.cluster, request.home);
  const stored = readClusterfile(state.clusterfile);
  if (stored === undefined) throw new InputError(`no cluster "${request.cluster}": ${state.clusterfile} does not exist`);
  const members = membersOf(stored, request.port);
  const remove = canonicalHosts(request.hosts, members.port);
  request.acceptHostKey.forEach(parseHostKeyPin);
  const after = membersAfterDelete(members, remove, request.cluster);
  const via = after.masters[0] as string;
  const image = stored.config.lvscareImage ?? DEFAULTS.lvscareImage;
  const spec = buildClusterSpec(clusterInputOf({ ...stored, config: { ...stored.config, hostnames: hostnamesFor(stored.config.hostnames ?? [], [], after) } }, after));
  if (request.dryRun) {
    context.print(`dry run: seal delete would do, in this order; nothing was contacted or changed:`);
    for (const [role, list] of [["worker", remove.nodes], ["master", remove.masters]] as const) {
      for (const address of list) {
        context.print(`${address} ${role}:`);
        context.print(`  on ${via}: kubectl drain and delete node`);
        if (role === "master") context.print(`  on ${via}: remove its etcd member (etcd v3 gateway, 127.0.0.1:2379)`);
        for (const line of describeReset(role, request.cluster, image)) context.print(`  ${line}`);
      }
    }
    if (remove.masters.includes(members.masters[0] as string)) context.print(`master0 becomes ${via}`);
    if (remove.masters.length > 0 && after.nodes.length > 0) context.print(`every worker (${after.nodes.join(", ")}): the lvscare static pod with masters ${after.masters.join(", ")}`);
    context.print(`every master (${after.masters.join(", ")}): ${MASTER_CLUSTERFILE_PATH}`);
    return;
  }
  const lock = acquireClusterLock(state.lock, "seal delete", (message) => context.logger.log("warn", message));
  try {
    await using pool = await openClusterPool(state, members.port, request, context);
    const warn = (message: string) => context.logger.log("warn", message);
    // The master that stays must answer before anything changes.
    const reach = await pool.forEach([via], (host) => host.connect(), { title: "connect" });
    const unreachable = reach.find((result) => !result.ok);
    if (unreachable !== undefined && !unreachable.ok) throw new StepFailedError(`${via} (the master that stays) does not answer: ${unreachable.error.message.split("\n")[0]}; nothing was changed`);

    const rendered = loadRenderedPlan(state.renderDir);
    const resume = `fix it and run the same seal delete again (state: ${state.clusterfile})`;
    const steps = createStepRunner({ pool, clusterfilePath: state.clusterfile, file: stored, resume });
    const hostnameOf = (address: string) => rendered.plan.hosts.find((host) => host.address === address)?.hostname ?? `ip-${address.replaceAll(/[.:]/g, "-")}`;
    const undo = async (address: string, role: "master" | "worker", progress: (text: string) => void) => {
      progress("drain and delete the node");
      await removeNode(pool.host(via), hostnameOf(address), warn);
      // The etcd member goes first, while it still runs: stopped by the reset first, a member of a
      // two-member cluster takes the quorum with it and no removal can commit any more.
      if (role === "master") {
        progress("etcd member");
        const removed = await removeEtcdMembersOf(pool.host(via), hostnameOf(address), address);
        if (removed.length > 0) context.logger.log("info", `removed etcd member ${removed.join(", ")} through ${via}`);
      }
      const results = await pool.forEach([address], (host, hostProgress) => resetHost(host, role, request.cluster, rendered.plan, image, (text) => hostProgress.step(text)), { title: `reset ${address}` });
      const failed = results.find((result) => !result.ok);
      if (failed !== undefined && !failed.ok) warn(`${address}: not reset (${failed.error.message.split("\n")[0]}); it leaves the cluster anyway; once it answers, run kubeadm reset -f and rm -rf /var/lib/seal/${request.cluster} on it`);
    };
    // Workers first, then masters one at a time: etcd loses one member at a time.
    for (const [role, list] of [["worker", remove.nodes], ["master", remove.masters]] as const) {
      for (const address of list) {
        const name = role === "master" ? `DeleteMaster/${address}` : `DeleteWorker/${address}`;
        try {
          await undo(address, role, (text) => context.logger.log("info", `${address}: ${text}`));
          steps.record("ClusterInProcess", [condition(name, "True", "Done")]);
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(String(error));
          steps.record("ClusterFailed", [condition(name, "False", "Failed", failure.message.split("\n")[0])]);
          throw stepFailure(address, name.split("/")[0] as string, failure, resume);
        }
      }
    }

    const merged = await renderMembers(state.renderDir, state.pkiDir, spec, new Set(after.masters));
    const next = await replaceRender(state.renderDir, merged);
    const remaining = withMembers(steps.file, after, members.port, hostnamesFor(stored.config.hostnames ?? [], [], after));
    steps.replace({ ...remaining, cluster: withoutHostConditions(remaining.cluster, [...remove.masters, ...remove.nodes]) }, "ClusterInProcess");
    if (remove.masters.length > 0 && after.nodes.length > 0) {
      await steps.step("UpdateLvscare", after.nodes, async (address, progress) => {
        await refreshFinishedHost(pool.host(address), planHostOf(next, address), { cluster: request.cluster, rendered: next, step: progress });
      });
    }
    await finishWithClusterfileCopies(steps, pool, after.masters);
    context.logger.log("info", `deleted ${[...remove.masters, ...remove.nodes].join(", ")} from cluster "${request.cluster}": ${after.masters.length} masters (master0 ${via}), ${after.nodes.length} workers`);
  } finally {
    lock.release();
  }
}
