/**
 * The rendered PKI as openssl sees it: every leaf and kubeconfig client certificate verifies
 * against its CA and only that one, names, usages and validity are what kubeadm expects, keys
 * match their certificates and are private, and the discovery pin is the CA's.
 */
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { mastersOf } from "../src/cluster/spec.ts";
import { BACKDATE_MS } from "../src/pki/cluster-pki.ts";
import { AUTHORITIES, kubeconfigProfiles, leafProfiles, type KubeconfigProfile, type LeafProfile } from "../src/pki/profiles.ts";
import { PKI_DIR } from "../src/plan/files.ts";
import { clusterSpec, hostPath, renderToTemporaryDir, type RenderedDir } from "./helpers/fixtures.ts";
import {
  certificatePublicKey,
  privateKeyPublicKey,
  publicKeyFile,
  readCertificate,
  spkiSha256,
  verify,
} from "./helpers/openssl.ts";

/** openssl's ISO form of a Date: `2125-10-29 22:49:07Z`. */
function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

function subjectOf(profile: { subject: { commonName: string; organizations?: readonly string[] } }): string {
  // RFC 2253 lists the last RDN first; we write O then CN, as Go does.
  return [`CN=${profile.subject.commonName}`, ...(profile.subject.organizations ?? []).map((o) => `O=${o}`)].join(",");
}

function expectedUsages(usages: readonly string[]): string {
  const names: Record<string, string> = { serverAuth: "TLS Web Server Authentication", clientAuth: "TLS Web Client Authentication" };
  return usages.map((usage) => names[usage]).join(", ");
}

interface Kubeconfig {
  clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
  users: { name: string; user: { "client-certificate-data": string; "client-key-data": string } }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  "current-context": string;
}

for (const keyAlgorithm of ["rsa-2048", "ecdsa-p256"] as const) {
  describe(`PKI (${keyAlgorithm}) read back with openssl`, () => {
    const spec = clusterSpec({ keyAlgorithm });
    let render: RenderedDir;
    const pki = (address: string, name: string) => hostPath(render.dir, address, `${PKI_DIR}/${name}`);
    before(async () => {
      render = await renderToTemporaryDir(spec);
    });
    after(() => render.cleanup());

    const validity = () => ({
      notBefore: isoSeconds(new Date(Math.floor((render.now.getTime() - BACKDATE_MS) / 1000) * 1000)),
      notAfter: isoSeconds(new Date(Math.floor((render.now.getTime() + spec.certValidityHours * 3_600_000) / 1000) * 1000)),
    });

    it("has three self-signed CAs, identical on every master", async () => {
      const [first, ...others] = mastersOf(spec);
      assert.ok(first !== undefined);
      for (const { name, commonName } of AUTHORITIES) {
        const path = pki(first.addressText, `${name}.crt`);
        const reading = await readCertificate(path);
        assert.equal(reading.subject, `CN=${commonName}`);
        assert.equal(reading.issuer, `CN=${commonName}`);
        assert.equal(reading.basicConstraints, "CA:TRUE");
        assert.equal(reading.keyUsage, keyAlgorithm === "rsa-2048" ? "Digital Signature, Key Encipherment, Certificate Sign" : "Digital Signature, Certificate Sign");
        assert.equal(reading.notAfter, validity().notAfter, `${name} lasts --cert-validity (99 years)`);
        assert.ok((await verify(path, path)).ok, `${name} verifies as its own root`);
        for (const other of others) {
          assert.equal(await readFile(pki(other.addressText, `${name}.crt`), "utf8"), await readFile(path, "utf8"));
          assert.equal(await readFile(pki(other.addressText, `${name}.key`), "utf8"), await readFile(pki(first.addressText, `${name}.key`), "utf8"));
        }
      }
    });

    for (const master of mastersOf(spec)) {
      for (const profile of leafProfiles(spec, master)) {
        it(`${master.hostname}: ${profile.baseName}.crt verifies against ${profile.authority} only, with kubeadm's names and usages`, async () => {
          await checkLeaf(master.addressText, profile);
        });
      }
      for (const profile of kubeconfigProfiles(spec, master)) {
        it(`${master.hostname}: ${profile.fileName} holds a client certificate of the cluster CA for ${profile.userName}`, async () => {
          await checkKubeconfig(master.addressText, profile);
        });
      }
    }

    async function checkLeaf(address: string, profile: LeafProfile): Promise<void> {
      const crt = pki(address, `${profile.baseName}.crt`);
      const key = pki(address, `${profile.baseName}.key`);
      const verdict = await verify(pki(address, `${profile.authority}.crt`), crt);
      assert.ok(verdict.ok, verdict.output);
      for (const { name } of AUTHORITIES.filter((authority) => authority.name !== profile.authority)) {
        assert.ok(!(await verify(pki(address, `${name}.crt`), crt)).ok, `${profile.baseName} must not verify against ${name}`);
      }
      const reading = await readCertificate(crt);
      assert.equal(reading.subject, subjectOf(profile));
      assert.equal(reading.extendedKeyUsage, expectedUsages(profile.usages));
      assert.equal(reading.keyUsage, keyAlgorithm === "rsa-2048" ? "Digital Signature, Key Encipherment" : "Digital Signature");
      assert.equal(reading.basicConstraints, "CA:FALSE");
      assert.deepEqual(reading.dnsNames, profile.dnsNames);
      assert.deepEqual(reading.ipAddresses, profile.ipAddresses);
      assert.deepEqual({ notBefore: reading.notBefore, notAfter: reading.notAfter }, validity());
      assert.equal(await privateKeyPublicKey(key), await certificatePublicKey(crt), "the key is the certificate's");
      assert.equal((await stat(key)).mode & 0o777, 0o600);
      assert.equal((await stat(crt)).mode & 0o777, 0o644);
      assert.match(await readFile(key, "utf8"), keyAlgorithm === "rsa-2048" ? /^-----BEGIN RSA PRIVATE KEY-----\n/ : /^-----BEGIN EC PRIVATE KEY-----\n/);
    }

    async function checkKubeconfig(address: string, profile: KubeconfigProfile): Promise<void> {
      const path = hostPath(render.dir, address, `/etc/kubernetes/${profile.fileName}`);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      const config = parse(await readFile(path, "utf8")) as Kubeconfig;
      const [cluster] = config.clusters;
      const [user] = config.users;
      assert.ok(cluster !== undefined && user !== undefined);
      assert.equal(cluster.name, spec.name);
      assert.equal(cluster.cluster.server, profile.server);
      assert.equal(user.name, profile.userName);
      assert.equal(config["current-context"], `${profile.userName}@${spec.name}`);
      assert.deepEqual(config.contexts, [{ name: `${profile.userName}@${spec.name}`, context: { cluster: spec.name, user: profile.userName } }]);
      const decode = (data: string) => Buffer.from(data, "base64").toString("utf8");
      assert.equal(decode(cluster.cluster["certificate-authority-data"]), await readFile(pki(address, "ca.crt"), "utf8"));
      const scratch = join(render.dir, "..", `${address}-${profile.fileName}`);
      await writeFile(`${scratch}.crt`, decode(user.user["client-certificate-data"]));
      await writeFile(`${scratch}.key`, decode(user.user["client-key-data"]));
      const verdict = await verify(pki(address, "ca.crt"), `${scratch}.crt`);
      assert.ok(verdict.ok, verdict.output);
      const reading = await readCertificate(`${scratch}.crt`);
      assert.equal(reading.subject, subjectOf(profile));
      assert.equal(reading.extendedKeyUsage, "TLS Web Client Authentication");
      assert.deepEqual({ notBefore: reading.notBefore, notAfter: reading.notAfter }, validity());
      assert.equal(await privateKeyPublicKey(`${scratch}.key`), await certificatePublicKey(`${scratch}.crt`));
    }

    it("has a service-account key pair whose halves match", async () => {
      for (const master of mastersOf(spec)) {
        assert.equal(await privateKeyPublicKey(pki(master.addressText, "sa.key")), await publicKeyFile(pki(master.addressText, "sa.pub")));
        assert.equal((await stat(pki(master.addressText, "sa.key"))).mode & 0o777, 0o600);
      }
    });

    it("pins discovery to the CA: the join configs carry sha256 of its SubjectPublicKeyInfo", async () => {
      const master0 = mastersOf(spec)[0];
      assert.ok(master0 !== undefined);
      const expected = await spkiSha256(pki(master0.addressText, "ca.crt"), join(render.dir, "..", "ca-spki"));
      assert.equal(render.rendered.caCertHash, expected);
      for (const host of render.rendered.plan.hosts.filter((planned) => !planned.master0)) {
        const join = await readFile(hostPath(render.dir, host.address, host.kubeadm.config), "utf8");
        assert.ok(join.includes(`- ${expected}\n`), `${host.address}'s join config pins ${expected}`);
      }
    });

    it("gives super-admin.conf to master0 only and no PKI at all to workers", async () => {
      const [master0, ...joining] = render.rendered.plan.hosts.filter((host) => host.role === "master");
      const names = (host: typeof master0) => host?.files.map((file) => file.path) ?? [];
      assert.ok(names(master0).includes("/etc/kubernetes/super-admin.conf"));
      for (const host of joining) assert.ok(!names(host).includes("/etc/kubernetes/super-admin.conf"));
      for (const worker of render.rendered.plan.hosts.filter((host) => host.role === "worker")) {
        // kubeadm join's preflight wants ca.crt absent on workers; the admin identity never goes there.
        assert.deepEqual([...names(worker), ...worker.afterKubeadm.files.map((file) => file.path)], [
          "/var/lib/seal/default/kubeadm/join.yaml",
          "/etc/kubernetes/manifests/kube-sealos-lvscare.yaml",
        ]);
      }
    });
  });
}

describe("identities by Kubernetes version", () => {
  it("lists kubeadm's certificates with kubeadm's names, groups, usages and SANs (written out, not derived)", () => {
    const spec = clusterSpec();
    const master2 = mastersOf(spec)[1];
    assert.ok(master2 !== undefined);
    assert.deepEqual(
      leafProfiles(spec, master2).map((p) => [p.baseName, p.authority, subjectOf(p), p.usages.join("+"), p.dnsNames, p.ipAddresses]),
      [
        [
          "apiserver", "ca", "CN=kube-apiserver", "serverAuth",
          ["master-2", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost", "apiserver.cluster.local", "k8s.example.com"],
          ["10.96.0.1", "10.0.0.2", "127.0.0.1", "10.103.97.2", "10.0.0.1", "10.0.0.3", "192.168.50.10"],
        ],
        ["apiserver-kubelet-client", "ca", "CN=kube-apiserver-kubelet-client,O=kubeadm:cluster-admins", "clientAuth", [], []],
        ["front-proxy-client", "front-proxy-ca", "CN=front-proxy-client", "clientAuth", [], []],
        ["apiserver-etcd-client", "etcd/ca", "CN=kube-apiserver-etcd-client,O=system:masters", "clientAuth", [], []],
        ["etcd/server", "etcd/ca", "CN=master-2", "serverAuth+clientAuth", ["master-2", "localhost"], ["10.0.0.2", "127.0.0.1", "::1"]],
        ["etcd/peer", "etcd/ca", "CN=master-2", "serverAuth+clientAuth", ["master-2", "localhost"], ["10.0.0.2", "127.0.0.1", "::1"]],
        ["etcd/healthcheck-client", "etcd/ca", "CN=kube-etcd-healthcheck-client,O=system:masters", "clientAuth", [], []],
      ],
    );
  });

  it("uses system:masters and no super-admin before 1.29, kubeadm:cluster-admins and super-admin from 1.29", () => {
    for (const [version, adminGroup, superAdmin] of [
      ["v1.28.15", "system:masters", false],
      ["v1.29.0", "kubeadm:cluster-admins", true],
      ["v1.31.2", "kubeadm:cluster-admins", true],
    ] as const) {
      const spec = clusterSpec({ kubernetesVersion: version });
      const master0 = mastersOf(spec)[0];
      assert.ok(master0 !== undefined);
      const kubeconfigs = kubeconfigProfiles(spec, master0);
      assert.deepEqual(kubeconfigs.find((profile) => profile.fileName === "admin.conf")?.subject.organizations, [adminGroup], version);
      assert.equal(kubeconfigs.some((profile) => profile.fileName === "super-admin.conf"), superAdmin, version);
      const kubeletClient = leafProfiles(spec, master0).find((profile) => profile.baseName === "apiserver-kubelet-client");
      assert.deepEqual(kubeletClient?.subject.organizations, [adminGroup], version);
    }
  });

  it("points the controller-manager and scheduler at their own API server, the rest at the endpoint", () => {
    const spec = clusterSpec();
    const master2 = mastersOf(spec)[1];
    assert.ok(master2 !== undefined);
    assert.deepEqual(
      kubeconfigProfiles(spec, master2).map((profile) => [profile.fileName, profile.server, profile.userName]),
      [
        ["admin.conf", "https://apiserver.cluster.local:6443", "kubernetes-admin"],
        ["controller-manager.conf", "https://10.0.0.2:6443", "system:kube-controller-manager"],
        ["scheduler.conf", "https://10.0.0.2:6443", "system:kube-scheduler"],
        ["kubelet.conf", "https://apiserver.cluster.local:6443", "system:node:master-2"],
      ],
    );
  });
});
