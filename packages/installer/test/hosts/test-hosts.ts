/**
 * Test hosts: each one a real OpenSSH server (Debian's sshd) in its own network, mount, UTS and
 * PID namespaces, on a bridge shared with a client namespace, reachable only at its address.
 * Each host has a private /etc (an overlay of the machine's: hosts, hostname, ssh, kubernetes,
 * sysctl.d... are its own), private /var/lib, /usr/local/bin (with an optional tools directory,
 * e.g. fake kubeadm, as its top layer, so first on PATH), /root, /home, /tmp, /var/tmp, /var/log
 * and /run, its own hostname and host keys; everything else of the machine is mounted read-only
 * inside it, so a test can never change the machine's /etc, /usr or /var/lib.
 *
 * Usage: `await using hosts = await createTestHosts({ count: 3 })`, then a HostPool with
 * `createSocket: hosts.createSocket` (the client side lives in `hosts.clientNetns`; a CLI runs
 * there with `hosts.clientCommand(argv)`). destroy() (or leaving the `await using` scope) kills
 * every process of every host and removes the namespaces; so does the test process dying.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { fingerprintOf } from "../../src/ssh/known-hosts.ts";
import type { SshTarget } from "../../src/ssh/targets.ts";
import { requireTool, run, type RunResult } from "../helpers/tools.ts";
import { socketInNetns } from "./netns-socket.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const INIT_SCRIPT = join(HERE, "host-init.sh");
const SETUP_SCRIPT = join(HERE, "host-setup.sh");
const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NAME_PREFIX = "sshh";
const REPO_ROOT = join(HERE, "../../../..");
/** Directories each host replaces with empty private ones (host-init.sh): a repository below one is re-bound so the fakes' sources stay visible. */
const PRIVATE_DIRS = ["/root", "/home", "/tmp", "/var/tmp", "/var/log", "/run"];

export type HostKeyType = "ed25519" | "ecdsa" | "rsa";

export interface TestUser {
  readonly name: string;
  readonly password: string;
  /** nopasswd: `NAME ALL=(ALL:ALL) NOPASSWD: ALL`; password: `NAME ALL=(ALL:ALL) ALL`; none: not a sudoer. */
  readonly sudo: "nopasswd" | "password" | "none";
}

export interface TestHostsOptions {
  /** Number of hosts; default 1. */
  readonly count?: number;
  /** Hostnames, one per host; default seal-test-1, seal-test-2... */
  readonly hostnames?: readonly string[];
  /** First three octets of the /24 the client (.1) and hosts (.10 on) share; default 10.88.0. */
  readonly subnet?: string;
  /** A directory of executables overlaid on each host's /usr/local/bin (first on PATH, also under sudo). */
  readonly toolsDir?: string;
  /** root's password; default "seal-test-root". */
  readonly rootPassword?: string;
  readonly users?: readonly TestUser[];
  /** OpenSSH public key lines authorized for root and for every user. */
  readonly authorizedKeys?: readonly string[];
  /** Host key types each sshd gets; default ed25519. */
  readonly hostKeyTypes?: readonly HostKeyType[];
  /** Extra sshd_config lines (e.g. "MaxSessions 3"). */
  readonly sshdConfig?: readonly string[];
  /** Size limit of each host's private tmpfs; default "512m". */
  readonly stateSize?: string;
}

export interface TestHostKey {
  readonly type: string;
  /** `ssh-ed25519 AAAA...`, as in a known_hosts line after the host name. */
  readonly publicKey: string;
  readonly blob: Buffer;
  readonly fingerprint: string;
}

interface LiveProcess {
  readonly unshare: ChildProcess;
  readonly initPid: number;
}

const liveNamespaces = new Set<string>();
const livePids = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of livePids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const name of liveNamespaces) {
      try {
        execFileSync(requireTool("ip"), ["netns", "del", name], { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
  });
}

/** Namespaces of earlier test processes that died without cleaning up (their pid is in the name). */
function removeStaleNamespaces(ip: string): void {
  if (!existsSync("/run/netns")) return;
  for (const name of readdirSync("/run/netns")) {
    const match = new RegExp(`^${NAME_PREFIX}([0-9a-z]+)-`).exec(name);
    if (match === null) continue;
    const pid = parseInt(match[1] ?? "", 36);
    if (Number.isNaN(pid) || existsSync(`/proc/${pid}`)) continue;
    try {
      execFileSync(ip, ["netns", "del", name], { stdio: "ignore" });
    } catch {
      // another process may be removing it too
    }
  }
}

export class TestHost {
  readonly address: string;
  readonly hostname: string;
  readonly netns: string;
  #process: LiveProcess | undefined;
  #hostKeys: TestHostKey[] = [];

  constructor(address: string, hostname: string, netns: string) {
    this.address = address;
    this.hostname = hostname;
    this.netns = netns;
  }

  /** Outer PID of the host's PID 1. */
  get initPid(): number {
    if (this.#process === undefined) throw new Error(`test host ${this.address} is not running`);
    return this.#process.initPid;
  }

  /** The host's own view of `path` (its mounts), readable and writable from the test process. */
  path(path: string): string {
    return `/proc/${this.initPid}/root${path}`;
  }

  get hostKeys(): readonly TestHostKey[] {
    return this.#hostKeys;
  }

  /** The known_hosts line ssh would write for this host (port 22) and its first host key. */
  knownHostsLine(): string {
    const key = this.#hostKeys[0];
    if (key === undefined) throw new Error("no host key");
    return `${this.address} ${key.publicKey}`;
  }

  /** Runs argv inside the host (all its namespaces, as root, cwd / unless given, a clean environment). */
  exec(argv: readonly string[], options: { input?: string; cwd?: string } = {}): Promise<RunResult> {
    const nsenter = requireTool("nsenter");
    const env = requireTool("env");
    // --root: the host's root directory, not its mount namespace's root; they differ inside the
    // kernel-suite VM, which chroots into the machine's files without pivot_root.
    return run(nsenter, ["-t", String(this.initPid), "-m", "-u", "-p", "-n", "--root", `--wd=${options.cwd ?? "/"}`, env, "-i", `PATH=${HOST_PATH}`, "HOME=/root", "LANG=C.UTF-8", ...argv], { input: options.input });
  }

  async execOk(argv: readonly string[], options: { input?: string; cwd?: string } = {}): Promise<string> {
    const result = await this.exec(argv, { input: options.input });
    if (result.code !== 0) throw new Error(`on test host ${this.address}: ${argv.join(" ")} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  }

  readFile(path: string): Promise<Buffer> {
    return readFile(this.path(path));
  }

  /** Command lines of every process running on the host. */
  async processes(): Promise<string[]> {
    return (await this.execOk(["ps", "-e", "-o", "args="])).split("\n").filter((line) => line.trim() !== "");
  }

  sshdLog(): Promise<string> {
    return readFile(this.path("/var/log/sshd.log"), "utf8").catch(() => "");
  }

  /** Starts the host's namespaces and PID 1 (host-init.sh). */
  async start(ip: string, toolsDir: string, stateSize: string): Promise<void> {
    const setpriv = requireTool("setpriv");
    const unshare = requireTool("unshare");
    // setpriv --pdeathsig: if the test process dies, unshare gets SIGKILL; --kill-child passes
    // it to the host's PID 1, and the kernel kills everything else in the PID namespace.
    const child = spawn(
      ip,
      ["netns", "exec", this.netns, setpriv, "--pdeathsig", "KILL", unshare, "--mount", "--uts", "--pid", "--fork", "--kill-child", "--propagation", "private", "sh", INIT_SCRIPT, this.hostname, toolsDir, stateSize, keptRepository()],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    if (child.pid !== undefined) livePids.add(child.pid);
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const ready = (async () => {
      while (!output.includes("ready\n")) {
        if (child.exitCode !== null) throw new Error(`test host ${this.address} did not start: ${output.trim()}`);
        await sleep(20);
      }
    })();
    await Promise.race([ready, exited.then((code) => Promise.reject(new Error(`test host ${this.address} exited with ${code} while starting: ${output.trim()}`)))]);
    const unsharePid = child.pid ?? 0;
    const children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, "utf8").trim().split(/\s+/);
    const initPid = Number(children[0]);
    if (!Number.isInteger(initPid) || initPid <= 0) throw new Error(`cannot find PID 1 of test host ${this.address}`);
    livePids.add(initPid);
    this.#process = { unshare: child, initPid };
  }

  /** Writes the host's identity and sshd configuration, generates host keys, creates users, starts sshd. */
  async configure(options: Required<Pick<TestHostsOptions, "rootPassword" | "users" | "authorizedKeys" | "hostKeyTypes" | "sshdConfig">>): Promise<void> {
    const put = async (path: string, content: string, mode: number) => {
      await mkdir(dirname(this.path(path)), { recursive: true });
      await writeFile(this.path(path), content, { mode });
      await chmod(this.path(path), mode);
    };
    await put("/etc/hostname", `${this.hostname}\n`, 0o644);
    await put("/etc/hosts", `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${this.address}\t${this.hostname}\n`, 0o644);
    await put("/etc/ssh/sshd_config", sshdConfig(this.address, options.hostKeyTypes, options.sshdConfig), 0o644);
    const sudoers = options.users
      .filter((user) => user.sudo !== "none")
      .map((user) => `${user.name} ALL=(ALL:ALL) ${user.sudo === "nopasswd" ? "NOPASSWD: " : ""}ALL\n`)
      .join("");
    await put("/etc/sudoers.d/seal-test", sudoers, 0o440);
    await put("/run/seal-test-host/key-types", options.hostKeyTypes.map((type) => `${type}\n`).join(""), 0o600);
    await put("/run/seal-test-host/users", options.users.map((user) => `${user.name}\n`).join(""), 0o600);
    await put("/run/seal-test-host/passwords", [`root:${options.rootPassword}\n`, ...options.users.map((user) => `${user.name}:${user.password}\n`)].join(""), 0o600);
    await put("/run/seal-test-host/authorized_keys", options.authorizedKeys.map((key) => `${key.trim()}\n`).join(""), 0o600);
    await this.execOk(["sh", SETUP_SCRIPT]);
    await this.#readHostKeys(options.hostKeyTypes);
    await this.waitForSshd();
  }

  async #readHostKeys(types: readonly HostKeyType[]): Promise<void> {
    this.#hostKeys = await Promise.all(
      types.map(async (type) => {
        const [keyType = "", base64 = ""] = (await readFile(this.path(`/etc/ssh/ssh_host_${type}_key.pub`), "utf8")).trim().split(/\s+/);
        const blob = Buffer.from(base64, "base64");
        return { type: keyType, publicKey: `${keyType} ${base64}`, blob, fingerprint: fingerprintOf(blob) };
      }),
    );
  }

  /** Waits until sshd listens on port 22 in the host's namespace (read from its /proc/net/tcp). */
  async waitForSshd(): Promise<void> {
    for (let attempt = 0; attempt < 500; attempt++) {
      const tables = await Promise.all(["tcp", "tcp6"].map((table) => readFile(`/proc/${this.initPid}/net/${table}`, "utf8").catch(() => "")));
      if (tables.some((table) => /^\s*\d+: [0-9A-F]+:0016 [0-9A-F]+:0000 0A /m.test(table))) return;
      await sleep(20);
    }
    throw new Error(`sshd on test host ${this.address} is not listening: ${await this.sshdLog()}`);
  }

  /** Stops sshd (the host stays up: a test of a host where sshd is not running yet). */
  async stopSshd(): Promise<void> {
    await this.execOk(["sh", "-c", 'kill "$(cat /run/sshd.pid)"; while [ -e /run/sshd.pid ]; do sleep 0.05; done']);
  }

  async startSshd(): Promise<void> {
    await this.execOk(["/usr/sbin/sshd", "-f", "/etc/ssh/sshd_config", "-E", "/var/log/sshd.log"]);
    await this.waitForSshd();
  }

  /** New host keys and a restarted sshd: what a reinstalled host (or a man in the middle) looks like. */
  async replaceHostKeys(): Promise<void> {
    const types = this.#hostKeys.map((key) => key.type.replace(/^ssh-/, "").replace(/^ecdsa-sha2-nistp256$/, "ecdsa") as HostKeyType);
    await this.stopSshd();
    for (const type of types) {
      const bits = type === "rsa" ? ["-b", "2048"] : [];
      await this.execOk(["sh", "-c", 'key=$1; shift; rm -f "$key" "$key.pub" && ssh-keygen -q -N "" -f "$key" "$@"', "sh", `/etc/ssh/ssh_host_${type}_key`, "-t", type, ...bits]);
    }
    await this.#readHostKeys(types);
    await this.startSshd();
  }

  async stop(): Promise<void> {
    const live = this.#process;
    if (live === undefined) return;
    this.#process = undefined;
    for (const pid of [live.initPid, live.unshare.pid ?? 0]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
      livePids.delete(pid);
    }
    if (live.unshare.exitCode === null && live.unshare.signalCode === null) await new Promise((resolve) => live.unshare.once("exit", resolve));
    // PID 1 of the host is reparented and reaped by the machine's init: wait until it is gone,
    // and with it (the kernel kills a PID namespace with its init) every process of the host.
    for (let attempt = 0; attempt < 250 && existsSync(`/proc/${live.initPid}`); attempt++) await sleep(20);
    if (existsSync(`/proc/${live.initPid}`)) throw new Error(`test host ${this.address}: PID 1 (${live.initPid}) did not exit`);
  }
}

/** The repository when it lies below a directory the hosts make private (a CI clone under /tmp), else "". */
function keptRepository(): string {
  return PRIVATE_DIRS.some((dir) => REPO_ROOT === dir || REPO_ROOT.startsWith(`${dir}/`)) ? REPO_ROOT : "";
}

function sshdConfig(address: string, keyTypes: readonly HostKeyType[], extra: readonly string[]): string {
  return [
    "# Written by the seal test harness (packages/installer/test/hosts).",
    ...extra,
    `ListenAddress ${address}`,
    "Port 22",
    ...keyTypes.map((type) => `HostKey /etc/ssh/ssh_host_${type}_key`),
    "PermitRootLogin yes",
    "PasswordAuthentication yes",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    "AuthorizedKeysFile .ssh/authorized_keys",
    // No PAM: no logind or loginuid inside a namespace; passwords are checked against /etc/shadow.
    "UsePAM no",
    "PidFile /run/sshd.pid",
    "PrintMotd no",
    "LogLevel VERBOSE",
    // Fan-out benchmarks open many connections at once from one client.
    "MaxStartups 200:30:400",
    "Subsystem sftp /usr/lib/openssh/sftp-server",
    "",
  ].join("\n");
}

export class TestHosts implements AsyncDisposable {
  readonly hosts: readonly TestHost[];
  /** The namespace the client side lives in (the address ending in .1). */
  readonly clientNetns: string;
  readonly clientAddress: string;
  readonly #subnet: string;
  readonly #namespaces: readonly string[];
  readonly #ip: string;

  constructor(ip: string, subnet: string, clientNetns: string, hosts: readonly TestHost[], namespaces: readonly string[]) {
    this.#ip = ip;
    this.#subnet = subnet;
    this.clientNetns = clientNetns;
    this.clientAddress = `${subnet}.1`;
    this.hosts = hosts;
    this.#namespaces = namespaces;
  }

  get addresses(): string[] {
    return this.hosts.map((host) => host.address);
  }

  /** A SocketFactory for HostPool: the client's sockets are created in the client namespace. */
  readonly createSocket = (target: SshTarget): Socket => socketInNetns(this.clientNetns, target.host);

  /** argv that runs a program in the client namespace (ssh, scp, ansible, a seal CLI). */
  clientCommand(argv: readonly string[]): string[] {
    return [this.#ip, "netns", "exec", this.clientNetns, ...argv];
  }

  /** An address on the hosts' network that nobody has. */
  unusedAddress(): string {
    return `${this.#subnet}.250`;
  }

  /** The index-th host (0-based); throws if there is none. */
  at(index: number): TestHost {
    const host = this.hosts[index];
    if (host === undefined) throw new Error(`no test host number ${index}`);
    return host;
  }

  host(address: string): TestHost {
    const host = this.hosts.find((candidate) => candidate.address === address);
    if (host === undefined) throw new Error(`no test host ${address}`);
    return host;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.hosts.map((host) => host.stop()));
    for (const name of this.#namespaces) {
      await run(this.#ip, ["netns", "del", name]);
      liveNamespaces.delete(name);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}

/** Fails with what to install when a tool the hosts need is missing. */
export function requireTestHostTools(): void {
  if (process.getuid?.() !== 0) throw new Error("test hosts need root (network, mount and PID namespaces)");
  for (const tool of ["ip", "nsenter", "unshare", "setpriv", "ssh-keygen", "useradd", "chpasswd", "sudo", "timeout", "sha256sum"]) requireTool(tool);
  for (const [path, pkg] of [
    ["/usr/sbin/sshd", "openssh-server"],
    ["/usr/lib/openssh/sftp-server", "openssh-sftp-server"],
  ] as const) {
    if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg} (apt-get install ${pkg}); scripts/setup.sh does`);
  }
}

export async function createTestHosts(options: TestHostsOptions = {}): Promise<TestHosts> {
  requireTestHostTools();
  const ip = requireTool("ip");
  installExitHook();
  removeStaleNamespaces(ip);
  const count = options.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 200) throw new RangeError(`count must be 1-200, got ${count}`);
  const subnet = options.subnet ?? "10.88.0";
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(subnet)) throw new TypeError(`subnet must be the first three octets, got ${subnet}`);
  const toolsDir = options.toolsDir ?? "";
  if (/[:,\s]/.test(toolsDir)) throw new TypeError(`toolsDir cannot contain ':', ',' or spaces (overlayfs syntax): ${toolsDir}`);
  const users = options.users ?? [];
  for (const user of users) if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(user.name) || /[:\n]/.test(user.password)) throw new TypeError(`bad test user ${user.name}`);

  const id = `${NAME_PREFIX}${process.pid.toString(36)}-${randomBytes(3).toString("hex")}`;
  const switchNetns = `${id}-sw`;
  const clientNetns = `${id}-client`;
  const hosts = Array.from({ length: count }, (_, index) => new TestHost(`${subnet}.${10 + index}`, options.hostnames?.[index] ?? `seal-test-${index + 1}`, `${id}-h${index + 1}`));
  const namespaces = [switchNetns, clientNetns, ...hosts.map((host) => host.netns)];
  const network = new TestHosts(ip, subnet, clientNetns, hosts, namespaces);
  const ipOk = async (args: readonly string[]) => {
    const result = await run(ip, args);
    if (result.code !== 0) throw new Error(`ip ${args.join(" ")}: ${result.stderr.trim()}`);
  };
  try {
    for (const name of namespaces) {
      await ipOk(["netns", "add", name]);
      liveNamespaces.add(name);
      await ipOk(["-n", name, "link", "set", "lo", "up"]);
    }
    await ipOk(["-n", switchNetns, "link", "add", "br0", "type", "bridge"]);
    await ipOk(["-n", switchNetns, "link", "set", "br0", "up"]);
    const members = [{ netns: clientNetns, address: network.clientAddress }, ...hosts.map((host) => ({ netns: host.netns, address: host.address }))];
    for (const [index, member] of members.entries()) {
      const port = `p${index}`;
      await ipOk(["-n", switchNetns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", member.netns]);
      await ipOk(["-n", switchNetns, "link", "set", port, "master", "br0", "up"]);
      await ipOk(["-n", member.netns, "addr", "add", `${member.address}/24`, "dev", "eth0"]);
      await ipOk(["-n", member.netns, "link", "set", "eth0", "up"]);
    }
    const configuration = {
      rootPassword: options.rootPassword ?? "seal-test-root",
      users,
      authorizedKeys: options.authorizedKeys ?? [],
      hostKeyTypes: options.hostKeyTypes ?? ["ed25519"],
      sshdConfig: options.sshdConfig ?? [],
    };
    // A few at a time: each start spawns several processes and the machine is shared.
    const queue = [...hosts];
    await Promise.all(
      Array.from({ length: Math.min(4, hosts.length) }, async () => {
        for (let host = queue.shift(); host !== undefined; host = queue.shift()) {
          await host.start(ip, toolsDir, options.stateSize ?? "512m");
          await host.configure(configuration);
        }
      }),
    );
  } catch (error) {
    await network.destroy().catch(() => undefined);
    throw error;
  }
  return network;
}
