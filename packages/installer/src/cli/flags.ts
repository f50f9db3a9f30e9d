/**
 * The flags several `seal` commands share, defined once: the cluster settings of `seal render`
 * (which `seal run` takes too) and the SSH connection flags of every command that contacts hosts
 * (`run`, `reset`, `status`, `cert`). Flag values stay strings here; the commands validate them.
 */
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { Command, Option } from "commander";
import { KUBE_PROXY_MODES } from "@lvscare/contracts/names";
import { DEFAULTS, KEY_ALGORITHMS } from "../cluster/spec.ts";
import type { ClusterInput } from "../cluster/validate.ts";
import { InputError } from "../errors.ts";
import { loadCredentials, type SshCredentials } from "../ssh/credentials.ts";
import { LOG_FORMATS, type LogFormat } from "../ssh/logger.ts";
import { checkPort } from "../ssh/targets.ts";

export const PASSWORD_ENV = "SEAL_SSH_PASSWORD";

/** `a,b` and repeated flags both add to the list. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(",").map((item) => item.trim()).filter((item) => item !== "")];
}

/** What `addClusterFlags` yields (besides `--cluster`, which every command names its own way). */
export interface ClusterFlags {
  masters: string[];
  nodes?: string[];
  vip: string;
  kubernetesVersion?: string;
  kubeProxyMode: string;
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
}

/**
 * `seal render`'s cluster settings. `kubernetesVersionDefault` undefined: no default (seal run reads
 * master0's kubeadm), with `kubernetesVersionHelp` saying so.
 */
export function addClusterFlags(command: Command, options: { kubernetesVersionDefault?: string; kubernetesVersionHelp: string }): Command {
  const version = new Option("--kubernetes-version <version>", options.kubernetesVersionHelp);
  if (options.kubernetesVersionDefault !== undefined) version.default(options.kubernetesVersionDefault);
  return command
    .requiredOption("--masters <ips>", "master addresses, comma separated; the first one runs kubeadm init", collectList)
    .option("--nodes <ips>", "worker addresses, comma separated", collectList)
    .option("--vip <ip>", "virtual address of the API servers on workers", DEFAULTS.vip)
    .addOption(version)
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
    .addOption(new Option("--key-algorithm <algorithm>", "private key type").choices(KEY_ALGORITHMS).default(DEFAULTS.keyAlgorithm))
    .option("--cert-validity <duration>", "lifetime of every certificate: 99y, 3650d or 876000h", DEFAULTS.certValidity)
    .option("--allow-even-masters", "accept an even number of masters (etcd gains no fault tolerance from the extra one)")
    .option("--cri-socket <endpoint>", "container runtime endpoint", DEFAULTS.criSocket)
    .option("--cgroup-driver <driver>", "kubelet cgroup driver: systemd or cgroupfs", DEFAULTS.cgroupDriver);
}

/** The flags as `buildClusterSpec` takes them. */
export function clusterInputFrom(flags: ClusterFlags, cluster: string): ClusterInput & { cluster: string } {
  return {
    masters: flags.masters,
    nodes: flags.nodes ?? [],
    vip: flags.vip,
    ...(flags.kubernetesVersion === undefined ? {} : { kubernetesVersion: flags.kubernetesVersion }),
    kubeProxyMode: flags.kubeProxyMode,
    podCidr: flags.podCidr,
    serviceCidr: flags.serviceCidr,
    dnsDomain: flags.dnsDomain,
    certSans: flags.certSans ?? [],
    hostnames: flags.hostnames ?? [],
    lvscareImage: flags.lvscareImage,
    cluster,
    keyAlgorithm: flags.keyAlgorithm,
    certValidity: flags.certValidity,
    allowEvenMasters: flags.allowEvenMasters ?? false,
    criSocket: flags.criSocket,
    cgroupDriver: flags.cgroupDriver,
  };
}

export interface SshFlags {
  cluster: string;
  user: string;
  passwd?: string;
  pk?: string;
  pkPasswd?: string;
  port: string;
  acceptHostKey?: string[];
  sshInsecure?: boolean;
  logFormat: string;
}

/** `--cluster` and the SSH flags of every command that contacts hosts. */
export function addSshFlags(command: Command): Command {
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

export function parsePortFlag(text: string): number {
  if (!/^\d+$/.test(text)) throw new InputError(`--port ${JSON.stringify(text)} is not a port number`);
  return checkPort(Number(text), "--port");
}

export function logFormatOf(flags: SshFlags): LogFormat {
  return flags.logFormat as LogFormat;
}

/** Every secret the flags or the environment carry, for the log redactor. */
export function secretsOf(flags: SshFlags): string[] {
  return [flags.passwd, flags.pkPasswd, process.env[PASSWORD_ENV]].filter((secret): secret is string => secret !== undefined && secret !== "");
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
export function credentialsFrom(flags: SshFlags): () => Promise<SshCredentials> {
  return async () => {
    let password = flags.passwd ?? process.env[PASSWORD_ENV];
    if (password === undefined && flags.pk === undefined && process.env["SSH_AUTH_SOCK"] === undefined && process.stdin.isTTY) {
      password = await promptPassword(`SSH password for ${flags.user}: `);
    }
    return loadCredentials({
      user: flags.user,
      ...(password === undefined ? {} : { password }),
      ...(flags.pk === undefined ? {} : { privateKeyPath: flags.pk }),
      ...(flags.pkPasswd === undefined ? {} : { passphrase: flags.pkPasswd }),
    });
  };
}
