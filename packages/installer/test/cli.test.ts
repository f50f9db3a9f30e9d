/** The `seal` executable as users run it: bin/seal.js on Node 24, exit codes, messages, effects. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { nodeVersionProblem } from "../bin/check-node-version.js";
import type { Plan } from "../src/plan/plan.ts";
import { NODE, run } from "./helpers/tools.ts";

const SEAL = join(import.meta.dirname, "..", "bin", "seal.js");
const seal = (args: readonly string[]) => run(NODE, [SEAL, ...args]);

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "seal-cli-"));
});
after(() => rm(scratch, { recursive: true, force: true }));

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

describe("seal render", () => {
  it("renders a cluster and says what it wrote", async () => {
    const out = join(scratch, "cluster");
    const result = await seal([
      "render", "--masters", "192.168.0.2,192.168.0.3,192.168.0.4", "--nodes", "192.168.0.10",
      "--kubernetes-version", "v1.30.6", "--key-algorithm", "ecdsa-p256", "--cluster", "prod", "-o", out,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.match(result.stdout, /^rendered cluster "prod" \(Kubernetes v1\.30\.6, kubeadm\.k8s\.io\/v1beta3\) for 4 hosts into /);
    assert.match(result.stdout, /192\.168\.0\.2 ip-192-168-0-2 master0: 28 files, kubeadm init/);
    assert.match(result.stdout, /192\.168\.0\.10 ip-192-168-0-10 worker: 1 files, kubeadm join, then 1 more/);
    assert.match(result.stdout, /CA pin for kubeadm join: sha256:[0-9a-f]{64}/);
    assert.doesNotMatch(result.stdout, /[a-z0-9]{6}\.[a-z0-9]{16}/, "the bootstrap token is never printed");
    const plan = JSON.parse(await readFile(join(out, "plan.json"), "utf8")) as Plan;
    assert.equal(plan.cluster, "prod");
    assert.equal((await stat(out)).mode & 0o777, 0o700, "the output holds keys: owner only");
    for (const host of plan.hosts) {
      for (const file of [...host.files, ...host.afterKubeadm.files]) {
        const mode = (await stat(join(out, file.source))).mode & 0o777;
        assert.equal(mode.toString(8).padStart(4, "0"), file.mode, file.source);
      }
    }
  });

  it("renders the current default version with kube-proxy in iptables mode, and nftables on request", async () => {
    const plain = join(scratch, "default-version");
    const result = await seal(["render", "--masters", "192.168.0.2", "--nodes", "192.168.0.10", "-o", plain]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\(Kubernetes v1\.37\.1, kubeadm\.k8s\.io\/v1beta4\)/);
    const init = await readFile(join(plain, "hosts/192.168.0.2/var/lib/seal/default/kubeadm/init.yaml"), "utf8");
    assert.match(init, /^mode: iptables$/m);
    assert.doesNotMatch(init, /excludeCIDRs/);

    const nft = join(scratch, "nftables");
    const nftResult = await seal(["render", "--masters", "192.168.0.2", "--nodes", "192.168.0.10", "--kube-proxy-mode", "nftables", "-o", nft]);
    assert.equal(nftResult.code, 0, nftResult.stderr);
    assert.match(nftResult.stderr, /kube-proxy flushes every IPVS virtual server .* --dataplane nftables/);
    assert.match(await readFile(join(nft, "hosts/192.168.0.2/var/lib/seal/default/kubeadm/init.yaml"), "utf8"), /^mode: nftables$/m);
    const pod = await readFile(join(nft, "hosts/192.168.0.10/etc/kubernetes/manifests/kube-sealos-lvscare.yaml"), "utf8");
    assert.match(pod, /- --dataplane\n\s+- nftables\n/);
    const plan = JSON.parse(await readFile(join(nft, "plan.json"), "utf8")) as Plan;
    assert.equal(plan.hosts.find((host) => host.role === "worker")?.virtualServer?.dataplane, "nftables");
  });

  const refusals: [string, string[], RegExp][] = [
    ["an even number of masters", ["--masters", "10.0.0.1,10.0.0.2"], /--masters: 2 masters .*--allow-even-masters/],
    ["a VIP in the service network", ["--masters", "10.0.0.1", "--vip", "10.96.0.7"], /--vip 10\.96\.0\.7 lies inside --service-cidr/],
    ["a master that is also a node", ["--masters", "10.0.0.1", "--nodes", "10.0.0.1"], /listed both in --masters and in --nodes/],
    ["Kubernetes 1.21", ["--masters", "10.0.0.1", "--kubernetes-version", "v1.21.0"], /Kubernetes v1\.21\.0 is not supported/],
    ["an unknown key algorithm", ["--masters", "10.0.0.1", "--key-algorithm", "rsa-1024"], /--key-algorithm.*rsa-1024.*Allowed choices are rsa-2048, ecdsa-p256/],
    ["an unknown option", ["--masters", "10.0.0.1", "--bogus"], /unknown option '--bogus'/],
    ["nftables kube-proxy before 1.31", ["--masters", "10.0.0.1", "--kube-proxy-mode", "nftables", "--kubernetes-version", "v1.30.6"], /--kube-proxy-mode nftables needs Kubernetes v1\.31 or later/],
    ["an unknown kube-proxy mode", ["--masters", "10.0.0.1", "--kube-proxy-mode", "userspace"], /--kube-proxy-mode.*userspace.*Allowed choices are iptables, nftables, ipvs/],
    ["no masters", [], /required option '--masters <ips>' not specified/],
  ];
  for (const [label, args, message] of refusals) {
    it(`refuses ${label}: exit 2, one line, nothing written`, async () => {
      const out = join(scratch, `refused-${label.replaceAll(" ", "-")}`);
      const result = await seal(["render", ...args, "-o", out]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^seal: error: /);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
      assert.equal(result.stdout, "");
      assert.equal(await exists(out), false);
      assert.deepEqual((await readdir(scratch)).filter((name) => name.includes("seal-staging")), []);
    });
  }

  it("refuses a non-empty output directory and leaves it as it was", async () => {
    const out = join(scratch, "occupied");
    await mkdir(out);
    await writeFile(join(out, "keep.txt"), "mine");
    const result = await seal(["render", "--masters", "10.0.0.1", "-o", out]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^seal: error: -o: .*occupied is not empty/);
    assert.deepEqual(await readdir(out), ["keep.txt"]);
  });

  it("prints help with the defaults", async () => {
    const result = await seal(["render", "--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--vip <ip>\s[^-]*\(default: "10\.103\.97\.2"\)/);
    assert.match(result.stdout, /--cert-validity <duration>\s[^(]*\(default: "99y"\)/);
  });
});

describe("seal without a command", () => {
  it("prints help on stderr and exits 2; an unknown command is one error line", async () => {
    const bare = await seal([]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^Usage: seal \[options\] \[command\]/);
    assert.match(bare.stderr, /render \[options\]/);
    const unknown = await seal(["bogus"]);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "seal: error: unknown command 'bogus'\n");
  });
});

describe("seal cert", () => {
  it("without --masters and without the cluster's Clusterfile: one line naming both, exit 2, nothing contacted", async () => {
    const home = join(scratch, "empty-home");
    await mkdir(home);
    const result = await run(NODE, [SEAL, "cert", "--alt-names", "api.example", "--cluster", "nothing-here"], { env: { ...process.env, HOME: home } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^seal: error: no --masters and no cluster "nothing-here" \(.*\/\.seal\/nothing-here\/Clusterfile does not exist\); give --masters IP,\.\.\.\n$/);
    assert.deepEqual(await readdir(home), []);
  });
});

describe("seal run --dry-run", () => {
  it("--kube-proxy-mode nftables: the worker's lvscare care --run-once gets --dataplane nftables, as its static pod", async () => {
    const home = join(scratch, "dry-home");
    await mkdir(home);
    const args = ["run", "--dry-run", "--masters", "192.168.0.2", "--nodes", "192.168.0.10", "--lvscare-bin", "/opt/lvscare"];
    const nft = await run(NODE, [SEAL, ...args, "--kube-proxy-mode", "nftables"], { env: { ...process.env, HOME: home } });
    assert.equal(nft.code, 0, nft.stderr);
    assert.match(nft.stdout, /\n {2}run \/usr\/local\/bin\/lvscare care --vs 10\.103\.97\.2:6443 --rs 192\.168\.0\.2:6443 --dataplane nftables --run-once\n/);
    const ipvs = await run(NODE, [SEAL, ...args], { env: { ...process.env, HOME: home } });
    assert.equal(ipvs.code, 0, ipvs.stderr);
    assert.match(ipvs.stdout, /\n {2}run \/usr\/local\/bin\/lvscare care --vs 10\.103\.97\.2:6443 --rs 192\.168\.0\.2:6443 --run-once\n/);
    assert.deepEqual(await readdir(home), [], "a dry run writes nothing");
  });
});

describe("seal hosts", () => {
  it("sets and removes entries, warning about a user line that wins", async () => {
    const file = join(scratch, "hosts");
    const original = "127.0.0.1 localhost\n10.9.9.9 apiserver.cluster.local\n";
    await writeFile(file, original);
    const set = await seal(["hosts", "set", "--file", file, "apiserver.cluster.local=10.103.97.2", "lvscare.node.ip=10.0.0.11"]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, `${file}: updated\n`);
    assert.match(set.stderr, /^seal: warning: .*hosts:2 maps apiserver\.cluster\.local to 10\.9\.9\.9; that line comes before the seal block and wins/);
    assert.match(await readFile(file, "utf8"), /\n10\.103\.97\.2 apiserver\.cluster\.local\n10\.0\.0\.11 lvscare\.node\.ip\n/);
    const again = await seal(["hosts", "set", "--file", file, "apiserver.cluster.local=10.103.97.2", "lvscare.node.ip=10.0.0.11"]);
    assert.equal(again.stdout, `${file}: already up to date\n`);
    const removed = await seal(["hosts", "remove", "--file", file, "apiserver.cluster.local", "lvscare.node.ip"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(await readFile(file, "utf8"), original);
  });

  it("refuses bad entries with exit 2 and leaves the file alone", async () => {
    const file = join(scratch, "hosts-bad");
    await writeFile(file, "127.0.0.1 localhost\n");
    for (const args of [["set", "--file", file, "apiserver=10.0.0.999"], ["set", "--file", file, "=10.0.0.1"], ["set", "--file", file, "no-address"], ["remove", "--file", file, "bad name"]]) {
      const result = await seal(["hosts", ...args]);
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, /^seal: error: /);
      assert.equal(await readFile(file, "utf8"), "127.0.0.1 localhost\n");
    }
  });
});

describe("the Node.js version check of bin/seal.js", () => {
  it("accepts Node 24 and later and explains what to do on older ones", () => {
    assert.equal(nodeVersionProblem("24.0.0"), undefined);
    assert.equal(nodeVersionProblem("25.1.0"), undefined);
    assert.match(nodeVersionProblem("20.20.0") ?? "", /^seal needs Node\.js 24 or later .* this is Node\.js 20\.20\.0\. Use the node from node_modules\/\.bin/);
  });
});
