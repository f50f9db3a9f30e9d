// A process's resident memory and CPU time from /proc, the way `top` and cAdvisor see them.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcSample {
  /** Epoch ms of the sample. */
  t: number;
  /** VmRSS from /proc/PID/status (the kernel's running counter, which it updates in batches). */
  rssKiB: number;
  /** Rss from /proc/PID/smaps_rollup (counted from the page tables at the time of reading: exact). */
  smapsRssKiB: number;
  /** utime + stime from /proc/PID/stat, in clock ticks. */
  cpuTicks: number;
}

let ticksPerSecond: number | undefined;

/** USER_HZ (almost always 100). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`getconf CLK_TCK said ${JSON.stringify(text)}`);
    ticksPerSecond = value;
  }
  return ticksPerSecond;
}

export function sampleProcess(pid: number): ProcSample {
  const t = Date.now();
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!rss) throw new Error(`/proc/${pid}/status has no VmRSS line (a zombie?)`);
  const smaps = /^Rss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  if (!smaps) throw new Error(`/proc/${pid}/smaps_rollup has no Rss line`);
  return { t, rssKiB: Number(rss[1]), smapsRssKiB: Number(smaps[1]), cpuTicks: cpuTicksOf(pid) };
}

/** utime + stime of a process, in clock ticks. */
function cpuTicksOf(pid: number): number {
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`cannot read utime/stime from /proc/${pid}/stat: ${stat}`);
  return ticks;
}

/** CPU used between two samples, in percent of one CPU. */
export function cpuPercent(from: ProcSample, to: ProcSample): number {
  const seconds = (to.t - from.t) / 1000;
  return seconds > 0 ? ((to.cpuTicks - from.cpuTicks) / clockTicksPerSecond() / seconds) * 100 : Number.NaN;
}

/** The program a pid runs, from /proc/PID/cmdline (NULs as spaces). */
export function commandLine(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
}

export interface CpuTicks {
  /** Epoch ms. */
  t: number;
  busy: number;
  total: number;
}

/** The whole machine's CPU time from /proc/stat's first line (all CPUs summed). */
export function sampleMachineCpu(): CpuTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
  const total = fields.reduce((sum, v) => sum + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { t: Date.now(), busy: total - idle, total };
}

/** Share of all CPUs busy between two samples, 0..100. */
export function machineBusyPercent(from: CpuTicks, to: CpuTicks): number {
  const total = to.total - from.total;
  return total > 0 ? ((to.busy - from.busy) / total) * 100 : Number.NaN;
}

/** CPU ticks of every process now, with a short description of what it runs. */
export function sampleAllProcesses(): Map<number, { ticks: number; command: string }> {
  const result = new Map<number, { ticks: number; command: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const command = commandLine(pid).replace(/\S*\//g, '').slice(0, 80);
      result.set(pid, { ticks: cpuTicksOf(pid), command });
    } catch {
      // Gone meanwhile.
    }
  }
  return result;
}

/** The processes that used the most CPU between two samples, percent of one CPU. */
export function topConsumers(
  from: Map<number, { ticks: number; command: string }>,
  to: Map<number, { ticks: number; command: string }>,
  seconds: number,
  count = 8,
): Array<{ pid: number; command: string; cpuPercent: number }> {
  const rows: Array<{ pid: number; command: string; cpuPercent: number }> = [];
  for (const [pid, now] of to) {
    const before = from.get(pid)?.ticks ?? 0;
    rows.push({ pid, command: now.command, cpuPercent: ((now.ticks - before) / clockTicksPerSecond() / seconds) * 100 });
  }
  return rows.sort((a, b) => b.cpuPercent - a.cpuPercent).slice(0, count);
}
