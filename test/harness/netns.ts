// Network namespaces, veth pairs, bridges, addresses and routes for tests, through iproute2.
// Works on the host (which has netns/veth/bridge but no IPVS) and inside the kernel-suite VM.
//
// Every namespace created here is deleted by `delete()`/`destroy()`, and as a last resort when
// the process exits, so a failing test does not leave namespaces behind.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { CommandError, formatArgv, run } from './command.ts';
import type { RunOptions, RunResult } from './command.ts';
import { onProcessExit } from './process-cleanup.ts';

// Full path on purpose: busybox's sh (the VM's init) has an `ip` applet without netns support.
export const IP_BIN: string = ['/usr/sbin/ip', '/sbin/ip', '/bin/ip'].find((candidate) => existsSync(candidate)) ?? '/usr/sbin/ip';

const liveNamespaces = new Set<string>();
const liveProcesses = new Set<BackgroundProcess>();
let exitHookInstalled = false;
let nameCounter = 0;

/** Runs `ip ARGS` (in NETNS when given) and returns its stdout. */
export async function ip(args: readonly string[], options: { netns?: string } = {}): Promise<string> {
  requireIproute2();
  const argv = options.netns === undefined ? [IP_BIN, ...args] : [IP_BIN, '-n', options.netns, ...args];
  return (await run(argv)).stdout;
}

function requireIproute2(): void {
  if (!existsSync(IP_BIN)) {
    throw new Error(`iproute2 not found at ${IP_BIN}: install it with 'apt-get install -y iproute2'`);
  }
}

/** A name no other test, process or run is using: NAME_PREFIX + pid + counter + random. */
export function uniqueName(prefix: string): string {
  if (!/^[a-z][a-z0-9-]{0,20}$/.test(prefix)) throw new TypeError(`bad namespace name prefix ${JSON.stringify(prefix)}`);
  nameCounter += 1;
  return `${prefix}-${process.pid.toString(36)}${nameCounter.toString(36)}${randomBytes(2).toString('hex')}`;
}

export interface ExecOptions extends Omit<RunOptions, 'allowFailure'> {
  allowFailure?: boolean;
}

export class Netns {
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  /** argv prefixed so that it runs inside this namespace. */
  wrap(argv: readonly string[]): string[] {
    return [IP_BIN, 'netns', 'exec', this.name, ...argv];
  }

  /** Runs a program inside the namespace to completion; rejects on a non-zero exit unless allowFailure. */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    return run(this.wrap(argv), options);
  }

  /** Starts a long-lived program (a server, a daemon) inside the namespace. */
  spawn(argv: readonly string[], options: SpawnOptions = {}): BackgroundProcess {
    return spawnBackground(this.wrap(argv), options);
  }

  ip(args: readonly string[]): Promise<string> {
    return ip(args, { netns: this.name });
  }

  /** Writes a sysctl of this namespace (net.* keys are per namespace). */
  async sysctl(key: string, value: string): Promise<void> {
    if (!/^[a-z0-9_.-]+$/i.test(key)) throw new TypeError(`bad sysctl key ${JSON.stringify(key)}`);
    await this.exec(['tee', `/proc/sys/${key.replaceAll('.', '/')}`], { input: `${value}\n` });
  }

  delete(): Promise<void> {
    return deleteNetns(this.name);
  }
}

/** Creates a named namespace with its loopback up. */
export async function createNetns(prefix = 'lvt'): Promise<Netns> {
  requireIproute2();
  installExitHook();
  const name = uniqueName(prefix);
  await ip(['netns', 'add', name]);
  liveNamespaces.add(name);
  try {
    await ip(['link', 'set', 'lo', 'up'], { netns: name });
  } catch (error) {
    await deleteNetns(name);
    throw error;
  }
  return new Netns(name);
}

/** Kills whatever still runs inside the namespace, then deletes it. Deleting twice is harmless. */
export async function deleteNetns(name: string): Promise<void> {
  for (const child of [...liveProcesses]) {
    if (child.netns === name) await child.stop();
  }
  const pids = await run([IP_BIN, 'netns', 'pids', name], { allowFailure: true });
  for (const pid of pids.stdout.split('\n').filter((line) => /^\d+$/.test(line))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const result = await run([IP_BIN, 'netns', 'delete', name], { allowFailure: true });
  liveNamespaces.delete(name);
  if (result.code !== 0 && !/No such file|does not exist/i.test(result.stderr)) {
    throw new CommandError([IP_BIN, 'netns', 'delete', name], `ip netns delete ${name}: ${result.stderr.trim()}`, result);
  }
}

export interface LinkEnd {
  name: string;
  /** Namespace the end is created in; the current one when absent. */
  netns?: string;
}

/** Creates a veth pair with each end directly in its namespace (no name clash with the host's links). */
export async function addVethPair(a: LinkEnd, b: LinkEnd): Promise<void> {
  for (const end of [a, b]) checkLinkName(end.name);
  await ip(['link', 'add', a.name, ...netnsArg(a.netns), 'type', 'veth', 'peer', 'name', b.name, ...netnsArg(b.netns)]);
}

export async function addBridge(name: string, options: { netns?: string } = {}): Promise<void> {
  checkLinkName(name);
  await ip(['link', 'add', name, 'type', 'bridge'], options);
}

export async function attachToBridge(link: string, bridge: string, options: { netns?: string } = {}): Promise<void> {
  await ip(['link', 'set', link, 'master', bridge], options);
}

export async function setLinkUp(link: string, options: { netns?: string } = {}): Promise<void> {
  await ip(['link', 'set', link, 'up'], options);
}

export async function setLinkDown(link: string, options: { netns?: string } = {}): Promise<void> {
  await ip(['link', 'set', link, 'down'], options);
}

export async function deleteLink(link: string, options: { netns?: string } = {}): Promise<void> {
  await ip(['link', 'delete', link], options);
}

/**
 * Adds an address in CIDR form (v4 or v6). IPv6 addresses skip duplicate address detection, so
 * they are usable at once instead of staying "tentative" for a second or more.
 */
export async function addAddress(link: string, cidr: string, options: { netns?: string } = {}): Promise<void> {
  if (!/^[0-9a-f.:]+\/\d{1,3}$/i.test(cidr)) throw new TypeError(`not an address in CIDR form: ${JSON.stringify(cidr)}`);
  const v6 = cidr.includes(':');
  await ip([...(v6 ? ['-6'] : []), 'address', 'add', cidr, 'dev', link, ...(v6 ? ['nodad'] : [])], options);
}

export interface RouteSpec {
  /** Destination in CIDR form, or "default". */
  to: string;
  via?: string;
  dev?: string;
  src?: string;
  netns?: string;
}

export async function addRoute(route: RouteSpec): Promise<void> {
  const v6 = [route.to, route.via, route.src].some((part) => part?.includes(':'));
  const args = [...(v6 ? ['-6'] : []), 'route', 'add', route.to];
  if (route.via !== undefined) args.push('via', route.via);
  if (route.dev !== undefined) args.push('dev', route.dev);
  if (route.src !== undefined) args.push('src', route.src);
  await ip(args, { netns: route.netns });
}

function netnsArg(netns: string | undefined): string[] {
  return netns === undefined ? [] : ['netns', netns];
}

function checkLinkName(name: string): void {
  // IFNAMSIZ is 16 including the terminating NUL.
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new TypeError(`bad link name ${JSON.stringify(name)} (1-15 characters)`);
}

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** How much of the combined output to keep (the most recent part). */
  maxOutputBytes?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A long-lived program with its recent output kept for readiness checks and failure messages. */
export class BackgroundProcess {
  readonly child: ChildProcess;
  readonly argv: readonly string[];
  readonly netns: string | undefined;
  readonly exited: Promise<ExitStatus>;
  private buffer = '';
  private readonly maxOutput: number;
  private readonly listeners = new Set<() => void>();
  private exitStatus: ExitStatus | undefined;

  constructor(argv: readonly string[], options: SpawnOptions) {
    const [file, ...args] = argv;
    if (file === undefined) throw new TypeError('spawn: argv is empty');
    this.argv = argv;
    this.netns = argv[0] === IP_BIN && argv[1] === 'netns' && argv[2] === 'exec' ? argv[3] : undefined;
    this.maxOutput = options.maxOutputBytes ?? 256 * 1024;
    // Own process group, so stop() also reaches whatever the program started.
    this.child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const append = (chunk: string): void => {
      this.buffer = (this.buffer + chunk).slice(-this.maxOutput);
      for (const listener of this.listeners) listener();
    };
    this.child.stdout?.setEncoding('utf8').on('data', append);
    this.child.stderr?.setEncoding('utf8').on('data', append);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (error) => {
        append(`\n[spawn ${formatArgv(argv)}: ${error.message}]\n`);
        this.exitStatus = { code: -1, signal: null };
        resolve(this.exitStatus);
      });
      this.child.on('close', (code, signal) => {
        this.exitStatus = { code, signal };
        liveProcesses.delete(this);
        for (const listener of this.listeners) listener();
        resolve(this.exitStatus);
      });
    });
    liveProcesses.add(this);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  output(): string {
    return this.buffer;
  }

  /** Resolves with the output once it matches; rejects if the program exits first or time runs out. */
  waitForOutput(pattern: RegExp | string, timeoutMs = 30_000): Promise<string> {
    const matches = (): boolean => (typeof pattern === 'string' ? this.buffer.includes(pattern) : pattern.test(this.buffer));
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (matches()) {
          finish();
          resolve(this.buffer);
        } else if (this.exitStatus !== undefined) {
          finish();
          reject(new Error(`${formatArgv(this.argv)} exited (${describeExit(this.exitStatus)}) before printing ${String(pattern)}:\n${this.buffer}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${formatArgv(this.argv)} did not print ${String(pattern)} within ${timeoutMs} ms:\n${this.buffer}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** SIGTERM to the process group, SIGKILL after graceMs. */
  async stop(graceMs = 5_000): Promise<ExitStatus> {
    if (this.exitStatus !== undefined) return this.exitStatus;
    this.signalGroup('SIGTERM');
    const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** For the exit hook: no waiting possible there. */
  killNow(): void {
    this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // The group is already gone.
    }
  }
}

export function spawnBackground(argv: readonly string[], options: SpawnOptions = {}): BackgroundProcess {
  installExitHook();
  return new BackgroundProcess(argv, options);
}

function describeExit(status: ExitStatus): string {
  return status.signal === null ? `exit status ${status.code}` : `signal ${status.signal}`;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  onProcessExit(() => {
    for (const child of liveProcesses) child.killNow();
    for (const name of liveNamespaces) {
      try {
        execFileSync(IP_BIN, ['netns', 'delete', name], { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
    }
  });
}

export { buildTopology, TOPOLOGY_IPV4_PREFIX, TOPOLOGY_IPV6_PREFIX } from './topology.ts';
export type { Topology, TopologyNode, TopologyOptions } from './topology.ts';
