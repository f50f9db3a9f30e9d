// A worker and three masters on a bridge, with stand-in apiservers, the real `lvscare` binary and a
// kubelet-like client, for the daemon's kernel tests, its failover benchmark and the demo.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { IpvsClient, NftGenerationClient, RouteClient, type Route } from '@lvscare/ipvs-native';
import { run } from '../../harness/command.ts';
import { buildTopology, type BackgroundProcess, type Topology, type TopologyNode } from '../../harness/netns.ts';
import { repoRoot } from '../../harness/paths.ts';

export const API_PORT = 6443;
/** The stand-in apiservers' control port (plain HTTP on the master's IP); tests use the unix socket. */
export const CONTROL_PORT = 7001;
export const VIP4 = '10.103.97.2';
export const VIP6 = 'fd00:10:103::2';
export const LVSCARE_BIN = path.join(repoRoot, 'packages', 'lvscare', 'bin', 'lvscare');
const fixtures = path.join(repoRoot, 'test', 'kernel', 'fixtures');

export type HealthMode = 'ok' | 'fail' | 'hang' | `slow/${number}`;

export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export class Master {
  readonly node: TopologyNode;
  readonly ip: string;
  readonly endpoint: string;
  process: BackgroundProcess | undefined;
  private readonly cluster: Cluster;

  constructor(cluster: Cluster, node: TopologyNode, ip: string) {
    this.cluster = cluster;
    this.node = node;
    this.ip = ip;
    this.endpoint = hostPort(ip, API_PORT);
  }

  get name(): string {
    return this.node.name;
  }

  async start(): Promise<void> {
    const { cert, key } = this.cluster.certificate;
    this.process = this.node.netns.spawn([
      process.execPath,
      path.join(fixtures, 'master-server.ts'),
      this.name,
      this.ip,
      String(API_PORT),
      cert,
      key,
      String(CONTROL_PORT),
      this.controlSocket,
    ]);
    await this.process.waitForOutput('listening', 60_000);
  }

  /** SIGKILL: the kernel closes its sockets and refuses new connections (RST), as when an apiserver dies. */
  async kill(): Promise<void> {
    const child = this.process;
    if (child?.pid === undefined) return;
    process.kill(-child.pid, 'SIGKILL');
    await child.exited;
    this.process = undefined;
  }

  /**
   * The master's link goes down at the switch: packets vanish, nobody sends RST. Through netlink,
   * not `ip`, so the fault is in effect within microseconds of the call (timings start here).
   */
  async blackhole(): Promise<void> {
    this.onSwitch((routes) => routes.setLinkDown(this.switchPort));
  }

  async unblackhole(): Promise<void> {
    this.onSwitch((routes) => routes.setLinkUp(this.switchPort));
  }

  private onSwitch(change: (routes: RouteClient) => void): void {
    const routes = RouteClient.open({ netns: this.cluster.topology.switchNetns.name });
    try {
      change(routes);
    } finally {
      routes.close();
    }
  }

  private get switchPort(): string {
    return `m${this.name.replace(/^master/, '')}`;
  }

  /** The stand-in's control socket: a path, so it is reachable from the test's own namespace. */
  get controlSocket(): string {
    return path.join(this.cluster.workDir, `${this.name}.control.sock`);
  }

  /** Switches /healthz at once (the change is in effect when this resolves). */
  setHealth(mode: HealthMode): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = http.request({ socketPath: this.controlSocket, method: 'PUT', path: `/healthz/${mode}` }, (response) => {
        response.resume();
        if (response.statusCode === 204) resolve();
        else reject(new Error(`${this.name}: PUT /healthz/${mode} answered ${response.statusCode}`));
      });
      request.on('error', reject);
      request.end();
    });
  }
}

export interface DestinationRow {
  endpoint: string;
  weight: number;
  activeConns: number;
  inactiveConns: number;
}

export interface ClusterOptions {
  ipv6?: boolean;
  masters?: number;
  /**
   * Which table the helpers read (destinations(), weights(), hasVirtualServer()): the kernel's IPVS
   * (default) or the nftables dataplane's `ip/ip6 lvscare` table. The daemon's own --dataplane is
   * in the arguments the test passes (sealosArgs() adds it for nftables).
   */
  dataplane?: 'ipvs' | 'nftables';
}

type NftListing = { nftables: Array<{ map?: { name?: string; elem?: Array<[{ concat: [string, number, string, number] }, number]> }; rule?: { comment?: string } }> };

export class Cluster {
  readonly topology: Topology;
  readonly worker: TopologyNode;
  readonly masters: Master[] = [];
  readonly family: 4 | 6;
  readonly vip: string;
  readonly vs: string;
  readonly certificate: { cert: string; key: string };
  readonly workDir: string;
  readonly dataplane: 'ipvs' | 'nftables';
  private ipvsHandle: IpvsClient | undefined;
  private nftGeneration: NftGenerationClient | undefined;
  /** The last listing and the generation taken before it. */
  private nftCache: { generation: number; listing: NftListing | undefined; at: number } | undefined;
  private readonly started: BackgroundProcess[] = [];
  private readonly localMasters: Master[] = [];

  private constructor(topology: Topology, family: 4 | 6, workDir: string, certificate: { cert: string; key: string }, dataplane: 'ipvs' | 'nftables') {
    this.topology = topology;
    this.dataplane = dataplane;
    const worker = topology.workers[0];
    if (!worker) throw new Error('topology without a worker');
    this.worker = worker;
    this.family = family;
    this.vip = family === 6 ? VIP6 : VIP4;
    this.vs = hostPort(this.vip, API_PORT);
    this.workDir = workDir;
    this.certificate = certificate;
    for (const node of topology.masters) {
      const ip = family === 6 ? node.ipv6 : node.ipv4;
      if (ip === undefined) throw new Error(`${node.name} has no IPv${family} address`);
      this.masters.push(new Master(this, node, ip));
    }
  }

  /** Opened on first use: a host without IPVS can still run the nftables dataplane's tests. */
  private get ipvs(): IpvsClient {
    this.ipvsHandle ??= IpvsClient.open({ netns: this.worker.netns.name });
    return this.ipvsHandle;
  }

  static async create(options: ClusterOptions = {}): Promise<Cluster> {
    const family = options.ipv6 ? 6 : 4;
    const topology = await buildTopology({ masters: options.masters ?? 3, workers: 1, ipv6: family === 6 });
    const workDir = mkdtempSync(path.join(os.tmpdir(), 'lvscare-cluster-'));
    try {
      const ips = topology.masters.map((m) => (family === 6 ? m.ipv6 : m.ipv4));
      const cert = path.join(workDir, 'apiserver.crt');
      const key = path.join(workDir, 'apiserver.key');
      // One self-signed certificate with every master's IP, like an apiserver's certSANs.
      await run([
        'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
        '-subj', '/CN=kube-apiserver', '-addext', `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}`,
        '-keyout', key, '-out', cert,
      ]);
      const cluster = new Cluster(topology, family, workDir, { cert, key }, options.dataplane ?? 'ipvs');
      cluster.writeWorkerHosts();
      await Promise.all(cluster.masters.map((m) => m.start()));
      return cluster;
    } catch (error) {
      await topology.destroy().catch(() => undefined);
      rmSync(workDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Route mode reads the gateway from /etc/hosts; `ip netns exec` mounts /etc/netns/NAME/hosts there. */
  private writeWorkerHosts(): void {
    const dir = path.join('/etc/netns', this.worker.netns.name);
    mkdirSync(dir, { recursive: true });
    const nodeIp = this.family === 6 ? this.worker.ipv6 : this.worker.ipv4;
    writeFileSync(path.join(dir, 'hosts'), `127.0.0.1 localhost\n${this.vip} apiserver.cluster.local\n${nodeIp} lvscare.node.ip\n`);
  }

  get workerIp(): string {
    return (this.family === 6 ? this.worker.ipv6 : this.worker.ipv4) as string;
  }

  /** What sealos puts in the static pod, verbatim. */
  sealosArgs(): string[] {
    const args = ['care', '--vs', this.vs, '--health-path', '/healthz', '--health-schem', 'https', ...this.masters.flatMap((m) => ['--rs', m.endpoint])];
    return this.dataplane === 'nftables' ? [...args, '--dataplane', 'nftables'] : args;
  }

  /** Runs `lvscare ARGS` to completion in the worker's namespace. */
  lvscare(args: readonly string[], env: Record<string, string> = {}) {
    return this.worker.netns.exec([process.execPath, LVSCARE_BIN, ...args], { env: { ...process.env, ...env } as Record<string, string>, allowFailure: true, timeoutMs: 120_000 });
  }

  /** Starts the daemon in the worker's namespace (default: sealos's arguments). */
  startDaemon(args: readonly string[] = this.sealosArgs(), env: Record<string, string> = {}): BackgroundProcess {
    const daemon = this.worker.netns.spawn([process.execPath, LVSCARE_BIN, ...args], { env: { ...process.env, ...env } as Record<string, string> });
    this.started.push(daemon);
    return daemon;
  }

  /** A kubelet-like client on the worker: one kept-alive connection to the VIP, a request every intervalMs. */
  startClient(intervalMs = 50, timeoutMs = 1000): VipClient {
    const child = this.worker.netns.spawn(
      [process.execPath, path.join(fixtures, 'vip-client.ts'), `https://${this.vs}/whoami`, String(intervalMs), String(timeoutMs)],
      { maxOutputBytes: 64 << 20 },
    );
    this.started.push(child);
    return new VipClient(child);
  }

  /** The kernel's view: destinations of our virtual server in the worker's namespace ([] when it is missing). */
  destinations(): DestinationRow[] {
    if (this.dataplane === 'nftables') return this.nftDestinations() ?? [];
    return this.ipvs
      .listDestinations({ protocol: 'tcp', address: this.vip, port: API_PORT })
      .map((d) => ({ endpoint: hostPort(d.address, d.port), weight: d.weight, activeConns: d.activeConns, inactiveConns: d.inactiveConns }))
      .sort((a, b) => a.endpoint.localeCompare(b.endpoint));
  }

  /** The worker's routes to the VIP (VIP/32, or VIP/128 for IPv6), read over rtnetlink. */
  vipRoutes(): Route[] {
    const routes = RouteClient.open({ netns: this.worker.netns.name });
    try {
      return routes.listRoutes({ destination: `${this.vip}/${this.family === 6 ? 128 : 32}` });
    } finally {
      routes.close();
    }
  }

  /** endpoint -> weight, for compact assertions. */
  weights(): Record<string, number> {
    return Object.fromEntries(this.destinations().map((d) => [d.endpoint, d.weight]));
  }

  /**
   * Our nftables table as `nft -j` lists it in the worker, or undefined when there is none. Listed
   * again only when the worker's nf_tables generation moved: an `nft` exec costs about a second of
   * the TCG VM's only host thread, and polling with it starved the daemon under test (the failover
   * benchmark's nftables trials, 2026-12-06).
   */
  nftListing(): NftListing | undefined {
    this.nftGeneration ??= NftGenerationClient.open({ netns: this.worker.netns.name });
    const askedAt = Date.now();
    const generation = this.nftGeneration.generation();
    if (this.nftCache?.generation === generation) return this.nftCache.listing;
    let listing: NftListing | undefined;
    try {
      const text = execFileSync('ip', ['netns', 'exec', this.worker.netns.name, 'nft', '-j', 'list', 'table', this.family === 6 ? 'ip6' : 'ip', 'lvscare'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      listing = JSON.parse(text) as NftListing;
    } catch {
      listing = undefined;
    }
    // What the listing shows was committed before `askedAt` unless the ruleset moved while nft ran.
    const at = this.nftGeneration.generation() === generation ? askedAt : Date.now();
    this.nftCache = { generation, listing, at };
    return listing;
  }

  /**
   * An upper bound of when the state the last nftListing() returned was committed (the moment its
   * generation was first seen), so a poll is not charged for the listing's own second in the VM.
   */
  get nftListingAt(): number | undefined {
    return this.nftCache?.at;
  }

  /** endpoint -> weight of the nftables dataplane's VIP `vs` (default ours), {} without it. */
  nftWeights(vs = this.vs): Record<string, number> {
    return Object.fromEntries((this.nftDestinations(vs) ?? []).map((d) => [d.endpoint, d.weight]));
  }

  /** The nftables dataplane's destinations of a VIP (from its weights map), undefined without the VIP's rule. */
  private nftDestinations(vs = this.vs): DestinationRow[] | undefined {
    const items = this.nftListing()?.nftables ?? [];
    if (!items.some((item) => item.rule?.comment?.startsWith(`lvscare vip=${vs} `))) return undefined;
    const elements = items.find((item) => item.map?.name === 'weights')?.map?.elem ?? [];
    return elements
      .filter(([key]) => hostPort(key.concat[0], key.concat[1]) === vs)
      .map(([key, weight]) => ({ endpoint: hostPort(key.concat[2], key.concat[3]), weight, activeConns: 0, inactiveConns: 0 }))
      .sort((a, b) => a.endpoint.localeCompare(b.endpoint));
  }

  hasVirtualServer(): boolean {
    if (this.dataplane === 'nftables') return this.nftDestinations() !== undefined;
    return this.ipvs.getService({ protocol: 'tcp', address: this.vip, port: API_PORT }) !== undefined;
  }

  get ipvsClient(): IpvsClient {
    return this.ipvs;
  }

  allWeights(weight: number): Record<string, number> {
    return Object.fromEntries(this.masters.map((m) => [m.endpoint, weight]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  }

  /** Stops every daemon and client started so far (the masters keep running). */
  async stopProcesses(): Promise<void> {
    for (const child of this.started.splice(0)) await child.stop(5000);
  }

  /** A stand-in apiserver on the worker itself (a control-plane node's own apiserver, for link mode). */
  async startLocalMaster(): Promise<Master> {
    const local = new Master(this, this.worker, this.workerIp);
    await local.start();
    this.localMasters.push(local);
    return local;
  }

  async destroy(): Promise<void> {
    await this.stopProcesses();
    for (const local of this.localMasters.splice(0)) await local.kill();
    this.ipvsHandle?.close();
    this.nftGeneration?.close();
    rmSync(path.join('/etc/netns', this.worker.netns.name), { recursive: true, force: true });
    await this.topology.destroy();
    rmSync(this.workDir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}

export interface ClientRecord {
  t: number;
  ms: number;
  ok: boolean;
  who?: string;
  error?: string;
}

export class VipClient {
  readonly process: BackgroundProcess;

  constructor(child: BackgroundProcess) {
    this.process = child;
  }

  records(): ClientRecord[] {
    return this.process
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as ClientRecord);
  }

  /** Resolves once `count` requests after `since` (epoch ms) succeeded. */
  async waitForSuccesses(count: number, since = 0, timeoutMs = 30_000): Promise<ClientRecord[]> {
    await waitFor(() => this.records().filter((r) => r.ok && r.t >= since).length >= count, timeoutMs, `${count} successful requests through the VIP`);
    return this.records().filter((r) => r.t >= since);
  }

  stop(): Promise<unknown> {
    return this.process.stop(2000);
  }
}

/** Polls `predicate` every `everyMs` until it holds; fails with `what` and the last state otherwise. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string, describe?: () => string, everyMs = 20): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await predicate()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `; now: ${describe()}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
