/**
 * The worker path of `seal run` on this host (no IPVS here, so `--kube-proxy-mode nftables`: the
 * worker's lvscare runs `--dataplane nftables`, which works in the worker's network namespace).
 * One master and one worker, real sshd hosts carrying the fakes: the lvscare executable is the
 * repository's sources behind a wrapper script (the host sees the repository at the same path),
 * the image archive a small docker archive the fake ctr reads for real. Checked with tools that
 * are not ours: nft in the worker's namespace, the fake kubeadm's call log and the stand-in API
 * server's log, conntrack, ctr, the static pod file; then a rerun changing nothing, `seal delete
 * --nodes` and `seal add --nodes` of the worker (Debian's kubectl against the stand-in API server
 * for its Node), `seal add --masters` and `seal delete --masters` of a second master (the worker's
 * static pod follows each), and `seal reset`. Last, on the same (reset) master: `--bundle` with sealos's offline layout on a host
 * whose kubeadm and kubelet only the bundle brings, then `seal add --nodes --bundle` of the (reset) worker likewise.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { DEFAULT_LVSCARE_IMAGE, LVSCARE_MANIFEST_PATH } from "@lvscare/contracts/names";
import { parseClusterfile } from "../src/cluster-state/clusterfile.ts";
import { installFakes } from "./fakes/install.ts";
import { parseCallLog, CALL_LOG } from "./fakes/contract.ts";
import { createTestHosts, type TestHost, type TestHosts } from "./hosts/test-hosts.ts";
import { requireTool, run, type RunResult } from "./helpers/tools.ts";
import { writeWorkerFiles } from "./helpers/worker-files.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const SEAL = resolve(HERE, "../bin/seal.js");
const PASSWORD = "seal-test-root";
const HOSTNAMES = ["master-1", "worker-1", "master-2"];
const VIP = "10.103.97.2";
const MANIFEST = LVSCARE_MANIFEST_PATH;

describe("seal run with a worker (--kube-proxy-mode nftables), seal reset, --bundle", { timeout: 900_000 }, () => {
  let hosts: TestHosts;
  let home: string;
  let work: string;
  let lvscareBin: string;
  let imageArchive: string;
  let master: TestHost;
  let worker: TestHost;
  /** Joins as a second master and leaves again, so the worker's static pod must follow. */
  let master2: TestHost;
  const seal = async (args: readonly string[]): Promise<RunResult> => {
    const [file, ...rest] = hosts.clientCommand([process.execPath, SEAL, ...args]);
    return run(file as string, rest, { env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: home, SEAL_SSH_PASSWORD: PASSWORD } });
  };
  const runArgs = () => [
    "run", "--masters", master.address, "--nodes", worker.address, "--hostnames", `${master.address}=master-1,${worker.address}=worker-1`,
    "--vip", VIP, "--kube-proxy-mode", "nftables", "--lvscare-bin", lvscareBin, "--lvscare-image-archive", imageArchive, "--yes",
  ];
  const describeRun = (result: RunResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  const calls = (host: TestHost, tool: string) => {
    const path = host.path(CALL_LOG);
    return existsSync(path) ? parseCallLog(readFileSync(path, "utf8")).filter((call) => call.tool === tool) : [];
  };
  const nftTable = (host: TestHost) => host.exec(["nft", "list", "table", "ip", "lvscare"]);
  const clusterfile = () => join(home, ".seal", "default", "Clusterfile");
  const hostsOf = (file: string) => parseClusterfile(readFileSync(file, "utf8")).cluster.spec.hosts.map((group) => ({ ips: group.ips, roles: group.roles }));
  /** The nodes the stand-in API server knows, through Debian's kubectl on the master. */
  const nodeNames = async () => {
    const result = await master.exec(["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes", "-o", "name"]);
    assert.equal(result.code, 0, describeRun(result));
    return result.stdout.trim().split("\n").filter((line) => line !== "").map((line) => line.replace(/^node\//, "")).sort();
  };

  before(async () => {
    for (const tool of ["etcd", "etcdctl", "openssl", "nft", "conntrack", "tar", "kubectl"]) requireTool(tool);
    home = mkdtempSync(join(tmpdir(), "seal-worker-"));
    work = mkdtempSync(join(tmpdir(), "seal-worker-files-"));
    ({ lvscareBin, imageArchive } = await writeWorkerFiles(work));
    hosts = await createTestHosts({ count: 3, hostnames: HOSTNAMES, rootPassword: PASSWORD });
    [master, worker, master2] = hosts.hosts as [TestHost, TestHost, TestHost];
    for (const host of hosts.hosts) installFakes({ node: process.execPath, targetDir: host.path("/usr/local/bin"), settings: { discoveryTimeout: "20s" } });
  });

  after(async () => {
    await hosts?.destroy();
    for (const dir of [home, work]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("installs the worker: VIP in nft, the join's discovery through it, the image, the static pod", async () => {
    const result = await seal(runArgs());
    assert.equal(result.code, 0, describeRun(result));
    const table = await nftTable(worker);
    assert.equal(table.code, 0, describeRun(table));
    assert.match(table.stdout, new RegExp(VIP.replaceAll(".", "\\.")));
    assert.match(table.stdout, new RegExp(`${master.address.replaceAll(".", "\\.")}`));
    const joins = calls(worker, "kubeadm").filter((call) => call.argv[0] === "join");
    assert.equal(joins.length, 1);
    assert.equal(joins[0]?.exitCode, 0);
    // The join config names the VIP as its discovery endpoint; the stand-in API server saw the worker's requests.
    const joinConfig = readFileSync(worker.path(joins[0]?.argv[2] as string), "utf8");
    assert.match(joinConfig, new RegExp(`apiServerEndpoint: "?${VIP.replaceAll(".", "\\.")}:6443`));
    // The worker's connections to the VIP, DNATed to the master, as the kernel's conntrack saw them.
    const tracked = await worker.exec(["conntrack", "-L", "-p", "tcp", "--orig-dst", VIP]);
    assert.equal(tracked.code, 0, describeRun(tracked));
    assert.match(tracked.stdout, new RegExp(`dst=${VIP.replaceAll(".", "\\.")} sport=\\d+ dport=6443 .*src=${master.address.replaceAll(".", "\\.")} dst=${worker.address.replaceAll(".", "\\.")} sport=6443`));
    // The kubelet's TLS bootstrap (done by the fake join) registered the worker with the stand-in API server.
    assert.match(readFileSync(master.path("/var/lib/seal-fakes/logs/kube-apiserver.log"), "utf8"), /system:node:worker-1 created nodes worker-1/);
    assert.equal(existsSync(worker.path("/etc/kubernetes/bootstrap-kubelet.conf")), false);
    const images = await worker.exec(["ctr", "-n", "k8s.io", "images", "ls", "-q"]);
    assert.equal(images.stdout, `${DEFAULT_LVSCARE_IMAGE}\n`, describeRun(images));
    const manifest = readFileSync(worker.path(MANIFEST), "utf8");
    assert.match(manifest, /--dataplane[\s\S]{0,12}nftables/);
    assert.match(manifest, new RegExp(`${master.address.replaceAll(".", "\\.")}:6443`));
    assert.equal(statSync(worker.path("/usr/local/bin/lvscare")).mode & 0o777, 0o755);
  });

  it("the same command again changes nothing on the worker", async () => {
    const kubeadmChanges = () => calls(worker, "kubeadm").filter((call) => ["init", "join", "reset"].includes(call.argv[0] ?? "")).length;
    const before = { joins: kubeadmChanges(), ctr: calls(worker, "ctr").length, manifest: statSync(worker.path(MANIFEST)).ino, hosts: statSync(worker.path("/etc/hosts")).ino };
    const again = await seal(runArgs());
    assert.equal(again.code, 0, describeRun(again));
    assert.deepEqual({ joins: kubeadmChanges(), ctr: calls(worker, "ctr").length, manifest: statSync(worker.path(MANIFEST)).ino, hosts: statSync(worker.path("/etc/hosts")).ino }, before);
  });

  it("seal delete --nodes: lvscare care -C ran, the executable and manifest gone, kubeadm reset, its node and Clusterfile entry gone", async () => {
    const resetsBefore = calls(worker, "kubeadm").filter((call) => call.argv[0] === "reset").length;
    assert.deepEqual(await nodeNames(), ["master-1", "worker-1"]);
    const result = await seal(["delete", "--nodes", worker.address, "--yes"]);
    assert.equal(result.code, 0, describeRun(result));
    const table = await nftTable(worker);
    assert.notEqual(table.code, 0, `the lvscare table is still there:\n${table.stdout}`);
    for (const path of ["/usr/local/bin/lvscare", MANIFEST, "/var/lib/seal/default"]) assert.equal(existsSync(worker.path(path)), false, `${path} left behind`);
    const resets = calls(worker, "kubeadm").filter((call) => call.argv[0] === "reset");
    assert.equal(resets.length, resetsBefore + 1);
    assert.equal(resets.at(-1)?.exitCode, 0);
    assert.deepEqual(await nodeNames(), ["master-1"]);
    for (const file of [clusterfile(), master.path("/etc/seal/Clusterfile")]) assert.deepEqual(hostsOf(file), [{ ips: [`${master.address}:22`], roles: ["master"] }], file);
  });

  it("seal add --nodes: joins again through the VIP, the nft table, the static pod and the Clusterfile entry are back", async () => {
    const joinsBefore = calls(worker, "kubeadm").filter((call) => call.argv[0] === "join").length;
    const result = await seal([
      "add", "--nodes", worker.address, "--hostnames", `${worker.address}=worker-1`, "--lvscare-bin", lvscareBin, "--lvscare-image-archive", imageArchive, "--yes",
    ]);
    assert.equal(result.code, 0, describeRun(result));
    const joins = calls(worker, "kubeadm").filter((call) => call.argv[0] === "join");
    assert.equal(joins.length, joinsBefore + 1);
    assert.equal(joins.at(-1)?.exitCode, 0);
    const joinConfig = readFileSync(worker.path(joins.at(-1)?.argv[2] as string), "utf8");
    assert.match(joinConfig, new RegExp(`apiServerEndpoint: "?${VIP.replaceAll(".", "\\.")}:6443`));
    const table = await nftTable(worker);
    assert.equal(table.code, 0, describeRun(table));
    assert.match(table.stdout, new RegExp(VIP.replaceAll(".", "\\.")));
    assert.match(table.stdout, new RegExp(master.address.replaceAll(".", "\\.")));
    const manifest = readFileSync(worker.path(MANIFEST), "utf8");
    assert.match(manifest, /--dataplane[\s\S]{0,12}nftables/);
    assert.equal(statSync(worker.path("/usr/local/bin/lvscare")).mode & 0o777, 0o755);
    assert.deepEqual(await nodeNames(), ["master-1", "worker-1"]);
    assert.deepEqual(hostsOf(clusterfile()), [{ ips: [`${master.address}:22`], roles: ["master"] }, { ips: [`${worker.address}:22`], roles: ["node"] }]);
  });

  it("seal add --masters: the second master joins and the worker's lvscare static pod balances over both", async () => {
    const manifestBefore = readFileSync(worker.path(MANIFEST), "utf8");
    assert.doesNotMatch(manifestBefore, new RegExp(`${master2.address.replaceAll(".", "\\.")}:6443`));
    const result = await seal(["add", "--masters", master2.address, "--hostnames", `${master2.address}=master-2`, "--yes"]);
    assert.equal(result.code, 0, describeRun(result));
    const joins = calls(master2, "kubeadm").filter((call) => call.argv[0] === "join");
    assert.equal(joins.length, 1);
    assert.equal(joins[0]?.exitCode, 0);
    const manifest = readFileSync(worker.path(MANIFEST), "utf8");
    for (const m of [master, master2]) assert.match(manifest, new RegExp(`${m.address.replaceAll(".", "\\.")}:6443`), `the worker's manifest lacks ${m.address}`);
    assert.match(manifest, /--dataplane[\s\S]{0,12}nftables/);
    assert.deepEqual(await nodeNames(), ["master-1", "master-2", "worker-1"]);
    assert.deepEqual(hostsOf(clusterfile()), [{ ips: [`${master.address}:22`, `${master2.address}:22`], roles: ["master"] }, { ips: [`${worker.address}:22`], roles: ["node"] }]);
  });

  it("seal delete --masters: the worker's static pod back to the one master, the node and its conditions gone", async () => {
    const result = await seal(["delete", "--masters", master2.address, "--yes"]);
    assert.equal(result.code, 0, describeRun(result));
    const manifest = readFileSync(worker.path(MANIFEST), "utf8");
    assert.match(manifest, new RegExp(`${master.address.replaceAll(".", "\\.")}:6443`));
    assert.doesNotMatch(manifest, new RegExp(`${master2.address.replaceAll(".", "\\.")}:6443`), "the deleted master is still in the worker's manifest");
    assert.deepEqual(await nodeNames(), ["master-1", "worker-1"]);
    const stored = parseClusterfile(readFileSync(clusterfile(), "utf8")).cluster;
    assert.deepEqual(stored.spec.hosts.map((group) => ({ ips: group.ips, roles: group.roles })), [{ ips: [`${master.address}:22`], roles: ["master"] }, { ips: [`${worker.address}:22`], roles: ["node"] }]);
    assert.deepEqual((stored.status?.conditions ?? []).filter((condition) => condition.type.endsWith(`/${master2.address}`)), []);
    assert.ok((stored.status?.conditions ?? []).some((condition) => condition.type === `UpdateLvscare/${worker.address}` && condition.status === "True"), "no UpdateLvscare step recorded for the worker");
  });

  it("seal reset runs lvscare care -C and removes the executable, the manifest, the image and our hosts entries", async () => {
    const result = await seal(["reset", "--yes"]);
    assert.equal(result.code, 0, describeRun(result));
    const table = await nftTable(worker);
    assert.notEqual(table.code, 0, `the lvscare table is still there:\n${table.stdout}`);
    for (const path of ["/usr/local/bin/lvscare", MANIFEST, "/var/lib/seal/default"]) assert.equal(existsSync(worker.path(path)), false, `${path} left behind`);
    assert.doesNotMatch(readFileSync(worker.path("/etc/hosts"), "utf8"), /seal managed hosts|apiserver\.cluster\.local/);
    const images = await worker.exec(["ctr", "-n", "k8s.io", "images", "ls", "-q"]);
    assert.equal(images.stdout, "");
  });
  it("--bundle (sealos's offline layout) on a host without kubeadm: uploaded once, unpacked, init.sh run, then installed; a corrupt or missing one refused first; seal add --bundle likewise", async () => {
    // The host starts without kubeadm and kubelet; the bundle brings the fakes' wrappers as kube/bin.
    const tree = join(work, "bundle");
    for (const dir of ["kube/bin", "kube/conf", "kube/images", "kube/shell"]) mkdirSync(join(tree, dir), { recursive: true });
    for (const tool of ["kubeadm", "kubelet"]) {
      writeFileSync(join(tree, "kube/bin", tool), readFileSync(master.path(`/usr/local/bin/${tool}`)), { mode: 0o755 });
      rmSync(master.path(`/usr/local/bin/${tool}`));
    }
    writeFileSync(join(tree, "kube/bin/kubectl"), "#!/bin/sh\nexec /usr/bin/kubectl \"$@\"\n", { mode: 0o755 });
    writeFileSync(join(tree, "kube/conf/kubelet.service"), "[Service]\nExecStart=/usr/bin/kubelet\n");
    writeFileSync(join(tree, "kube/images/images.tar"), readFileSync(imageArchive));
    writeFileSync(join(tree, "kube/shell/init.sh"), "set -e\ncp ../bin/kubeadm ../bin/kubelet /usr/local/bin/\necho \"$(pwd)\" >> /root/bundle-init-ran\n");
    const bundle = join(work, "offline.tar.gz");
    const tar = await run("tar", ["-C", tree, "-czf", bundle, "kube"]);
    assert.equal(tar.code, 0, describeRun(tar));
    const corrupt = join(work, "corrupt.tar.gz");
    writeFileSync(corrupt, readFileSync(bundle).subarray(0, 200));
    const bundleArgs = (file: string) => ["run", "--cluster", "bundled", "--masters", master.address, "--hostnames", `${master.address}=master-1`, "--kubernetes-version", "v1.31.2", "--kube-proxy-mode", "nftables", "--bundle", file, "--yes"];
    const logBefore = await master.sshdLog();
    for (const file of [corrupt, join(work, "missing.tar.gz")]) {
      const refused = await seal(bundleArgs(file));
      assert.equal(refused.code, 2, describeRun(refused));
      assert.match(refused.stderr, /^seal: error: --bundle .*(not a readable tar archive|is not a file)/);
    }
    assert.equal(await master.sshdLog(), logBefore, "a refused bundle contacted the host");
    assert.equal(existsSync(join(home, ".seal", "bundled")), false);

    const result = await seal(bundleArgs(bundle));
    assert.equal(result.code, 0, describeRun(result));
    assert.equal(readFileSync(master.path("/root/bundle-init-ran"), "utf8"), "/var/lib/seal/bundled/bundle/kube/shell\n");
    assert.equal(calls(master, "kubeadm").filter((call) => call.argv[0] === "init").length, 2, "no kubeadm init after the bundle (one before, from the first cluster)");
    const uploaded = master.path("/var/lib/seal/bundled/bundle.tar.gz");
    const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
    assert.equal(sha(uploaded), sha(bundle));
    const inode = statSync(uploaded).ino;

    const again = await seal(bundleArgs(bundle));
    assert.equal(again.code, 0, describeRun(again));
    assert.match(again.stderr, /bundle installed before/);
    assert.equal(statSync(uploaded).ino, inode, "the bundle was uploaded again");
    assert.equal(readFileSync(master.path("/root/bundle-init-ran"), "utf8").split("\n").length, 2, "init.sh ran twice");

    // seal add --bundle: the (reset) worker without kubeadm and kubelet gets them from the bundle, then joins.
    for (const tool of ["kubeadm", "kubelet"]) rmSync(worker.path(`/usr/local/bin/${tool}`));
    const joinsBefore = calls(worker, "kubeadm").filter((call) => call.argv[0] === "join").length;
    const added = await seal([
      "add", "--cluster", "bundled", "--nodes", worker.address, "--hostnames", `${worker.address}=worker-1`, "--bundle", bundle,
      "--lvscare-bin", lvscareBin, "--lvscare-image-archive", imageArchive, "--yes",
    ]);
    assert.equal(added.code, 0, describeRun(added));
    assert.equal(readFileSync(worker.path("/root/bundle-init-ran"), "utf8"), "/var/lib/seal/bundled/bundle/kube/shell\n");
    assert.equal(sha(worker.path("/var/lib/seal/bundled/bundle.tar.gz")), sha(bundle));
    const joins = calls(worker, "kubeadm").filter((call) => call.argv[0] === "join");
    assert.equal(joins.length, joinsBefore + 1);
    assert.equal(joins.at(-1)?.exitCode, 0);
  });
});
