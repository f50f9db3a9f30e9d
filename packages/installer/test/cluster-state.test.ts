/**
 * The Clusterfile (sealos's Cluster, read strictly, written without secrets) and the cluster lock
 * (a second seal refused naming the holder, a dead holder's lock taken over with a warning).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { clusterHosts, formatClusterfile, parseClusterfile, withoutHostConditions, withStatus } from "../src/cluster-state/clusterfile.ts";
import { acquireClusterLock, ClusterLockedError } from "../src/cluster-state/lock.ts";
import { readClusterfile, stateDir, writeClusterfile } from "../src/cluster-state/state-dir.ts";
import { InputError } from "../src/errors.ts";

// A Clusterfile as sealos v4 writes it (~/.sealos/default/Clusterfile).
const SEALOS_CLUSTERFILE = `apiVersion: apps.sealos.io/v1beta1
kind: Cluster
metadata:
  creationTimestamp: null
  name: default
spec:
  hosts:
  - ips:
    - 192.168.0.2:22
    - 192.168.0.3:22
    - 192.168.0.4:22
    roles:
    - master
    - amd64
  - ips:
    - 192.168.0.10:22
    roles:
    - node
    - amd64
  image:
  - labring/kubernetes:v1.25.0
  - labring/calico:v3.22.1
  ssh:
    passwd: s3cret-pw
    pk: /root/.ssh/id_rsa
    port: 22
    user: root
status:
  phase: ClusterSuccess
  conditions:
  - lastHeartbeatTime: "2023-01-01T00:00:00Z"
    message: Applied to cluster successfully
    reason: Ready
    status: "True"
    type: ApplyClusterSuccess
`;

const scratch = mkdtempSync(join(tmpdir(), "seal-state-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("the Clusterfile", () => {
  it("reads a sealos v4 Clusterfile: hosts, roles with architecture, ssh, status", () => {
    const file = parseClusterfile(SEALOS_CLUSTERFILE);
    assert.equal(file.cluster.metadata.name, "default");
    assert.deepEqual(clusterHosts(file.cluster), {
      masters: [{ ip: "192.168.0.2", port: 22 }, { ip: "192.168.0.3", port: 22 }, { ip: "192.168.0.4", port: 22 }],
      nodes: [{ ip: "192.168.0.10", port: 22 }],
    });
    assert.equal(file.cluster.spec.ssh.passwd, "s3cret-pw");
    assert.equal(file.cluster.status?.phase, "ClusterSuccess");
    assert.deepEqual(file.config, {});
  });

  it("writes no secret, and what it writes reads back the same (with seal's settings)", () => {
    const file = parseClusterfile(SEALOS_CLUSTERFILE.replace("    port: 22\n", "    pkPasswd: key-pass\n    pkData: KEYDATA\n    port: 22\n"));
    const text = formatClusterfile({ cluster: file.cluster, config: { vip: "10.103.97.2", kubernetesVersion: "v1.31.2", hostnames: ["192.168.0.2=cp-1"] } });
    for (const secret of ["s3cret-pw", "key-pass", "KEYDATA", "passwd", "pkData", "pkPasswd"]) assert.ok(!text.includes(secret), `${secret} written`);
    const again = parseClusterfile(text);
    assert.deepEqual(again.config, { vip: "10.103.97.2", kubernetesVersion: "v1.31.2", hostnames: ["192.168.0.2=cp-1"] });
    assert.deepEqual(clusterHosts(again.cluster), clusterHosts(file.cluster));
    assert.equal(formatClusterfile(again), text);
  });

  it("refuses, naming the path: unknown fields, bad addresses, roles, duplicates, other kinds, bad phases", () => {
    const cases: [string, RegExp][] = [
      [SEALOS_CLUSTERFILE.replace("  ssh:\n", "  sshh:\n"), /spec: unknown field "sshh"/],
      [SEALOS_CLUSTERFILE.replace("192.168.0.10:22", "$(reboot)"), /spec\.hosts\[1\]\.ips\[0\]: "\$\(reboot\)" is not an IP address/],
      [SEALOS_CLUSTERFILE.replace("    - node\n", "    - worker\n"), /spec\.hosts\[1\]\.roles: needs exactly one of master, node/],
      [SEALOS_CLUSTERFILE.replace("192.168.0.10:22", "192.168.0.2"), /192\.168\.0\.2 is listed twice/],
      [SEALOS_CLUSTERFILE.replace("phase: ClusterSuccess", "phase: Done"), /status\.phase: "Done" is not one of/],
      [SEALOS_CLUSTERFILE.replace("    port: 22\n", "    port: 70000\n"), /spec\.ssh\.port: "70000" is not a port/],
      [SEALOS_CLUSTERFILE.replace("name: default", "name: Bad_Name"), /metadata\.name: "Bad_Name" is not a DNS label/],
      [`${SEALOS_CLUSTERFILE}---\napiVersion: apps.sealos.io/v1beta1\nkind: Config\n`, /Config is not supported/],
      ["apiVersion: v1\nkind: ConfigMap\n", /ConfigMap is not supported/],
      ["a: [\n", /not valid YAML/],
    ];
    for (const [text, message] of cases) assert.throws(() => parseClusterfile(text), (error: Error) => error instanceof InputError && message.test(error.message), String(message));
  });

  it("status: a phase and one condition per type, replaced in place", () => {
    const { cluster } = parseClusterfile(SEALOS_CLUSTERFILE);
    const first = withStatus(cluster, "ClusterInProcess", [{ type: "KubeadmInit/192.168.0.2", status: "Unknown", reason: "Running" }]);
    const second = withStatus(first, "ClusterFailed", [{ type: "KubeadmInit/192.168.0.2", status: "False", reason: "Failed", message: "exit 1" }]);
    assert.equal(second.status?.phase, "ClusterFailed");
    assert.deepEqual(second.status?.conditions?.map((condition) => `${condition.type}=${condition.status}`), ["ApplyClusterSuccess=True", "KubeadmInit/192.168.0.2=False"]);
  });

  it("status: a deleted host's conditions go with it, every other condition stays", () => {
    const { cluster } = parseClusterfile(SEALOS_CLUSTERFILE);
    const withSteps = withStatus(cluster, "ClusterInProcess", [
      { type: "JoinWorker/192.168.0.5", status: "True", reason: "Done" },
      { type: "DeleteWorker/192.168.0.5", status: "True", reason: "Done" },
      { type: "JoinWorker/192.168.0.50", status: "True", reason: "Done" },
      { type: "JoinWorker/fd00::5", status: "True", reason: "Done" },
    ]);
    const after = withoutHostConditions(withSteps, ["192.168.0.5", "fd00::5"]);
    assert.deepEqual(after.status?.conditions?.map((condition) => condition.type), ["ApplyClusterSuccess", "JoinWorker/192.168.0.50"]);
    assert.equal(after.status?.phase, "ClusterInProcess");
  });

  it("lives in ~/.seal/<cluster>/Clusterfile, 0600, written atomically", () => {
    const state = stateDir("prod", scratch);
    assert.equal(state.clusterfile, join(scratch, ".seal", "prod", "Clusterfile"));
    assert.throws(() => stateDir("../etc", scratch), /invalid cluster name/);
    writeClusterfile(state.clusterfile, parseClusterfile(SEALOS_CLUSTERFILE));
    assert.equal(readClusterfile(state.clusterfile)?.cluster.metadata.name, "default");
    assert.equal(spawnSync("stat", ["-c", "%a", state.clusterfile], { encoding: "utf8" }).stdout.trim(), "600");
    assert.equal(readClusterfile(join(scratch, "none")), undefined);
  });
});

describe("the cluster lock", () => {
  it("a second seal is refused with the holder's pid, machine and start time; released, it can be taken", () => {
    const path = join(scratch, "lock-a", "lock");
    const lock = acquireClusterLock(path, "seal run", () => assert.fail("no warning expected"), new Date("2026-01-02T03:04:05Z"));
    assert.throws(
      () => acquireClusterLock(path, "seal reset", () => undefined),
      (error: Error) => error instanceof ClusterLockedError && error.message === `cluster is locked by seal run (pid ${process.pid} on ${hostname()}, started 2026-01-02T03:04:05.000Z); wait for it to finish`,
    );
    lock.release();
    acquireClusterLock(path, "seal reset", () => assert.fail("no warning expected")).release();
  });

  it("a lock of a dead process on this machine is taken over with a warning", () => {
    const path = join(scratch, "lock-b", "lock");
    const dead = spawnSync("true").pid as number;
    acquireClusterLock(path, "seal run", () => undefined).release();
    writeFileSync(path, JSON.stringify({ pid: dead, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z", command: "seal run" }));
    const warnings: string[] = [];
    const lock = acquireClusterLock(path, "seal run", (message) => warnings.push(message));
    assert.deepEqual(warnings, [`taking over a stale lock: seal run (pid ${dead} on ${hostname()}, started 2026-01-01T00:00:00.000Z) is no longer running`]);
    assert.equal(JSON.parse(readFileSync(path, "utf8")).pid, process.pid);
    lock.release();
  });

  it("a lock from another machine is never guessed stale", () => {
    const path = join(scratch, "lock-c", "lock");
    acquireClusterLock(path, "seal run", () => undefined).release();
    writeFileSync(path, JSON.stringify({ pid: 1, host: "other-workstation", startedAt: "2026-01-01T00:00:00.000Z", command: "seal run" }));
    assert.throws(() => acquireClusterLock(path, "seal run", () => undefined), new RegExp(`pid 1 on other-workstation.*remove ${path.replaceAll("/", "\\/")}`));
  });
});
