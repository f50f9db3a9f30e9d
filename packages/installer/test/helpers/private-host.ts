/**
 * Test hosts for the fakes: each its own network namespace on a shared bridge (helpers/netns.ts),
 * plus its own mount and UTS namespaces held open by a sleeping process, with a private /etc
 * (an overlay: the machine's /etc below, the host's writes above), private /var/lib, /root, /tmp
 * and /run (tmpfs), its hostname, and /usr/local/bin bound to a directory the test fills with the
 * fakes. Commands enter all three namespaces with nsenter, and the holder's root directory (in
 * the VM, whose processes run chrooted, the mount namespace's root is not theirs). Teardown kills every process left in
 * the host's mount namespace (daemons the fakes started included). A smaller cousin of the
 * sshd test hosts: no sshd, commands run directly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createSwitchedNetwork, type SwitchedNetwork } from "./netns.ts";
import { requireTool, run, type RunResult } from "./tools.ts";

export interface HostSpec {
  readonly address: string;
  readonly hostname: string;
}

export interface PrivateHost extends HostSpec {
  /** The directory bound at /usr/local/bin inside the host. */
  readonly toolDir: string;
  /** A path inside the host, as the test process can open it (through /proc/PID/root). */
  path(inside: string): string;
  run(argv: readonly string[], options?: { input?: string }): Promise<RunResult>;
  /** Command lines of the processes running in this host (its mount namespace), holder excluded. */
  processes(): string[];
}

export interface PrivateHosts {
  readonly hosts: readonly PrivateHost[];
  host(address: string): PrivateHost;
  destroy(): Promise<void>;
}

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), "../../../../..");
const PRIVATE_DIRS = ["/var/lib", "/root", "/tmp", "/run"];
const HOST_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin";

const SETUP = `set -e
hostname "$H_NAME"
# The overlay's upper layer on a tmpfs of its own: an upper layer may not be an overlay (the VM's / is one).
mkdir -p "$H_ROOT/etc-rw"
mount -t tmpfs -o mode=0755 tmpfs "$H_ROOT/etc-rw"
mkdir "$H_ROOT/etc-rw/upper" "$H_ROOT/etc-rw/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$H_ROOT/etc-rw/upper,workdir=$H_ROOT/etc-rw/work" /etc
mount --bind "$H_ROOT/tools" /usr/local/bin
for dir in /var/lib /root /run; do mount -t tmpfs -o mode=0755 tmpfs "$dir"; done
mount -t tmpfs -o mode=1777 tmpfs /tmp
for keep in $H_KEEP; do mkdir -p "$keep"; mount --rbind "/proc/$PPID/root$keep" "$keep"; done
echo ready
exec sleep infinity
`;

function mountNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** Every process in `namespace`, found by scanning /proc. */
function processesIn(namespace: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid && mountNamespace(pid) === namespace);
}

export async function createPrivateHosts(prefix: string, specs: readonly HostSpec[]): Promise<PrivateHosts> {
  const nsenter = requireTool("nsenter");
  requireTool("unshare");
  const root = await mkdtemp(join(tmpdir(), `${prefix}-`));
  const network: SwitchedNetwork = await createSwitchedNetwork(prefix, specs.map((spec) => spec.address));
  const holders: { child: ChildProcess; namespace: string }[] = [];
  const destroy = async () => {
    for (const { child, namespace } of holders) {
      for (let round = 0; round < 20; round++) {
        const pids = processesIn(namespace);
        if (pids.length === 0) break;
        for (const pid of pids) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // gone already
          }
        }
        await sleep(50);
      }
      child.kill("SIGKILL");
    }
    await network.remove();
    await rm(root, { recursive: true, force: true });
  };
  const keep = PRIVATE_DIRS.filter((dir) => REPO_ROOT === dir || REPO_ROOT.startsWith(`${dir}/`)).length > 0 ? REPO_ROOT : "";
  const hosts: PrivateHost[] = [];
  try {
    for (const spec of specs) {
      const hostRoot = join(root, spec.hostname);
      const toolDir = join(hostRoot, "tools");
      mkdirSync(toolDir, { recursive: true, mode: 0o755 });
      const [command, args] = network.exec(spec.address, "unshare", ["--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c", SETUP]);
      const child = spawn(command, args, { env: { PATH: HOST_PATH, H_NAME: spec.hostname, H_ROOT: hostRoot, H_KEEP: keep }, stdio: ["ignore", "pipe", "pipe"] });
      const errors: string[] = [];
      child.stderr?.on("data", (chunk: Buffer) => errors.push(chunk.toString()));
      await new Promise<void>((resolveReady, reject) => {
        child.once("exit", (code) => reject(new Error(`test host ${spec.hostname} did not start (exit ${code}): ${errors.join("")}`)));
        child.stdout?.once("data", () => resolveReady());
      });
      const pid = child.pid as number;
      const namespace = mountNamespace(pid) as string;
      holders.push({ child, namespace });
      hosts.push({
        ...spec,
        toolDir,
        path: (inside) => `/proc/${pid}/root${inside}`,
        processes: () =>
          processesIn(namespace)
            .filter((other) => other !== pid)
            .map((other) => {
              try {
                return readFileSync(`/proc/${other}/cmdline`, "utf8").replaceAll("\0", " ").trim();
              } catch {
                return "";
              }
            })
            .filter((cmdline) => cmdline !== ""),
        run: (argv, options = {}) =>
          run(nsenter, ["-t", String(pid), "-m", "-u", "-n", "--root", "--wd=/root", "--", "env", "-i", `PATH=${HOST_PATH}`, "HOME=/root", "LANG=C.UTF-8", ...argv], options),
      });
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    hosts,
    host(address) {
      const found = hosts.find((host) => host.address === address);
      if (found === undefined) throw new Error(`no test host ${address}`);
      return found;
    },
    destroy,
  };
}
