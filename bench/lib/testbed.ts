// Everything the failover benchmark runs on, built once per run in the VM: the kernel tests' cluster
// (a worker and three masters on a bridge, stand-in apiservers), the REAL lvscare daemon with
// sealos's arguments, HAProxy as kubespray configures it, one kubelet-like client for each, and
// direct control of the masters' switch ports.
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
}

export class Testbed {
  readonly cluster: Cluster;
  readonly daemon: BackgroundProcess;
  readonly daemonPid: number;
  readonly daemonLog: DaemonLog;
  readonly haproxy: Haproxy;
  /** Talks to the VIP, i.e. through lvscare's IPVS table. */
  readonly vipClient: TrackedClient;
  /** Talks to 127.0.0.1:6443, i.e. through HAProxy. */
  readonly haproxyClient: TrackedClient;
  /** The same daemon with --dataplane nftables, on NFT_VIP, and its client. */
  readonly nftDaemon: BackgroundProcess;
  readonly nftDaemonLog: DaemonLog;
  readonly nftClient: TrackedClient;
  private readonly switchPorts: RouteClient;
  private lastHaproxyStates = '';

  private constructor(parts: {
    cluster: Cluster;
    daemon: BackgroundProcess;
    daemonPid: number;
    daemonLog: DaemonLog;
    haproxy: Haproxy;
    vipClient: TrackedClient;
    haproxyClient: TrackedClient;
    nftDaemon: BackgroundProcess;
    nftDaemonLog: DaemonLog;
    nftClient: TrackedClient;
    switchPorts: RouteClient;
  }) {
    this.nftDaemon = parts.nftDaemon;
    this.nftDaemonLog = parts.nftDaemonLog;
    this.nftClient = parts.nftClient;
    this.cluster = parts.cluster;
    this.daemon = parts.daemon;
    this.daemonPid = parts.daemonPid;
    this.daemonLog = parts.daemonLog;
    this.haproxy = parts.haproxy;
    this.vipClient = parts.vipClient;
    this.haproxyClient = parts.haproxyClient;
    this.switchPorts = parts.switchPorts;
  }

  static async create(pace: TestbedOptions): Promise<Testbed> {
    const cluster = await Cluster.create();
    try {
      // sealos's arguments; metrics (and, for diagnostics, the log level) change nothing in its behaviour.
      const daemon = cluster.startDaemon([...cluster.sealosArgs(), '--metrics-addr', METRICS_ADDR, ...(pace.daemonDebug ? ['--logger', 'DEBG'] : [])]);
      const daemonLog = new DaemonLog(daemon);
      const daemonPid = daemon.pid;
      // `ip netns exec` execs the program, so the pid is the daemon's own node process.
      if (daemonPid === undefined || !commandLine(daemonPid).includes('lvscare')) {
        throw new Error(`cannot find the daemon's process (pid ${daemonPid}: ${daemonPid === undefined ? '-' : commandLine(daemonPid)})`);
      }
      await waitFor(() => Object.keys(cluster.weights()).length === 3, DAEMON_START_MS, 'the daemon to program three masters', () => daemon.output().slice(-3000));
      const nftVs = hostPort(NFT_VIP, API_PORT);
      const nftDaemon = cluster.startDaemon([
        ...cluster.sealosArgs().map((arg) => (arg === cluster.vs ? nftVs : arg)),
        '--dataplane',
        'nftables',
        '--metrics-addr',
        NFT_METRICS_ADDR,
        ...(pace.daemonDebug ? ['--logger', 'DEBG'] : []),
      ]);
      const nftDaemonLog = new DaemonLog(nftDaemon);
      await waitFor(() => Object.keys(cluster.nftWeights(nftVs)).length === 3, DAEMON_START_MS, 'the nftables daemon to program three masters', () => nftDaemon.output().slice(-3000));
      const haproxy = await Haproxy.start(
        cluster.worker.netns,
        cluster.masters.map((m) => ({ name: m.name, endpoint: m.endpoint })),
      );
      const vipClient = TrackedClient.start(cluster.worker.netns, 'lvscare', `https://${cluster.vs}/whoami`, pace.intervalMs, pace.timeoutMs);
      const haproxyClient = TrackedClient.start(
        cluster.worker.netns,
        'haproxy',
        `https://127.0.0.1:${KUBESPRAY_FRONTEND_PORT}/whoami`,
        pace.intervalMs,
        pace.timeoutMs,
      );
      const nftClient = TrackedClient.start(cluster.worker.netns, 'nftables', `https://${nftVs}/whoami`, pace.intervalMs, pace.timeoutMs);
      const switchPorts = RouteClient.open({ netns: cluster.topology.switchNetns.name });
      return new Testbed({ cluster, daemon, daemonPid, daemonLog, haproxy, vipClient, haproxyClient, nftDaemon, nftDaemonLog, nftClient, switchPorts });
    } catch (error) {
      await cluster.destroy().catch(() => undefined);
      throw error;
    }
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

  /** Every master at weight 1 in IPVS, UP in HAProxy, and both clients served since `since`. */
  async isSteady(since: number): Promise<boolean> {
    for (const weights of [this.ipvsWeights(), this.nftWeights()]) {
      if (!this.cluster.masters.every((m) => weights[m.endpoint] === 1)) return false;
    }
    const servers = await this.haproxyServers();
    this.lastHaproxyStates = JSON.stringify([...servers.values()]);
    if (!this.cluster.masters.every((m) => servers.get(m.name)?.status === 'UP')) return false;
    return [this.vipClient, this.haproxyClient, this.nftClient].every((client) => {
      const recent = client.since(since);
      // The latest few requests all succeeded: the client is connected again, not mid-retry.
      return recent.length >= 3 && recent.slice(-3).every((r) => r.ok);
    });
  }

  async waitSteady(since: number, timeoutMs: number): Promise<void> {
    await waitFor(() => this.isSteady(since), timeoutMs, 'every master back in rotation in both systems and both clients served', () => this.describe(), 50);
  }

  describe(): string {
    const last = (client: TrackedClient): string => JSON.stringify(client.records.slice(-3));
    return `ipvs ${JSON.stringify(this.ipvsWeights())}; nftables ${JSON.stringify(this.nftWeights())}; haproxy ${this.lastHaproxyStates}; vip client ${last(this.vipClient)}; haproxy client ${last(this.haproxyClient)}; daemon log tail:\n${this.daemon.output().slice(-2000)}`;
  }

  async destroy(): Promise<void> {
    await this.vipClient.stop();
    await this.haproxyClient.stop();
    await this.nftClient.stop();
    await this.haproxy.stop();
    this.switchPorts.close();
    await this.cluster.destroy();
  }
}
