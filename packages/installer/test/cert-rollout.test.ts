/**
 * `seal cert`'s rollout over SSH against real sshd test hosts carrying the named fakes: master-1
 * runs `kubeadm init` (FAKE kubeadm: real etcd and the stand-in API server, which reloads its
 * serving certificate when the files change, as kube-apiserver does). The new certificates are
 * read, signed and written over SSH, the static pods restarted by parking their manifests, and
 * the API server's /healthz checked with curl on the master for the new name. A master that does
 * not come back stops the rollout before the next one is touched.
 */
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync, readdirSync, existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { prepareMasterUpdate, type MasterUpdate } from "../src/cert/prepare-update.ts";
import { checkRolloutTools, PARKED_MANIFEST_DIR, rollOutCertificates } from "../src/cert/distribute.ts";
import { InputError } from "../src/errors.ts";
import { setHostsEntries } from "../src/hosts/hosts-file.ts";
import { parseAltNames } from "../src/pki/alt-names.ts";
import { readPkiDir, type PkiDirContents } from "../src/pki/pki-dir.ts";
import { PKI_DIR } from "../src/plan/files.ts";
import type { PlanHost } from "../src/plan/plan.ts";
import { installFakes } from "./fakes/install.ts";
import { createTestHosts, type TestHost, type TestHosts } from "./hosts/test-hosts.ts";
import { clusterSpec, hostPath, renderToTemporaryDir, type RenderedDir } from "./helpers/fixtures.ts";
import { readCertificate } from "./helpers/openssl.ts";
import { testPool, type CapturedPool } from "./helpers/ssh-pool.ts";
import { NODE, requireTool, run } from "./helpers/tools.ts";

const MASTERS = ["10.88.0.10", "10.88.0.11"];
const APISERVER_CRT = `${PKI_DIR}/apiserver.crt`;
const MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml";

function placePlanFiles(host: TestHost, renderDir: string, plan: PlanHost): void {
  for (const file of plan.files) {
    const target = host.path(file.path);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(renderDir, file.source), target);
    chmodSync(target, Number.parseInt(file.mode, 8));
  }
  const hostsPath = host.path("/etc/hosts");
  const entries = plan.hostsEntries.flatMap((entry) => entry.names.map((name) => ({ ip: entry.ip, name })));
  writeFileSync(hostsPath, setHostsEntries(readFileSync(hostsPath, "utf8"), entries).text);
}

describe("seal cert rollout on real sshd hosts with the fakes", { timeout: 400_000 }, () => {
  let scratch: string;
  let render: RenderedDir;
  let hosts: TestHosts;
  let ssh: CapturedPool;
  let pki: PkiDirContents;
  const host = (index: number) => hosts.hosts[index] as TestHost;
  const read = (index: number, path: string) => readFileSync(host(index).path(path), "utf8");
  const steps: string[] = [];
  const options = {
    parkSeconds: 1,
    healthIntervalMs: 500,
    onStep: (address: string, step: string) => steps.push(`${address} ${step}`),
  };

  before(async () => {
    for (const tool of ["etcd", "etcdctl", "openssl", "conntrack", "curl"]) requireTool(tool);
    scratch = await mkdtemp(join(tmpdir(), `seal-cert-rollout-${process.pid}-`));
    const tools = join(scratch, "tools");
    installFakes({ node: process.execPath, targetDir: tools });
    hosts = await createTestHosts({ count: 2, hostnames: ["master-1", "master-2"], toolsDir: tools });
    render = await renderToTemporaryDir(
      clusterSpec({ masters: MASTERS, nodes: [], hostnames: [`${MASTERS[0]}=master-1`, `${MASTERS[1]}=master-2`], allowEvenMasters: true, kubernetesVersion: "v1.31.2", certSans: [] }),
    );
    const [plan0, plan1] = render.rendered.plan.hosts;
    assert.ok(plan0 !== undefined && plan1 !== undefined);
    placePlanFiles(host(0), render.dir, plan0);
    placePlanFiles(host(1), render.dir, plan1);
    for (const argv of [["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], ["systemctl", "enable", "--now", "containerd"], ["systemctl", "enable", "kubelet"]]) {
      await host(0).execOk(argv);
    }
    await host(0).execOk(["kubeadm", "init", "--config", plan0.kubeadm.config, "--skip-token-print"]);
    // master-2 never joins: a manifest and no API server, the master that does not come back.
    mkdirSync(host(1).path("/etc/kubernetes/manifests"), { recursive: true });
    writeFileSync(host(1).path(MANIFEST), read(0, MANIFEST));
    // The cluster's CAs as seal keeps them on the workstation (~/.seal/<cluster>/pki).
    pki = await readPkiDir(hostPath(render.dir, MASTERS[0] ?? "", PKI_DIR), new Date());
    ssh = await testPool(hosts, { user: "root", password: "seal-test-root" });
  });

  after(async () => {
    await ssh?.close();
    await hosts?.destroy();
    await render?.cleanup();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  const prepare = (address: string, change: Parameters<typeof prepareMasterUpdate>[3], contents = pki): Promise<MasterUpdate> =>
    prepareMasterUpdate(ssh.pool.host(address), contents, "~/.seal/default/pki", change, new Date());

  it("--alt-names on master-1: the new certificate written over SSH, the API server restarted and serving the new name", async () => {
    await checkRolloutTools(ssh.pool, [MASTERS[0] ?? ""]);
    const keyBefore = read(0, `${PKI_DIR}/apiserver.key`);
    const manifestBefore = read(0, MANIFEST);
    const update = await prepare(MASTERS[0] ?? "", { kind: "alt-names", altNames: parseAltNames(["api.new.example", "192.168.77.7"]) });
    assert.deepEqual(update.files.map((file) => file.path), [APISERVER_CRT]);
    assert.deepEqual(update.restarts, ["kube-apiserver"]);
    // Before: the stand-in's certificate does not have the name, so curl for it fails.
    const refused = await host(0).exec(["curl", "-fsS", "--max-time", "5", "--cacert", `${PKI_DIR}/ca.crt`, "--resolve", `api.new.example:6443:${MASTERS[0]}`, "https://api.new.example:6443/healthz"]);
    assert.notEqual(refused.code, 0, "the old certificate does not name api.new.example");

    steps.length = 0;
    await rollOutCertificates(ssh.pool, [update], { ...options, healthName: "api.new.example", healthTimeoutMs: 60_000 });
    assert.deepEqual(steps, ["10.88.0.10 write", "10.88.0.10 restart", "10.88.0.10 wait-healthy", "10.88.0.10 done"]);

    const reading = await readCertificate(host(0).path(APISERVER_CRT));
    assert.ok(reading.dnsNames.includes("api.new.example") && reading.ipAddresses.includes("192.168.77.7"));
    assert.equal(statSync(host(0).path(APISERVER_CRT)).mode & 0o777, 0o644);
    assert.equal(read(0, `${PKI_DIR}/apiserver.key`), keyBefore, "the key is kept");
    assert.equal(read(0, MANIFEST), manifestBefore, "the manifest is back, unchanged");
    assert.deepEqual(readdirSync(host(0).path(PARKED_MANIFEST_DIR)), [], "nothing left parked");
    assert.deepEqual(readdirSync(host(0).path(PKI_DIR)).filter((name) => name.includes("seal-tmp")), [], "no temporaries left");
    // The same request again adds nothing and touches nothing.
    const again = await prepare(MASTERS[0] ?? "", { kind: "alt-names", altNames: parseAltNames(["api.new.example"]) });
    assert.deepEqual(again.files, []);
  });

  it("a master whose API server does not come back stops the rollout; the masters after it are untouched", async () => {
    const change = { kind: "alt-names" as const, altNames: parseAltNames(["second.example"]) };
    const updates = [await prepare(MASTERS[1] ?? "", change), await prepare(MASTERS[0] ?? "", change)];
    const master1Before = read(0, APISERVER_CRT);
    steps.length = 0;
    await assert.rejects(
      rollOutCertificates(ssh.pool, updates, { ...options, healthTimeoutMs: 3000 }),
      /10\.88\.0\.11: the API server is not healthy after the restart .*the masters after it were not changed/,
    );
    assert.deepEqual(steps, ["10.88.0.11 write", "10.88.0.11 restart", "10.88.0.11 wait-healthy"]);
    assert.equal(read(0, APISERVER_CRT), master1Before, "master-1 was not touched");
    assert.ok((await readCertificate(host(1).path(APISERVER_CRT))).dnsNames.includes("second.example"));
    assert.ok(existsSync(host(1).path(MANIFEST)), "master-2's manifest is back even though its API server never answered");
  });

  it("a certificate the CA did not sign is refused while preparing, before anything is written", async () => {
    const otherCa = pki.authorities["front-proxy-ca"];
    assert.ok(otherCa !== undefined);
    const before = read(0, APISERVER_CRT);
    await assert.rejects(
      prepare(MASTERS[0] ?? "", { kind: "alt-names", altNames: parseAltNames(["x.example"]) }, { ...pki, authorities: { ...pki.authorities, ca: otherCa } }),
      (error: unknown) => error instanceof InputError && /^10\.88\.0\.10: \/etc\/kubernetes\/pki\/apiserver\.crt was not signed by the CA CN=front-proxy-ca$/.test(error.message),
    );
    assert.equal(read(0, APISERVER_CRT), before);
  });

  it("--renew on master-1: every leaf and kubeconfig renewed for 99 years with the same keys; the control plane restarted and healthy", async () => {
    const now = new Date();
    const keyBefore = read(0, `${PKI_DIR}/etcd/server.key`);
    const update = await prepare(MASTERS[0] ?? "", { kind: "renew" });
    assert.deepEqual(update.restarts, ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]);
    assert.deepEqual(
      update.files.map((file) => file.path),
      [
        ...["apiserver", "apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client", "etcd/server", "etcd/peer", "etcd/healthcheck-client"].map((name) => `${PKI_DIR}/${name}.crt`),
        ...["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"].map((name) => `/etc/kubernetes/${name}`),
      ],
    );
    steps.length = 0;
    await rollOutCertificates(ssh.pool, [update], { ...options, healthTimeoutMs: 60_000 });
    assert.deepEqual(steps.at(-1), "10.88.0.10 done");
    for (const name of ["apiserver", "etcd/peer", "front-proxy-client"]) {
      const reading = await readCertificate(host(0).path(`${PKI_DIR}/${name}.crt`));
      assert.equal(Number(reading.notAfter.slice(0, 4)), now.getUTCFullYear() + 99, name);
    }
    assert.equal(read(0, `${PKI_DIR}/etcd/server.key`), keyBefore);
    assert.ok(read(0, `${PKI_DIR}/apiserver.crt`).length > 0);
    // The cluster still answers through the renewed admin.conf (FAKE kubeadm talks to the stand-in with it).
    const tokens = await host(0).exec(["kubeadm", "token", "list"]);
    assert.equal(tokens.code, 0, tokens.stderr);
  });

  it("the seal cert command: --dry-run changes nothing, then the rollout on the Clusterfile's masters; host keys recorded in ~/.seal/<cluster>/known_hosts", async () => {
    const home = join(scratch, "home");
    mkdirSync(home);
    const seal = (args: readonly string[]) => {
      const [command, ...rest] = hosts.clientCommand([NODE, join(import.meta.dirname, "..", "bin", "seal.js"), "cert", ...args]);
      return run(command ?? "", rest, { env: { ...process.env, HOME: home, SEAL_SSH_PASSWORD: "seal-test-root" } });
    };
    const common = ["--masters", MASTERS[0] ?? "", "--cluster", "certcli", "--pki-dir", hostPath(render.dir, MASTERS[0] ?? "", PKI_DIR), "--restart-wait", "1"];
    const before = read(0, APISERVER_CRT);
    const dry = await seal([...common, "--alt-names", "cli.example", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^would add cli\.example to the API server certificate on 1 master, one at a time:\n  10\.88\.0\.10: write 1 file, restart kube-apiserver\n    \/etc\/kubernetes\/pki\/apiserver\.crt: adds cli\.example\n$/);
    assert.equal(read(0, APISERVER_CRT), before, "--dry-run wrote nothing");
    assert.match(readFileSync(join(home, ".seal", "certcli", "known_hosts"), "utf8"), /^10\.88\.0\.10 ssh-ed25519 /m);

    // Without --masters the Clusterfile's masters are taken (a sealos-style file, as seal run leaves it).
    writeFileSync(
      join(home, ".seal", "certcli", "Clusterfile"),
      `apiVersion: apps.sealos.io/v1beta1\nkind: Cluster\nmetadata:\n  name: certcli\nspec:\n  hosts:\n    - ips: [${MASTERS[0]}:22]\n      roles: [master]\n`,
    );
    const done = await seal([...common.slice(2), "--alt-names", "cli.example"]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /done: 1 masters updated \(kube-apiserver restarted\)\n$/);
    assert.doesNotMatch(done.stderr + done.stdout, /seal-test-root/, "the password is never printed");
    assert.ok((await readCertificate(host(0).path(APISERVER_CRT))).dnsNames.includes("cli.example"));

    const refused = await seal([...common, "--alt-names", "x.example", "--pki-dir", join(scratch, "no-such-pki")]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^seal: error: .*no-such-pki: no ca\.crt\/ca\.key; give the cluster's PKI directory with --pki-dir\n$/);
  });
});
