/**
 * `seal run` and `seal reset`: sealos's flags (--masters/--nodes, -u/-p/--pk/--pk-passwd, --port,
 * --vip, --kubernetes-version, --bundle, --cluster, --kube-proxy-mode, --yes, --dry-run) plus
 * every `seal render` flag, and seal's SSH flags (--accept-host-key, --ssh-insecure,
 * --log-format). The password may come from -p, SEAL_SSH_PASSWORD or a prompt on a TTY.
 * Defined here, beside render's, until the render-side --kube-proxy-mode lands; then the shared
 * flags should come from one place.
 */
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { Command, Option } from "commander";
import { DEFAULT_KUBE_PROXY_MODE, KUBE_PROXY_MODES } from "@lvscare/contracts/names";
import { DEFAULTS } from "../cluster/spec.ts";
import { InputError } from "../errors.ts";
import { checkBundle } from "../lifecycle/bundle.ts";
import { runCluster } from "../lifecycle/run-cluster.ts";
import { resetCluster } from "../lifecycle/reset-cluster.ts";
import { formatStatusTable, readClusterStatus } from "../lifecycle/cluster-status.ts";
import { loadCredentials, type SshCredentials } from "../ssh/credentials.ts";
import { createLogger, LOG_FORMATS, type LogFormat } from "../ssh/logger.ts";
import { createProgressReporter } from "../ssh/progress.ts";
import { checkPort } from "../ssh/targets.ts";
import type { Output } from "./output.ts";

export const PASSWORD_ENV = "SEAL_SSH_PASSWORD";

interface SshFlags {
  user: string;
  passwd?: string;
  pk?: string;
  pkPasswd?: string;
  port: string;
  acceptHostKey?: string[];
  sshInsecure?: boolean;
  logFormat: string;
  yes?: boolean;
  dryRun?: boolean;
  cluster: string;
}

interface RunFlags extends SshFlags {
  masters: string[];
  nodes?: string[];
  vip: string;
  kubernetesVersion?: string;
  podCidr: string;
  serviceCidr: string;
  dnsDomain: string;
  certSans?: string[];
  hostnames?: string[];
  lvscareImage: string;
  keyAlgorithm: string;
  certValidity: string;
  allowEvenMasters?: boolean;
  criSocket: string;
  cgroupDriver: string;
  kubeProxyMode: string;
  bundle?: string;
  lvscareBin?: string;
  lvscareImageArchive?: string;
}

function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(",").map((item) => item.trim()).filter((item) => item !== "")];
}

function addConnectionOptions(command: Command): Command {
  return command
    .option("--cluster <name>", "cluster name (state in ~/.seal/<name>/)", DEFAULTS.cluster)
    .option("-u, --user <user>", "SSH user (not root: sudo is used)", "root")
    .option("-p, --passwd <password>", `SSH password (better: ${PASSWORD_ENV} or the prompt, kept out of shell history)`)
    .option("--pk <file>", "SSH private key file")
    .option("--pk-passwd <passphrase>", "passphrase of --pk")
    .option("--port <port>", "SSH port", "22")
    .option("--accept-host-key <pin>", "expected host key: SHA256:... for any host or HOST=SHA256:...; repeatable", collectList)
    .option("--ssh-insecure", "connect even when a host key changed (never recorded)")
    .addOption(new Option("--log-format <format>", "plain or json log lines on stderr").choices([...LOG_FORMATS]).default("plain"));
}

/** Options of the commands that change hosts. */
function addSshOptions(command: Command): Command {
  return addConnectionOptions(command)
    .option("--yes", "accepted for sealos compatibility: seal never asks")
    .option("--dry-run", "print the steps per host and change nothing");
}

async function promptPassword(question: string): Promise<string> {
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  process.stderr.write(question);
  const reader = createInterface({ input: process.stdin, output: muted, terminal: true });
  try {
    return await new Promise<string>((resolve) => reader.question("", resolve));
  } finally {
    reader.close();
    process.stderr.write("\n");
  }
}

/** Credentials from the flags, the environment or a TTY prompt; loaded only when a host is contacted. */
function credentialsFrom(flags: SshFlags): () => Promise<SshCredentials> {
  return async () => {
    let password = flags.passwd ?? process.env[PASSWORD_ENV];
    if (password === undefined && flags.pk === undefined && process.env["SSH_AUTH_SOCK"] === undefined && process.stdin.isTTY) {
      password = await promptPassword(`SSH password for ${flags.user}: `);
    }
    return loadCredentials({ user: flags.user, ...(password === undefined ? {} : { password }), ...(flags.pk === undefined ? {} : { privateKeyPath: flags.pk }), ...(flags.pkPasswd === undefined ? {} : { passphrase: flags.pkPasswd }) });
  };
}

function parsePortFlag(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text)) throw new InputError(`--port ${JSON.stringify(text)} is not a port number`);
  return checkPort(port, "--port");
}

function contextFor(flags: SshFlags, out: Output) {
  const secrets = [flags.passwd, flags.pkPasswd, process.env[PASSWORD_ENV]].filter((secret): secret is string => secret !== undefined && secret !== "");
  const logger = createLogger({ format: flags.logFormat as LogFormat });
  for (const secret of secrets) logger.redactor.add(secret);
  return { logger, progress: createProgressReporter({ logger }), credentials: credentialsFrom(flags), print: (line: string) => out.info(line) };
}

export function addLifecycleCommands(program: Command, out: Output): void {
  addSshOptions(
    program
      .command("run")
      .description("install an HA cluster over SSH: preflight, node preparation, master0, masters one by one, workers; run again to resume")
      .requiredOption("--masters <ips>", "master addresses, comma separated; the first one runs kubeadm init", collectList)
      .option("--nodes <ips>", "worker addresses, comma separated", collectList)
      .option("--vip <ip>", "virtual address of the API servers on workers", DEFAULTS.vip)
      .option("--kubernetes-version <version>", "default: what `kubeadm version -o short` says on master0")
      .option("--pod-cidr <cidr>", "pod network", DEFAULTS.podCidr)
      .option("--service-cidr <cidr>", "service network", DEFAULTS.serviceCidr)
      .option("--dns-domain <domain>", "cluster DNS domain", DEFAULTS.dnsDomain)
      .option("--cert-sans <names>", "extra API server certificate names or IPs, comma separated", collectList)
      .option("--hostnames <pairs>", "node names as IP=NAME, comma separated (default ip-A-B-C-D)", collectList)
      .option("--lvscare-image <image>", "lvscare image for the workers' static pod", DEFAULTS.lvscareImage)
      .addOption(new Option("--key-algorithm <algorithm>", "private key type").choices(["rsa-2048", "ecdsa-p256"]).default(DEFAULTS.keyAlgorithm))
      .option("--cert-validity <duration>", "lifetime of every certificate", DEFAULTS.certValidity)
      .option("--allow-even-masters", "accept an even number of masters")
      .option("--cri-socket <endpoint>", "container runtime endpoint", DEFAULTS.criSocket)
      .option("--cgroup-driver <driver>", "kubelet cgroup driver: systemd or cgroupfs", DEFAULTS.cgroupDriver)
      .addOption(new Option("--kube-proxy-mode <mode>", "kube-proxy mode").choices([...KUBE_PROXY_MODES]).default(DEFAULT_KUBE_PROXY_MODE))
      .option("--bundle <file>", "sealos offline package (kube/bin, kube/conf, kube/images, kube/shell/init.sh) installed on every host")
      .option("--lvscare-bin <file>", "lvscare executable for workers (default dist/lvscare-linux-<arch> from `npm run dist`)")
      .option("--lvscare-image-archive <file>", "lvscare image archive imported on workers (default dist/'s, from `npm run image`)"),
  ).action(async (flags: RunFlags) => {
    const port = parsePortFlag(flags.port);
    const bundle = flags.bundle === undefined ? undefined : checkBundle(flags.bundle);
    await runCluster(
      {
        cluster: {
          masters: flags.masters,
          nodes: flags.nodes ?? [],
          vip: flags.vip,
          ...(flags.kubernetesVersion === undefined ? {} : { kubernetesVersion: flags.kubernetesVersion }),
          podCidr: flags.podCidr,
          serviceCidr: flags.serviceCidr,
          dnsDomain: flags.dnsDomain,
          certSans: flags.certSans ?? [],
          hostnames: flags.hostnames ?? [],
          lvscareImage: flags.lvscareImage,
          cluster: flags.cluster,
          keyAlgorithm: flags.keyAlgorithm,
          certValidity: flags.certValidity,
          allowEvenMasters: flags.allowEvenMasters ?? false,
          criSocket: flags.criSocket,
          cgroupDriver: flags.cgroupDriver,
        },
        kubeProxyMode: flags.kubeProxyMode,
        port,
        acceptHostKey: flags.acceptHostKey ?? [],
        sshInsecure: flags.sshInsecure ?? false,
        ...(bundle === undefined ? {} : { bundle }),
        artifacts: { ...(flags.lvscareBin === undefined ? {} : { lvscareBin: flags.lvscareBin }), ...(flags.lvscareImageArchive === undefined ? {} : { imageArchive: flags.lvscareImageArchive }) },
        dryRun: flags.dryRun ?? false,
      },
      contextFor(flags, out),
    );
  });

  addSshOptions(program.command("reset").description("undo everything seal did on every host of the cluster (kubeadm reset -f, seal's files and entries); nothing of the user's")).action(
    async (flags: SshFlags) => {
      await resetCluster({ cluster: flags.cluster, port: parsePortFlag(flags.port), acceptHostKey: flags.acceptHostKey ?? [], sshInsecure: flags.sshInsecure ?? false, dryRun: flags.dryRun ?? false }, contextFor(flags, out));
    },
  );

  addConnectionOptions(program.command("status").description("what the Clusterfile says and what each host answers, as a table or --json"))
    .option("--json", "one JSON document on stdout")
    .action(async (flags: SshFlags & { json?: boolean }) => {
      const status = await readClusterStatus(
        { cluster: flags.cluster, port: parsePortFlag(flags.port), acceptHostKey: flags.acceptHostKey ?? [], sshInsecure: flags.sshInsecure ?? false, json: flags.json ?? false },
        contextFor(flags, out),
      );
      out.info(flags.json ? JSON.stringify(status, null, 2) : formatStatusTable(status));
    });
}
