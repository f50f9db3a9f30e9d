/**
 * Whole-file replacement that never leaves a torn file: write a temporary file in the same
 * directory, fsync it, rename it over the target, fsync the directory. Readers see the old file
 * or the new one, and a crash leaves at worst a stray temporary file.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface WriteOptions {
  readonly mode: number;
  /** Owner to give the new file (kept from the file it replaces); default: the writing process. */
  readonly uid?: number;
  readonly gid?: number;
}

function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.seal-${randomBytes(6).toString("hex")}`);
}

/** Writes `content` to a new, fsynced temporary file next to `path` and returns its path. */
export async function writeTemporarySibling(path: string, content: string | Uint8Array, options: WriteOptions): Promise<string> {
  const temporary = temporaryPathFor(path);
  // Created with the final mode straight away: a key is never readable by others, even briefly.
  const handle = await open(temporary, "wx", options.mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(options.mode); // the umask may have narrowed the mode given to open
    if (options.uid !== undefined && options.gid !== undefined) await handle.chown(options.uid, options.gid);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return temporary;
}

export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces (or creates) `path` atomically. Parent directories are created with mode 0700. */
export async function writeFileAtomic(path: string, content: string | Uint8Array, options: WriteOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = await writeTemporarySibling(path, content, options);
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await fsyncDirectory(dirname(path));
}

/**
 * Creates `path` atomically but only if it does not exist yet (link(2) fails with EEXIST instead
 * of replacing): used for CA material, which must never be overwritten, even by a concurrent run.
 */
export async function createFileExclusive(path: string, content: string, options: WriteOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = await writeTemporarySibling(path, content, options);
  try {
    await link(temporary, path);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  await fsyncDirectory(dirname(path));
}
