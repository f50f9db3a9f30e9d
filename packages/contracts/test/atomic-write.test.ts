/** Atomic writes on real files in a temporary directory. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createFileExclusive, temporaryPathFor, writeFileAtomic, writeTemporarySibling } from "../src/atomic-write.ts";

const dir = mkdtempSync(join(tmpdir(), `contracts-atomic-${process.pid}-`));
after(() => rmSync(dir, { recursive: true, force: true }));

function scratch(name: string): string {
  const path = join(dir, name);
  mkdirSync(path);
  return path;
}

/** Runs `fn` under `mask`, as a root shell with `umask 077` (or a careless 000) would. */
function withUmask<T>(mask: number, fn: () => T): T {
  const previous = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(previous);
  }
}

describe("writeFileAtomic", () => {
  it("replaces the file through a rename (new inode), with exactly the mode asked for, leaving nothing else", () => {
    const where = scratch("replace");
    const path = join(where, "kube-sealos-lvscare.yaml");
    writeFileSync(path, "old\n");
    const before = statSync(path);
    withUmask(0o077, () => writeFileAtomic(path, "new\n", { mode: 0o644 }));
    const after = statSync(path);
    assert.notEqual(after.ino, before.ino);
    assert.equal(after.mode & 0o7777, 0o644, "the umask did not narrow the mode");
    assert.equal(readFileSync(path, "utf8"), "new\n");
    assert.deepEqual(readdirSync(where), ["kube-sealos-lvscare.yaml"]);
  });

  it("writes bytes as given and gives the file the owner asked for", () => {
    const path = join(scratch("owner"), "key");
    const bytes = Uint8Array.of(0, 1, 2, 255);
    writeFileAtomic(path, bytes, { mode: 0o600, uid: 1234, gid: 5678 });
    const info = statSync(path);
    assert.equal(info.uid, 1234);
    assert.equal(info.gid, 5678);
    assert.deepEqual(new Uint8Array(readFileSync(path)), bytes);
  });

  it("creates missing parents only when given their mode", () => {
    const root = scratch("parents");
    assert.throws(() => writeFileAtomic(join(root, "typo", "hosts"), "x", { mode: 0o644 }), /ENOENT/);
    assert.throws(() => createFileExclusive(join(root, "typo", "hosts"), "x", { mode: 0o644 }), /ENOENT/);
    assert.deepEqual(readdirSync(root), []);
    withUmask(0, () => {
      writeFileAtomic(join(root, "secret", "deep", "file"), "x", { mode: 0o600, parentMode: 0o700 });
      createFileExclusive(join(root, "manifests", "pod.yaml"), "x", { mode: 0o644, parentMode: 0o755 });
    });
    assert.equal(statSync(join(root, "secret")).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, "secret", "deep")).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, "manifests")).mode & 0o777, 0o755);
  });

  it("leaves the old file and no temporary one when the rename fails", () => {
    const where = scratch("rename-fails");
    const path = join(where, "target");
    mkdirSync(path); // rename(2) cannot put a file over a directory
    writeFileSync(join(path, "inside"), "kept");
    assert.throws(() => writeFileAtomic(path, "new", { mode: 0o644 }), /EISDIR/);
    assert.deepEqual(readdirSync(where), ["target"]);
    assert.equal(readFileSync(join(path, "inside"), "utf8"), "kept");
  });

  it("fails before writing anything when the parent cannot exist", () => {
    const where = scratch("no-parent");
    writeFileSync(join(where, "file"), "");
    assert.throws(() => writeFileAtomic(join(where, "file", "child"), "x", { mode: 0o644, parentMode: 0o700 }), /ENOTDIR|EEXIST/);
    assert.deepEqual(readdirSync(where), ["file"]);
  });
});

describe("temporary files", () => {
  it("are dot files beside the target naming their writer, already with the final mode", () => {
    const where = scratch("temporary");
    const path = join(where, "admin.key");
    assert.match(temporaryPathFor(path, "seal"), new RegExp(`^${where}/\\.admin\\.key\\.seal-[0-9a-f]{12}$`));
    assert.notEqual(temporaryPathFor(path), temporaryPathFor(path));
    const temporary = withUmask(0, () => writeTemporarySibling(path, "secret", { mode: 0o600, writer: "lvscare" }));
    assert.match(temporary, /\/\.admin\.key\.lvscare-[0-9a-f]{12}$/);
    assert.equal(statSync(temporary).mode & 0o777, 0o600);
    assert.equal(readFileSync(temporary, "utf8"), "secret");
  });
});

describe("createFileExclusive", () => {
  it("creates a missing file and refuses to replace an existing one, leaving it and no temporary file", () => {
    const where = scratch("exclusive");
    const path = join(where, "ca.key");
    createFileExclusive(path, "first", { mode: 0o600 });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.throws(() => createFileExclusive(path, "second", { mode: 0o600 }), (error: NodeJS.ErrnoException) => error.code === "EEXIST");
    assert.equal(readFileSync(path, "utf8"), "first");
    assert.deepEqual(readdirSync(where), ["ca.key"]);
  });
});
