// HAProxy as kubespray deploys it on every node (loadbalancer_apiserver_type: haproxy): the
// template roles/kubernetes/node/templates/loadbalancer/haproxy.cfg.j2 (kubespray commit
// 82c4c0afdf7a, rendered with the role's defaults: keepalive timeout 5m, healthcheck port 8081 as in
// the sample inventory), plus one line of ours: a stats socket to read each server's state.
import { connect } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../test/harness/command.ts';
import type { BackgroundProcess, Netns } from '../../test/harness/netns.ts';
import { writeFileAtomic } from '@lvscare/contracts/atomic-write';

export const HAPROXY_BIN = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((candidate) => existsSync(candidate));
export const KUBESPRAY_FRONTEND_PORT = 6443;
const HEALTHCHECK_PORT = 8081;
const BACKEND = 'kube_api_backend';

export interface BackendServer {
  /** kubespray uses the inventory hostname. */
  name: string;
  /** IP:PORT of the apiserver. */
  endpoint: string;
}

/** The rendered template; `statsSocket` is the only addition. */
export function kubesprayHaproxyConfig(servers: readonly BackendServer[], statsSocket: string): string {
  for (const server of servers) {
    if (!/^[A-Za-z0-9_.-]+$/.test(server.name)) throw new TypeError(`bad server name ${JSON.stringify(server.name)}`);
    if (!/^[0-9a-f.:[\]]+:\d+$/i.test(server.endpoint)) throw new TypeError(`bad server endpoint ${JSON.stringify(server.endpoint)}`);
  }
  return `global
    maxconn                 4000
    log                     127.0.0.1 local0
    # Not in kubespray's template: the benchmark reads server states here.
    stats socket ${statsSocket} mode 600 level admin

defaults
    mode                    http
    log                     global
    option                  httplog
    option                  dontlognull
    option                  http-server-close
    option                  redispatch
    retries                 5
    timeout http-request    5m
    timeout queue           5m
    timeout connect         30s
    timeout client          5m
    timeout server          15m
    timeout http-keep-alive 30s
    timeout check           30s
    maxconn                 4000

frontend healthz
  bind 0.0.0.0:${HEALTHCHECK_PORT}
  mode http
  monitor-uri /healthz

frontend kube_api_frontend
  bind 127.0.0.1:${KUBESPRAY_FRONTEND_PORT}
  mode tcp
  option tcplog
  default_backend ${BACKEND}

backend ${BACKEND}
  mode tcp
  balance leastconn
  default-server inter 15s downinter 15s rise 2 fall 2 slowstart 60s maxconn 1000 maxqueue 256 weight 100
  option httpchk GET /healthz
  http-check expect status 200
${servers.map((s) => `  server ${s.name} ${s.endpoint} check check-ssl verify none`).join('\n')}
`;
}

export interface ServerState {
  name: string;
  /** "UP", "DOWN", "UP 1/2" (going down), "DOWN 1/2" (going up), "MAINT", "no check", ... */
  status: string;
  /** Last check's result, e.g. "L7OK", "L4CON", "L4TOUT". */
  checkStatus: string;
}

/** Server rows of one backend from `show stat` CSV output. */
export function parseShowStat(csv: string, backend = BACKEND): ServerState[] {
  const lines = csv.split('\n').filter((line) => line.length > 0);
  const header = lines[0]?.replace(/^# /, '').split(',');
  if (!header) throw new Error(`empty "show stat" answer`);
  const column = (name: string): number => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`"show stat" has no ${name} column: ${lines[0]}`);
    return index;
  };
  const [px, sv, status, check] = [column('pxname'), column('svname'), column('status'), column('check_status')];
  return lines
    .slice(1)
    .map((line) => line.split(','))
    .filter((fields) => fields[px] === backend && fields[sv] !== 'BACKEND' && fields[sv] !== 'FRONTEND')
    .map((fields) => ({ name: fields[sv] as string, status: fields[status] as string, checkStatus: fields[check] as string }));
}

/** One command on HAProxy's stats socket (a unix socket: reachable whatever namespace HAProxy's network is in). */
export function statsCommand(socketPath: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let answer = '';
    const timer = setTimeout(() => socket.destroy(new Error(`no answer to "${command}" on ${socketPath} within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${command}\n`));
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export class Haproxy {
  readonly process: BackgroundProcess;
  readonly statsSocket: string;
  readonly configPath: string;
  private readonly dir: string;

  private constructor(child: BackgroundProcess, dir: string, configPath: string, statsSocket: string) {
    this.process = child;
    this.dir = dir;
    this.configPath = configPath;
    this.statsSocket = statsSocket;
  }

  /** Checks the configuration, starts HAProxy in the foreground inside `netns`, waits for its socket. */
  static async start(netns: Netns, servers: readonly BackendServer[]): Promise<Haproxy> {
    if (HAPROXY_BIN === undefined) throw new Error('haproxy is not installed: apt-get install -y haproxy');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lvscare-bench-haproxy-'));
    try {
      const statsSocket = path.join(dir, 'stats.sock');
      const configPath = path.join(dir, 'haproxy.cfg');
      writeFileAtomic(configPath, kubesprayHaproxyConfig(servers, statsSocket), { mode: 0o600 });
      await run([HAPROXY_BIN, '-c', '-q', '-f', configPath]);
      const child = netns.spawn([HAPROXY_BIN, '-db', '-f', configPath]);
      const haproxy = new Haproxy(child, dir, configPath, statsSocket);
      const started = Date.now();
      for (;;) {
        if (child.child.exitCode !== null) throw new Error(`haproxy exited at start:\n${child.output()}`);
        if (existsSync(statsSocket) && (await statsCommand(statsSocket, 'show info').catch(() => '')).includes('Name: HAProxy')) break;
        if (Date.now() - started > 30_000) throw new Error(`haproxy's stats socket did not answer within 30 s:\n${child.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return haproxy;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  async servers(): Promise<ServerState[]> {
    return parseShowStat(await statsCommand(this.statsSocket, 'show stat'));
  }

  async stop(): Promise<void> {
    await this.process.stop(3000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
