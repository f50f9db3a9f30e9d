/**
 * The fakes with a cluster rendered by `seal render` (3 masters, 1 worker, Kubernetes 1.31) on
 * private test hosts: kubeadm init starts a real etcd and the stand-in API server; two masters
 * join (etcd grows to three members, listed by etcdctl with the healthcheck-client certificate);
 * a worker discovers the cluster through the VIP (here an address on master-2), checks the CA pin
 * and the JWS, does the kubelet's TLS bootstrap and registers; kubectl (Debian's, real) lists the
 * nodes; wrong tokens and pins are refused and change nothing; reset removes the etcd member,
 * stops every daemon kubeadm started and deletes exactly kubeadm's files.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { installFakes, writeFakeSettings } from "./fakes/install.ts";
import { clusterSpec, renderToTemporaryDir, type RenderedDir } from "./helpers/fixtures.ts";
import { calls, describeRun, kubeadm, kubeadmStep, placeFiles, prepareNode, setHosts } from "./helpers/fake-cluster.ts";
import { createPrivateHosts, type PrivateHost, type PrivateHosts } from "./helpers/private-host.ts";
import { requireTool, run } from "./helpers/tools.ts";

const MASTERS = ["10.0.0.10", "10.0.0.11", "10.0.0.12"];
const WORKER = "10.0.0.13";
const VIP = "10.103.97.2";
const HOSTNAMES = ["10.0.0.10=master-1", "10.0.0.11=master-2", "10.0.0.12=master-3", `${WORKER}=worker-1`];

describe("the fakes run a rendered 3-master + 1-worker cluster", { timeout: 600_000 }, () => {
  let render: RenderedDir;
  let hosts: PrivateHosts;
  let printedJoin = "";
  const host = (address: string): PrivateHost => hosts.host(address);
  const planOf = (address: string) => {
    const plan = render.rendered.plan.hosts.find((entry) => entry.address === address);
    assert.ok(plan, `no plan for ${address}`);
    return plan;
  };
  const etcdctl = (args: readonly string[]) =>
    host(MASTERS[0] as string).run([
      "etcdctl", "--endpoints", "https://10.0.0.10:2379", "--cacert", "/etc/kubernetes/pki/etcd/ca.crt",
      "--cert", "/etc/kubernetes/pki/etcd/healthcheck-client.crt", "--key", "/etc/kubernetes/pki/etcd/healthcheck-client.key", ...args,
    ]);
  const memberNames = async () => {
    const result = await etcdctl(["member", "list", "-w", "json"]);
    assert.equal(result.code, 0, describeRun(result));
    return ((JSON.parse(result.stdout) as { members: { name: string }[] }).members ?? []).map((member) => member.name).sort();
  };
  const workerJoinConfig = () => readFileSync(render.dir + "/" + (planOf(WORKER).files.find((file) => file.path.endsWith("join.yaml"))?.source ?? ""), "utf8");

  before(async () => {
    for (const tool of ["etcd", "etcdctl", "openssl", "kubectl", "conntrack"]) requireTool(tool);
    render = await renderToTemporaryDir(clusterSpec({ masters: MASTERS, nodes: [WORKER], hostnames: HOSTNAMES, kubernetesVersion: "v1.31.2" }));
    hosts = await createPrivateHosts("fkc", [...MASTERS, WORKER].map((address, index) => ({ address, hostname: index < 3 ? `master-${index + 1}` : "worker-1" })));
    for (const each of hosts.hosts) {
      installFakes({ node: process.execPath, targetDir: each.toolDir, settings: { discoveryTimeout: "6s" } });
      await prepareNode(each);
      const plan = planOf(each.address);
      placeFiles(each, render.dir, plan.files);
      setHosts(each, plan.hostsEntries);
    }
    // The VIP: on a kernel without IPVS, an address of master-2 that the worker routes to.
    assert.equal((await host(MASTERS[1] as string).run(["ip", "addr", "add", `${VIP}/32`, "dev", "eth0"])).code, 0);
    assert.equal((await host(WORKER).run(["ip", "route", "add", `${VIP}/32`, "via", MASTERS[1] as string])).code, 0);
  });

  after(async () => {
    await hosts?.destroy();
    await render?.cleanup();
  });

  it("kubeadm init on master0 starts etcd and the API server from the rendered PKI", async () => {
    const master0 = host(MASTERS[0] as string);
    const result = await kubeadm(master0, [...kubeadmStep(planOf(master0.address)), "--skip-token-print", "--skip-certificate-key-print"]);
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stdout, /\(FAKE kubeadm\)/);
    assert.doesNotMatch(result.stdout + result.stderr, /abcdef|[a-z0-9]{6}\.[a-z0-9]{16}/, "the bootstrap token was printed despite --skip-token-print");
    for (const manifest of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
      assert.ok(existsSync(master0.path(`/etc/kubernetes/manifests/${manifest}.yaml`)), `${manifest}.yaml missing`);
    }
    assert.ok(existsSync(master0.path("/var/lib/kubelet/config.yaml")));
    assert.deepEqual(await memberNames(), ["master-1"]);
    const state = await master0.run(["systemctl", "is-active", "kubelet"]);
    assert.equal(state.stdout.trim(), "active");
    const record = calls(master0).find((call) => call.tool === "kubeadm" && call.argv[0] === "init");
    assert.equal(record?.exitCode, 0);
    assert.ok(calls(master0).some((call) => call.tool === "systemctl" && call.argv.join(" ") === "restart kubelet"), "kubeadm init did not restart the kubelet through systemctl");
  });

  it("joins the two other masters one at a time: etcd grows to three members", async () => {
    for (const address of MASTERS.slice(1)) {
      const master = host(address);
      const result = await kubeadm(master, kubeadmStep(planOf(address)));
      assert.equal(result.code, 0, `${address}: ${describeRun(result)}`);
      setHosts(master, planOf(address).afterKubeadm.hostsEntries);
    }
    assert.deepEqual(await memberNames(), ["master-1", "master-2", "master-3"]);
    const health = await etcdctl(["--endpoints", MASTERS.map((address) => `https://${address}:2379`).join(","), "endpoint", "health"]);
    assert.equal(health.code, 0, describeRun(health));
  });

  it("refuses a worker join whose token is unknown, after the discovery timeout, and changes nothing", async () => {
    const worker = host(WORKER);
    writeFileSync(worker.path("/root/bad-token.yaml"), workerJoinConfig().replace(/token: [a-z0-9]{6}\.[a-z0-9]{16}/, "token: zzzzzz.0123456789abcdef"));
    const result = await kubeadm(worker, ["join", "--config", "/root/bad-token.yaml"]);
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stderr, /couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID "zzzzzz"/);
    assert.equal(existsSync(worker.path("/etc/kubernetes/kubelet.conf")), false);
    assert.equal(existsSync(worker.path("/etc/kubernetes/pki/ca.crt")), false);
  });

  it("refuses a worker join whose token secret is wrong (JWS) or whose CA pin is wrong", async () => {
    const worker = host(WORKER);
    const config = workerJoinConfig();
    writeFileSync(worker.path("/root/bad-secret.yaml"), config.replace(/token: ([a-z0-9]{6})\.[a-z0-9]{16}/, "token: $1.0000000000000000"));
    const badSecret = await kubeadm(worker, ["join", "--config", "/root/bad-secret.yaml"]);
    assert.equal(badSecret.code, 1, describeRun(badSecret));
    assert.match(badSecret.stderr, /failed to verify JWS signature of received cluster info object, can't trust this API Server/);
    writeFileSync(worker.path("/root/bad-pin.yaml"), config.replace(/sha256:[0-9a-f]{64}/, `sha256:${"0".repeat(64)}`));
    const badPin = await kubeadm(worker, ["join", "--config", "/root/bad-pin.yaml"]);
    assert.equal(badPin.code, 1, describeRun(badPin));
    assert.match(badPin.stderr, /cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "sha256:[0-9a-f]{64}" are pinned/);
    assert.equal(existsSync(worker.path("/etc/kubernetes/kubelet.conf")), false);
  });

  it("joins the worker through the VIP: discovery, CA pin, JWS, TLS bootstrap, node registered", async () => {
    const worker = host(WORKER);
    const result = await kubeadm(worker, kubeadmStep(planOf(WORKER)));
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stdout, new RegExp(`requesting info from "${VIP}:6443"`));
    assert.match(result.stdout, /TLS certificate validates against pinned roots/);
    const ca = readFileSync(worker.path("/etc/kubernetes/pki/ca.crt"), "utf8");
    assert.equal(ca, readFileSync(host(MASTERS[0] as string).path("/etc/kubernetes/pki/ca.crt"), "utf8"));
    const kubeletConf = readFileSync(worker.path("/etc/kubernetes/kubelet.conf"), "utf8");
    assert.match(kubeletConf, /server: https:\/\/apiserver\.cluster\.local:6443/);
    assert.match(kubeletConf, /kubelet-client-current\.pem/);
    assert.equal(existsSync(worker.path("/etc/kubernetes/bootstrap-kubelet.conf")), false, "the bootstrap kubeconfig (with the token) was left behind");
    const subject = await worker.run(["openssl", "x509", "-in", "/var/lib/kubelet/pki/kubelet-client-current.pem", "-noout", "-subject", "-nameopt", "RFC2253"]);
    assert.match(subject.stdout, /CN=system:node:worker-1,O=system:nodes/);
    const verify = await worker.run(["openssl", "verify", "-CAfile", "/etc/kubernetes/pki/ca.crt", "/var/lib/kubelet/pki/kubelet-client-current.pem"]);
    assert.equal(verify.code, 0, describeRun(verify));
    assert.equal(readdirSync(worker.path("/etc/kubernetes/pki")).sort().join(","), "ca.crt", "a worker must receive no PKI beyond ca.crt");
  });

  it("cluster-info carries the bootstrap token's detached JWS exactly as an HMAC computed by openssl", async () => {
    const result = await host(MASTERS[0] as string).run(["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "configmap", "-n", "kube-public", "cluster-info", "-o", "json"]);
    assert.equal(result.code, 0, describeRun(result));
    const data = (JSON.parse(result.stdout) as { data: Record<string, string> }).data;
    const token = /token: ([a-z0-9]{6})\.([a-z0-9]{16})/.exec(workerJoinConfig());
    assert.ok(token);
    const [, id, secret] = token;
    const header = Buffer.from(JSON.stringify({ alg: "HS256", kid: id })).toString("base64url");
    const signingInput = `${header}.${Buffer.from(data["kubeconfig"] ?? "").toString("base64url")}`;
    const mac = await run(requireTool("openssl"), ["dgst", "-sha256", "-mac", "HMAC", "-macopt", `key:${secret}`], { input: signingInput });
    const hex = mac.stdout.trim().split(" ").at(-1) ?? "";
    assert.match(hex, /^[0-9a-f]{64}$/, mac.stdout + mac.stderr);
    assert.equal(data[`jws-kubeconfig-${id}`], `${header}..${Buffer.from(hex, "hex").toString("base64url")}`);
  });

  it("kubectl (real, Debian's) lists the four nodes through the stand-in API server", async () => {
    const result = await host(MASTERS[0] as string).run(["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes"]);
    assert.equal(result.code, 0, describeRun(result));
    const lines = result.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/);
    const rows = lines.slice(1).map((line) => line.split(/\s+/));
    assert.deepEqual(rows.map((row) => row[0]).sort(), ["master-1", "master-2", "master-3", "worker-1"]);
    assert.deepEqual(rows.filter((row) => row[2] === "control-plane").map((row) => row[0]).sort(), ["master-1", "master-2", "master-3"]);
    assert.ok(rows.every((row) => row[1] === "Ready" && row[4] === "v1.31.2"), result.stdout);
  });

  it("kubeadm token create --print-join-command prints a join command whose pin is the CA's (openssl)", async () => {
    const master = host(MASTERS[1] as string);
    const result = await kubeadm(master, ["token", "create", "--print-join-command", "--ttl", "1h"]);
    assert.equal(result.code, 0, describeRun(result));
    printedJoin = result.stdout.trim();
    const match = /^kubeadm join apiserver\.cluster\.local:6443 --token ([a-z0-9]{6}\.[a-z0-9]{16}) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64}) $/.exec(result.stdout.trim() + " ");
    assert.ok(match, result.stdout);
    assert.equal(match[2], render.rendered.caCertHash);
    const list = await kubeadm(master, ["token", "list"]);
    assert.match(list.stdout, new RegExp(match[1]?.replace(".", "\\.") ?? ""));
    const logged = calls(master).find((call) => call.argv[0] === "token" && call.argv[1] === "create");
    assert.ok(logged);
    assert.doesNotMatch(JSON.stringify(logged), new RegExp(match[1]?.split(".")[1] ?? "x"));
  });

  it("kubectl drain and delete work on a node against the stand-in", async () => {
    const master = host(MASTERS[0] as string);
    const drain = await master.run(["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "drain", "worker-1", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=30s"]);
    assert.equal(drain.code, 0, describeRun(drain));
    const get = await master.run(["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "node", "worker-1"]);
    assert.match(get.stdout, /SchedulingDisabled/);
    const removed = await master.run(["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "delete", "node", "worker-1"]);
    assert.equal(removed.code, 0, describeRun(removed));
  });

  it("kubeadm reset on a joined master removes its etcd member, stops its daemons and deletes only kubeadm's files", async () => {
    const master = host(MASTERS[2] as string);
    writeFileSync(master.path("/etc/kubernetes/user-notes.txt"), "mine\n");
    const hostsBefore = readFileSync(master.path("/etc/hosts"), "utf8");
    const result = await kubeadm(master, ["reset", "-f"]);
    assert.equal(result.code, 0, describeRun(result));
    assert.deepEqual(await memberNames(), ["master-1", "master-2"], describeRun(result));
    assert.deepEqual(master.processes().filter((cmdline) => /\/usr\/bin\/etcd |apiserver\/main\.ts/.test(cmdline)), []);
    assert.deepEqual(readdirSync(master.path("/etc/kubernetes")).sort(), ["manifests", "pki", "user-notes.txt"]);
    assert.deepEqual(readdirSync(master.path("/etc/kubernetes/manifests")), []);
    assert.deepEqual(readdirSync(master.path("/etc/kubernetes/pki")), []);
    assert.deepEqual(readdirSync(master.path("/var/lib/etcd")), []);
    assert.deepEqual(readdirSync(master.path("/var/lib/kubelet")), []);
    assert.ok(existsSync(master.path("/var/lib/seal/default/kubeadm/join.yaml")), "reset removed a file that is not kubeadm's");
    assert.equal(readFileSync(master.path("/etc/hosts"), "utf8"), hostsBefore);
    const stopped = await master.run(["systemctl", "is-active", "kubelet"]);
    assert.equal(stopped.stdout.trim(), "inactive");
  });

  it("a reset worker can be reset again and says so without failing", async () => {
    const worker = host(WORKER);
    const first = await kubeadm(worker, ["reset", "--force"]);
    assert.equal(first.code, 0, describeRun(first));
    assert.equal(existsSync(worker.path("/etc/kubernetes/kubelet.conf")), false);
    const second = await kubeadm(worker, ["reset", "--force"]);
    assert.equal(second.code, 0, describeRun(second));
    writeFakeSettings(worker.toolDir, { discoveryTimeout: "6s" });
  });

  it("the reset worker joins again with the flags `kubeadm token create --print-join-command` printed", async () => {
    const worker = host(WORKER);
    const argv = printedJoin.split(/\s+/);
    assert.equal(argv[0], "kubeadm");
    const result = await worker.run(argv);
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stdout, /requesting info from "apiserver\.cluster\.local:6443"/);
    const nodes = await host(MASTERS[0] as string).run(["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "node", "worker-1"]);
    assert.equal(nodes.code, 0, describeRun(nodes));
    assert.match(nodes.stdout, /worker-1\s+Ready\s+<none>/);
  });
});
