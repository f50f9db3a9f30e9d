/**
 * The `seal` command line. Exit status: 0 done, 2 bad input (one line on stderr, nothing
 * written), 1 anything else (an I/O failure, a bug).
 */
import { Command, CommanderError, Option } from "commander";
import { HOSTS_FILE, KUBE_PROXY_MODES } from "@lvscare/contracts/names";
import { versionInfo } from "@lvscare/lvscare/build-info";
import { DEFAULTS } from "../cluster/spec.ts";
import { InputError } from "../errors.ts";
import { LOG_FORMATS, type LogFormat } from "../ssh/index.ts";
import { runCert } from "./cert-command.ts";
import { runHostsRemove, runHostsSet } from "./hosts-command.ts";
import { streamOutput, type Output } from "./output.ts";
import { runRender } from "./render-command.ts";
import { addLifecycleCommands } from "./run-command.ts";
import { VERSION } from "../version.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** `a,b` and repeated flags both add to the list. */
function collectList(value: string, previous: string[] | undefined): string[] {
  const items = value.split(",").map((item) => item.trim()).filter((item) => item !== "");
  return [...(previous ?? []), ...items];
}

interface RenderFlags {
  masters: string[];
  nodes?: string[];
  vip: string;
  kubernetesVersion: string;
  podCidr: string;
  serviceCidr: string;
  dnsDomain: string;
  certSans?: string[];
  hostnames?: string[];
  lvscareImage: string;
  cluster: string;
  keyAlgorithm: string;
  certValidity: string;
  allowEvenMasters?: boolean;
  criSocket: string;
  cgroupDriver: string;
  kubeProxyMode: string;
  output: string;
  pkiDir?: string;
}

interface CertFlags {
  masters: string[];
  altNames?: string[];
  renew?: boolean;
  newKeys?: boolean;
  keyAlgorithm: string;
  cluster: string;
  pkiDir?: string;
  user: string;
  passwd?: string;
  pk?: string;
  pkPasswd?: string;
  port: number;
  acceptHostKey?: string[];
  sshInsecure?: boolean;
  dryRun?: boolean;
  restartWait: number;
  logFormat: LogFormat;
}

function buildProgram(out: Output): Command {
  const program = new Command("seal")
    .description("Installer for HA Kubernetes clusters with lvscare in front of the API servers")
    .showHelpAfterError(false);

  program
    .command("render")
    .description("write every host's files (kubeadm configs, PKI, kubeconfigs, lvscare pod) and plan.json to -o DIR; nothing is contacted")
    .requiredOption("--masters <ips>", "master addresses, comma separated; the first one runs kubeadm init", collectList)
    .option("--nodes <ips>", "worker addresses, comma separated", collectList)
    .option("--vip <ip>", "virtual address of the API servers on workers", DEFAULTS.vip)
    .option("--kubernetes-version <version>", "v1.22 and later; v1.31+ gets kubeadm v1beta4", DEFAULTS.kubernetesVersion)
    .addOption(
      new Option("--kube-proxy-mode <mode>", "kube-proxy mode; nftables (v1.31+) gives the workers' lvscare --dataplane nftables")
        .choices(KUBE_PROXY_MODES)
        .default(DEFAULTS.kubeProxyMode),
    )
    .option("--pod-cidr <cidr>", "pod network", DEFAULTS.podCidr)
    .option("--service-cidr <cidr>", "service network", DEFAULTS.serviceCidr)
    .option("--dns-domain <domain>", "cluster DNS domain", DEFAULTS.dnsDomain)
    .option("--cert-sans <names>", "extra API server certificate names or IPs, comma separated", collectList)
    .option("--hostnames <pairs>", "node names as IP=NAME, comma separated (default ip-A-B-C-D)", collectList)
    .option("--lvscare-image <image>", "lvscare image for the workers' static pod", DEFAULTS.lvscareImage)
    .option("--cluster <name>", "cluster name", DEFAULTS.cluster)
    .addOption(
      new Option("--key-algorithm <algorithm>", "private key type").choices(["rsa-2048", "ecdsa-p256"]).default(DEFAULTS.keyAlgorithm),
    )
    .option("--cert-validity <duration>", "lifetime of every certificate: 99y, 3650d or 876000h", DEFAULTS.certValidity)
    .option("--pki-dir <dir>", "CA directory to reuse (ca, front-proxy-ca, etcd/ca, sa); missing ones are created there, none replaced")
    .option("--allow-even-masters", "accept an even number of masters (etcd gains no fault tolerance from the extra one)")
    .option("--cri-socket <endpoint>", "container runtime endpoint", DEFAULTS.criSocket)
    .option("--cgroup-driver <driver>", "kubelet cgroup driver: systemd or cgroupfs", DEFAULTS.cgroupDriver)
    .requiredOption("-o, --output <dir>", "new or empty directory to write into")
    .action(async (flags: RenderFlags) => {
      await runRender({ ...flags, nodes: flags.nodes ?? [] }, out);
    });

  addLifecycleCommands(program, out);

  program
    .command("cert")
    .description(
      "add names to every API server certificate (--alt-names) or renew every leaf certificate keeping its lifetime (--renew), " +
        "signed by the cluster's CAs; masters are updated and restarted one at a time",
    )
    .requiredOption("--masters <ips>", "master addresses, comma separated", collectList)
    .option("--alt-names <names>", "DNS names or IPs to add to the API server certificates, comma separated", collectList)
    .option("--renew", "renew every leaf certificate and kubeconfig on the masters for the lifetime it had (99 years stay 99 years)")
    .option("--new-keys", "with --renew: a fresh key for every certificate (default: keep the keys)")
    .addOption(new Option("--key-algorithm <algorithm>", "with --new-keys: key type").choices(["rsa-2048", "ecdsa-p256"]).default(DEFAULTS.keyAlgorithm))
    .option("--cluster <name>", "cluster name (~/.seal/<name>/)", DEFAULTS.cluster)
    .option("--pki-dir <dir>", "the cluster's CA directory (default ~/.seal/<cluster>/pki)")
    .option("-u, --user <user>", "SSH user (not root: through sudo)", "root")
    .option("-p, --passwd <password>", "SSH password (or SEAL_SSH_PASSWORD)")
    .option("--pk <file>", "SSH private key file")
    .option("--pk-passwd <passphrase>", "passphrase of --pk")
    .option("--port <port>", "SSH port", (value: string) => Number(value), 22)
    .option("--accept-host-key <pins>", "SHA256:... host key fingerprints to accept on first contact (HOST=SHA256:... for one host)", collectList)
    .option("--ssh-insecure", "connect even when a host key differs from the known one (dangerous)")
    .option("--dry-run", "read and sign, print what would change, write nothing")
    .option("--restart-wait <seconds>", "how long the static pod manifests stay away while the kubelet stops the pods", (value: string) => Number(value), 20)
    .addOption(new Option("--log-format <format>", "log lines on stderr").choices(LOG_FORMATS).default("plain"))
    .action(async (flags: CertFlags) => {
      const password = flags.passwd ?? process.env["SEAL_SSH_PASSWORD"];
      await runCert({ ...flags, ...(password === undefined ? {} : { password }) }, out);
    });

  program
    .command("version")
    .description("print the version, git commit and build date")
    .option("--short", "only the version number")
    .action((flags: { short?: boolean }) => {
      out.info(flags.short ? `v${VERSION}` : JSON.stringify(versionInfo(VERSION)));
    });

  const hosts = program.command("hosts").description("edit the seal-managed block of a hosts file");
  hosts
    .command("set")
    .description("add or update NAME=IP entries in the managed block")
    .option("--file <path>", "hosts file", HOSTS_FILE)
    .argument("<entries...>", "NAME=IP")
    .action(async (entries: string[], flags: { file: string }) => runHostsSet(flags.file, entries, out));
  hosts
    .command("remove")
    .description("remove names from the managed block (the block goes when empty)")
    .option("--file <path>", "hosts file", HOSTS_FILE)
    .argument("<names...>", "NAME")
    .action(async (names: string[], flags: { file: string }) => runHostsRemove(flags.file, names, out));
  return program;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit status. */
export async function main(
  argv: readonly string[],
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const out = streamOutput(stdout, stderr);
  const program = buildProgram(out);
  for (const command of [program, ...program.commands.flatMap((command) => [command, ...command.commands])]) {
    // Help goes where commander sends it; errors are printed once, below, as one line.
    command.exitOverride().configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
      outputError: () => undefined,
    });
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0) return EXIT_OK;
      // A command group without its subcommand: commander already printed its help to stderr.
      if (error.code === "commander.help") return EXIT_USAGE;
      stderr.write(`seal: error: ${error.message.replace(/^error: /, "")}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof InputError) {
      stderr.write(`seal: error: ${error.message}\n`);
      return EXIT_USAGE;
    }
    stderr.write(`seal: failed: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}
