/**
 * The fake kubeadm refuses what kubeadm refuses, with kubeadm's exit status and a similar
 * message, and a refusal changes nothing on the host (no daemon, no manifest). Run on one private
 * test host carrying master0's rendered files; the last tests prove the same host then
 * initialises, and that a second init is refused by kubeadm's preflight.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { installFakes, writeFakeSettings } from "./fakes/install.ts";
import { clusterSpec, renderToTemporaryDir, type RenderedDir } from "./helpers/fixtures.ts";
import { calls, describeRun, kubeadm, placeFiles, prepareNode, setHosts } from "./helpers/fake-cluster.ts";
import { createPrivateHosts, type PrivateHost, type PrivateHosts } from "./helpers/private-host.ts";
import { requireTool } from "./helpers/tools.ts";

const ADDRESS = "10.0.0.10";
const CONFIG = "/var/lib/seal/default/kubeadm/init.yaml";

describe("the fake kubeadm refuses what kubeadm refuses", { timeout: 300_000 }, () => {
  let render: RenderedDir;
  let hosts: PrivateHosts;
  let host: PrivateHost;
  let original: string;
  const plan = () => render.rendered.plan.hosts[0];
  const writeConfig = (path: string, text: string) => writeFileSync(host.path(path), text);

  /** Nothing kubeadm init would leave was left. */
  const assertUntouched = async () => {
    assert.equal(existsSync(host.path("/etc/kubernetes/manifests")) && readdirSync(host.path("/etc/kubernetes/manifests")).length > 0, false, "a refused init wrote manifests");
    assert.equal(existsSync(host.path("/var/lib/etcd")) && readdirSync(host.path("/var/lib/etcd")).length > 0, false, "a refused init started etcd");
    assert.deepEqual(host.processes().filter((cmdline) => /\/usr\/bin\/etcd |apiserver\/main\.ts/.test(cmdline)), []);
  };

  const refused = async (args: readonly string[], pattern: RegExp) => {
    const result = await kubeadm(host, args);
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stderr, pattern);
    assert.match(result.stderr, /FAKE kubeadm/);
    await assertUntouched();
    return result;
  };

  before(async () => {
    for (const tool of ["etcd", "etcdctl", "openssl", "conntrack"]) requireTool(tool);
    render = await renderToTemporaryDir(clusterSpec({ masters: [ADDRESS], nodes: [], hostnames: [`${ADDRESS}=master-1`], kubernetesVersion: "v1.31.2" }));
    hosts = await createPrivateHosts("fkr", [{ address: ADDRESS, hostname: "master-1" }]);
    host = hosts.hosts[0] as PrivateHost;
    installFakes({ node: process.execPath, targetDir: host.toolDir });
    await prepareNode(host);
    placeFiles(host, render.dir, plan()?.files ?? []);
    setHosts(host, plan()?.hostsEntries ?? []);
    original = readFileSync(host.path(CONFIG), "utf8");
  });

  after(async () => {
    await hosts?.destroy();
    await render?.cleanup();
  });

  it("an unknown flag, an unknown subcommand, a flag that cannot be mixed with --config", async () => {
    await refused(["init", "--config", CONFIG, "--not-a-flag"], /error: unknown flag: --not-a-flag/);
    await refused(["frobnicate"], /unknown command "frobnicate" for "kubeadm"/);
    await refused(["init", "--config", CONFIG, "--kubernetes-version", "v1.31.2"], /can not mix '--config' with arguments \[kubernetes-version\]/);
    const logged = calls(host).filter((call) => call.tool === "kubeadm");
    assert.deepEqual(logged.map((call) => call.exitCode), [1, 1, 1]);
    assert.deepEqual(logged[0]?.argv, ["init", "--config", CONFIG, "--not-a-flag"]);
    assert.equal(logged[0]?.uid, 0);
  });

  it("a missing config file, an unknown field, a wrong type, duplicate kinds", async () => {
    await refused(["init", "--config", "/nonexistent.yaml"], /unable to read config from "\/nonexistent.yaml" : open \/nonexistent.yaml: no such file or directory/);
    writeConfig("/root/typo.yaml", original.replace("advertiseAddress:", "advertiseAdress:"));
    await refused(["init", "--config", "/root/typo.yaml"], /strict decoding error: unknown field "localAPIEndpoint.advertiseAdress"/);
    await refused(["config", "validate", "--config", "/root/typo.yaml"], /strict decoding error: unknown field "localAPIEndpoint.advertiseAdress"/);
    const valid = await kubeadm(host, ["config", "validate", "--config", CONFIG]);
    assert.deepEqual([valid.code, valid.stdout], [0, "ok\n"], describeRun(valid));
    writeConfig("/root/type.yaml", original.replace("bindPort: 6443", 'bindPort: "6443"'));
    await refused(["init", "--config", "/root/type.yaml"], /cannot unmarshal string into Go struct field InitConfiguration.localAPIEndpoint.bindPort of type int32/);
    writeConfig("/root/twice.yaml", `${original}\n---\n${original.split("---")[0]}`);
    await refused(["init", "--config", "/root/twice.yaml"], /GroupVersionKind kubeadm.k8s.io\/v1beta4, Kind=InitConfiguration is specified twice/);
  });

  it("the wrong kind for the command, an API version this kubeadm does not serve, an old one", async () => {
    writeConfig("/root/join.yaml", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    token: abcdef.0123456789abcdef\n    apiServerEndpoint: 10.0.0.10:6443\n    unsafeSkipCAVerification: true\n");
    await refused(["init", "--config", "/root/join.yaml"], /no InitConfiguration or ClusterConfiguration kind was found in the configuration file/);
    await refused(["join", "--config", CONFIG], /no JoinConfiguration found in the supplied config/);
    writeConfig("/root/old.yaml", original.replaceAll("kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta2"));
    await refused(["init", "--config", "/root/old.yaml"], /uses an old API spec: "kubeadm.k8s.io\/v1beta2"/);
    writeFakeSettings(host.toolDir, { kubeadmVersion: "v1.30.5", kubeletVersion: "v1.30.5" });
    try {
      await refused(["init", "--config", CONFIG], /no kind is registered for the version "kubeadm.k8s.io\/v1beta4"/);
    } finally {
      writeFakeSettings(host.toolDir, {});
    }
  });

  it("invalid values and a control plane version this kubeadm cannot deploy", async () => {
    writeConfig("/root/name.yaml", original.replace("name: master-1", "name: Master_1"));
    await refused(["init", "--config", "/root/name.yaml"], /nodeRegistration.name: Invalid value: "Master_1"/);
    writeConfig("/root/old-k8s.yaml", original.replace("kubernetesVersion: v1.31.2", "kubernetesVersion: v1.29.0"));
    await refused(["init", "--config", "/root/old-k8s.yaml"], /only supports deploying clusters with the control plane version >= v1.30.0. Current version: v1.29.0/);
  });

  it("preflight: forwarding off, no container runtime, a kubelet newer than the control plane", async () => {
    await host.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]);
    await host.run(["systemctl", "stop", "containerd"]);
    writeFakeSettings(host.toolDir, { kubeletVersion: "v1.32.0" });
    try {
      const result = await refused(["init", "--config", CONFIG], /error execution phase preflight/);
      assert.match(result.stderr, /\[ERROR FileContent--proc-sys-net-ipv4-ip_forward\]: \/proc\/sys\/net\/ipv4\/ip_forward contents are not set to 1/);
      assert.match(result.stderr, /\[ERROR CRI\]: container runtime is not running/);
      assert.match(result.stderr, /\[ERROR KubeletVersion\]: the kubelet version is higher than the control plane version/);
      const ignored = await kubeadm(host, ["init", "--config", CONFIG, "--ignore-preflight-errors=CRI,FileContent--proc-sys-net-ipv4-ip_forward", "--skip-phases=certs,kubeconfig,etcd,control-plane,kubelet-start,wait-control-plane,upload-config,mark-control-plane,bootstrap-token,show-join-command,addon"]);
      assert.equal(ignored.code, 1, describeRun(ignored));
      assert.doesNotMatch(ignored.stderr, /\[ERROR CRI\]/);
      assert.match(ignored.stderr, /\[WARNING CRI\]/);
      assert.match(ignored.stderr, /\[ERROR KubeletVersion\]/);
    } finally {
      writeFakeSettings(host.toolDir, {});
      await host.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
      await host.run(["systemctl", "start", "containerd"]);
    }
  });

  it("a serving certificate that does not chain to ca.crt, and a key that does not match its certificate (openssl)", async () => {
    const pki = "/etc/kubernetes/pki";
    const keep = readFileSync(host.path(`${pki}/apiserver.crt`));
    const keepKey = readFileSync(host.path(`${pki}/apiserver.key`));
    try {
      // Another CA, and an apiserver certificate from it with the same key and names.
      const script = `set -e; cd /root
        openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -days 1 -subj /CN=other-ca 2>/dev/null
        openssl x509 -in ${pki}/apiserver.crt -noout -ext subjectAltName | tail -n 1 | sed 's/IP Address/IP/g; s/^ *//; s/^/subjectAltName=/' > san.ext
        openssl req -new -key ${pki}/apiserver.key -subj /CN=kube-apiserver -out foreign.csr
        openssl x509 -req -in foreign.csr -CA other-ca.crt -CAkey other-ca.key -set_serial 7 -days 1 -extfile san.ext -out ${pki}/apiserver.crt 2>/dev/null`;
      const made = await host.run(["sh", "-c", script]);
      assert.equal(made.code, 0, describeRun(made));
      await refused(["init", "--config", CONFIG], /certificate apiserver is not signed by corresponding CA \(openssl verify against \/etc\/kubernetes\/pki\/ca.crt/);
      writeFileSync(host.path(`${pki}/apiserver.crt`), keep);
      const rekey = await host.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${pki}/apiserver.key`]);
      assert.equal(rekey.code, 0, describeRun(rekey));
      await refused(["init", "--config", CONFIG], /the key \/etc\/kubernetes\/pki\/apiserver.key does not match the certificate/);
    } finally {
      writeFileSync(host.path(`${pki}/apiserver.crt`), keep);
      writeFileSync(host.path(`${pki}/apiserver.key`), keepKey, { mode: 0o600 });
    }
  });

  it("the same host then initialises, and a second init is refused by preflight", async () => {
    const first = await kubeadm(host, ["init", "--config", CONFIG, "--skip-token-print"]);
    assert.equal(first.code, 0, describeRun(first));
    const second = await kubeadm(host, ["init", "--config", CONFIG]);
    assert.equal(second.code, 1, describeRun(second));
    assert.match(second.stderr, /\[ERROR Port-6443\]: Port 6443 is in use/);
    assert.match(second.stderr, /\[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml\]: \/etc\/kubernetes\/manifests\/kube-apiserver.yaml already exists/);
    assert.match(second.stderr, /\[ERROR DirAvailable--var-lib-etcd\]: \/var\/lib\/etcd is not empty/);
    const expiry = await kubeadm(host, ["certs", "check-expiration"]);
    assert.equal(expiry.code, 0, describeRun(expiry));
    assert.match(expiry.stdout, /^apiserver\s+\w{3} \d{2}, \d{4} \d{2}:\d{2} UTC\s+9\dy\s+ca\s+no$/m);
    const reset = await kubeadm(host, ["reset", "-f"]);
    assert.equal(reset.code, 0, describeRun(reset));
    await assertUntouched();
  });

  it("reset without -f asks, and refuses when the answer is not y", async () => {
    const result = await host.run(["kubeadm", "reset"], { input: "n\n" });
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stdout, /Are you sure you want to proceed\? \[y\/N\]/);
    assert.match(result.stderr, /won't proceed; the user didn't answer \(Y\|n\) in order to continue/);
  });
});
