/**
 * The small fakes on a private test host: systemctl's units and states, the fake containerd's
 * socket, ctr's image import (a real docker archive made with tar, an OCI layout with a corrupt
 * blob, something that is not an archive), kubelet --version, and the call log every fake
 * writes. Plus, without a host: kubeadm's config schema accepts what `seal render` writes for
 * both API versions (an independent reading of the kubeadm API agrees with the installer's),
 * and argv redaction.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { installFakes } from "./fakes/install.ts";
import { IMAGE_STORE, SYSTEMCTL_STATE } from "./fakes/contract.ts";
import { initSettings, joinSettings, loadDocuments } from "./fakes/kubeadm/config.ts";
import { validateInit, validateJoin } from "./fakes/kubeadm/validate.ts";
import { redactArgv } from "./fakes/lib/fake-tool.ts";
import { parseVersion, type Version } from "./fakes/lib/version.ts";
import { clusterSpec, renderToTemporaryDir } from "./helpers/fixtures.ts";
import { calls, describeRun } from "./helpers/fake-cluster.ts";
import { createPrivateHosts, type PrivateHost, type PrivateHosts } from "./helpers/private-host.ts";

describe("the fake systemctl, containerd, ctr and kubelet", { timeout: 120_000 }, () => {
  let hosts: PrivateHosts;
  let host: PrivateHost;

  before(async () => {
    hosts = await createPrivateHosts("fkt", [{ address: "10.0.0.10", hostname: "node-1" }]);
    host = hosts.hosts[0] as PrivateHost;
    installFakes({ node: process.execPath, targetDir: host.toolDir, settings: { kubeletVersion: "v1.30.4", containerdVersion: "1.7.9" } });
  });

  after(async () => hosts?.destroy());

  it("systemctl knows kubelet and containerd, refuses other units and verbs, keeps state per host", async () => {
    assert.equal((await host.run(["systemctl", "is-enabled", "kubelet"])).code, 1);
    assert.equal((await host.run(["systemctl", "enable", "kubelet.service"])).code, 0);
    const enabled = await host.run(["systemctl", "is-enabled", "kubelet"]);
    assert.deepEqual([enabled.code, enabled.stdout], [0, "enabled\n"]);
    const unknown = await host.run(["systemctl", "start", "docker"]);
    assert.equal(unknown.code, 5, describeRun(unknown));
    assert.match(unknown.stderr, /Unit docker.service not found/);
    const verb = await host.run(["systemctl", "frobnicate", "kubelet"]);
    assert.equal(verb.code, 1);
    assert.match(verb.stderr, /Unknown command verb frobnicate/);
    const option = await host.run(["systemctl", "--bogus", "start", "kubelet"]);
    assert.equal(option.code, 1);
    assert.match(option.stderr, /unrecognized option '--bogus'/);
    assert.equal((await host.run(["systemctl", "start", "kubelet"])).code, 0);
    const crashLooping = await host.run(["systemctl", "is-active", "kubelet"]);
    assert.deepEqual([crashLooping.code, crashLooping.stdout], [3, "activating\n"], "a kubelet without /var/lib/kubelet/config.yaml cannot be active");
    const state = JSON.parse(readFileSync(host.path(SYSTEMCTL_STATE), "utf8")) as Record<string, { enabled: boolean; active: boolean }>;
    assert.deepEqual(state["kubelet"], { enabled: true, active: true });
    // A unit file the bundle installs becomes a known unit.
    mkdirSync(host.path("/etc/systemd/system"), { recursive: true });
    writeFileSync(host.path("/etc/systemd/system/registry.service"), "[Service]\nExecStart=/bin/true\n");
    assert.equal((await host.run(["systemctl", "enable", "registry"])).code, 0);
  });

  it("ctr needs containerd; systemctl start containerd brings up its socket", async () => {
    const down = await host.run(["ctr", "-n", "k8s.io", "images", "ls"]);
    assert.equal(down.code, 1, describeRun(down));
    assert.match(down.stderr, /failed to dial "\/run\/containerd\/containerd.sock".*no such file or directory/);
    assert.equal((await host.run(["systemctl", "start", "containerd"])).code, 0);
    const active = await host.run(["systemctl", "is-active", "containerd"]);
    assert.equal(active.stdout, "active\n");
    const version = await host.run(["ctr", "version"]);
    assert.equal(version.code, 0, describeRun(version));
    assert.match(version.stdout, /Version:\s+v1\.7\.9/);
  });

  it("ctr images import accepts a real docker archive and lists it in its namespace", async () => {
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
    const digest = createHash("sha256").update(config).digest("hex");
    const dir = host.path("/root/archive");
    mkdirSync(join(dir, "layer0"), { recursive: true });
    writeFileSync(join(dir, `${digest}.json`), config);
    writeFileSync(join(dir, "layer0/layer.tar"), Buffer.alloc(1024));
    writeFileSync(join(dir, "manifest.json"), JSON.stringify([{ Config: `${digest}.json`, RepoTags: ["localhost/lvscare:0.1.0"], Layers: ["layer0/layer.tar"] }]));
    const tar = await host.run(["tar", "-C", "/root/archive", "-cf", "/root/image.tar", "manifest.json", `${digest}.json`, "layer0/layer.tar"]);
    assert.equal(tar.code, 0, describeRun(tar));
    const imported = await host.run(["ctr", "-n", "k8s.io", "images", "import", "/root/image.tar"]);
    assert.equal(imported.code, 0, describeRun(imported));
    assert.match(imported.stdout, new RegExp(`unpacking localhost/lvscare:0.1.0 \\(sha256:${digest}\\)\\.\\.\\.done`));
    const listed = await host.run(["ctr", "-n", "k8s.io", "images", "ls", "-q"]);
    assert.equal(listed.stdout, "localhost/lvscare:0.1.0\n");
    const otherNamespace = await host.run(["ctr", "images", "ls", "-q"]);
    assert.equal(otherNamespace.stdout, "");
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(host.path(IMAGE_STORE), "utf8")) as object), ["k8s.io"]);
  });

  it("ctr images import refuses a corrupt OCI layout, a missing layer, and a file that is not a tar", async () => {
    const dir = host.path("/root/oci");
    mkdirSync(join(dir, "blobs/sha256"), { recursive: true });
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: `sha256:${"a".repeat(64)}` }, layers: [] }));
    const manifestDigest = createHash("sha256").update(manifest).digest("hex");
    writeFileSync(join(dir, `blobs/sha256/${manifestDigest}`), manifest);
    writeFileSync(join(dir, `blobs/sha256/${"a".repeat(64)}`), "not the content its name promises");
    writeFileSync(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ digest: `sha256:${manifestDigest}`, size: manifest.length, annotations: { "io.containerd.image.name": "localhost/broken:1" } }] }));
    assert.equal((await host.run(["tar", "-C", "/root/oci", "-cf", "/root/oci.tar", "."])).code, 0);
    const corrupt = await host.run(["ctr", "-n", "k8s.io", "images", "import", "/root/oci.tar"]);
    assert.equal(corrupt.code, 1, describeRun(corrupt));
    assert.match(corrupt.stderr, /content digest sha256:a{64}: the blob's sha256 is sha256:/);
    writeFileSync(host.path("/root/archive/manifest.json"), JSON.stringify([{ Config: "x.json", RepoTags: ["a:1"], Layers: ["missing.tar"] }]));
    writeFileSync(host.path("/root/archive/x.json"), "{}");
    assert.equal((await host.run(["tar", "-C", "/root/archive", "-cf", "/root/missing.tar", "manifest.json", "x.json"])).code, 0);
    const missing = await host.run(["ctr", "-n", "k8s.io", "images", "import", "/root/missing.tar"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /layer missing.tar referenced by manifest.json is missing/);
    writeFileSync(host.path("/root/not-a-tar"), "hello\n".repeat(200));
    const notTar = await host.run(["ctr", "-n", "k8s.io", "images", "import", "/root/not-a-tar"]);
    assert.equal(notTar.code, 1);
    assert.match(notTar.stderr, /unrecognized image format/);
    const listed = await host.run(["ctr", "-n", "k8s.io", "images", "ls", "-q"]);
    assert.equal(listed.stdout, "localhost/lvscare:0.1.0\n", "a refused import changed the image store");
  });

  it("kubelet reports its configured version, says it is a fake and refuses to run", async () => {
    const version = await host.run(["kubelet", "--version"]);
    assert.deepEqual([version.code, version.stdout], [0, "Kubernetes v1.30.4\n"]);
    const run = await host.run(["kubelet", "--config=/var/lib/kubelet/config.yaml"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /FAKE kubelet \(lvscare test double\)/);
  });

  it("every call is one JSON line: tool, argv, cwd, uid, time, exit code", async () => {
    const log = calls(host);
    assert.ok(log.length >= 10);
    for (const call of log) {
      assert.equal(call.cwd, "/root");
      assert.equal(call.uid, 0);
      assert.ok(!Number.isNaN(Date.parse(call.time)));
      assert.equal(typeof call.durationMs, "number");
    }
    assert.deepEqual(log.find((call) => call.tool === "kubelet" && call.argv[0] === "--version")?.exitCode, 0);
    assert.deepEqual(log.filter((call) => call.tool === "systemctl" && call.argv[0] === "start" && call.argv[1] === "docker").map((call) => call.exitCode), [5]);
  });
});

describe("the fake kubeadm's reading of the kubeadm API", () => {
  const kubeadm = (text: string) => parseVersion(text) as Version;

  for (const version of ["v1.30.6", "v1.31.2"]) {
    it(`accepts every kubeadm config seal render writes for ${version}`, async () => {
      const render = await renderToTemporaryDir(clusterSpec({ kubernetesVersion: version }));
      try {
        for (const host of render.rendered.plan.hosts) {
          const file = host.files.find((entry) => entry.path === host.kubeadm.config);
          assert.ok(file);
          const loaded = loadDocuments(readFileSync(join(render.dir, file.source), "utf8"), kubeadm(version));
          assert.deepEqual(loaded.warnings, []);
          if (host.kubeadm.command === "init") validateInit(initSettings(loaded, kubeadm(version)), kubeadm(version));
          else validateJoin(joinSettings(loaded), kubeadm(version));
        }
      } finally {
        await render.cleanup();
      }
    });
  }

  it("redacts token secrets and certificate keys from recorded argv, keeping the token id", () => {
    assert.deepEqual(redactArgv(["join", "x:6443", "--token", "abcdef.0123456789abcdef", "--certificate-key=00ff", "--discovery-token=ghijkl.0123456789abcdef", "echo abcdef.0123456789abcdef"]), [
      "join",
      "x:6443",
      "--token",
      "abcdef.<redacted>",
      "--certificate-key=<redacted>",
      "--discovery-token=ghijkl.<redacted>",
      "echo abcdef.<redacted>",
    ]);
  });
});
