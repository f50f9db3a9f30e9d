/** The hosts editor on real files: atomic replacement, mode and owner kept, links followed. */
import assert from "node:assert/strict";
import { chmod, chown, lstat, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { InputError } from "../src/errors.ts";
import { BLOCK_BEGIN, setHostsEntries } from "../src/hosts/hosts-file.ts";
import { editHostsFile } from "../src/hosts/hosts-io.ts";

const API = [{ name: "apiserver.cluster.local", ip: "10.103.97.2" }];
const ORIGINAL = "127.0.0.1\tlocalhost\n# keep me\n10.1.1.1 a b c";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "seal-hosts-io-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function leftovers(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.includes(".seal-"));
}

describe("editing a hosts file on disk", () => {
  it("replaces the file atomically (new inode), keeping mode and owner, leaving no temporary file", async () => {
    const path = join(dir, "hosts-owned");
    await writeFile(path, ORIGINAL);
    await chmod(path, 0o640);
    await chown(path, 1234, 5678);
    const before = await stat(path);
    const result = await editHostsFile(path, (text) => setHostsEntries(text, API));
    assert.equal(result.changed, true);
    const after = await stat(path);
    assert.notEqual(after.ino, before.ino, "written through a rename, not in place");
    assert.equal(after.mode & 0o7777, 0o640);
    assert.equal(after.uid, 1234);
    assert.equal(after.gid, 5678);
    assert.equal(await readFile(path, "utf8"), setHostsEntries(ORIGINAL, API).text);
    assert.deepEqual(await leftovers(), []);
  });

  it("does not touch the file when nothing changes", async () => {
    const path = join(dir, "hosts-unchanged");
    await writeFile(path, setHostsEntries(ORIGINAL, API).text);
    const before = await stat(path, { bigint: true });
    const result = await editHostsFile(path, (text) => setHostsEntries(text, API));
    assert.equal(result.changed, false);
    const after = await stat(path, { bigint: true });
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeNs, before.mtimeNs);
  });

  it("follows a symlink: the target is replaced, the link stays a link", async () => {
    const target = join(dir, "hosts-target");
    const link = join(dir, "hosts-link");
    await writeFile(target, ORIGINAL);
    await symlink(target, link);
    await editHostsFile(link, (text) => setHostsEntries(text, API));
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.ok((await readFile(target, "utf8")).includes(BLOCK_BEGIN));
  });

  it("refuses a dangling symlink instead of replacing it with a file", async () => {
    const link = join(dir, "hosts-dangling");
    await symlink(join(dir, "missing-target"), link);
    await assert.rejects(editHostsFile(link, (text) => setHostsEntries(text, API)), /symbolic link to a missing file/);
    assert.ok((await lstat(link)).isSymbolicLink());
  });

  it("creates a missing file with mode 0644", async () => {
    const path = join(dir, "hosts-new");
    await editHostsFile(path, (text) => setHostsEntries(text, API));
    assert.equal((await stat(path)).mode & 0o777, 0o644);
    assert.equal(await readFile(path, "utf8"), setHostsEntries("", API).text);
  });

  it("leaves the file alone when the edit refuses (damaged block)", async () => {
    const path = join(dir, "hosts-damaged");
    const damaged = `${ORIGINAL}\n${BLOCK_BEGIN}\n10.0.0.1 x\n`;
    await writeFile(path, damaged);
    const before = await stat(path);
    await assert.rejects(editHostsFile(path, (text) => setHostsEntries(text, API)), InputError);
    assert.equal(await readFile(path, "utf8"), damaged);
    assert.equal((await stat(path)).ino, before.ino);
  });

  it("starts over when another writer changes the file between read and rename, keeping their change", async () => {
    const path = join(dir, "hosts-racy");
    await writeFile(path, ORIGINAL);
    let calls = 0;
    const result = await editHostsFile(path, (text) => {
      calls++;
      if (calls === 1) {
        // A concurrent editor: after our read and before our rename, someone rewrites the file.
        writeFileSync(path, `${ORIGINAL}\n10.2.2.2 added-meanwhile\n`);
      }
      return setHostsEntries(text, API);
    });
    assert.ok(calls >= 2, "the edit ran again on the new content");
    const final = await readFile(path, "utf8");
    assert.ok(final.includes("10.2.2.2 added-meanwhile"), "the concurrent change survived");
    assert.equal(final, result.text);
    assert.deepEqual(await leftovers(), []);
  });
});
