/**
 * The daemons the fakes start (etcd, the stand-in API server, the fake containerd) outlive the
 * command that started them, as pods outlive `kubeadm init`: their own session, output to a log
 * file, a pid file in the host's /run. Stopping checks the pid still belongs to that program, so
 * a recycled pid is never killed.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DAEMON_LOG_DIR, FAKES_RUN_DIR } from "../contract.ts";

export interface DaemonHandle {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
}

export function pidFile(name: string): string {
  return join(FAKES_RUN_DIR, `${name}.pid`);
}

export function logFile(name: string): string {
  return join(DAEMON_LOG_DIR, `${name}.log`);
}

/** `marker` must appear in the process's command line for the pid to count as ours. */
export function runningPid(name: string, marker: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(name), "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // A zombie has exited; it only waits for its parent.
    if (/\) Z /.test(stat)) return undefined;
    return cmdline.includes(marker) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function startDaemon(name: string, file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): DaemonHandle {
  mkdirSync(FAKES_RUN_DIR, { recursive: true, mode: 0o755 });
  mkdirSync(DAEMON_LOG_DIR, { recursive: true, mode: 0o755 });
  const log = logFile(name);
  const fd = openSync(log, "a", 0o640);
  try {
    const child = spawn(file, [...args], { detached: true, stdio: ["ignore", fd, fd], env });
    if (child.pid === undefined) throw new Error(`could not start ${file}`);
    child.unref();
    const temporary = `${pidFile(name)}.tmp`;
    writeFileSync(temporary, `${child.pid}\n`, { mode: 0o644 });
    renameSync(temporary, pidFile(name));
    return { name, pid: child.pid, logFile: log };
  } finally {
    closeSync(fd);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; true when a process was stopped. */
export async function stopDaemon(name: string, marker: string, graceMs = 10_000): Promise<boolean> {
  const pid = runningPid(name, marker);
  rmSync(pidFile(name), { force: true });
  if (pid === undefined) return false;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) process.kill(pid, "SIGKILL");
  while (alive(pid)) await sleep(20);
  return true;
}

export function logTail(name: string, lines = 20): string {
  try {
    return readFileSync(logFile(name), "utf8").split("\n").slice(-lines - 1).join("\n");
  } catch {
    return "";
  }
}
