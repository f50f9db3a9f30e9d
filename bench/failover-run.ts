// Runs the failover benchmark in the VM from the host, and adds what only the host can tell: its
// CPU and load average at the start and end (other jobs share its two cores), and the same
// calibration workloads on the host, so the VM's CPU figures can be scaled (qemu TCG emulates every
// guest instruction). Streams the benchmark's output, then prints the slowdown factors and one
// JSON line ({"bench":"failover-run",...}) holding the host's facts and the benchmark's record.
//
//   npx node bench/failover-run.ts [--vm-timeout SECONDS] [--out FILE] [failover-bench options...]
//   e.g. npx node bench/failover-run.ts --trials 20 --soak-minutes 20 --out /tmp/failover.json
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../test/harness/paths.ts';
import { runInVm, VmError, vmAccel, vmCpu } from '../test/harness/vm.ts';
import { writeFileAtomic } from '@lvscare/contracts/atomic-write';
import { type Calibration, calibrate, slowdown } from './lib/calibrate.ts';
import type { Options } from './failover-bench.ts';

const BENCH = path.join(repoRoot, 'bench', 'failover-bench.ts');

function usage(problem: string): never {
  process.stderr.write(`failover-run: ${problem}\nusage: failover-run.ts [--vm-timeout SECONDS] [--out FILE] [failover-bench options...]\n`);
  process.exit(2);
}

/** Takes the wrapper's own options out of argv; the rest goes to the benchmark. */
function splitArgs(argv: string[]): { vmTimeoutS?: number; out?: string; benchArgs: string[] } {
  const benchArgs: string[] = [];
  let vmTimeoutS: number | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name !== '--vm-timeout' && name !== '--out') {
      benchArgs.push(arg);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) usage(`${name} needs a value`);
    if (name === '--out') out = path.resolve(value);
    else {
      vmTimeoutS = Number(value);
      if (!Number.isFinite(vmTimeoutS) || vmTimeoutS <= 0) usage(`--vm-timeout must be a positive number of seconds, got ${JSON.stringify(value)}`);
    }
  }
  return { ...(vmTimeoutS === undefined ? {} : { vmTimeoutS }), ...(out === undefined ? {} : { out }), benchArgs };
}

/** The benchmark checks its own options on the host (no VM, nothing touched) and echoes them. */
function checkBenchOptions(benchArgs: string[]): Options {
  if (benchArgs.includes('--help') || benchArgs.includes('-h')) {
    process.stdout.write('usage: failover-run.ts [--vm-timeout SECONDS] [--out FILE] [failover-bench options...]\n  runs bench/failover-bench.ts in the VM; its options:\n');
    process.stdout.write(spawnSync(process.execPath, [BENCH, '--help'], { encoding: 'utf8' }).stdout);
    process.exit(0);
  }
  const result = spawnSync(process.execPath, [BENCH, ...benchArgs, '--dry-run'], { encoding: 'utf8' });
  if (result.status !== 0) {
    process.stderr.write(result.stderr);
    process.exit(result.status ?? 2);
  }
  return JSON.parse(result.stdout) as Options;
}

/** A generous limit: HAProxy needs up to a minute to notice a blackholed master and ~30 s to take it back. */
function estimateTimeoutS(options: Options): number {
  const perRound = options.faults.length * ((options.systems.includes('haproxy') ? 150 : 0) + (options.systems.includes('lvscare') ? 45 : 0));
  return 900 + options.trials * perRound + (options.parts.includes('soak') ? options.soakMinutes * 60 + 300 : 0) + options.steadySeconds * 2;
}

function hostFacts(): Record<string, string | number> {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const qemu = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? 'qemu not found';
  return { cpu, cpus: os.cpus().length, kernel: os.release(), memoryMiB: Math.round(os.totalmem() / 1048576), qemu, vmCpu: vmCpu(), vmAccel: vmAccel() };
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function say(line: string): void {
  process.stderr.write(`failover-run: ${line}\n`);
}

const { vmTimeoutS, out, benchArgs } = splitArgs(process.argv.slice(2));
const options = checkBenchOptions(benchArgs);
const timeoutS = vmTimeoutS ?? estimateTimeoutS(options);
const host = hostFacts();
const loadStart = loadAverage();
say(`host ${JSON.stringify(host)}; load average ${loadStart}; VM limit ${timeoutS} s`);
const hostCalibration: Calibration = await calibrate();
say(`calibration on the host: ${JSON.stringify(hostCalibration)}`);

let code: number;
let stdout = '';
try {
  const result = await runInVm({
    argv: ['node', BENCH, ...benchArgs],
    timeoutMs: timeoutS * 1000,
    onOutput: (chunk, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk),
  });
  code = result.code;
  stdout = result.stdout;
} catch (error) {
  if (!(error instanceof VmError)) throw error;
  say(error.message);
  code = error.kind === 'timeout' ? 124 : 123;
}
const loadEnd = loadAverage();
say(`host load average at the end ${loadEnd}`);

const recordLine = stdout.split('\n').findLast((line) => line.startsWith('{"bench":"failover"'));
if (recordLine === undefined) {
  say('the benchmark printed no record');
  process.exit(code === 0 ? 1 : code);
}
const record = JSON.parse(recordLine) as { calibration: Calibration; soak?: { daemonUsage: { cpuPercent: number } }; steady?: { daemonCpuPercent: number } };
const factors = slowdown(record.calibration, hostCalibration);
const scaled = (vmPercent: number | undefined): number | undefined => (vmPercent === undefined ? undefined : vmPercent / factors.httpsKeepAliveCpuMs);
const lines = [
  `TCG slowdown (VM / host, same workload): HTTPS keep-alive ${factors.httpsKeepAliveCpuMs.toFixed(1)}x, JS loop ${factors.jsLoopCpuMs.toFixed(1)}x, node start ${factors.nodeStartMs.toFixed(1)}x`,
  ...(record.steady ? [`daemon CPU, healthy: ${record.steady.daemonCpuPercent.toFixed(2)}% of a vCPU in the VM ~ ${scaled(record.steady.daemonCpuPercent)?.toFixed(2)}% of a host core (scaled by the HTTPS factor)`] : []),
  ...(record.soak ? [`daemon CPU, soak: ${record.soak.daemonUsage.cpuPercent.toFixed(2)}% of a vCPU in the VM ~ ${scaled(record.soak.daemonUsage.cpuPercent)?.toFixed(2)}% of a host core`] : []),
  `host load average: start ${loadStart}, end ${loadEnd}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
const combined = JSON.stringify({ bench: 'failover-run', host, hostLoadAverage: { start: loadStart, end: loadEnd }, hostCalibration, slowdown: factors, vm: JSON.parse(recordLine) as unknown });
process.stdout.write(`${combined}\n`);
if (out !== undefined) {
  writeFileAtomic(out, `${combined}\n`, { mode: 0o644, parentMode: 0o755 });
  say(`record written to ${out}`);
}
process.exit(code);
