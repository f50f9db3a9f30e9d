/**
 * The event loop thread's CPU time and run-queue wait, as the kernel's scheduler accounts them
 * (/proc/thread-self/schedstat: "<on-cpu ns> <waiting-to-run ns> <timeslices>", CONFIG_SCHED_INFO,
 * present on Debian's, Ubuntu's and RHEL's kernels). The wait is the one number that tells a
 * daemon that did not get the CPU (another process had it, or the cgroup's quota ran out: a
 * throttled thread stays queued, so the wait includes throttled time) from a daemon that was idle
 * in epoll with nothing to do. The stall log uses it instead of guessing from timer lag alone.
 */
import { closeSync, openSync, readSync } from "node:fs";

export const THREAD_SCHEDSTAT_PATH = "/proc/thread-self/schedstat";

/** Cumulative milliseconds since the thread started. */
export interface ThreadTimes {
  /** On a CPU. */
  readonly ranMs: number;
  /** Runnable but waiting for a CPU (including CFS throttling). */
  readonly waitedMs: number;
}

export interface ThreadTimesReader {
  read(): ThreadTimes;
  close(): void;
}

/** Parses schedstat's first two fields; undefined when the text is not what the kernel writes. */
export function parseSchedstat(text: string): ThreadTimes | undefined {
  const match = /^(\d+) (\d+) \d+\s*$/.exec(text);
  if (!match) return undefined;
  return { ranMs: Number(match[1]) / 1e6, waitedMs: Number(match[2]) / 1e6 };
}

/**
 * Opens the calling thread's schedstat (call it on the event loop thread: the file names whichever
 * thread opened it). Undefined, with why, on kernels without it; the daemon then falls back to
 * timer lag. One pread per call: procfs regenerates the text at offset 0.
 */
export function openThreadTimes(path = THREAD_SCHEDSTAT_PATH): { reader: ThreadTimesReader } | { why: string } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    return { why: `${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  const buffer = Buffer.alloc(128);
  const readOnce = (): ThreadTimes | undefined => {
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    return parseSchedstat(buffer.toString("latin1", 0, length));
  };
  let first: ThreadTimes | undefined;
  try {
    first = readOnce();
  } catch (err) {
    closeSync(fd);
    return { why: `${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  if (!first) {
    closeSync(fd);
    return { why: `${path}: not in the kernel's "<run ns> <wait ns> <slices>" form` };
  }
  let last = first;
  return {
    reader: {
      read() {
        // A read that fails later (it should not) repeats the last value: no stall is invented.
        try {
          last = readOnce() ?? last;
        } catch {
          /* keep last */
        }
        return last;
      },
      close: () => closeSync(fd),
    },
  };
}
