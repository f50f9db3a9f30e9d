/**
 * Real tools the tests drive. A missing tool fails the test with the Debian package to install;
 * it is never a reason to skip.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const DEBIAN_PACKAGES: Record<string, string> = {
  openssl: "openssl",
  etcd: "etcd-server",
  etcdctl: "etcd-client",
  ip: "iproute2",
  kubectl: "kubernetes-client",
  conntrack: "conntrack",
  nsenter: "util-linux",
  unshare: "util-linux",
};

/** Absolute path of `name` on PATH (plus the sbin directories), or an Error saying what to install. */
export function requireTool(name: string): string {
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/sbin", "/sbin", "/usr/bin"];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  const pkg = DEBIAN_PACKAGES[name] ?? name;
  throw new Error(`${name} is not installed: install the Debian package ${pkg} (apt-get install ${pkg}); scripts/setup.sh does`);
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion without a shell; never throws for a non-zero exit. */
export function run(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") {
        reject(error);
        return;
      }
      resolve({ code: error === null ? 0 : (error.code as number), stdout: String(stdout), stderr: String(stderr) });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like run, but fails the test on a non-zero exit, with the command's stderr in the message. */
export async function runOk(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  const result = await run(file, args, options);
  if (result.code !== 0) throw new Error(`${file} ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

export function startProcess(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
  return spawn(file, [...args], { env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
}

export const NODE = process.execPath;
