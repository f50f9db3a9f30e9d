/**
 * `seal add`, `seal delete` and `seal apply -f` end to end: the seal CLI against four real sshd
 * test hosts carrying the fakes (real etcd members, the stand-in API server, Debian's kubectl).
 * One cluster shared by the cases, in order: three masters installed by `seal run`; refusals
 * (unknown host, the last master, a master added as a worker) with one line and nothing changed;
 * add's dry run changing nothing; a fourth master added (the real etcd lists 4 members) and
 * deleted (3, no stale member, its node gone); master0 deleted while its host is down (its etcd
 * member removed by seal through the staying master, which becomes master0; etcd healthy);
 * `apply -f` removing one master and adding another. Masters only: a worker's
 * `lvscare care --run-once` needs IPVS or nftables for the VIP, proven elsewhere.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { formatClusterfile, hostGroups, parseClusterfile } from "../src/cluster-state/clusterfile.ts";
import { installFakes } from "./fakes/install.ts";
import { FAKES_RUN_DIR } from "./fakes/contract.ts";
import { createTestHosts, type TestHost, type TestHosts } from "./hosts/test-hosts.ts";
import { requireTool, run, type RunResult } from "./helpers/tools.ts";

const SEAL = resolve(dirname(fileURLToPath(import.meta.url)), "../bin/seal.js");
const PASSWORD = "seal-test-root";
const HOSTNAMES = ["master-1", "master-2", "master-3", "master-4"];

describe("seal add / delete / apply -f over SSH", { timeout: 1_200_000 }, () => {
  let hosts: TestHosts;
  let home: string;
  let ips: string[];
  const clusterfile = () => join(home, ".seal", "default", "Clusterfile");
  const env = () => ({ PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: home, SEAL_SSH_PASSWORD: PASSWORD });
  const seal = async (args: readonly string[]): Promise<RunResult> => {
    const [file, ...rest] = hosts.clientCommand([process.execPath, SEAL, ...args]);
    return run(file as string, rest, { env: env() });
  };
  const describeRun = (result: RunResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  const ip = (index: number) => ips[index] as string;
  /** What the real etcd says, asked with etcdctl on a master that is a member. */
  const etcdMembers = async (via: TestHost) => {
    const result = await via.exec([
      "etcdctl", "--endpoints", `https://${via.address}:2379`, "--cacert", "/etc/kubernetes/pki/etcd/ca.crt",
      "--cert", "/etc/kubernetes/pki/etcd/healthcheck-client.crt", "--key", "/etc/kubernetes/pki/etcd/healthcheck-client.key", "member", "list", "-w", "json",
    ]);
    assert.equal(result.code, 0, describeRun(result));
    return ((JSON.parse(result.stdout) as { members: { name?: string }[] }).members ?? []).map((member) => member.name ?? "(unstarted)").sort();
  };
  const etcdHealthy = async (via: TestHost) => {
    const result = await via.exec([
      "etcdctl", "--endpoints", `https://${via.address}:2379`, "--cacert", "/etc/kubernetes/pki/etcd/ca.crt",
      "--cert", "/etc/kubernetes/pki/etcd/healthcheck-client.crt", "--key", "/etc/kubernetes/pki/etcd/healthcheck-client.key", "endpoint", "health", "--cluster",
    ]);
    assert.equal(result.code, 0, describeRun(result));
  };
  const nodes = async (via: TestHost) => {
    const result = await via.exec(["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes", "-o", "name"]);
    assert.equal(result.code, 0, describeRun(result));
    return result.stdout.trim().split("\n").map((line) => line.replace(/^node\//, "")).sort();
  };
  const stored = () => parseClusterfile(readFileSync(clusterfile(), "utf8"));
  const mastersStored = () => stored().cluster.spec.hosts.filter((host) => host.roles.includes("master")).flatMap((host) => host.ips.map((text) => text.replace(/:22$/, "")));

  before(async () => {
    for (const tool of ["etcd", "etcdctl", "openssl", "kubectl", "conntrack", "ss", "curl"]) requireTool(tool);
    home = mkdtempSync(join(tmpdir(), "seal-add-delete-"));
    hosts = await createTestHosts({ count: 4, hostnames: HOSTNAMES, rootPassword: PASSWORD });
    ips = hosts.addresses;
    for (const host of hosts.hosts) installFakes({ node: process.execPath, targetDir: host.path("/usr/local/bin"), settings: { discoveryTimeout: "6s" } });
    const names = ips.map((address, index) => `${address}=${HOSTNAMES[index]}`);
    const result = await seal(["run", "--masters", ips.slice(0, 3).join(","), "--hostnames", names.slice(0, 3).join(","), "--yes"]);
    assert.equal(result.code, 0, describeRun(result));
  });

  after(async () => {
    await hosts?.destroy();
    if (home !== undefined) rmSync(home, { recursive: true, force: true });
  });

  it("refuses an unknown host, the last master and a master as a worker with one line, nothing changed", async () => {
    const before = readFileSync(clusterfile(), "utf8");
    const logs = await Promise.all(hosts.hosts.map((host) => host.sshdLog()));
    const cases: [string[], RegExp][] = [
      [["delete", "--masters", ip(3)], new RegExp(`^seal: error: ${ip(3).replaceAll(".", "\\.")} is not a master of cluster "default"`)],
      [["delete", "--masters", ips.slice(0, 3).join(",")], /^seal: error: refusing to delete every master of cluster "default"/],
      [["add", "--nodes", ip(1)], new RegExp(`^seal: error: ${ip(1).replaceAll(".", "\\.")} is already a master`)],
      [["add", "--masters", "$(reboot)"], /^seal: error: .*\$\(reboot\)/],
    ];
    for (const [args, message] of cases) {
      const result = await seal([...args, "--yes"]);
      assert.equal(result.code, 2, describeRun(result));
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    }
    assert.equal(readFileSync(clusterfile(), "utf8"), before);
    assert.deepEqual(await Promise.all(hosts.hosts.map((host) => host.sshdLog())), logs, "a refused command contacted a host");
  });

  it("add --dry-run prints the steps and changes nothing", async () => {
    const before = readFileSync(clusterfile(), "utf8");
    const logs = await Promise.all(hosts.hosts.map((host) => host.sshdLog()));
    const result = await seal(["add", "--masters", ip(3), "--hostnames", `${ip(3)}=master-4`, "--dry-run"]);
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stdout, new RegExp(`${ip(3).replaceAll(".", "\\.")} master-4 master \\(one at a time\\):[\\s\\S]*run kubeadm join --config`));
    assert.equal(readFileSync(clusterfile(), "utf8"), before);
    assert.deepEqual(await Promise.all(hosts.hosts.map((host) => host.sshdLog())), logs, "the dry run contacted a host");
  });

  it("add a fourth master: etcd has 4 members and the Clusterfile lists it", async () => {
    const result = await seal(["add", "--masters", ip(3), "--hostnames", `${ip(3)}=master-4`, "--yes"]);
    assert.equal(result.code, 0, describeRun(result));
    assert.deepEqual(await etcdMembers(hosts.at(0)), HOSTNAMES);
    assert.deepEqual(mastersStored(), ips);
    assert.equal(stored().cluster.status?.phase, "ClusterSuccess");
    assert.deepEqual(await nodes(hosts.at(3)), HOSTNAMES);
    assert.equal(parseClusterfile(readFileSync(hosts.at(3).path("/etc/seal/Clusterfile"), "utf8")).cluster.spec.hosts[0]?.ips.length, 4);
    assert.ok(!result.stderr.includes(PASSWORD));
    // The joined master's certificates come from the cluster's CA.
    const verify = await hosts.at(3).exec(["openssl", "verify", "-CAfile", "/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/apiserver.crt"]);
    assert.equal(verify.code, 0, describeRun(verify));
  });

  it("delete it again: 3 members, no stale one, its node gone and the host undone", async () => {
    const dry = await seal(["delete", "--masters", ip(3), "--dry-run"]);
    assert.equal(dry.code, 0, describeRun(dry));
    assert.match(dry.stdout, /remove its etcd member/);
    assert.deepEqual(await etcdMembers(hosts.at(0)), HOSTNAMES, "the dry run changed etcd");
    const result = await seal(["delete", "--masters", ip(3), "--yes"]);
    assert.equal(result.code, 0, describeRun(result));
    assert.deepEqual(await etcdMembers(hosts.at(0)), HOSTNAMES.slice(0, 3));
    assert.deepEqual(await nodes(hosts.at(0)), HOSTNAMES.slice(0, 3));
    assert.deepEqual(mastersStored(), ips.slice(0, 3));
    assert.deepEqual(stored().cluster.status?.conditions?.filter((condition) => condition.type.endsWith(`/${ip(3)}`)) ?? [], [], "the deleted host's conditions stay in the Clusterfile");
    for (const path of ["/etc/modules-load.d/seal.conf", "/etc/sysctl.d/99-seal.conf", "/etc/seal/Clusterfile", "/var/lib/seal/default", "/etc/kubernetes/admin.conf"]) {
      assert.equal(existsSync(hosts.at(3).path(path)), false, `${path} left behind`);
    }
    assert.doesNotMatch(readFileSync(hosts.at(3).path("/etc/hosts"), "utf8"), /apiserver\.cluster\.local/);
  });

  it("delete a dead master0: its node and etcd member go through the staying master, which becomes master0", async () => {
    // The host is down (etcd, API server and sshd stopped): its kubeadm reset cannot remove its
    // etcd member, so the member is seal's to remove, or the next join would meet a stale one.
    const master0 = hosts.at(0);
    await master0.execOk(["sh", "-c", `for f in ${FAKES_RUN_DIR}/*.pid; do kill "$(cat "$f")" 2>/dev/null; done; exit 0`]);
    await master0.stopSshd();
    assert.deepEqual(await etcdMembers(hosts.at(1)), HOSTNAMES.slice(0, 3), "the dead member is still listed before the delete");
    const result = await seal(["delete", "--masters", ip(0), "--yes"]);
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stderr, new RegExp(`${ip(0).replaceAll(".", "\\.")}: not reset .*run kubeadm reset -f`));
    assert.match(result.stderr, /removed etcd member master-1 through/);
    assert.deepEqual(mastersStored(), [ip(1), ip(2)]);
    assert.deepEqual(await etcdMembers(hosts.at(1)), ["master-2", "master-3"]);
    await etcdHealthy(hosts.at(1));
    assert.deepEqual(await nodes(hosts.at(1)), ["master-2", "master-3"]);
    const status = await seal(["status", "--json"]);
    assert.equal(status.code, 0, describeRun(status));
    const report = JSON.parse(status.stdout) as { hosts: { address: string; master0?: boolean; apiServer: string }[] };
    assert.deepEqual(report.hosts.map((host) => [host.address, host.apiServer]), [[ip(1), "healthy"], [ip(2), "healthy"]]);
  });

  it("apply -f with one master removed and one added: the cluster follows the file", async () => {
    const file = stored();
    const wanted = formatClusterfile({
      cluster: { ...file.cluster, spec: { ...file.cluster.spec, hosts: hostGroups([ip(1), ip(3)], [], 22) }, status: {} },
      config: { ...file.config, hostnames: [`${ip(1)}=master-2`, `${ip(3)}=master-4`] },
    });
    const path = join(home, "Clusterfile.wanted");
    writeFileSync(path, wanted);
    const before = readFileSync(clusterfile(), "utf8");
    const dry = await seal(["apply", "-f", path, "--dry-run"]);
    assert.equal(dry.code, 0, describeRun(dry));
    assert.match(dry.stdout, new RegExp(`add masters \\[${ip(3).replaceAll(".", "\\.")}\\] nodes \\[\\], delete masters \\[${ip(2).replaceAll(".", "\\.")}\\]`));
    assert.equal(readFileSync(clusterfile(), "utf8"), before);
    const changed = await seal(["apply", "-f", path.replace("wanted", "other"), "--yes"]);
    assert.equal(changed.code, 2, describeRun(changed));
    writeFileSync(path.replace("wanted", "vip"), wanted.replace(/vip: \S+/, "vip: 10.103.97.9"));
    const vip = await seal(["apply", "-f", path.replace("wanted", "vip"), "--yes"]);
    assert.equal(vip.code, 2, describeRun(vip));
    assert.match(vip.stderr, /changes vip of cluster "default"; seal apply adds and deletes hosts only/);
    // A SealConfig that leaves a stored setting out does not keep it silently.
    assert.match(wanted, /^\s+vip: \S+\n/m);
    writeFileSync(path.replace("wanted", "novip"), wanted.replace(/^\s+vip: \S+\n/m, ""));
    const removed = await seal(["apply", "-f", path.replace("wanted", "novip"), "--yes"]);
    assert.equal(removed.code, 2, describeRun(removed));
    assert.match(removed.stderr, /changes vip \(removed\) of cluster "default"/);
    assert.equal(readFileSync(clusterfile(), "utf8"), before);

    // As sealos users write it: the password in the file's spec.ssh, none in the environment.
    const withPassword = join(home, "Clusterfile.sealos");
    writeFileSync(withPassword, wanted.replace(/^(\s+)ssh:\n/m, `$1ssh:\n$1  passwd: ${PASSWORD}\n`));
    assert.match(readFileSync(withPassword, "utf8"), new RegExp(`passwd: ${PASSWORD}`));
    const [program, ...rest] = hosts.clientCommand([process.execPath, SEAL, "apply", "-f", withPassword, "--yes"]);
    const { SEAL_SSH_PASSWORD: _unused, ...noPasswordEnv } = env();
    const result = await run(program as string, rest, { env: noPasswordEnv });
    assert.equal(result.code, 0, describeRun(result));
    assert.ok(!result.stderr.includes(PASSWORD) && !result.stdout.includes(PASSWORD), "the file's password was printed");
    assert.deepEqual(mastersStored(), [ip(1), ip(3)]);
    assert.deepEqual(await etcdMembers(hosts.at(1)), ["master-2", "master-4"]);
    await etcdHealthy(hosts.at(3));
    assert.equal(existsSync(hosts.at(2).path("/etc/kubernetes/admin.conf")), false);
  });
});
