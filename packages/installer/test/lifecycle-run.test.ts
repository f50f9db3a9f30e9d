/**
 * `seal run` and `seal reset` end to end, 3 masters and 2 workers from scratch: the seal CLI (a
 * real process in the client namespace) against five real sshd test hosts carrying the fakes of
 * kubeadm, kubelet, containerd and systemctl (real etcd, the stand-in API server). One cluster
 * shared by the scenarios, in order: refusals before any connection, the dry run, an unreachable
 * host failing preflight with no host changed, a run killed with SIGKILL in the middle of the
 * masters' joins and resumed (the workers joined through the VIP), a third run changing nothing,
 * status, the lock, and reset keeping the user's lines and files.
 * `--kube-proxy-mode nftables`: this kernel has no IPVS, so the workers' lvscare runs
 * `--dataplane nftables` (for real, in each worker's network namespace).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { LVSCARE_MANIFEST_PATH } from "@lvscare/contracts/names";
import { parseClusterfile } from "../src/cluster-state/clusterfile.ts";
import { installFakes } from "./fakes/install.ts";
import { parseCallLog, CALL_LOG } from "./fakes/contract.ts";
import { createTestHosts, type TestHost, type TestHosts } from "./hosts/test-hosts.ts";
import { requireTool, run, type RunResult } from "./helpers/tools.ts";
import { writeWorkerFiles, type WorkerFiles } from "./helpers/worker-files.ts";

const SEAL = resolve(dirname(fileURLToPath(import.meta.url)), "../bin/seal.js");
const PASSWORD = "seal-test-root";
const HOSTNAMES = ["master-1", "master-2", "master-3", "worker-1", "worker-2"];
const MASTER_NAMES = HOSTNAMES.slice(0, 3);
const VIP = "10.103.97.2";

describe("seal run / reset over SSH: 3 masters and 2 workers", { timeout: 900_000 }, () => {
  let hosts: TestHosts;
  let home: string;
  let work: string;
  let files: WorkerFiles;
  let masters: string[];
  let workers: string[];
  const clusterfile = () => join(home, ".seal", "default", "Clusterfile");
  const sealArgv = (args: readonly string[]) => hosts.clientCommand([process.execPath, SEAL, ...args]);
  const env = () => ({ PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: home, SEAL_SSH_PASSWORD: PASSWORD });
  const seal = async (args: readonly string[]): Promise<RunResult> => {
    const [file, ...rest] = sealArgv(args);
    return run(file as string, rest, { env: env() });
  };
  const runArgs = (extra: readonly string[] = []) => [
    "run", "--masters", masters.join(","), "--nodes", workers.join(","), "--hostnames", hosts.addresses.map((ip, index) => `${ip}=${HOSTNAMES[index]}`).join(","),
    "--vip", VIP, "--kube-proxy-mode", "nftables", "--lvscare-bin", files.lvscareBin, "--lvscare-image-archive", files.imageArchive, "--yes", ...extra,
  ];
  const workerHosts = () => hosts.hosts.slice(3);
  const describeRun = (result: RunResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  const kubeadmCalls = (host: TestHost) => {
    const path = host.path(CALL_LOG);
    return existsSync(path) ? parseCallLog(readFileSync(path, "utf8")).filter((call) => call.tool === "kubeadm" && ["init", "join", "reset"].includes(call.argv[0] ?? "")) : [];
  };
  const etcdMembers = async () => {
    const result = await hosts.at(0).exec([
      "etcdctl", "--endpoints", `https://${masters[0]}:2379`, "--cacert", "/etc/kubernetes/pki/etcd/ca.crt",
      "--cert", "/etc/kubernetes/pki/etcd/healthcheck-client.crt", "--key", "/etc/kubernetes/pki/etcd/healthcheck-client.key", "member", "list", "-w", "json",
    ]);
    assert.equal(result.code, 0, describeRun(result));
    return ((JSON.parse(result.stdout) as { members: { name: string }[] }).members ?? []).map((member) => member.name).sort();
  };

  before(async () => {
    for (const tool of ["etcd", "etcdctl", "openssl", "kubectl", "conntrack", "ss", "nft", "tar"]) requireTool(tool);
    home = mkdtempSync(join(tmpdir(), "seal-lifecycle-"));
    work = mkdtempSync(join(tmpdir(), "seal-lifecycle-files-"));
    files = await writeWorkerFiles(work);
    hosts = await createTestHosts({ count: 5, hostnames: HOSTNAMES, rootPassword: PASSWORD });
    masters = hosts.addresses.slice(0, 3);
    workers = hosts.addresses.slice(3);
    for (const host of hosts.hosts) installFakes({ node: process.execPath, targetDir: host.path("/usr/local/bin"), settings: { discoveryTimeout: "20s" } });
  });

  after(async () => {
    await hosts?.destroy();
    for (const dir of [home, work]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a host like $(reboot) and a bad flag before any connection, with one line and exit 2", async () => {
    const bad = await seal(["run", "--masters", `${masters[0]},$(reboot)`]);
    assert.equal(bad.code, 2, describeRun(bad));
    assert.match(bad.stderr, /^seal: error: .*\$\(reboot\)/);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
    const mode = await seal(["run", "--masters", masters[0] as string, "--kube-proxy-mode", "userspace"]);
    assert.equal(mode.code, 2, describeRun(mode));
    const noLvscare = await seal(["run", "--masters", masters[0] as string, "--nodes", masters[1] as string, "--lvscare-bin", "/nonexistent/lvscare"]);
    assert.equal(noLvscare.code, 2, describeRun(noLvscare));
    assert.match(noLvscare.stderr, /^seal: error: the lvscare executable \/nonexistent\/lvscare is missing: build it with `npm run dist`/);
    assert.equal(existsSync(join(home, ".seal")), false, "a refused run wrote state");
    for (const host of hosts.hosts) assert.doesNotMatch(await host.sshdLog(), /Accepted password/);
  });

  it("a worker without IPVS (this kernel has none, and no modules) fails preflight, saying so; nothing changed", async () => {
    const result = await seal(["run", "--cluster", "wk", "--masters", masters[0] as string, "--nodes", masters[1] as string, "--lvscare-bin", process.execPath, "--yes"]);
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stdout, new RegExp(`${(masters[1] as string).replaceAll(".", "\\.")}\\s+worker.*no IPVS: ip_vs is neither in the kernel nor loadable`));
    for (const host of hosts.hosts) assert.equal(existsSync(host.path("/etc/modules-load.d/seal.conf")), false);
    assert.equal(existsSync(join(home, ".seal", "wk", "Clusterfile")), false);
  });

  it("--dry-run prints the steps per host and changes nothing", async () => {
    const hostsBefore = readFileSync(hosts.at(0).path("/etc/hosts"), "utf8");
    const logsBefore = await Promise.all(hosts.hosts.map((host) => host.sshdLog()));
    const result = await seal(runArgs(["--dry-run"]));
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stdout, new RegExp(`${masters[0]} master-1 master0:\\n  prepare node`));
    assert.match(result.stdout, /run kubeadm init --config \/var\/lib\/seal\/default\/kubeadm\/init\.yaml/);
    assert.match(result.stdout, new RegExp(`${masters[2]} master-3 master \\(one at a time\\):[\\s\\S]*run kubeadm join --config`));
    assert.match(result.stdout, new RegExp(`${workers[1]} worker-2 worker[^\\n]*:[\\s\\S]*lvscare care [^\\n]*--run-once\\n  run kubeadm join --config`));
    assert.equal(existsSync(join(home, ".seal", "default")), false);
    assert.equal(readFileSync(hosts.at(0).path("/etc/hosts"), "utf8"), hostsBefore);
    assert.deepEqual(await Promise.all(hosts.hosts.map((host) => host.sshdLog())), logsBefore, "the dry run contacted a host");
  });

  it("one unreachable host: preflight fails in its table row and no host is changed", async () => {
    const result = await seal(["run", "--masters", [...masters, hosts.unusedAddress()].join(","), "--allow-even-masters", "--yes"]);
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stdout, /HOST\s+ROLE\s+HOSTNAME\s+CLOCK\s+KUBEADM/);
    assert.match(result.stdout, new RegExp(`${hosts.unusedAddress().replaceAll(".", "\\.")}\\s+master.*unreachable|${hosts.unusedAddress().replaceAll(".", "\\.")}.*(no route|timed out|refused)`, "i"));
    assert.match(result.stderr, /preflight failed on 1 of 4 hosts .*nothing was changed/);
    for (const host of hosts.hosts) {
      assert.equal(existsSync(host.path("/etc/modules-load.d/seal.conf")), false);
      assert.equal(existsSync(host.path("/var/lib/seal")), false);
    }
    assert.equal(existsSync(clusterfile()), false);
  });

  it("killed with SIGKILL during the masters' joins, the same command resumes and finishes", async () => {
    const [file, ...rest] = sealArgv(runArgs());
    const child = spawn(file as string, rest, { env: env(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
    // master0 done (its condition recorded): the next thing seal does is master-2's join.
    for (let waited = 0; ; waited += 100) {
      const text = existsSync(clusterfile()) ? readFileSync(clusterfile(), "utf8") : "";
      if (text.includes(`type: InstallMaster0/${masters[0]}`)) break;
      assert.ok(child.exitCode === null, `seal exited before master0 was done:\n${output}`);
      assert.ok(waited < 300_000, `master0 not done in time:\n${output}`);
      await sleep(100);
    }
    child.kill("SIGKILL");
    await exited;
    const killed = parseClusterfile(readFileSync(clusterfile(), "utf8"));
    assert.equal(killed.cluster.status?.phase, "ClusterInProcess");
    assert.equal(killed.config.kubernetesVersion, "v1.31.2", "the version master0's kubeadm reports");
    // Let a join cut off mid-way finish or die on the host before resuming.
    await sleep(2000);
    // As if resumed a day later: the bootstrap token kubeadm init made (24 h TTL) has expired.
    const expire = await hosts.at(0).exec(["sh", "-c", 'kubeadm token create "$(kubeadm token list | awk \'NR==2{print $1}\')" --ttl 1s >/dev/null && sleep 2 && kubeadm token list']);
    assert.equal(expire.code, 0, describeRun(expire));
    assert.match(expire.stdout, /\s0h\s/, `the token did not expire:\n${expire.stdout}`);

    const resumed = await seal(runArgs());
    assert.equal(resumed.code, 0, describeRun(resumed));
    assert.match(resumed.stderr, /taking over a stale lock: seal run \(pid \d+/);
    assert.match(resumed.stderr, /kubeadm init done before/);
    assert.deepEqual(await etcdMembers(), MASTER_NAMES);
    assert.equal(kubeadmCalls(hosts.at(0)).filter((call) => call.argv[0] === "init").length, 1, "master0 was initialised twice");
    const state = parseClusterfile(readFileSync(clusterfile(), "utf8"));
    assert.equal(state.cluster.status?.phase, "ClusterSuccess");
    const conditions = new Map((state.cluster.status?.conditions ?? []).map((condition) => [condition.type, condition.status]));
    for (const master of masters) assert.equal(conditions.get(`PrepareNode/${master}`), "True");
    assert.equal(conditions.get(`JoinMaster/${masters[2]}`), "True");
    for (const worker of workers) assert.equal(conditions.get(`JoinWorker/${worker}`), "True");
    assert.equal(conditions.get(`BootstrapToken/${masters[0]}`), "True", "the expired token was not made valid again before the joins");
    assert.equal(statSync(clusterfile()).mode & 0o777, 0o600);
    for (const host of hosts.hosts.slice(0, 3)) {
      const copy = readFileSync(host.path("/etc/seal/Clusterfile"), "utf8");
      assert.deepEqual(parseClusterfile(copy).cluster.spec.hosts.map((group) => group.ips.length), [3, 2]);
      assert.ok(!copy.includes(PASSWORD), "the master's Clusterfile copy holds the password");
    }
    for (const host of workerHosts()) assert.equal(existsSync(host.path("/etc/seal/Clusterfile")), false, "a worker got the Clusterfile");
    for (const host of hosts.hosts) {
      assert.match(readFileSync(host.path("/etc/modules-load.d/seal.conf"), "utf8"), /^ip_vs$/m);
      assert.match(readFileSync(host.path("/etc/hosts"), "utf8"), new RegExp(`# BEGIN seal managed hosts[\\s\\S]*apiserver\\.cluster\\.local`));
    }
    assert.ok(!readFileSync(clusterfile(), "utf8").includes(PASSWORD));
    assert.ok(!resumed.stderr.includes(PASSWORD));
  });

  it("each worker: the VIP to all three masters in its nftables table, joined through it, its static pod naming the three", async () => {
    for (const worker of workerHosts()) {
      // nft in the worker's own namespace: our table DNATs the VIP to each master.
      const table = await worker.exec(["nft", "list", "table", "ip", "lvscare"]);
      assert.equal(table.code, 0, describeRun(table));
      assert.match(table.stdout, new RegExp(VIP.replaceAll(".", "\\.")));
      for (const master of masters) assert.match(table.stdout, new RegExp(`${master.replaceAll(".", "\\.")} \\. 6443`), `${worker.hostname}: ${master} missing:\n${table.stdout}`);
      const joins = kubeadmCalls(worker).filter((call) => call.argv[0] === "join");
      assert.equal(joins.length, 1, `${worker.hostname} joined ${joins.length} times`);
      assert.equal(joins[0]?.exitCode, 0);
      assert.match(readFileSync(worker.path(joins[0]?.argv[2] as string), "utf8"), new RegExp(`apiServerEndpoint: "?${VIP.replaceAll(".", "\\.")}:6443`));
      const manifest = readFileSync(worker.path(LVSCARE_MANIFEST_PATH), "utf8");
      assert.match(manifest, /--dataplane[\s\S]{0,12}nftables/);
      for (const master of masters) assert.match(manifest, new RegExp(`${master.replaceAll(".", "\\.")}:6443`));
      assert.equal(existsSync(worker.path("/etc/kubernetes/admin.conf")), false, "the admin kubeconfig left the masters");
    }
    // The kubelets' TLS bootstrap (done by the fake joins) registered all five with the stand-in API server.
    const nodes = await hosts.at(0).exec(["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes", "-o", "name"]);
    assert.equal(nodes.code, 0, describeRun(nodes));
    assert.deepEqual(nodes.stdout.trim().split("\n").map((line) => line.replace(/^node\//, "")).sort(), [...HOSTNAMES].sort());
  });

  it("a third run changes nothing: no kubeadm call, the same files (inodes kept)", async () => {
    const before = hosts.hosts.map((host) => ({ calls: kubeadmCalls(host).length, hosts: statSync(host.path("/etc/hosts")).ino, ca: statSync(host.path("/etc/kubernetes/pki/ca.crt")).ino }));
    const again = await seal(runArgs());
    assert.equal(again.code, 0, describeRun(again));
    const afterwards = hosts.hosts.map((host) => ({ calls: kubeadmCalls(host).length, hosts: statSync(host.path("/etc/hosts")).ino, ca: statSync(host.path("/etc/kubernetes/pki/ca.crt")).ino }));
    assert.deepEqual(afterwards, before);
    assert.deepEqual(await etcdMembers(), MASTER_NAMES);
  });

  it("seal status: the Clusterfile's phase and what each host answers, as a table and as JSON", async () => {
    const json = await seal(["status", "--json"]);
    assert.equal(json.code, 0, describeRun(json));
    const status = JSON.parse(json.stdout) as {
      phase: string;
      hosts: { address: string; role: string; reachable: boolean; answeredHostname: string; kubeadm: string; apiServer: string; lastStep?: { type: string }; firstExpiry?: { name: string; notAfter: string }; problems: string[] }[];
    };
    assert.equal(status.phase, "ClusterSuccess");
    assert.deepEqual(status.hosts.map((host) => [host.address, host.role, host.reachable, host.answeredHostname, host.kubeadm, host.lastStep?.type.split("/")[0]]), [
      ...masters.map((address, index) => [address, "master", true, HOSTNAMES[index], "done", "CopyClusterfile"]),
      ...workers.map((address, index) => [address, "worker", true, HOSTNAMES[3 + index], "done", "JoinWorker"]),
    ]);
    for (const host of status.hosts.filter((h) => h.role === "master")) {
      // The stand-in API server answers /healthz through the rendered certificate; openssl on the host read the 99-year leaves.
      assert.equal(host.apiServer, "healthy", JSON.stringify(host));
      assert.ok(Number(host.firstExpiry?.notAfter.slice(0, 4)) > 2100, JSON.stringify(host));
    }
    const table = await seal(["status"]);
    assert.equal(table.code, 0, describeRun(table));
    assert.match(table.stdout, /^HOST\s+NAME\s+ROLE\s+SSH\s+KUBEADM\s+KUBELET\s+APISERVER\s+LVSCARE\s+VERSION\s+CERTS UNTIL\s+LAST STEP\s+PROBLEMS\n/);
    assert.match(table.stdout, new RegExp(`${(masters[1] as string).replaceAll(".", "\\.")}\\s+master-2\\s+master\\s+ok\\s+done\\s+\\S+\\s+ok\\s`));
    assert.match(table.stdout, new RegExp(`${(workers[0] as string).replaceAll(".", "\\.")}\\s+worker-1\\s+worker\\s+ok\\s+done\\s`));
    assert.match(table.stdout, /\ncluster "default" \(Kubernetes v[\d.]+\): ClusterSuccess, 5 hosts, /);
  });

  it("a second seal on the same cluster is refused, naming the holder", async () => {
    const lock = join(home, ".seal", "default", "lock");
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: (await import("node:os")).hostname(), startedAt: "2026-01-01T00:00:00.000Z", command: "seal run" }));
    try {
      const refused = await seal(runArgs());
      assert.equal(refused.code, 1, describeRun(refused));
      assert.match(refused.stderr, new RegExp(`cluster is locked by seal run \\(pid ${process.pid} on .*, started 2026-01-01T00:00:00.000Z\\)`));
    } finally {
      rmSync(lock, { force: true });
    }
  });

  it("a run with other hosts on an existing cluster is refused before anything", async () => {
    const other = await seal(["run", "--masters", masters[0] as string, "--yes"]);
    assert.equal(other.code, 2, describeRun(other));
    assert.match(other.stderr, /already exists with other hosts or settings/);
  });

  it("reset undoes seal's work on every host and keeps the user's /etc/hosts line and sysctl file", async () => {
    const master = hosts.at(1);
    writeFileSync(master.path("/etc/hosts"), readFileSync(master.path("/etc/hosts"), "utf8").replace(/^(127\.0\.0\.1.*)$/m, "$1\n192.0.2.7 users-own-line"));
    mkdirSync(master.path("/etc/sysctl.d"), { recursive: true });
    writeFileSync(master.path("/etc/sysctl.d/50-user.conf"), "net.ipv4.tcp_syncookies = 1\n");
    const dry = await seal(["reset", "--dry-run"]);
    assert.equal(dry.code, 0, describeRun(dry));
    assert.match(dry.stdout, /kubeadm reset -f/);
    assert.ok(existsSync(master.path("/etc/seal/Clusterfile")), "the dry run changed a host");

    const result = await seal(["reset", "--yes"]);
    assert.equal(result.code, 0, describeRun(result));
    for (const host of hosts.hosts) {
      for (const path of ["/etc/modules-load.d/seal.conf", "/etc/sysctl.d/99-seal.conf", "/etc/seal/Clusterfile", "/var/lib/seal/default", "/etc/kubernetes/admin.conf"]) {
        assert.equal(existsSync(host.path(path)), false, `${host.hostname}: ${path} left behind`);
      }
      assert.doesNotMatch(readFileSync(host.path("/etc/hosts"), "utf8"), /seal managed hosts|apiserver\.cluster\.local/);
      assert.deepEqual((await host.processes()).filter((line) => /\/usr\/bin\/etcd |apiserver\/main\.ts/.test(line)), []);
    }
    for (const worker of workerHosts()) {
      assert.notEqual((await worker.exec(["nft", "list", "table", "ip", "lvscare"])).code, 0, `${worker.hostname}: the lvscare table is still there`);
      for (const path of ["/usr/local/bin/lvscare", LVSCARE_MANIFEST_PATH]) assert.equal(existsSync(worker.path(path)), false, `${worker.hostname}: ${path} left behind`);
    }
    assert.match(readFileSync(master.path("/etc/hosts"), "utf8"), /^192\.0\.2\.7 users-own-line$/m);
    assert.equal(readFileSync(master.path("/etc/sysctl.d/50-user.conf"), "utf8"), "net.ipv4.tcp_syncookies = 1\n");
    assert.equal(existsSync(clusterfile()), false);
    assert.ok(existsSync(join(home, ".seal", "default", "pki", "ca.crt")), "reset removed the CA store");
  });
});
