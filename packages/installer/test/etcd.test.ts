/**
 * Real etcd (Debian etcd-server) runs a three-member cluster with the rendered certificates,
 * each member in its own network namespace with its master's address (a bridge joins them),
 * with the flags kubeadm's etcd static pod uses: client and peer certificate authentication
 * against the rendered etcd CA. etcd also checks that a peer's address is in its certificate,
 * so this proves the peer SANs too. etcdctl reads the health with the healthcheck-client
 * certificate.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { mastersOf } from "../src/cluster/spec.ts";
import { PKI_DIR } from "../src/plan/files.ts";
import { clusterSpec, hostPath, MASTERS, renderToTemporaryDir, type RenderedDir } from "./helpers/fixtures.ts";
import { createSwitchedNetwork, type SwitchedNetwork } from "./helpers/netns.ts";
import { requireTool, run, startProcess, type RunResult } from "./helpers/tools.ts";

// Waiting for the members to elect a leader; not a measurement, only a bound on a broken setup.
const READY_DEADLINE_MS = 90_000;

/** SIGTERM, then SIGKILL if etcd is still there after a grace period, so cleanup never hangs. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

describe("etcd with the rendered certificates", () => {
  const spec = clusterSpec();
  let render: RenderedDir;
  let network: SwitchedNetwork | undefined;
  let dataDir: string;
  const members: { name: string; process: ChildProcess; log: string[] }[] = [];
  const etcd = requireTool("etcd");
  const etcdctlPath = requireTool("etcdctl");
  const etcdPki = (address: string, name: string) => hostPath(render.dir, address, `${PKI_DIR}/etcd/${name}`);
  const pki = (address: string, name: string) => hostPath(render.dir, address, `${PKI_DIR}/${name}`);
  const endpoints = MASTERS.map((address) => `https://${address}:2379`).join(",");

  function etcdctl(args: readonly string[], credentials: { cert?: string; key?: string; cacert?: string } = {}): Promise<RunResult> {
    const tls = [
      ...(credentials.cacert === undefined ? [] : ["--cacert", credentials.cacert]),
      ...(credentials.cert === undefined ? [] : ["--cert", credentials.cert]),
      ...(credentials.key === undefined ? [] : ["--key", credentials.key]),
    ];
    // The client runs on master-1's host, as the kubelet's etcd probe and kubeadm do.
    const [command, argv] = (network as SwitchedNetwork).exec("10.0.0.1", etcdctlPath, ["--dial-timeout", "3s", "--command-timeout", "5s", ...tls, ...args]);
    return run(command, argv, { env: { ...process.env, ETCDCTL_API: "3" } });
  }

  const healthcheck = () => ({
    cacert: etcdPki("10.0.0.1", "ca.crt"),
    cert: etcdPki("10.0.0.1", "healthcheck-client.crt"),
    key: etcdPki("10.0.0.1", "healthcheck-client.key"),
  });

  before(async () => {
    render = await renderToTemporaryDir(spec);
    network = await createSwitchedNetwork("seal-etcd", MASTERS);
    dataDir = await mkdtemp(join(tmpdir(), "seal-etcd-data-"));
    const initialCluster = mastersOf(spec).map((master) => `${master.hostname}=https://${master.addressText}:2380`).join(",");
    for (const master of mastersOf(spec)) {
      const address = master.addressText;
      const [command, argv] = network.exec(address, etcd, [
        `--name=${master.hostname}`,
        `--data-dir=${join(dataDir, master.hostname)}`,
        `--listen-client-urls=https://${address}:2379`,
        `--advertise-client-urls=https://${address}:2379`,
        `--listen-peer-urls=https://${address}:2380`,
        `--initial-advertise-peer-urls=https://${address}:2380`,
        `--initial-cluster=${initialCluster}`,
        "--initial-cluster-state=new",
        "--initial-cluster-token=seal-test",
        "--client-cert-auth=true",
        `--trusted-ca-file=${etcdPki(address, "ca.crt")}`,
        `--cert-file=${etcdPki(address, "server.crt")}`,
        `--key-file=${etcdPki(address, "server.key")}`,
        "--peer-client-cert-auth=true",
        `--peer-trusted-ca-file=${etcdPki(address, "ca.crt")}`,
        `--peer-cert-file=${etcdPki(address, "peer.crt")}`,
        `--peer-key-file=${etcdPki(address, "peer.key")}`,
      ]);
      const child = startProcess(command, argv);
      const log: string[] = [];
      child.stderr?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
      child.stdout?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
      members.push({ name: master.hostname, process: child, log });
    }
    const deadline = Date.now() + READY_DEADLINE_MS;
    let last: RunResult | undefined;
    while (Date.now() < deadline) {
      last = await etcdctl(["--endpoints", endpoints, "endpoint", "health"], healthcheck());
      if (last.code === 0) return;
      const exited = members.find((member) => member.process.exitCode !== null);
      if (exited !== undefined) throw new Error(`etcd ${exited.name} exited: ${exited.log.join("").slice(-2000)}`);
      await sleep(500);
    }
    throw new Error(`etcd did not become healthy: ${last?.stderr}\n${members.map((m) => m.log.join("").slice(-1500)).join("\n")}`);
  });

  after(async () => {
    await Promise.all(members.map((member) => stop(member.process)));
    await network?.remove();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    await render?.cleanup();
  });

  it("forms a three-member cluster over peer TLS, every member healthy to the healthcheck-client certificate", async () => {
    const health = await etcdctl(["--endpoints", endpoints, "endpoint", "health"], healthcheck());
    assert.equal(health.code, 0, health.stderr);
    for (const address of MASTERS) assert.match(health.stdout + health.stderr, new RegExp(`https://${address.replaceAll(".", "\\.")}:2379 is healthy`));
    const list = await etcdctl(["--endpoints", endpoints, "member", "list", "-w", "json"], healthcheck());
    assert.equal(list.code, 0, list.stderr);
    const membersSeen = (JSON.parse(list.stdout) as { members: { name: string; peerURLs: string[] }[] }).members;
    assert.deepEqual(
      membersSeen.map((member) => [member.name, member.peerURLs]).sort(),
      mastersOf(spec).map((master) => [master.hostname, [`https://${master.addressText}:2380`]]).sort(),
    );
  });

  it("serves the API server's etcd client certificate (read and write)", async () => {
    const apiserver = { cacert: etcdPki("10.0.0.2", "ca.crt"), cert: pki("10.0.0.2", "apiserver-etcd-client.crt"), key: pki("10.0.0.2", "apiserver-etcd-client.key") };
    const put = await etcdctl(["--endpoints", "https://10.0.0.3:2379", "put", "/registry/seal-test", "written-through-master-3"], apiserver);
    assert.equal(put.code, 0, put.stderr);
    const get = await etcdctl(["--endpoints", "https://10.0.0.1:2379", "get", "/registry/seal-test", "--print-value-only"], apiserver);
    assert.equal(get.stdout.trim(), "written-through-master-3");
  });

  it("refuses clients without a certificate or with one from another CA", async () => {
    const anonymous = await etcdctl(["--endpoints", "https://10.0.0.1:2379", "endpoint", "health"], { cacert: etcdPki("10.0.0.1", "ca.crt") });
    assert.notEqual(anonymous.code, 0);
    const foreign = await etcdctl(["--endpoints", "https://10.0.0.1:2379", "endpoint", "health"], {
      cacert: etcdPki("10.0.0.1", "ca.crt"),
      cert: pki("10.0.0.1", "front-proxy-client.crt"),
      key: pki("10.0.0.1", "front-proxy-client.key"),
    });
    assert.notEqual(foreign.code, 0);
    assert.match(foreign.stdout + foreign.stderr, /unhealthy|bad certificate|certificate/);
  });
});
