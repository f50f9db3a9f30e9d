/**
 * --pki-dir: CAs and the service-account key found there are reused and never overwritten;
 * missing ones are created there; anything inconsistent is refused before a file is written.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { certificatePem, createAuthority } from "../src/pki/certificates.ts";
import { generateKeyPair, privateKeyPem } from "../src/pki/keys.ts";
import { seal } from "./helpers/cli.ts";
import { MASTERS } from "./helpers/fixtures.ts";
import { openssl, readCertificate, verify } from "./helpers/openssl.ts";
import { runOk } from "./helpers/tools.ts";

const SHARED = ["ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt", "etcd/ca.key", "sa.key", "sa.pub"];

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "seal-pki-dir-"));
});
after(() => rm(scratch, { recursive: true, force: true }));

function renderArgs(out: string, pkiDir: string): string[] {
  // ECDSA keeps these renders quick; the algorithm does not matter for reuse.
  return ["render", "--masters", MASTERS.join(","), "--key-algorithm", "ecdsa-p256", "--pki-dir", pkiDir, "-o", out];
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path, { bigint: true });
    const digest = createHash("sha256").update(await readFile(path)).digest("hex");
    result[path.slice(dir.length + 1)] = `${digest} ino=${info.ino} mtime=${info.mtimeNs} mode=${(info.mode & 0o777n).toString(8)}`;
  }
  return result;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

describe("--pki-dir", () => {
  it("is filled on first use and reused, untouched, afterwards", async () => {
    const pkiDir = join(scratch, "reuse", "pki");
    await mkdir(join(scratch, "reuse"));
    const first = await seal(renderArgs(join(scratch, "reuse", "out1"), pkiDir));
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /added to .*: ca\.crt, ca\.key, etcd\/ca\.crt, etcd\/ca\.key, front-proxy-ca\.crt, front-proxy-ca\.key, sa\.key, sa\.pub/);
    const created = await snapshot(pkiDir);
    assert.deepEqual(Object.keys(created).sort(), [...SHARED].sort());
    for (const name of SHARED) {
      assert.match(created[name] ?? "", name.endsWith(".key") ? /mode=600$/ : /mode=644$/, name);
      assert.equal(
        await readFile(join(scratch, "reuse", "out1", "hosts", "10.0.0.1", "etc/kubernetes/pki", name), "utf8"),
        await readFile(join(pkiDir, name), "utf8"),
      );
    }

    const second = await seal(renderArgs(join(scratch, "reuse", "out2"), pkiDir));
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /reused from .*: ca, front-proxy-ca, etcd\/ca/);
    assert.doesNotMatch(second.stdout, /added to/);
    assert.deepEqual(await snapshot(pkiDir), created, "nothing in --pki-dir was rewritten");
    const pin = (text: string) => /CA pin for kubeadm join: (sha256:[0-9a-f]{64})/.exec(text)?.[1];
    assert.equal(pin(second.stdout), pin(first.stdout));
    // New leaves, same CA: the second render's apiserver certificate verifies against the first's CA.
    const verdict = await verify(join(pkiDir, "ca.crt"), join(scratch, "reuse", "out2", "hosts", "10.0.0.2", "etc/kubernetes/pki/apiserver.crt"));
    assert.ok(verdict.ok, verdict.output);
  });

  it("reuses a CA made by openssl and creates only what is missing, capping leaves at the CA's end", async () => {
    const pkiDir = join(scratch, "external", "pki");
    await mkdir(pkiDir, { recursive: true });
    await runOk(openssl(), [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=corporate-ca", "-days", "3650",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature",
      "-keyout", join(pkiDir, "ca.key"), "-out", join(pkiDir, "ca.crt"),
    ]);
    const before = await snapshot(pkiDir);
    const out = join(scratch, "external", "out");
    const result = await seal(renderArgs(out, pkiDir));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /seal: warning: ca from --pki-dir expires .*; certificates it signs end then too/);
    const after = await snapshot(pkiDir);
    assert.equal(after["ca.crt"], before["ca.crt"]);
    assert.equal(after["ca.key"], before["ca.key"]);
    assert.deepEqual(Object.keys(after).sort(), [...SHARED].sort());
    const ca = await readCertificate(join(pkiDir, "ca.crt"));
    const apiserver = join(out, "hosts", "10.0.0.1", "etc/kubernetes/pki/apiserver.crt");
    const leaf = await readCertificate(apiserver);
    assert.equal(leaf.issuer, "CN=corporate-ca");
    assert.equal(leaf.notAfter, ca.notAfter);
    assert.ok((await verify(join(pkiDir, "ca.crt"), apiserver)).ok);
  });

  describe("refuses inconsistent material, writing nothing", () => {
    const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
      ["a certificate without its key", async (dir) => copyFrom(dir, ["ca.crt"]), /ca\.crt exists but .*ca\.key does not; a CA needs both to sign/],
      ["a key without its certificate", async (dir) => copyFrom(dir, ["etcd/ca.key"]), /etcd\/ca\.key exists but .*etcd\/ca\.crt does not/],
      ["a key that is not the certificate's", async (dir) => copyFrom(dir, ["ca.crt", ["front-proxy-ca.key", "ca.key"]]), /ca\.key is not the key of .*ca\.crt/],
      ["a leaf posing as a CA", async (dir) => copyFrom(dir, [["../hosts/10.0.0.1/etc/kubernetes/pki/apiserver.crt", "ca.crt"], ["../hosts/10.0.0.1/etc/kubernetes/pki/apiserver.key", "ca.key"]]), /ca\.crt is not a CA certificate/],
      ["an expired CA", writeExpiredCa, /ca\.crt expired on /],
      ["a damaged certificate", async (dir) => { await copyFrom(dir, ["ca.key"]); await writeFile(join(dir, "ca.crt"), "-----BEGIN CERTIFICATE-----\nbroken\n"); }, /ca\.crt is not a PEM certificate/],
      ["sa.pub without sa.key", async (dir) => copyFrom(dir, ["sa.pub"]), /sa\.pub exists but .*sa\.key does not/],
      ["an sa.pub of another key", async (dir) => { await copyFrom(dir, ["sa.key"]); await writeFile(join(dir, "sa.pub"), await runOk(openssl(), ["pkey", "-in", join(scratch, "reuse", "pki", "ca.key"), "-pubout"])); }, /sa\.pub does not match .*sa\.key/],
    ];
    for (const [label, prepare, message] of cases) {
      it(label, async () => {
        const dir = join(scratch, "bad", label.replaceAll(" ", "-"), "pki");
        await mkdir(join(dir, "etcd"), { recursive: true });
        await prepare(dir);
        const before = await snapshot(dir);
        const out = join(scratch, "bad", label.replaceAll(" ", "-"), "out");
        const result = await seal(renderArgs(out, dir));
        assert.equal(result.code, 2);
        assert.match(result.stderr, message);
        assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
        assert.equal(await exists(out), false, "no output directory");
        assert.deepEqual(await snapshot(dir), before, "--pki-dir untouched");
      });
    }
  });
});

/** Copies files from the first test's pki dir (or its render): names, or [from, to] pairs. */
async function copyFrom(dir: string, names: (string | [string, string])[]): Promise<void> {
  const source = join(scratch, "reuse", "pki");
  for (const name of names) {
    const [from, to] = typeof name === "string" ? [name, name] : name;
    const fromPath = from.startsWith("../") ? join(scratch, "reuse", "out1", from.slice(3)) : join(source, from);
    await writeFile(join(dir, to), await readFile(fromPath));
  }
}

async function writeExpiredCa(dir: string): Promise<void> {
  const keys = await generateKeyPair("ecdsa-p256");
  const { certificate } = await createAuthority("old-ca", keys, {
    notBefore: new Date("2015-01-01T00:00:00Z"),
    notAfter: new Date("2020-01-01T00:00:00Z"),
  });
  await writeFile(join(dir, "ca.crt"), certificatePem(certificate));
  await writeFile(join(dir, "ca.key"), await privateKeyPem(keys));
}
