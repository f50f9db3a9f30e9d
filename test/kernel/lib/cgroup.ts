// A cgroup v2 group with a CPU quota, for starving a process the way a pod's CPU limit does.
// The VM's /init mounts cgroup2 at /sys/fs/cgroup; the cpu controller must be available there.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let mountedRoot: string | undefined;

/**
 * The cgroup v2 root. `ip netns exec` (how the kernel suite runs each file) mounts a fresh /sys
 * without /sys/fs/cgroup, so mount the (single, global) hierarchy privately when it is missing.
 */
function cgroupRoot(): string {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return '/sys/fs/cgroup';
  if (mountedRoot) return mountedRoot;
  if (!readFileSync('/proc/filesystems', 'utf8').includes('cgroup2')) {
    throw new Error('this kernel has no cgroup v2 (cgroup2 is not in /proc/filesystems): the starvation tests need CONFIG_CGROUPS with the cpu controller');
  }
  const dir = mkdtempSync(path.join(tmpdir(), `lvk-cgroup-${process.pid}-`));
  execFileSync('mount', ['-t', 'cgroup2', 'cgroup2', dir]);
  mountedRoot = dir;
  return dir;
}

export class CpuQuotaGroup {
  readonly root: string;
  readonly dir: string;

  private constructor(root: string, dir: string) {
    this.root = root;
    this.dir = dir;
  }

  /** A new group under the root whose members share `quotaUs` of CPU time per `periodUs` (cpu.max). */
  static create(name: string, quotaUs: number | 'max', periodUs = 100_000): CpuQuotaGroup {
    const ROOT = cgroupRoot();
    const controllers = path.join(ROOT, 'cgroup.controllers');
    if (!readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu')) {
      throw new Error(`the cgroup v2 cpu controller is missing (${controllers}: "${readFileSync(controllers, 'utf8').trim()}"): the kernel needs CONFIG_CFS_BANDWIDTH and CONFIG_CGROUP_SCHED`);
    }
    const subtree = path.join(ROOT, 'cgroup.subtree_control');
    if (!readFileSync(subtree, 'utf8').split(/\s+/).includes('cpu')) writeFileSync(subtree, '+cpu');
    const dir = path.join(ROOT, name);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
    return new CpuQuotaGroup(ROOT, dir);
  }

  /** Sets cpu.max: `quotaUs` per `periodUs`, or no limit. */
  setQuota(quotaUs: number | 'max', periodUs = 100_000): void {
    writeFileSync(path.join(this.dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
  }

  /** CPU time the members have used in the group (cpu.stat usage_usec). */
  usageUs(): number {
    return Number(/^usage_usec (\d+)$/m.exec(readFileSync(path.join(this.dir, 'cpu.stat'), 'utf8'))?.[1] ?? 0);
  }

  /** Moves a process (all its threads) into the group. */
  add(pid: number): void {
    writeFileSync(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** How often the group hit its quota (cpu.stat nr_throttled), to prove the quota bit. */
  throttledPeriods(): number {
    const match = /^nr_throttled (\d+)$/m.exec(readFileSync(path.join(this.dir, 'cpu.stat'), 'utf8'));
    return Number(match?.[1] ?? 0);
  }

  /** cpu.stat as one line (usage, throttled periods and time), for a failure message. */
  stat(): string {
    return readFileSync(path.join(this.dir, 'cpu.stat'), 'utf8').trim().split('\n').join(', ');
  }

  /** Moves the members back to the root group and removes the group. */
  remove(): void {
    const members = readFileSync(path.join(this.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    for (const pid of members) {
      try {
        writeFileSync(path.join(this.root, 'cgroup.procs'), pid);
      } catch {
        // exited meanwhile
      }
    }
    rmdirSync(this.dir);
  }
}
