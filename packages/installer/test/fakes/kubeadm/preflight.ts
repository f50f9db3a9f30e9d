/**
 * kubeadm's preflight checks that can be checked for real in a test host (ports in its network
 * namespace, files in its private /etc and /var/lib, its ip_forward sysctl, the CRI socket, the
 * kubelet's version and service) with kubeadm's check names, so `--ignore-preflight-errors` and
 * `nodeRegistration.ignorePreflightErrors` work as with the real one. Not modelled: NumCPU, Mem,
 * SystemVerification, Hostname, HTTPProxy, Firewalld, ImagePull. Swap is only ever a warning.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { delimiter, join } from "node:path";
import { atLeastMinor, parseVersion, type Version } from "../lib/version.ts";
import { phaseError, say, warn } from "./output.ts";

export interface Check {
  readonly name: string;
  run(): Promise<{ warnings: string[]; errors: string[] }>;
}

const ok = { warnings: [], errors: [] };

export const MANIFESTS_DIR = "/etc/kubernetes/manifests";

export function fileAvailable(path: string): Check {
  return {
    name: `FileAvailable-${path.replaceAll("/", "-")}`,
    run: async () => (existsSync(path) ? { warnings: [], errors: [`${path} already exists`] } : ok),
  };
}

export function dirAvailable(path: string): Check {
  return {
    name: `DirAvailable-${path.replaceAll("/", "-")}`,
    run: async () => (existsSync(path) && readdirSync(path).length > 0 ? { warnings: [], errors: [`${path} is not empty`] } : ok),
  };
}

export function portOpen(port: number): Check {
  return {
    name: `Port-${port}`,
    run: () =>
      new Promise((resolve) => {
        const server = createServer();
        server.once("error", () => resolve({ warnings: [], errors: [`Port ${port} is in use`] }));
        server.listen(port, () => server.close(() => resolve(ok)));
      }),
  };
}

function fileContent(path: string, content: string): Check {
  return {
    name: `FileContent-${path.replaceAll("/", "-")}`,
    run: async () => {
      let actual: string;
      try {
        actual = readFileSync(path, "utf8");
      } catch {
        return { warnings: [], errors: [`${path} does not exist`] };
      }
      return actual.startsWith(content) ? ok : { warnings: [], errors: [`${path} contents are not set to ${content}`] };
    },
  };
}

function inPath(executable: string, mandatory: boolean): Check {
  return {
    name: `FileExisting-${executable}`,
    run: async () => {
      const found = (process.env["PATH"] ?? "").split(delimiter).some((dir) => dir !== "" && existsSync(join(dir, executable)));
      if (found) return ok;
      return mandatory ? { warnings: [], errors: [`${executable} not found in system path`] } : { warnings: [`${executable} not found in system path`], errors: [] };
    },
  };
}

export function socketPath(criSocket: string): string {
  return criSocket.replace(/^unix:\/\//, "");
}

function containerRuntime(criSocket: string): Check {
  return {
    name: "CRI",
    run: () =>
      new Promise((resolve) => {
        const path = socketPath(criSocket);
        const socket = createConnection(path);
        socket.once("connect", () => {
          socket.destroy();
          resolve(ok);
        });
        socket.once("error", (error: NodeJS.ErrnoException) =>
          resolve({ warnings: [], errors: [`container runtime is not running: output: validate service connection: dial unix ${path}: connect: ${error.code === "ENOENT" ? "no such file or directory" : error.message}, error: exit status 1`] }),
        );
      }),
  };
}

const swap: Check = {
  name: "Swap",
  run: async () => {
    const lines = existsSync("/proc/swaps") ? readFileSync("/proc/swaps", "utf8").trim().split("\n") : [];
    return lines.length > 1 ? { warnings: ["swap is supported for cgroup v2 only. The kubelet must be properly configured to use swap."], errors: [] } : ok;
  },
};

function kubeletVersion(controlPlane: string, kubeadm: Version): Check {
  return {
    name: "KubeletVersion",
    run: async () => {
      const result = spawnSync("kubelet", ["--version"], { encoding: "utf8" });
      const text = /Kubernetes (v\S+)/.exec(result.stdout ?? "")?.[1];
      const kubelet = text === undefined ? undefined : parseVersion(text);
      if (result.error !== undefined || kubelet === undefined) return { warnings: [], errors: [`couldn't get kubelet version: cannot execute 'kubelet --version': ${result.error?.message ?? result.stderr}`] };
      const skew = atLeastMinor(kubeadm, 1, 28) ? 3 : 1;
      if (kubelet.major < kubeadm.major || kubelet.minor < kubeadm.minor - skew) return { warnings: [], errors: [`Kubelet version "${kubelet.text}" is lower than kubeadm can support. Please upgrade kubelet`] };
      const cp = parseVersion(controlPlane);
      if (cp !== undefined && (kubelet.major > cp.major || kubelet.minor > cp.minor)) {
        return {
          warnings: [],
          errors: [`the kubelet version is higher than the control plane version. This is not a supported version skew and may lead to a malfunctional cluster. Kubelet version: "${kubelet.text}" Control plane version: "${controlPlane}"`],
        };
      }
      return ok;
    },
  };
}

const kubeletService: Check = {
  name: "Service-Kubelet",
  run: async () => {
    const result = spawnSync("systemctl", ["is-enabled", "kubelet.service"], { encoding: "utf8" });
    if (result.error !== undefined) return { warnings: ["no supported init system detected, skipping checking for services"], errors: [] };
    return result.status === 0 ? ok : { warnings: ["kubelet service is not enabled, please run 'systemctl enable kubelet.service'"], errors: [] };
  },
};

export function commonChecks(criSocket: string, controlPlaneVersion: string, kubeadm: Version): Check[] {
  const cp = parseVersion(controlPlaneVersion);
  return [
    containerRuntime(criSocket),
    swap,
    ...(cp === undefined || !atLeastMinor(cp, 1, 32) ? [inPath("conntrack", true)] : []),
    inPath("ip", true),
    inPath("iptables", true),
    inPath("mount", true),
    inPath("nsenter", true),
    inPath("ebtables", false),
    inPath("ethtool", false),
    inPath("socat", false),
    inPath("tc", false),
    inPath("touch", false),
    kubeletVersion(controlPlaneVersion, kubeadm),
    kubeletService,
    portOpen(10250),
  ];
}

export const ipv4Forward = (): Check => fileContent("/proc/sys/net/ipv4/ip_forward", "1");

export function controlPlaneChecks(bindPort: number, etcdDataDir: string): Check[] {
  return [
    portOpen(bindPort),
    portOpen(10259),
    portOpen(10257),
    ...["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"].map((name) => fileAvailable(`${MANIFESTS_DIR}/${name}.yaml`)),
    portOpen(2379),
    portOpen(2380),
    dirAvailable(etcdDataDir),
  ];
}

export function rootCheck(): Check {
  return { name: "IsPrivilegedUser", run: async () => (process.getuid?.() === 0 ? ok : { warnings: [], errors: ["user is not running as root"] }) };
}

/** Runs the checks, prints warnings like kubeadm, throws kubeadm's preflight error on errors. */
export async function runChecks(checks: readonly Check[], ignored: readonly string[]): Promise<void> {
  const ignore = new Set(ignored.map((name) => name.toLowerCase()));
  const errors: string[] = [];
  for (const check of checks) {
    const result = await check.run();
    const skip = ignore.has("all") || ignore.has(check.name.toLowerCase());
    for (const warning of [...result.warnings, ...(skip ? result.errors : [])]) warn(`\t[WARNING ${check.name}]: ${warning}`);
    if (!skip) errors.push(...result.errors.map((error) => `\t[ERROR ${check.name}]: ${error}`));
  }
  if (errors.length > 0) {
    throw phaseError(
      "preflight",
      `[preflight] Some fatal errors occurred:\n${errors.join("\n")}\n[preflight] If you know what you are doing, you can make a check non-fatal with \`--ignore-preflight-errors=...\``,
    );
  }
}

export function announcePreflight(): void {
  say("preflight", "Running pre-flight checks");
}
