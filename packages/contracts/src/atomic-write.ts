/**
 * Whole-file replacement that never leaves a torn file: write a temporary file in the same
 * directory, fsync it, rename it over the target, fsync the directory. Readers (the kubelet
 * watching its manifest directory, a resolver reading /etc/hosts) see the old file or the new one,
 * and a crash leaves at worst a stray temporary file whose name says who left it.
 *
 * Synchronous on purpose: the writers are CLIs that write a handful of files and have nothing to
 * do meanwhile, and one implementation serves the daemon's CLI (which is synchronous) and the
 * installer alike.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fchmodSync, fchownSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** Mode of the new file, given at creation: a key is never readable by others, even briefly. */
  readonly mode: number;
  /** Owner to give the new file (e.g. kept from the file it replaces); default: the writing process. */
  readonly uid?: number;
  readonly gid?: number;
  /** Creates missing parent directories with this mode; without it a missing parent is an error. */
  readonly parentMode?: number;
  /** Who writes, in the temporary file's name (".hosts.seal-1a2b3c4d5e6f"); default "tmp". */
  readonly writer?: string;
}

/**
 * A fresh temporary name next to `path`. It starts with a dot: the kubelet ignores dot files in
 * its manifest directory, so a half-written pod never starts.
 */
export function temporaryPathFor(path: string, writer = "tmp"): string {
  return join(dirname(path), `.${basename(path)}.${writer}-${randomBytes(6).toString("hex")}`);
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or its directory is; the error that brought us here is the one to report.
  }
}

/** Writes `content` to a new, fsynced temporary file next to `path` and returns its path. */
export function writeTemporarySibling(path: string, content: string | Uint8Array, options: AtomicWriteOptions): string {
  const temporary = temporaryPathFor(path, options.writer);
  const fd = openSync(temporary, "wx", options.mode);
  try {
    writeFileSync(fd, content);
    fchmodSync(fd, options.mode); // the umask may have narrowed the mode given to open
    if (options.uid !== undefined && options.gid !== undefined) fchownSync(fd, options.uid, options.gid);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkQuietly(temporary);
    throw error;
  }
  closeSync(fd);
  return temporary;
}

/** Makes a rename or link in `directory` durable. */
export function fsyncDirectory(directory: string): void {
  const fd = openSync(directory, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function makeParent(path: string, options: AtomicWriteOptions): void {
  if (options.parentMode !== undefined) mkdirSync(dirname(path), { recursive: true, mode: options.parentMode });
}

/** Replaces (or creates) `path` atomically. */
export function writeFileAtomic(path: string, content: string | Uint8Array, options: AtomicWriteOptions): void {
  makeParent(path, options);
  const temporary = writeTemporarySibling(path, content, options);
  try {
    renameSync(temporary, path);
  } catch (error) {
    unlinkQuietly(temporary);
    throw error;
  }
  fsyncDirectory(dirname(path));
}

/**
 * Creates `path` atomically but only if it does not exist yet: link(2) fails with EEXIST where
 * rename(2) would replace. For what must never be overwritten, even by a concurrent run (CA
 * material), and for creating a file that must not clobber one that appeared meanwhile.
 */
export function createFileExclusive(path: string, content: string | Uint8Array, options: AtomicWriteOptions): void {
  makeParent(path, options);
  const temporary = writeTemporarySibling(path, content, options);
  try {
    linkSync(temporary, path);
  } finally {
    unlinkQuietly(temporary);
  }
  fsyncDirectory(dirname(path));
}
