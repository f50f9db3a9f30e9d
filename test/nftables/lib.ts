// The nftables dataplane's host tests: a worker and masters in network namespaces (the host
// kernel has nftables with NAT), a real TCP server on every master, a TCP client inside the worker
// (tcp-agent.ts) that can hold connections open across steps, and the engine itself programming
// our table inside the worker's namespace.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Endpoint, parseEndpoint } from '@lvscare/lvscare';
import {
  NftablesBackend,
  type NftablesBackendOptions,
  type NftDesiredState,
  type NftDestination,
  type NftVirtualServer,
  type Scheduler,
} from '@lvscare/lvscare/nftables';
import { IP_BIN, buildTopology, type Netns, type Topology, type TopologyNode } from '../harness/netns.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const NFT_BIN = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((candidate) => existsSync(candidate));
export const IPTABLES_NFT_BIN = ['/usr/sbin/iptables-nft', '/sbin/iptables-nft'].find((candidate) => existsSync(candidate));

/** A missing tool fails the test with what to install; it never skips. */
export function requireTools(tools: { iptablesNft?: boolean } = {}): void {
  if (process.getuid?.() !== 0) throw new Error('the nftables tests create network namespaces: run them as root');
  if (NFT_BIN === undefined) throw new Error('nft not found: install the Debian package nftables (scripts/setup.sh does)');
  if (tools.iptablesNft === true && IPTABLES_NFT_BIN === undefined) {
    throw new Error('iptables-nft not found: install the Debian package iptables (scripts/setup.sh does)');
  }
}

export const ep = (text: string): Endpoint => parseEndpoint(text, 'test');
export const SERVICE_PORT = 6443;
export const VIP4 = ep('10.103.97.2:6443');
export const VIP6 = ep('[fd00:103:97::2]:6443');

export interface AgentAnswer {
  id: number;
  ok: boolean;
  code?: string;
  conn?: number;
  server?: string;
  peer?: string;
  reply?: string;
  servers?: Record<string, number>;
  errors?: Record<string, number>;
}

/** Drives tcp-agent.ts inside a namespace. */
export class TcpAgent {
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly pending = new Map<number, (answer: AgentAnswer) => void>();

  constructor(netns: Netns) {
    this.child = spawn(IP_BIN, ['netns', 'exec', netns.name, process.execPath, path.join(fixtures, 'tcp-agent.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const answer = JSON.parse(line) as AgentAnswer;
      this.pending.get(answer.id)?.(answer);
      this.pending.delete(answer.id);
    });
    // A dead agent fails what waits on it instead of hanging the test.
    this.child.on('exit', (code, signal) => {
      this.exited = `tcp-agent exited (${signal ?? `status ${String(code)}`})`;
      for (const [id, resolve] of this.pending) resolve({ id, ok: false, code: this.exited });
      this.pending.clear();
    });
  }

  private exited: string | undefined;

  private send(command: Record<string, unknown>): Promise<AgentAnswer> {
    this.nextId += 1;
    const id = this.nextId;
    return new Promise((resolve) => {
      if (this.exited !== undefined) return resolve({ id, ok: false, code: this.exited });
      this.pending.set(id, resolve);
      this.child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }

  open(vip: Endpoint, timeoutMs = 5_000): Promise<AgentAnswer> {
    return this.send({ op: 'open', host: vip.ip, port: vip.port, timeoutMs });
  }

  ask(conn: number, text: string, timeoutMs = 5_000): Promise<AgentAnswer> {
    return this.send({ op: 'ask', conn, text, timeoutMs });
  }

  close(conn: number): Promise<AgentAnswer> {
    return this.send({ op: 'close', conn });
  }

  /** `count` connections one after another: how many reached each server, and the errors. */
  async burst(vip: Endpoint, count: number, timeoutMs = 5_000): Promise<{ servers: Record<string, number>; errors: Record<string, number> }> {
    const answer = await this.send({ op: 'burst', host: vip.ip, port: vip.port, count, timeoutMs });
    return { servers: answer.servers ?? {}, errors: answer.errors ?? {} };
  }

  /** Opens connections until one reaches `server` (at most `tries`). */
  async openTo(vip: Endpoint, server: string, tries = 20): Promise<number> {
    for (let i = 0; i < tries; i += 1) {
      const answer = await this.open(vip);
      if (answer.ok && answer.server === server && answer.conn !== undefined) return answer.conn;
      if (answer.conn !== undefined) await this.close(answer.conn);
    }
    throw new Error(`no connection through ${vip.ip}:${vip.port} reached ${server} in ${tries} tries`);
  }

  stop(): void {
    this.child.stdin?.end();
    this.child.kill();
  }
}

export interface NftCluster {
  topology: Topology;
  worker: TopologyNode;
  masters: TopologyNode[];
  agent: TcpAgent;
  /** The engine, programming the worker's namespace. */
  backend: NftablesBackend;
  /** Where master N's server listens (v4 or v6 as the cluster was built). */
  master(index: number, family?: 4 | 6): Endpoint;
  /** Another engine instance on the same namespace (a restarted daemon). */
  openBackend(options?: NftablesBackendOptions): Promise<NftablesBackend>;
  nft(args: readonly string[]): Promise<string>;
  destroy(): Promise<void>;
}

/** A VIP whose destinations are the given masters with the given weights. */
export function virtualServer(address: Endpoint, scheduler: Scheduler, destinations: Array<[Endpoint, number]>): NftVirtualServer {
  return { address, scheduler, destinations: destinations.map(([d, weight]): NftDestination => ({ address: d, weight })) };
}

export function desired(virtualServers: NftVirtualServer[], masquerade: Endpoint[] = []): NftDesiredState {
  return { virtualServers, masquerade };
}

/**
 * `masters` masters running line-server.ts on :6443 (all addresses), one worker with a route for
 * each VIP out of its eth0 with its own address as source (lvscare's route mode), the agent and
 * the engine in the worker.
 */
export async function buildNftCluster(options: { masters: number; ipv6?: boolean }): Promise<NftCluster> {
  requireTools();
  const topology = await buildTopology({ masters: options.masters, workers: 1, ipv6: options.ipv6 === true });
  const backends: NftablesBackend[] = [];
  let agent: TcpAgent | undefined;
  const destroy = async (): Promise<void> => {
    agent?.stop();
    for (const backend of backends) await backend.close().catch(() => undefined);
    await topology.destroy();
  };
  try {
    const worker = topology.workers[0]!;
    await Promise.all(
      topology.masters.map((m) =>
        m.netns.spawn([process.execPath, path.join(fixtures, 'line-server.ts'), m.name, '::', String(SERVICE_PORT)]).waitForOutput('listening'),
      ),
    );
    await worker.netns.ip(['route', 'add', `${VIP4.ip}/32`, 'dev', worker.ifname, 'src', worker.ipv4]);
    if (worker.ipv6 !== undefined) await worker.netns.ip(['-6', 'route', 'add', `${VIP6.ip}/128`, 'dev', worker.ifname, 'src', worker.ipv6]);
    agent = new TcpAgent(worker.netns);
    const openBackend = async (backendOptions: NftablesBackendOptions = {}): Promise<NftablesBackend> => {
      const backend = await NftablesBackend.open({ netns: worker.netns.name, ...backendOptions });
      backends.push(backend);
      return backend;
    };
    const backend = await openBackend();
    return {
      topology,
      worker,
      masters: topology.masters,
      agent,
      backend,
      master(index, family = 4) {
        const m = topology.masters[index - 1];
        if (m === undefined) throw new Error(`no master${index}`);
        return family === 6 ? ep(`[${m.ipv6!}]:${SERVICE_PORT}`) : ep(`${m.ipv4}:${SERVICE_PORT}`);
      },
      openBackend,
      async nft(args) {
        return (await worker.netns.exec([NFT_BIN!, ...args])).stdout;
      },
      destroy,
    };
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
}

/**
 * kube-proxy's `ip kube-proxy` table in nftables mode, rebuilt from its layout (chain names, hooks
 * and priorities of pkg/proxy/nftables; the project's nftables notes, section 4): a ClusterIP
 * service to master1, a service without endpoints, the service-CIDR drop.
 */
export function kubeProxyTable(master1: string): string {
  return `table ip kube-proxy {
  comment "rules for kube-proxy"
  set cluster-ips {
    type ipv4_addr
    elements = { 10.96.0.1, 10.96.0.10 }
  }
  map service-ips {
    type ipv4_addr . inet_proto . inet_service : verdict
    elements = { 10.96.0.1 . tcp . 443 : goto service-default-kubernetes }
  }
  map no-endpoint-services {
    type ipv4_addr . inet_proto . inet_service : verdict
    elements = { 10.96.0.10 . tcp . 53 : goto reject-chain }
  }
  chain filter-prerouting {
    type filter hook prerouting priority -110; policy accept
    ct state new jump firewall-check
  }
  chain filter-input {
    type filter hook input priority -110; policy accept
    ct state new jump service-endpoints-check
  }
  chain filter-forward {
    type filter hook forward priority -110; policy accept
    ct state new jump service-endpoints-check
    ct state new jump cluster-ips-check
  }
  chain filter-output {
    type filter hook output priority -110; policy accept
    ct state new jump service-endpoints-check
    ct state new jump firewall-check
  }
  chain filter-output-post-dnat {
    type filter hook output priority -90; policy accept
    ct state new jump cluster-ips-check
  }
  chain nat-prerouting {
    type nat hook prerouting priority -100; policy accept
    jump services
  }
  chain nat-output {
    type nat hook output priority -100; policy accept
    jump services
  }
  chain nat-postrouting {
    type nat hook postrouting priority 100; policy accept
    jump masquerading
  }
  chain firewall-check { }
  chain service-endpoints-check {
    ip daddr . meta l4proto . th dport vmap @no-endpoint-services
  }
  chain cluster-ips-check {
    ip daddr @cluster-ips reject
    ip daddr { 10.96.0.0/12 } counter drop
  }
  chain reject-chain {
    reject
  }
  chain services {
    ip daddr . meta l4proto . th dport vmap @service-ips
  }
  chain masquerading {
    meta mark & 0x00004000 == 0 return
    meta mark set meta mark ^ 0x00004000
    masquerade fully-random
  }
  chain mark-for-masquerade {
    meta mark set meta mark | 0x00004000
  }
  chain service-default-kubernetes {
    numgen random mod 1 vmap { 0 : goto endpoint-default-kubernetes-master1 }
  }
  chain endpoint-default-kubernetes-master1 {
    ip saddr ${master1} jump mark-for-masquerade
    meta l4proto tcp dnat to ${master1}:6443
  }
}
`;
}
