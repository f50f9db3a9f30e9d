/**
 * `seal run`, `seal reset`, `seal status`: sealos's flags (--masters/--nodes, -u/-p/--pk/--pk-passwd,
 * --port, --vip, --kubernetes-version, --bundle, --cluster, --kube-proxy-mode, --yes, --dry-run):
 * `seal render`'s cluster flags and the shared SSH flags (flags.ts), plus run's own.
 */
import { existsSync, readFileSync } from "node:fs";
import { Command } from "commander";
import { parseClusterfile } from "../cluster-state/clusterfile.ts";
import { checkBundle } from "../lifecycle/bundle.ts";
import { runCluster, type RunContext } from "../lifecycle/run-cluster.ts";
import { resetCluster } from "../lifecycle/reset-cluster.ts";
import { addHosts } from "../lifecycle/add-hosts.ts";
import { deleteHosts } from "../lifecycle/delete-hosts.ts";
import { applyClusterfile } from "../lifecycle/apply-clusterfile.ts";
import type { ArtifactOptions } from "../lifecycle/artifacts.ts";
import { readClusterStatus } from "../lifecycle/cluster-status.ts";
import { renderStatusJson, renderStatusTable } from "../status/status-report.ts";
import { createLogger } from "../ssh/logger.ts";
import { createProgressReporter } from "../ssh/progress.ts";
import { addClusterFlags, addSshFlags, clusterInputFrom, collectList, PASSWORD_ENV, credentialsFrom, logFormatOf, parsePortFlag, secretsOf, type ClusterFlags, type SshFlags } from "./flags.ts";
import type { Output } from "./output.ts";

interface MutatingFlags extends SshFlags {
  yes?: boolean;
  dryRun?: boolean;
}

interface RunFlags extends MutatingFlags, ClusterFlags {
  bundle?: string;
  lvscareBin?: string;
  lvscareImageArchive?: string;
}

/** Options of the commands that change hosts. */
function addMutatingFlags(command: Command): Command {
  return addSshFlags(command)
    .option("--yes", "accepted for sealos compatibility: seal never asks")
    .option("--dry-run", "print the steps per host and change nothing");
}

interface MembershipFlags extends MutatingFlags {
  masters?: string[];
  nodes?: string[];
  hostnames?: string[];
  lvscareBin?: string;
  lvscareImageArchive?: string;
  bundle?: string;
}

function addArtifactFlags(command: Command): Command {
  return command
    .option("--lvscare-bin <file>", "lvscare executable for workers (default dist/lvscare-linux-<arch> from `npm run dist`)")
    .option("--lvscare-image-archive <file>", "lvscare image archive imported on workers (default dist/'s, from `npm run image`)");
}

function artifactsFrom(flags: { lvscareBin?: string; lvscareImageArchive?: string }): ArtifactOptions {
  return { ...(flags.lvscareBin === undefined ? {} : { lvscareBin: flags.lvscareBin }), ...(flags.lvscareImageArchive === undefined ? {} : { imageArchive: flags.lvscareImageArchive }) };
}

function membershipRequest(flags: MembershipFlags) {
  return {
    cluster: flags.cluster,
    hosts: { masters: flags.masters ?? [], nodes: flags.nodes ?? [] },
    port: parsePortFlag(flags.port),
    acceptHostKey: flags.acceptHostKey ?? [],
    sshInsecure: flags.sshInsecure ?? false,
    dryRun: flags.dryRun ?? false,
  };
}

function contextFor(flags: SshFlags, out: Output): RunContext {
  const logger = createLogger({ format: logFormatOf(flags) });
  for (const secret of secretsOf(flags)) logger.redactor.add(secret);
  return { logger, progress: createProgressReporter({ logger }), credentials: credentialsFrom(flags), print: (line: string) => out.info(line) };
}

export function addLifecycleCommands(program: Command, out: Output): void {
  addArtifactFlags(addMutatingFlags(
    addClusterFlags(
      program
        .command("run")
        .description("install an HA cluster over SSH: preflight, node preparation, master0, masters one by one, workers; run again to resume"),
      { kubernetesVersionHelp: "default: what `kubeadm version -o short` says on master0" },
    )
      .option("--bundle <file>", "sealos offline package (kube/bin, kube/conf, kube/images, kube/shell/init.sh) installed on every host"),
  )).action(async (flags: RunFlags) => {
    const port = parsePortFlag(flags.port);
    const bundle = flags.bundle === undefined ? undefined : checkBundle(flags.bundle);
    await runCluster(
      {
        cluster: clusterInputFrom(flags, flags.cluster),
        port,
        acceptHostKey: flags.acceptHostKey ?? [],
        sshInsecure: flags.sshInsecure ?? false,
        ...(bundle === undefined ? {} : { bundle }),
        artifacts: artifactsFrom(flags),
        dryRun: flags.dryRun ?? false,
      },
      contextFor(flags, out),
    );
  });

  addMutatingFlags(program.command("reset").description("undo everything seal did on every host of the cluster (kubeadm reset -f, seal's files and entries); nothing of the user's")).action(
    async (flags: MutatingFlags) => {
      await resetCluster({ cluster: flags.cluster, port: parsePortFlag(flags.port), acceptHostKey: flags.acceptHostKey ?? [], sshInsecure: flags.sshInsecure ?? false, dryRun: flags.dryRun ?? false }, contextFor(flags, out));
    },
  );

  addArtifactFlags(
    addMutatingFlags(program.command("add").description("join new masters (one at a time) and workers to the cluster; workers' lvscare follows the masters; run again to resume"))
      .option("--masters <ips>", "masters to add, comma separated", collectList)
      .option("--nodes <ips>", "workers to add, comma separated", collectList)
      .option("--hostnames <pairs>", "node names of the new hosts as IP=NAME, comma separated (default ip-A-B-C-D)", collectList)
      .option("--bundle <file>", "sealos offline package (kube/bin, kube/conf, kube/images, kube/shell/init.sh) installed on the new hosts"),
  ).action(async (flags: MembershipFlags) => {
    const bundle = flags.bundle === undefined ? undefined : checkBundle(flags.bundle);
    await addHosts({ ...membershipRequest(flags), hostnames: flags.hostnames ?? [], artifacts: artifactsFrom(flags), ...(bundle === undefined ? {} : { bundle }) }, contextFor(flags, out));
  });

  addMutatingFlags(program.command("delete").description("remove masters or workers: drain, kubeadm reset, etcd member removed, seal's node preparation undone; workers' lvscare follows the masters"))
    .option("--masters <ips>", "masters to delete, comma separated", collectList)
    .option("--nodes <ips>", "workers to delete, comma separated", collectList)
    .action(async (flags: MembershipFlags) => {
      await deleteHosts(membershipRequest(flags), contextFor(flags, out));
    });

  addArtifactFlags(
    addMutatingFlags(program.command("apply").description("make the cluster what a Clusterfile (seal's or sealos v4's) says: seal run for a new cluster, else add and delete hosts"))
      .requiredOption("-f, --file <Clusterfile>", "the Clusterfile"),
  ).action(async (flags: MutatingFlags & { file: string; lvscareBin?: string; lvscareImageArchive?: string }) => {
    // A sealos Clusterfile carries its SSH settings; flags and SEAL_SSH_PASSWORD win over them.
    const fileSsh = existsSync(flags.file) ? parseClusterfile(readFileSync(flags.file, "utf8")).cluster.spec.ssh : {};
    if (flags.passwd === undefined && process.env[PASSWORD_ENV] === undefined && fileSsh.passwd !== undefined) flags.passwd = fileSsh.passwd;
    if (flags.pk === undefined && fileSsh.pk !== undefined && existsSync(fileSsh.pk)) flags.pk = fileSsh.pk;
    if (flags.pkPasswd === undefined && fileSsh.pkPasswd !== undefined) flags.pkPasswd = fileSsh.pkPasswd;
    await applyClusterfile(
      { file: flags.file, port: parsePortFlag(flags.port), acceptHostKey: flags.acceptHostKey ?? [], sshInsecure: flags.sshInsecure ?? false, artifacts: artifactsFrom(flags), dryRun: flags.dryRun ?? false },
      contextFor(flags, out),
    );
  });

  addSshFlags(program.command("status").description("what the Clusterfile says and what each host answers, as a table or --json"))
    .option("--json", "one JSON document on stdout")
    .action(async (flags: SshFlags & { json?: boolean }) => {
      const status = await readClusterStatus(
        { cluster: flags.cluster, port: parsePortFlag(flags.port), acceptHostKey: flags.acceptHostKey ?? [], sshInsecure: flags.sshInsecure ?? false },
        contextFor(flags, out),
      );
      out.info((flags.json ? renderStatusJson(status) : renderStatusTable(status)).trimEnd());
    });
}
