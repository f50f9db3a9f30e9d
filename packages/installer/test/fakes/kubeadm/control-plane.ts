/**
 * What the kubelet would do with kubeadm's static pods, done by the fake directly: it writes the
 * manifests kubeadm writes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) and
 * starts, from the very command lines in them, a real etcd and the stand-in API server as
 * daemons. Controller-manager and scheduler manifests are written but nothing runs them.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { logTail, runningPid, startDaemon, stopDaemon } from "../lib/daemon.ts";
import { phaseError, say } from "./output.ts";
import { MANIFESTS_DIR } from "./preflight.ts";

export const ETCD_DAEMON = "etcd";
export const APISERVER_DAEMON = "kube-apiserver";
const APISERVER_ENTRY = join(dirname(fileURLToPath(import.meta.url)), "..", "apiserver", "main.ts");

export interface ControlPlaneNode {
  readonly nodeName: string;
  readonly advertiseAddress: string;
  readonly bindPort: number;
  readonly certificatesDir: string;
  readonly etcdDataDir: string;
  readonly serviceSubnet: string;
  readonly podSubnet?: string;
  readonly dnsDomain: string;
  readonly kubernetesVersion: string;
  readonly clusterName: string;
  readonly apiServerArgs: ReadonlyMap<string, string>;
  readonly controllerManagerArgs: ReadonlyMap<string, string>;
}

export function writeFileAtomic(path: string, content: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${Date.now()}.${process.pid}.tmp`);
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, path);
}

function staticPod(name: string, command: readonly string[], dataDirs: readonly string[]): string {
  return stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { labels: { component: name, tier: "control-plane" }, name, namespace: "kube-system" },
    spec: {
      containers: [{ command, image: `registry.k8s.io/${name}`, name }],
      hostNetwork: true,
      priorityClassName: "system-node-critical",
      volumes: dataDirs.map((path, index) => ({ hostPath: { path, type: "DirectoryOrCreate" }, name: index === 0 && name === "etcd" ? "etcd-data" : `data-${index}` })),
    },
  });
}

function flagsOf(defaults: Record<string, string>, extra: ReadonlyMap<string, string>): string[] {
  const merged = new Map(Object.entries(defaults));
  for (const [name, value] of extra) merged.set(name, value);
  return [...merged.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, value]) => `--${name}=${value}`);
}

const url = (host: string, port: number) => `https://${host.includes(":") ? `[${host}]` : host}:${port}`;

export function etcdCommand(node: ControlPlaneNode, initialCluster: string, state: "new" | "existing"): string[] {
  const pki = (name: string) => join(node.certificatesDir, "etcd", name);
  return [
    "etcd",
    ...flagsOf(
      {
        "advertise-client-urls": url(node.advertiseAddress, 2379),
        "cert-file": pki("server.crt"),
        "client-cert-auth": "true",
        "data-dir": node.etcdDataDir,
        "initial-advertise-peer-urls": url(node.advertiseAddress, 2380),
        "initial-cluster": initialCluster,
        ...(state === "existing" ? { "initial-cluster-state": "existing" } : {}),
        "key-file": pki("server.key"),
        "listen-client-urls": `https://127.0.0.1:2379,${url(node.advertiseAddress, 2379)}`,
        "listen-metrics-urls": "http://127.0.0.1:2381",
        "listen-peer-urls": url(node.advertiseAddress, 2380),
        name: node.nodeName,
        "peer-cert-file": pki("peer.crt"),
        "peer-client-cert-auth": "true",
        "peer-key-file": pki("peer.key"),
        "peer-trusted-ca-file": pki("ca.crt"),
        "snapshot-count": "10000",
        "trusted-ca-file": pki("ca.crt"),
      },
      new Map(),
    ),
  ];
}

export function apiServerCommand(node: ControlPlaneNode): string[] {
  const pki = (name: string) => join(node.certificatesDir, name);
  return [
    "kube-apiserver",
    ...flagsOf(
      {
        "advertise-address": node.advertiseAddress,
        "allow-privileged": "true",
        "authorization-mode": "Node,RBAC",
        "client-ca-file": pki("ca.crt"),
        "enable-admission-plugins": "NodeRestriction",
        "enable-bootstrap-token-auth": "true",
        "etcd-cafile": pki("etcd/ca.crt"),
        "etcd-certfile": pki("apiserver-etcd-client.crt"),
        "etcd-keyfile": pki("apiserver-etcd-client.key"),
        "etcd-servers": "https://127.0.0.1:2379",
        "kubelet-client-certificate": pki("apiserver-kubelet-client.crt"),
        "kubelet-client-key": pki("apiserver-kubelet-client.key"),
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": pki("front-proxy-client.crt"),
        "proxy-client-key-file": pki("front-proxy-client.key"),
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-client-ca-file": pki("front-proxy-ca.crt"),
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": String(node.bindPort),
        "service-account-issuer": `https://kubernetes.default.svc.${node.dnsDomain}`,
        "service-account-key-file": pki("sa.pub"),
        "service-account-signing-key-file": pki("sa.key"),
        "service-cluster-ip-range": node.serviceSubnet,
        "tls-cert-file": pki("apiserver.crt"),
        "tls-private-key-file": pki("apiserver.key"),
      },
      node.apiServerArgs,
    ),
  ];
}

function controllerManagerCommand(node: ControlPlaneNode): string[] {
  const pki = (name: string) => join(node.certificatesDir, name);
  return [
    "kube-controller-manager",
    ...flagsOf(
      {
        "authentication-kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "authorization-kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "bind-address": "127.0.0.1",
        "client-ca-file": pki("ca.crt"),
        "cluster-name": node.clusterName,
        "cluster-signing-cert-file": pki("ca.crt"),
        "cluster-signing-key-file": pki("ca.key"),
        controllers: "*,bootstrapsigner,tokencleaner",
        kubeconfig: "/etc/kubernetes/controller-manager.conf",
        "leader-elect": "true",
        "requestheader-client-ca-file": pki("front-proxy-ca.crt"),
        "root-ca-file": pki("ca.crt"),
        "service-account-private-key-file": pki("sa.key"),
        "use-service-account-credentials": "true",
        ...(node.podSubnet === undefined ? {} : { "allocate-node-cidrs": "true", "cluster-cidr": node.podSubnet }),
      },
      node.controllerManagerArgs,
    ),
  ];
}

/** The controller-manager flags the stand-in API server needs for the CSR signing it does. */
function signingFlags(node: ControlPlaneNode): string[] {
  const command = controllerManagerCommand(node);
  return command.filter((arg) => /^--cluster-signing-(cert-file|key-file|duration)=/.test(arg));
}

export function writeControlPlaneManifests(node: ControlPlaneNode): void {
  say("control-plane", `Using manifest folder "${MANIFESTS_DIR}"`);
  for (const [name, command, dirs] of [
    ["kube-apiserver", apiServerCommand(node), [node.certificatesDir]],
    ["kube-controller-manager", controllerManagerCommand(node), [node.certificatesDir]],
    ["kube-scheduler", ["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true", "--bind-address=127.0.0.1"], []],
  ] as const) {
    say("control-plane", `Creating static Pod manifest for "${name}"`);
    writeFileAtomic(join(MANIFESTS_DIR, `${name}.yaml`), staticPod(name, command, dirs), 0o600);
  }
}

export function writeEtcdManifest(node: ControlPlaneNode, command: readonly string[]): void {
  say("etcd", `Creating static Pod manifest for local etcd in "${MANIFESTS_DIR}"`);
  writeFileAtomic(join(MANIFESTS_DIR, "etcd.yaml"), staticPod("etcd", command, [node.etcdDataDir, join(node.certificatesDir, "etcd")]), 0o600);
}

/** The command line of a static pod as written on disk. */
export function manifestCommand(name: string): string[] | undefined {
  try {
    const pod = parse(readFileSync(join(MANIFESTS_DIR, `${name}.yaml`), "utf8")) as { spec?: { containers?: { command?: string[] }[] } };
    return pod.spec?.containers?.[0]?.command;
  } catch {
    return undefined;
  }
}

function which(tool: string): string {
  const result = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" });
  const path = result.stdout.trim();
  if (result.status !== 0 || path === "") throw phaseError("etcd", `${tool} is not installed: install the Debian package ${tool === "etcd" ? "etcd-server" : "etcd-client"}`);
  return path;
}

export function startEtcd(command: readonly string[]): void {
  mkdirSync(command.find((arg) => arg.startsWith("--data-dir="))?.slice("--data-dir=".length) ?? "/var/lib/etcd", { recursive: true, mode: 0o700 });
  startDaemon(ETCD_DAEMON, which("etcd"), command.slice(1));
}

export function startApiServer(node: ControlPlaneNode, kubernetesVersion: string): void {
  const command = manifestCommand("kube-apiserver") ?? apiServerCommand(node);
  startDaemon(APISERVER_DAEMON, process.execPath, [APISERVER_ENTRY, ...command.slice(1), ...signingFlags(node), `--stand-in-version=${kubernetesVersion}`]);
}

function httpsStatus(target: string, pki: { ca: string; cert?: string; key?: string }): Promise<number> {
  const parsed = new URL(target);
  return new Promise((resolve) => {
    const req = request(
      {
        host: parsed.hostname.replace(/^\[|\]$/g, ""),
        port: Number(parsed.port),
        path: parsed.pathname,
        ca: readFileSync(pki.ca),
        ...(pki.cert !== undefined && pki.key !== undefined ? { cert: readFileSync(pki.cert), key: readFileSync(pki.key) } : {}),
        agent: false,
        timeout: 3000,
      },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

async function waitFor(what: string, phase: string, daemon: string, marker: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    if (runningPid(daemon, marker) === undefined) {
      throw phaseError(phase, `${what} exited before it became healthy; the last lines of its log (FAKE kubeadm adds them):\n${logTail(daemon)}`);
    }
    await sleep(250);
  }
  throw phaseError(phase, `${what} did not become healthy within ${Math.round(timeoutMs / 1000)}s: context deadline exceeded; its log:\n${logTail(daemon)}`);
}

export function waitForEtcd(node: ControlPlaneNode, timeoutMs: number): Promise<void> {
  const pki = (name: string) => join(node.certificatesDir, "etcd", name);
  return waitFor("the local etcd member", "etcd", ETCD_DAEMON, "etcd", timeoutMs, async () =>
    (await httpsStatus("https://127.0.0.1:2379/health", { ca: pki("ca.crt"), cert: pki("healthcheck-client.crt"), key: pki("healthcheck-client.key") })) === 200,
  );
}

export async function waitForApiServer(node: ControlPlaneNode, timeoutMs: number): Promise<void> {
  say("api-check", `Waiting for a healthy API server. This can take up to ${Math.round(timeoutMs / 60000)}m0s`);
  await waitFor("the API server", "wait-control-plane", APISERVER_DAEMON, APISERVER_ENTRY, timeoutMs, async () =>
    (await httpsStatus(`${url(node.advertiseAddress, node.bindPort)}/readyz`, { ca: join(node.certificatesDir, "ca.crt") })) === 200,
  );
  say("api-check", "The API server is healthy");
}

/** Stops what this node runs; true for each daemon that was running. */
export async function stopControlPlane(): Promise<string[]> {
  const stopped: string[] = [];
  if (await stopDaemon(APISERVER_DAEMON, APISERVER_ENTRY)) stopped.push(APISERVER_DAEMON);
  if (await stopDaemon(ETCD_DAEMON, "etcd")) stopped.push(ETCD_DAEMON);
  return stopped;
}
