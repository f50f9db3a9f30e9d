/**
 * One seal at a time per cluster: `~/.seal/<cluster>/lock`, created exclusively (link(2) of a
 * complete temporary file, so a reader never sees half a lock) with the holder's pid, machine
 * and start time. A second seal refuses naming the holder. A lock whose pid is dead on this
 * machine is stale (a killed seal): it is taken over with a warning. A lock from another
 * machine is never guessed stale: the message says how to remove it.
 */
import { readFileSync, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import { createFileExclusive } from "@lvscare/contracts/atomic-write";

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  readonly command: string;
}

export class ClusterLockedError extends Error {
  override readonly name = "ClusterLockedError";
  readonly holder: LockHolder;
  constructor(path: string, holder: LockHolder) {
    super(
      `cluster is locked by ${holder.command} (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}); ` +
        `wait for it to finish${holder.host === hostname() ? "" : `, or if that machine's seal is gone remove ${path}`}`,
    );
    this.holder = holder;
  }
}

export interface ClusterLock {
  readonly path: string;
  release(): void;
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const value = JSON.parse(readFileSync(path, "utf8")) as Partial<LockHolder>;
    if (typeof value.pid !== "number" || typeof value.host !== "string" || typeof value.startedAt !== "string") return undefined;
    return { pid: value.pid, host: value.host, startedAt: value.startedAt, command: typeof value.command === "string" ? value.command : "seal" };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock or throws ClusterLockedError; `warn` hears about a stale lock taken over. */
export function acquireClusterLock(path: string, command: string, warn: (message: string) => void, now = new Date()): ClusterLock {
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: now.toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      createFileExclusive(path, `${JSON.stringify(me)}\n`, { mode: 0o600, parentMode: 0o700, writer: "seal-lock" });
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          if (readHolder(path)?.pid === me.pid) unlinkSync(path);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readHolder(path);
    if (holder !== undefined && (holder.host !== me.host || alive(holder.pid))) throw new ClusterLockedError(path, holder);
    warn(
      holder === undefined
        ? `removing an unreadable lock ${path}`
        : `taking over a stale lock: ${holder.command} (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}) is no longer running`,
    );
    try {
      unlinkSync(path);
    } catch {
      // another seal took it over first; the next attempt sees its lock
    }
  }
  const holder = readHolder(path);
  if (holder !== undefined) throw new ClusterLockedError(path, holder);
  throw new Error(`cannot take the lock ${path}`);
}
