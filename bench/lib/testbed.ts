// Everything the failover benchmark runs on, built once per run: the kernel tests' cluster (a
// worker and three masters on a bridge, stand-in apiservers), the REAL lvscare daemon with sealos's
// arguments (IPVS, in the VM) and the same daemon with --dataplane nftables, HAProxy as kubespray
// configures it, one kubelet-like client for each, and direct control of the masters' switch
// ports. Each system is optional; without IPVS's daemon the rest runs on a host kernel too.
import { RouteClient } from '@lvscare/ipvs-native';
import { API_PORT, Cluster, hostPort, type Master, waitFor } from '../../test/kernel/lib/cluster.ts';
import type { BackgroundProcess } from '../../test/harness/netns.ts';
import { DaemonLog } from './daemon-log.ts';
import type { System } from './failover-trial.ts';
import { Haproxy, KUBESPRAY_FRONTEND_PORT, type ServerState } from './haproxy.ts';
import { commandLine } from './proc-usage.ts';
import { TrackedClient } from './tracked-client.ts';

export const METRICS_ADDR = '127.0.0.1:9192';
/** The second daemon (--dataplane nftables) balances a VIP of its own beside the IPVS one. */
export const NFT_VIP = '10.103.97.3';
export const NFT_METRICS_ADDR = '127.0.0.1:9193';
/** A daemon's first table under TCG on a shared host took over 90 s at a load average of 9 (2026-12-05). */
const DAEMON_START_MS = 300_000;

export interface TestbedOptions {
  /** The kubelet-like clients' request interval and per-request timeout. */
  intervalMs: number;
  timeoutMs: number;
  /** Diagnostics only: the daemon logs every probe (--logger DEBG). */
  daemonDebug: boolean;
  /**
   * Which systems to build (default all three). Without lvscare (IPVS) the testbed needs no IPVS,
   * so the nftables daemon and HAProxy can be measured on a host kernel, without emulation.
   */
  systems?: readonly System[];
}

interface DaemonParts {
  process: BackgroundProcess;
  log: DaemonLog;
  client: TrackedClient;
}

/**
 * lvscare with sealos's arguments on `vs` plus `extra`, once it has programmed three masters, and a
 * client of its VIP. Metrics (and, for diagnostics, the log level) change nothing in its behaviour.
 */
async function startDaemon(
  cluster: Cluster,
  pace: TestbedOptions,
  label: 'lvscare' | 'nftables',
  vs: string,
  extra: readonly string[],
  weights: () => Record<string, number>,
): Promise<DaemonParts> {
  const args = cluster.sealosArgs().map((arg) => (arg === cluster.vs ? vs : arg));
  const daemon = cluster.startDaemon([...args, ...extra, ...(pace.daemonDebug ? ['--logger', 'DEBG'] : [])]);
  const log = new DaemonLog(daemon);
  await waitFor(() => Object.keys(weights()).length === 3, DAEMON_START_MS, `the ${label} daemon to program three masters`, () => daemon.output().slice(-3000));
  return { process: daemon, log, client: TrackedClient.start(cluster.worker.netns, label, `https://${vs}/whoami`, pace.intervalMs, pace.timeoutMs) };
}

export class Testbed {
  readonly cluster: Cluster;
  readonly systems: readonly System[];
  private readonly ipvsParts: (DaemonParts & { pid: number }) | undefined;
  private readonly nftParts: DaemonParts | undefined;
  private readonly haproxyParts: { haproxy: Haproxy; client: TrackedClient } | undefined;
  private readonly switchPorts: RouteClient;
  private lastHaproxyStates = '';

  private constructor(parts: {
    cluster: Cluster;
    systems: readonly System[];
    ipvs: (DaemonParts & { pid: number }) | undefined;
    nft: DaemonParts | undefined;
    haproxy: { haproxy: Haproxy; client: TrackedClient } | undefined;
    switchPorts: RouteClient;
  }) {
    this.cluster = parts.cluster;
    this.systems = parts.systems;
    this.ipvsParts = parts.ipvs;
    this.nftParts = parts.nft;
    this.haproxyParts = parts.haproxy;
    this.switchPorts = parts.switchPorts;
  }

  static async create(pace: TestbedOptions): Promise<Testbed> {
    const systems = pace.systems ?? ['lvscare', 'nftables', 'haproxy'];
    const cluster = await Cluster.create();
    const started: TrackedClient[] = [];
    let haproxy: Haproxy | undefined;
    try {
      let ipvs: (DaemonParts & { pid: number }) | undefined;
      if (systems.includes('lvscare')) {
        const parts = await startDaemon(cluster, pace, 'lvscare', cluster.vs, ['--metrics-addr', METRICS_ADDR], () => cluster.weights());
        started.push(parts.client);
        const pid = parts.process.pid;
        // `ip netns exec` execs the program, so the pid is the daemon's own node process.
        if (pid === undefined || !commandLine(pid).includes('lvscare')) {
          throw new Error(`cannot find the daemon's process (pid ${pid}: ${pid === undefined ? '-' : commandLine(pid)})`);
        }
        ipvs = { ...parts, pid };
      }
      let nft: DaemonParts | undefined;
      if (systems.includes('nftables')) {
        const nftVs = hostPort(NFT_VIP, API_PORT);
        nft = await startDaemon(cluster, pace, 'nftables', nftVs, ['--dataplane', 'nftables', '--metrics-addr', NFT_METRICS_ADDR], () => cluster.nftWeights(nftVs));
        started.push(nft.client);
      }
      let haproxyParts: { haproxy: Haproxy; client: TrackedClient } | undefined;
      if (systems.includes('haproxy')) {
        haproxy = await Haproxy.start(
          cluster.worker.netns,
          cluster.masters.map((m) => ({ name: m.name, endpoint: m.endpoint })),
        );
        const client = TrackedClient.start(cluster.worker.netns, 'haproxy', `https://127.0.0.1:${KUBESPRAY_FRONTEND_PORT}/whoami`, pace.intervalMs, pace.timeoutMs);
        started.push(client);
        haproxyParts = { haproxy, client };
      }
      const switchPorts = RouteClient.open({ netns: cluster.topology.switchNetns.name });
      return new Testbed({ cluster, systems, ipvs, nft, haproxy: haproxyParts, switchPorts });
    } catch (error) {
      for (const client of started) await client.stop().catch(() => undefined);
      await haproxy?.stop().catch(() => undefined);
      await cluster.destroy().catch(() => undefined);
      throw error;
    }
  }

  private need<T>(part: T | undefined, system: System): T {
    if (part === undefined) throw new Error(`this testbed was built without ${system} (--systems ${this.systems.join(',')})`);
    return part;
  }

  /** lvscare with sealos's arguments (IPVS). */
  get daemon(): BackgroundProcess {
    return this.need(this.ipvsParts, 'lvscare').process;
  }
  get daemonPid(): number {
    return this.need(this.ipvsParts, 'lvscare').pid;
  }
  get daemonLog(): DaemonLog {
    return this.need(this.ipvsParts, 'lvscare').log;
  }
  /** Talks to the VIP, i.e. through lvscare's IPVS table. */
  get vipClient(): TrackedClient {
    return this.need(this.ipvsParts, 'lvscare').client;
  }
  /** The same daemon with --dataplane nftables, on NFT_VIP, and its client. */
  get nftDaemon(): BackgroundProcess {
    return this.need(this.nftParts, 'nftables').process;
  }
  get nftDaemonLog(): DaemonLog {
    return this.need(this.nftParts, 'nftables').log;
  }
  get nftClient(): TrackedClient {
    return this.need(this.nftParts, 'nftables').client;
  }
  get haproxy(): Haproxy {
    return this.need(this.haproxyParts, 'haproxy').haproxy;
  }
  /** Talks to 127.0.0.1:6443, i.e. through HAProxy. */
  get haproxyClient(): TrackedClient {
    return this.need(this.haproxyParts, 'haproxy').client;
  }

  /** The daemons' error lines, whichever were built. */
  daemonProblems(): string[] {
    return [...(this.ipvsParts?.log.problems ?? []), ...(this.nftParts?.log.problems ?? [])];
  }

  master(name: string): Master {
    const found = this.cluster.masters.find((m) => m.name === name);
    if (!found) throw new Error(`no master named ${JSON.stringify(name)}`);
    return found;
  }

  /**
   * Takes the master's switch port down (or up) with one synchronous netlink request, so the
   * moment the call returns is the moment of the fault (no `ip` process start-up in between).
   * The port is named after the node by the topology: master2 -> m2.
   */
  setSwitchPort(master: Master, up: boolean): void {
    const port = master.name.replace(/^master/, 'm');
    if (up) this.switchPorts.setLinkUp(port);
    else this.switchPorts.setLinkDown(port);
  }

  /** lvscare's view: endpoint -> weight in the kernel's table. */
  ipvsWeights(): Record<string, number> {
    return this.cluster.weights();
  }

  /** The nftables daemon's view: endpoint -> weight in its nftables table. */
  nftWeights(): Record<string, number> {
    return this.cluster.nftWeights(hostPort(NFT_VIP, API_PORT));
  }

  /** When the nftables state nftWeights() last returned was in place at the latest (its generation first seen). */
  nftWeightsAt(): number | undefined {
    return this.cluster.nftListingAt;
  }

  weightsOf(system: 'lvscare' | 'nftables'): Record<string, number> {
    return system === 'lvscare' ? this.ipvsWeights() : this.nftWeights();
  }

  clientFor(system: System): TrackedClient {
    return system === 'lvscare' ? this.vipClient : system === 'nftables' ? this.nftClient : this.haproxyClient;
  }

  daemonLogOf(system: 'lvscare' | 'nftables'): DaemonLog {
    return system === 'lvscare' ? this.daemonLog : this.nftDaemonLog;
  }

  /** HAProxy's view: server name -> state. */
  async haproxyServers(): Promise<Map<string, ServerState>> {
    return new Map((await this.haproxy.servers()).map((s) => [s.name, s]));
  }

  /** Every master at weight 1 in each daemon's table, UP in HAProxy, and every client served since `since`. */
  async isSteady(since: number): Promise<boolean> {
    const tables = [...(this.ipvsParts ? [this.ipvsWeights()] : []), ...(this.nftParts ? [this.nftWeights()] : [])];
    for (const weights of tables) {
      if (!this.cluster.masters.every((m) => weights[m.endpoint] === 1)) return false;
    }
    if (this.haproxyParts) {
      const servers = await this.haproxyServers();
      this.lastHaproxyStates = JSON.stringify([...servers.values()]);
      if (!this.cluster.masters.every((m) => servers.get(m.name)?.status === 'UP')) return false;
    }
    return this.clients().every((client) => {
      const recent = client.since(since);
      // The latest few requests all succeeded: the client is connected again, not mid-retry.
      return recent.length >= 3 && recent.slice(-3).every((r) => r.ok);
    });
  }

  private clients(): TrackedClient[] {
    return [this.ipvsParts?.client, this.nftParts?.client, this.haproxyParts?.client].filter((c): c is TrackedClient => c !== undefined);
  }

  async waitSteady(since: number, timeoutMs: number): Promise<void> {
    await waitFor(() => this.isSteady(since), timeoutMs, `every master back in rotation in ${this.systems.join(', ')} and every client served`, () => this.describe(), 50);
  }

  describe(): string {
    const last = (client: TrackedClient): string => JSON.stringify(client.records.slice(-3));
    const parts: string[] = [];
    if (this.ipvsParts) parts.push(`ipvs ${JSON.stringify(this.ipvsWeights())}; vip client ${last(this.ipvsParts.client)}`);
    if (this.nftParts) parts.push(`nftables ${JSON.stringify(this.nftWeights())}; nftables client ${last(this.nftParts.client)}`);
    if (this.haproxyParts) parts.push(`haproxy ${this.lastHaproxyStates}; haproxy client ${last(this.haproxyParts.client)}`);
    const daemon = this.ipvsParts?.process ?? this.nftParts?.process;
    return `${parts.join('; ')}; daemon log tail:\n${daemon?.output().slice(-2000) ?? '-'}`;
  }

  async destroy(): Promise<void> {
    for (const client of this.clients()) await client.stop();
    await this.haproxyParts?.haproxy.stop();
    this.switchPorts.close();
    await this.cluster.destroy();
  }
}
