/**
 * Applies a hosts edit to a local file: read, edit, and replace atomically with the same mode
 * and owner. A symlinked /etc/hosts is followed (its target is replaced, the link kept). If
 * another writer changes the file between our read and our rename, we start over rather than
 * drop their change.
 */
import { lstat, readFile, realpath, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { createFileExclusive, fsyncDirectory, writeTemporarySibling } from "@lvscare/contracts/atomic-write";
import type { HostsEditResult } from "./hosts-file.ts";

const NEW_FILE_MODE = 0o644;
const WRITER = "seal";
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

async function snapshot(path: string): Promise<Snapshot> {
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
    return { text: "", mode: NEW_FILE_MODE, uid: undefined, gid: undefined, identity: undefined };
  }
}

async function identityOf(path: string): Promise<string | undefined> {
  const info = await stat(path, { bigint: true }).catch(() => undefined);
  return info === undefined ? undefined : `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

/**
 * Runs `edit` on the file's text and writes the result if it changed. `edit` must be pure (it may
 * run more than once when the file changes under us) and throws to refuse without writing.
 */
export async function editHostsFile(path: string, edit: (text: string) => HostsEditResult): Promise<HostsEditResult> {
  const target = await resolveTarget(path);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const before = await snapshot(target);
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
    // New file: refuse to replace one that appeared meanwhile.
    try {
      createFileExclusive(target, text, { mode: before.mode, writer: WRITER });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
    return true;
  }
  const owner = before.uid !== undefined && before.gid !== undefined ? { uid: before.uid, gid: before.gid } : {};
  const staging = writeTemporarySibling(target, text, { mode: before.mode, writer: WRITER, ...owner });
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
  fsyncDirectory(dirname(target));
  return true;
}
