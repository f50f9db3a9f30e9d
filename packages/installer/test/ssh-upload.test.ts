/**
 * Files onto a real host: a 100 MB upload streamed over SFTP, checked with sha256sum on the host
 * and renamed into place with its mode and owner; skipped when the host already has it; an
 * upload cut off half way leaves no target (and its temporary is cleared by the next one); small
 * atomic writes; reads; and all of it as a non-root user through sudo.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isSshError } from "../src/ssh/errors.ts";
import type { RemoteHost } from "../src/ssh/remote-host.ts";
import { createTestHosts, type TestHost, type TestHosts } from "./hosts/test-hosts.ts";
import { generateKeyPair, testPool, type CapturedPool } from "./helpers/ssh-pool.ts";

const PASSWORD = "upload-test-root";
const BIG_SIZE = 100 * 1024 * 1024;

let dir: string;
let hosts: TestHosts;
let host: TestHost;
let root: CapturedPool;
let alice: CapturedPool;
let bigFile: string;
let bigSha: string;

async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  for (let written = 0; written < size; ) {
    const chunk = randomBytes(Math.min(4 * 1024 * 1024, size - written));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
    written += chunk.length;
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return hash.digest("hex");
}

/** `sha256 mode owner:group` of a file on the host, or "missing". */
async function describeRemote(path: string): Promise<string> {
  const result = await host.exec(["sh", "-c", 'if [ -e "$1" ]; then s=$(sha256sum < "$1"); echo "${s%% *} $(stat -c "%a %U:%G" "$1")"; else echo missing; fi', "sh", path]);
  return result.stdout.trim();
}

async function leftovers(directory: string): Promise<string[]> {
  const result = await host.exec(["sh", "-c", 'ls -A "$1" | grep -e "seal-tmp" -e "seal-staging" || true', "sh", directory]);
  return result.stdout.split("\n").filter((line) => line !== "");
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "seal-ssh-upload-"));
  const key = await generateKeyPair(dir, "client", "ed25519");
  hosts = await createTestHosts({ rootPassword: PASSWORD, users: [{ name: "alice", password: "alice-pw", sudo: "nopasswd" }], authorizedKeys: [key.publicKey], stateSize: "768m" });
  host = hosts.hosts[0] as TestHost;
  root = await testPool(hosts, { password: PASSWORD });
  alice = await testPool(hosts, { user: "alice", privateKeyPath: key.path });
  bigFile = join(dir, "bundle.tar");
  bigSha = await writeRandomFile(bigFile, BIG_SIZE);
});

after(async () => {
  await root?.close();
  await alice?.close();
  await hosts?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe("upload", () => {
  let remote: RemoteHost;
  before(() => {
    remote = root.pool.host(host.address);
  });

  it("streams a 100 MB file into place with its checksum, mode and owner; then skips it", async () => {
    let reported = 0;
    const first = await remote.upload(bigFile, "/var/lib/seal/bundle/kube.tar", { mode: 0o640, owner: "root:daemon", onProgress: (sent) => (reported = sent) });
    assert.deepEqual(first, { skipped: false });
    assert.equal(reported, BIG_SIZE);
    assert.equal(await describeRemote("/var/lib/seal/bundle/kube.tar"), `${bigSha} 640 root:daemon`);
    assert.deepEqual(await leftovers("/var/lib/seal/bundle"), []);

    const again = await remote.upload(bigFile, "/var/lib/seal/bundle/kube.tar", { mode: 0o600 });
    assert.deepEqual(again, { skipped: true });
    assert.equal(await describeRemote("/var/lib/seal/bundle/kube.tar"), `${bigSha} 600 root:daemon`, "a skipped upload still applies the mode");
    assert.match(root.output(), /\/var\/lib\/seal\/bundle\/kube\.tar already has sha256 [0-9a-f]{64}; upload skipped/);
  });

  it("a fresh pool (the local hash still being computed) skips a same file and replaces a different one", async () => {
    await host.execOk(["sh", "-c", "mkdir -p /var/lib/seal/fresh && head -c 1000 /dev/zero > /var/lib/seal/fresh/other.tar"]);
    await host.execOk(["cp", "/var/lib/seal/bundle/kube.tar", "/var/lib/seal/fresh/same.tar"]);
    for (const [name, expected] of [["same.tar", { skipped: true }], ["other.tar", { skipped: false }]] as const) {
      const session = await testPool(hosts, { password: PASSWORD });
      try {
        assert.deepEqual(await session.pool.host(host.address).upload(bigFile, `/var/lib/seal/fresh/${name}`, { mode: 0o604 }), expected);
        assert.equal(await describeRemote(`/var/lib/seal/fresh/${name}`), `${bigSha} 604 root:root`);
      } finally {
        await session.close();
      }
    }
  });

  it("an upload cut off half way leaves no target file; the next one finishes and clears the temporary", async () => {
    const target = "/var/lib/seal/cut/kube.tar";
    const session = await testPool(hosts, { password: PASSWORD });
    try {
      const cut = session.pool.host(host.address);
      await cut.connect();
      let cutAt = 0;
      await assert.rejects(
        cut.upload(bigFile, target, {
          mode: 0o644,
          onProgress: (sent) => {
            if (cutAt === 0 && sent > 30 * 1024 * 1024) {
              cutAt = sent;
              (cut as unknown as { connection: { destroy(): void } }).connection.destroy();
            }
          },
        }),
        (error: unknown) => isSshError(error),
      );
      assert.ok(cutAt > 0);
      assert.equal(await describeRemote(target), "missing");
      assert.equal((await leftovers("/var/lib/seal/cut")).length, 1, "the cut-off temporary is still there");
      // The next upload (a new connection) finishes and removes it.
      assert.deepEqual(await cut.upload(bigFile, target, { mode: 0o644 }), { skipped: false });
      assert.equal(await describeRemote(target), `${bigSha} 644 root:root`);
      assert.deepEqual(await leftovers("/var/lib/seal/cut"), []);
    } finally {
      await session.close();
    }
  });

  it("uploads a buffer, follows a symlinked target, and refuses a directory", async () => {
    await host.execOk(["sh", "-c", "mkdir -p /etc/seal-real && echo old > /etc/seal-real/conf && ln -s /etc/seal-real/conf /etc/seal-link"]);
    assert.deepEqual(await remote.upload(Buffer.from("new\n"), "/etc/seal-link", { mode: 0o600 }), { skipped: false });
    assert.equal((await host.execOk(["sh", "-c", "readlink /etc/seal-link; cat /etc/seal-real/conf"])), "/etc/seal-real/conf\nnew\n");
    await assert.rejects(remote.upload(Buffer.from("x"), "/etc/seal-real", { mode: 0o644 }), (error: unknown) => isSshError(error, "transfer") && /the target is a directory/.test(error.message));
  });
});

describe("small files", () => {
  it("writeFileAtomic writes, reports unchanged content, and leaves no temporary", async () => {
    const remote = root.pool.host(host.address);
    const content = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n";
    assert.deepEqual(await remote.writeFileAtomic("/etc/kubernetes/seal/join.yaml", content, { mode: 0o600 }), { changed: true });
    const before = await host.execOk(["stat", "-c", "%i %a", "/etc/kubernetes/seal/join.yaml"]);
    assert.equal(before.split(" ")[1]?.trim(), "600");
    assert.deepEqual(await remote.writeFileAtomic("/etc/kubernetes/seal/join.yaml", content, { mode: 0o600 }), { changed: false });
    assert.equal(await host.execOk(["stat", "-c", "%i %a", "/etc/kubernetes/seal/join.yaml"]), before, "unchanged: same inode");
    assert.deepEqual(await remote.writeFileAtomic("/etc/kubernetes/seal/join.yaml", `${content}# v2\n`, { mode: 0o644 }), { changed: true });
    assert.equal((await host.readFile("/etc/kubernetes/seal/join.yaml")).toString(), `${content}# v2\n`);
    assert.deepEqual(await leftovers("/etc/kubernetes/seal"), []);
    // The machine's own /etc is untouched: the host's /etc is its own.
    await assert.rejects((await import("node:fs/promises")).access("/etc/kubernetes/seal/join.yaml"));
  });

  it("readFile returns the exact bytes, or undefined for a missing file", async () => {
    const remote = root.pool.host(host.address);
    const bytes = Buffer.from([0, 255, 10, 13, 0, 1, 2, 3, 0x7f]);
    await remote.writeFileAtomic("/var/lib/seal/binary", bytes, { mode: 0o644 });
    assert.deepEqual(await remote.readFile("/var/lib/seal/binary"), bytes);
    assert.equal(await remote.readFile("/var/lib/seal/does-not-exist"), undefined);
    assert.equal((await remote.readFile("/etc/hostname"))?.toString(), `${host.hostname}\n`);
  });
});

describe("as a non-root user through sudo", () => {
  it("uploads into root-only places, owned by root, with nothing left in the user's home", async () => {
    const remote = alice.pool.host(host.address);
    const small = join(dir, "small.bin");
    const smallSha = await writeRandomFile(small, 3 * 1024 * 1024 + 17);
    assert.deepEqual(await remote.upload(small, "/etc/kubernetes/pki/bundle.bin", { mode: 0o600 }), { skipped: false });
    assert.equal(await describeRemote("/etc/kubernetes/pki/bundle.bin"), `${smallSha} 600 root:root`);
    assert.deepEqual(await leftovers("/home/alice"), []);
    assert.deepEqual(await remote.upload(small, "/etc/kubernetes/pki/bundle.bin", { mode: 0o600 }), { skipped: true });
    assert.deepEqual(await remote.writeFileAtomic("/etc/modules-load.d/seal.conf", "ip_vs\n", { mode: 0o644 }), { changed: true });
    assert.equal(await describeRemote("/etc/modules-load.d/seal.conf"), `${createHash("sha256").update("ip_vs\n").digest("hex")} 644 root:root`);
    assert.equal((await remote.readFile("/etc/kubernetes/pki/bundle.bin"))?.length, 3 * 1024 * 1024 + 17);
  });
});
