/**
 * Read-modify-write of a local text file that never drops someone else's change: read, edit,
 * write a temporary sibling, and rename it over the file only if the file is still as read
 * (else start over on the new content). A symlink is followed (its target is replaced, the
 * link kept). Used for /etc/hosts and for known_hosts.
 */
import { link, lstat, readFile, realpath, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { fsyncDirectory, writeTemporarySibling } from "@lvscare/contracts/atomic-write";

const ATTEMPTS = 5;

interface Snapshot {
  readonly text: string;
  readonly mode: number;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  readonly identity: string | undefined;
}

async function resolveTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    // A dangling link would be silently replaced by a plain file: refuse instead.
    const info = await lstat(path).catch(() => undefined);
    if (info?.isSymbolicLink() === true) throw new Error(`${path} is a symbolic link to a missing file`);
    return path;
  }
}

async function snapshot(path: string, newFileMode: number): Promise<Snapshot> {
  try {
    const info = await stat(path, { bigint: true });
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    const text = await readFile(path, "utf8");
    return {
      text,
      mode: Number(info.mode & 0o7777n),
      uid: Number(info.uid),
      gid: Number(info.gid),
      identity: `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`,
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    return { text: "", mode: newFileMode, uid: undefined, gid: undefined, identity: undefined };
  }
}

async function identityOf(path: string): Promise<string | undefined> {
  const info = await stat(path, { bigint: true }).catch(() => undefined);
  return info === undefined ? undefined : `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

/** What an edit of a file's text decided: the new text, and whether it differs. */
export interface TextEdit {
  readonly text: string;
  readonly changed: boolean;
}

/**
 * Runs `edit` on the file's text and writes the result if it changed. `edit` must be pure (it may
 * run more than once when the file changes under us) and throws to refuse without writing. A
 * missing file reads as "" and is created with `newFileMode`; an existing one keeps its mode
 * and owner.
 */
export async function editFileAtomically<R extends TextEdit>(path: string, edit: (text: string) => R, newFileMode: number): Promise<R> {
  const target = await resolveTarget(path);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const before = await snapshot(target, newFileMode);
    const result = edit(before.text);
    if (!result.changed) return result;
    const written = await replaceIfUnchanged(target, result.text, before);
    if (written) return result;
  }
  throw new Error(`${target} kept changing while we edited it; try again`);
}

/** Writes a temporary copy, then renames it over `target` only if `target` is still as read. */
async function replaceIfUnchanged(target: string, text: string, before: Snapshot): Promise<boolean> {
  if (before.identity === undefined) {
    // New file: link(2) refuses to replace one that appeared meanwhile.
    const staging = await writeTemporarySibling(target, text, { mode: before.mode });
    try {
      await link(staging, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    } finally {
      await unlink(staging).catch(() => undefined);
    }
    await fsyncDirectory(dirname(target));
    return true;
  }
  const owner = before.uid !== undefined && before.gid !== undefined ? { uid: before.uid, gid: before.gid } : {};
  const staging = await writeTemporarySibling(target, text, { mode: before.mode, ...owner });
  if ((await identityOf(target)) !== before.identity) {
    await unlink(staging).catch(() => undefined);
    return false;
  }
  try {
    await rename(staging, target);
  } catch (error) {
    await unlink(staging).catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === "EBUSY") {
      throw new Error(`${target} is a mount point (a container's bind-mounted /etc/hosts?) and cannot be replaced atomically`);
    }
    throw error;
  }
  await fsyncDirectory(dirname(target));
  return true;
}
