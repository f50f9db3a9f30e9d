/**
 * `seal cert`'s PKI functions on a rendered cluster, read back with openssl and used by real TLS
 * clients and servers: --alt-names keeps key, subject and dates and adds the names; --renew keeps
 * each certificate's lifetime (99 years stay 99 years), subject, SANs and, unless asked, its key.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { TLSSocket } from "node:tls";
import { parse } from "yaml";
import type { ClusterSpec } from "../src/cluster/spec.ts";
import { addAltNames, parseAltNames } from "../src/pki/alt-names.ts";
import { BACKDATE_MS } from "../src/pki/cluster-pki.ts";
import { MASTER_KUBECONFIGS, MASTER_LEAVES } from "../src/pki/master-credentials.ts";
import { readPkiDir, type PkiDirContents, type StoredAuthority } from "../src/pki/pki-dir.ts";
import { kubeconfigProfiles, leafProfiles } from "../src/pki/profiles.ts";
import { ReissueError } from "../src/pki/reissue.ts";
import { renewedValidity, renewKubeconfig, renewLeaf } from "../src/pki/renew.ts";
import * as x509 from "../src/pki/x509.ts";
import { KUBERNETES_DIR, PKI_DIR } from "../src/plan/files.ts";
import { renderCluster } from "../src/render/render-cluster.ts";
import { writeRenderOutput } from "../src/render/write-output.ts";
import { clusterSpec, hostPath } from "./helpers/fixtures.ts";
import { certificatePublicKey, openssl, privateKeyPublicKey, readCertificate, verify } from "./helpers/openssl.ts";
import { run } from "./helpers/tools.ts";

const YEAR_MS = 365 * 24 * 3_600_000;
const MASTER = "10.0.0.1";

interface Fixture {
  scratch: string;
  spec: ClusterSpec;
  /** The CAs of the cluster, as `seal cert` reads them from ~/.seal/<cluster>/pki. */
  pki: PkiDirContents;
  pkiDir: string;
  /** When the cluster was rendered: three years ago. */
  renderedAt: Date;
  master: (path: string) => string;
}

function authority(fixture: Fixture, name: "ca" | "front-proxy-ca" | "etcd/ca"): StoredAuthority {
  const stored = fixture.pki.authorities[name];
  assert.ok(stored !== undefined, `${name} in the PKI dir`);
  return stored;
}

/**
 * CAs valid 120 years from now, and a cluster rendered with them three years ago with 99-year
 * leaves: renewing now must give now + 99 years, which the CAs still cover.
 */
async function renderOldCluster(): Promise<Fixture> {
  const scratch = await mkdtemp(join(tmpdir(), `seal-cert-${process.pid}-`));
  const pkiDir = join(scratch, "pki");
  const longCas = await renderCluster(clusterSpec({ certValidity: "120y" }), { authorities: {}, serviceAccount: undefined }, { now: new Date() });
  await writeRenderOutput(join(scratch, "ca-render"), longCas, pkiDir);
  const renderedAt = new Date(Date.now() - 3 * YEAR_MS);
  const spec = clusterSpec({ kubernetesVersion: "v1.31.2" });
  const pki = await readPkiDir(pkiDir, new Date());
  const rendered = await renderCluster(spec, pki, { now: renderedAt });
  const out = join(scratch, "out");
  await writeRenderOutput(out, rendered, undefined);
  return { scratch, spec, pki, pkiDir, renderedAt, master: (path) => hostPath(out, MASTER, path) };
}

async function writeTemp(dir: string, name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, content, { mode: 0o600 });
  return path;
}

const msOf = (iso: string) => Date.parse(iso.replace(" ", "T"));

/** An HTTPS server on loopback with `cert`/`key`, asking for client certificates from `clientCa`. */
async function withServer<T>(
  options: { cert: string; key: string; clientCa: string },
  body: (port: number) => Promise<T>,
): Promise<T> {
  const server = createServer({ cert: options.cert, key: options.key, ca: options.clientCa, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.end(JSON.stringify({ CN: peer.subject.CN, O: [peer.subject.O].flat().join(",") }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await body((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function get(port: number, options: { servername: string; ca: string; cert: string; key: string }): Promise<{ ok: boolean; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/", ...options, agent: false }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve({ ok: res.statusCode === 200, body }));
    });
    req.on("error", (error) => resolve({ ok: false, body: "", error: error.message }));
    req.end();
  });
}

describe("seal cert: the PKI part, checked with openssl and real TLS", () => {
  let fixture: Fixture;
  let scratch: string;
  before(async () => {
    fixture = await renderOldCluster();
    scratch = join(fixture.scratch, "checks");
    await mkdir(scratch);
  });
  after(() => rm(fixture.scratch, { recursive: true, force: true }));

  it("lists the same leaves and kubeconfigs that seal render writes", () => {
    const master = fixture.spec.hosts[0];
    assert.ok(master !== undefined);
    assert.deepEqual(
      MASTER_LEAVES.map(({ baseName, authority }) => ({ baseName, authority })),
      leafProfiles(fixture.spec, master).map(({ baseName, authority }) => ({ baseName, authority })),
    );
    assert.deepEqual(
      kubeconfigProfiles(fixture.spec, master).map((profile) => profile.fileName).sort(),
      [...MASTER_KUBECONFIGS].sort(),
    );
  });

  it("parses --alt-names into canonical IPs and lower-case DNS names, refusing anything else", () => {
    assert.deepEqual(parseAltNames(["K8s.Example.com", "2001:DB8::1", "192.168.7.7", "k8s.example.com"]), {
      dnsNames: ["k8s.example.com"],
      ipAddresses: ["2001:db8::1", "192.168.7.7"],
    });
    assert.throws(() => parseAltNames(["$(reboot)"]), /--alt-names: "\$\(reboot\)" is neither an IP address nor a DNS name/);
    assert.throws(() => parseAltNames([]), /--alt-names: give at least one/);
  });

  it("--alt-names: new SANs, same key, subject and dates; chains to ca.crt; a TLS client accepts the new name", async () => {
    const certPath = fixture.master(`${PKI_DIR}/apiserver.crt`);
    const keyPath = fixture.master(`${PKI_DIR}/apiserver.key`);
    const caPath = fixture.master(`${PKI_DIR}/ca.crt`);
    const before = await readCertificate(certPath);
    const extra = parseAltNames(["api.new.example", "192.168.77.7", "fd00:77::7"]);
    const result = await addAltNames(await readFile(certPath, "utf8"), authority(fixture, "ca"), extra, "apiserver.crt");
    assert.ok(result.certificatePem !== undefined);
    assert.deepEqual(result.added, extra);
    const newPath = await writeTemp(scratch, "alt/apiserver.crt", result.certificatePem);
    const afterReading = await readCertificate(newPath);

    assert.deepEqual((await verify(caPath, newPath)).ok, true);
    for (const flag of [["-verify_hostname", "api.new.example"], ["-verify_ip", "192.168.77.7"], ["-verify_ip", "fd00:77::7"], ["-verify_hostname", "kubernetes.default.svc"]]) {
      const checked = await run(openssl(), ["verify", "-x509_strict", "-CAfile", caPath, ...flag, newPath]);
      assert.equal(checked.code, 0, `${flag.join(" ")}: ${checked.stdout}${checked.stderr}`);
    }
    assert.deepEqual(afterReading.dnsNames, [...before.dnsNames, "api.new.example"]);
    assert.deepEqual(afterReading.ipAddresses, [...before.ipAddresses, "192.168.77.7", "fd00:77::7"]);
    for (const field of ["subject", "issuer", "notBefore", "notAfter", "keyUsage", "extendedKeyUsage", "basicConstraints"] as const) {
      assert.equal(afterReading[field], before[field], field);
    }
    assert.equal(await certificatePublicKey(newPath), await privateKeyPublicKey(keyPath), "the old key still matches");

    // The API server's old key with the new certificate, and a client as strict as kubectl.
    const admin = parse(await readFile(fixture.master(`${KUBERNETES_DIR}/admin.conf`), "utf8")) as {
      users: { user: { "client-certificate-data": string; "client-key-data": string } }[];
    };
    const user = admin.users[0]?.user;
    assert.ok(user !== undefined);
    const ca = await readFile(caPath, "utf8");
    const client = {
      ca,
      cert: Buffer.from(user["client-certificate-data"], "base64").toString(),
      key: Buffer.from(user["client-key-data"], "base64").toString(),
    };
    await withServer({ cert: result.certificatePem, key: await readFile(keyPath, "utf8"), clientCa: ca }, async (port) => {
      const accepted = await get(port, { ...client, servername: "api.new.example" });
      assert.ok(accepted.ok, accepted.error);
      const unknown = await get(port, { ...client, servername: "not-in-the-cert.example" });
      assert.equal(unknown.ok, false);
      assert.match(unknown.error ?? "", /altnames/i);
    });
  });

  it("--alt-names twice changes nothing the second time, and a certificate of another CA is refused", async () => {
    const pem = await readFile(fixture.master(`${PKI_DIR}/apiserver.crt`), "utf8");
    const first = await addAltNames(pem, authority(fixture, "ca"), parseAltNames(["again.example"]), "apiserver.crt");
    assert.ok(first.certificatePem !== undefined);
    const second = await addAltNames(first.certificatePem, authority(fixture, "ca"), parseAltNames(["again.example", "localhost"]), "apiserver.crt");
    assert.equal(second.certificatePem, undefined);
    await assert.rejects(
      addAltNames(pem, authority(fixture, "front-proxy-ca"), parseAltNames(["x.example"]), "apiserver.crt on 10.0.0.1"),
      (error: unknown) => error instanceof ReissueError && /apiserver\.crt on 10\.0\.0\.1 was not signed by the CA CN=front-proxy-ca/.test(error.message),
    );
  });

  it("--renew: every leaf keeps its 99-year lifetime from now, its subject, SANs, usages and key", async () => {
    const now = new Date();
    for (const leaf of MASTER_LEAVES) {
      const certPath = fixture.master(`${PKI_DIR}/${leaf.baseName}.crt`);
      const before = await readCertificate(certPath);
      const renewed = await renewLeaf(await readFile(certPath, "utf8"), authority(fixture, leaf.authority), { now }, leaf.baseName);
      assert.equal(renewed.keyPem, undefined);
      assert.equal(renewed.cappedByCa, false);
      const newPath = await writeTemp(scratch, `renew/${leaf.baseName}.crt`, renewed.certificatePem);
      const afterReading = await readCertificate(newPath);
      const caPath = fixture.master(`${PKI_DIR}/${leaf.authority}.crt`);
      assert.ok((await verify(caPath, newPath)).ok, `${leaf.baseName} chains to ${leaf.authority}`);
      for (const field of ["subject", "issuer", "keyUsage", "extendedKeyUsage", "basicConstraints", "dnsNames", "ipAddresses"] as const) {
        assert.deepEqual(afterReading[field], before[field], `${leaf.baseName} ${field}`);
      }
      assert.equal(msOf(afterReading.notAfter) - msOf(afterReading.notBefore), msOf(before.notAfter) - msOf(before.notBefore), `${leaf.baseName} lifetime`);
      assert.equal(msOf(afterReading.notBefore), Math.floor((now.getTime() - BACKDATE_MS) / 1000) * 1000);
      assert.equal(new Date(msOf(afterReading.notAfter)).getUTCFullYear(), now.getUTCFullYear() + 99, `${leaf.baseName} ends 99 years from now`);
      assert.equal(
        await certificatePublicKey(newPath),
        await privateKeyPublicKey(fixture.master(`${PKI_DIR}/${leaf.baseName}.key`)),
        `${leaf.baseName} keeps its key`,
      );
    }
  });

  it("--renew with new keys: a fresh key that matches the certificate; the old key does not", async () => {
    const certPath = fixture.master(`${PKI_DIR}/etcd/server.crt`);
    const renewed = await renewLeaf(await readFile(certPath, "utf8"), authority(fixture, "etcd/ca"), { now: new Date(), newKeyAlgorithm: "ecdsa-p256" }, "etcd/server");
    assert.ok(renewed.keyPem !== undefined);
    const newCert = await writeTemp(scratch, "rekey/server.crt", renewed.certificatePem);
    const newKey = await writeTemp(scratch, "rekey/server.key", renewed.keyPem);
    assert.ok((await verify(fixture.master(`${PKI_DIR}/etcd/ca.crt`), newCert)).ok);
    assert.equal(await certificatePublicKey(newCert), await privateKeyPublicKey(newKey));
    assert.notEqual(await certificatePublicKey(newCert), await privateKeyPublicKey(fixture.master(`${PKI_DIR}/etcd/server.key`)));
    assert.equal((await readCertificate(newCert)).subject, (await readCertificate(certPath)).subject);
  });

  it("--renew of a kubeconfig: the client certificate is renewed for 99 years and still authenticates over mTLS", async () => {
    const path = fixture.master(`${KUBERNETES_DIR}/admin.conf`);
    const text = await readFile(path, "utf8");
    const now = new Date();
    const renewed = await renewKubeconfig(text, authority(fixture, "ca"), { now }, "admin.conf");
    assert.deepEqual(renewed.renewedUsers, ["kubernetes-admin"]);
    const before = parse(text) as Record<string, unknown> & { users: { user: Record<string, string> }[] };
    const afterConfig = parse(renewed.content) as typeof before;
    const oldUser = before.users[0]?.user;
    const newUser = afterConfig.users[0]?.user;
    assert.ok(oldUser !== undefined && newUser !== undefined);
    assert.equal(newUser["client-key-data"], oldUser["client-key-data"], "same key");
    assert.notEqual(newUser["client-certificate-data"], oldUser["client-certificate-data"]);
    assert.deepEqual({ ...afterConfig, users: [] }, { ...before, users: [] }, "clusters, contexts and the rest unchanged");

    const certPem = Buffer.from(newUser["client-certificate-data"] ?? "", "base64").toString();
    const certPath = await writeTemp(scratch, "kubeconfig/admin.crt", certPem);
    const reading = await readCertificate(certPath);
    assert.equal(reading.subject, "CN=kubernetes-admin,O=kubeadm:cluster-admins");
    assert.equal(new Date(msOf(reading.notAfter)).getUTCFullYear(), now.getUTCFullYear() + 99);
    const caPath = fixture.master(`${PKI_DIR}/ca.crt`);
    assert.ok((await verify(caPath, certPath)).ok);

    const ca = await readFile(caPath, "utf8");
    await withServer(
      { cert: await readFile(fixture.master(`${PKI_DIR}/apiserver.crt`), "utf8"), key: await readFile(fixture.master(`${PKI_DIR}/apiserver.key`), "utf8"), clientCa: ca },
      async (port) => {
        const answer = await get(port, { ca, servername: "kubernetes", cert: certPem, key: Buffer.from(newUser["client-key-data"] ?? "", "base64").toString() });
        assert.ok(answer.ok, answer.error);
        assert.deepEqual(JSON.parse(answer.body), { CN: "kubernetes-admin", O: "kubeadm:cluster-admins" });
      },
    );
  });

  it("--renew never outlives the CA: a renewal past the CA's end stops with the CA", async () => {
    const ca = authority(fixture, "ca");
    const pem = await readFile(fixture.master(`${PKI_DIR}/apiserver.crt`), "utf8");
    const late = new Date(Date.now() + 30 * YEAR_MS);
    const { validity, cappedByCa } = renewedValidity(new x509.X509Certificate(pem), ca, late);
    assert.equal(cappedByCa, true);
    assert.equal(validity.notAfter.getTime(), ca.certificate.notAfter.getTime());
    const renewed = await renewLeaf(pem, ca, { now: late }, "apiserver");
    assert.equal(renewed.cappedByCa, true);
    const path = await writeTemp(scratch, "capped/apiserver.crt", renewed.certificatePem);
    assert.equal(msOf((await readCertificate(path)).notAfter), ca.certificate.notAfter.getTime());
  });
});
