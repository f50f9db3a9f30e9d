// Resident memory of the daemon as shipped (dist/lvscare-linux-x64) next to the daemon from its
// TypeScript sources and a bare Node process, in one run on a kernel with IPVS: three masters
// (stand-in apiservers with TLS) and a worker in namespaces, sealos's arguments, the runs
// alternated. The static pod's memory request and limit come from these figures (BENCHMARKS.md).
//
//   npx node bench/dist-rss.ts [--seconds S] [--rounds N]     (root; in the qemu VM when this
//                                                              host's kernel has no IPVS)
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster, LVSCARE_BIN, waitFor } from '../test/kernel/lib/cluster.ts';
import { runInVm } from '../test/harness/vm.ts';
import { executablePath } from '../release/lib/layout.ts';
import { sampleProcess } from './lib/proc-usage.ts';
import { median } from './lib/stats.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, rounds: { type: 'string', default: '2' }, 'in-vm': { type: 'boolean', default: false } },
  strict: true,
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
if (!Number.isInteger(seconds) || seconds < 10 || !Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write('usage: dist-rss.ts [--seconds S>=10] [--rounds N>=1]\n');
  process.exit(2);
}
const EXECUTABLE = executablePath('lvscare', 'x64');
if (!existsSync(EXECUTABLE)) {
  process.stderr.write(`${EXECUTABLE} is missing: run npm run dist first\n`);
  process.exit(2);
}

if (!existsSync('/proc/net/ip_vs') && !values['in-vm']) {
  // This kernel has no IPVS: the same command inside the VM, output streamed.
  const result = await runInVm({
    argv: ['node', path.join(import.meta.dirname, 'dist-rss.ts'), '--in-vm', '--seconds', String(seconds), '--rounds', String(rounds)],
    timeoutMs: (rounds * 3 * (seconds + 60) + 300) * 1000,
    onOutput: (chunk, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk),
  });
  process.exit(result.code);
}

interface Variant {
  readonly name: string;
  readonly argv: (cluster: Cluster) => string[];
  /** Whether it programs the table (then sampling starts once it has). */
  readonly daemon: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'executable', argv: (c) => [EXECUTABLE, ...c.sealosArgs()], daemon: true },
  { name: 'sources', argv: (c) => [process.execPath, LVSCARE_BIN, ...c.sealosArgs()], daemon: true },
  { name: 'bare node', argv: () => [process.execPath, '-e', 'setInterval(() => {}, 1000)'], daemon: false },
];

interface Result {
  variant: string;
  /** Median VmRSS over the second half of the run, KiB. */
  steadyKiB: number;
  /** VmHWM at the end: the most it ever had resident, KiB. */
  peakKiB: number;
}

function vmHwmKiB(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`/proc/${pid}/status has no VmHWM`);
  return Number(match[1]);
}

const cluster = await Cluster.create();
const results: Result[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    for (const variant of VARIANTS) {
      const child = cluster.worker.netns.spawn(variant.argv(cluster));
      const pid = child.pid;
      if (pid === undefined) throw new Error(`${variant.name} did not start`);
      if (variant.daemon) await waitFor(() => cluster.destinations().length === 3, 120_000, `${variant.name}: three masters in the table`);
      const samples: number[] = [];
      for (let s = 0; s < seconds; s++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        samples.push(sampleProcess(pid).rssKiB);
      }
      const result = { variant: variant.name, steadyKiB: median(samples.slice(Math.floor(samples.length / 2))), peakKiB: vmHwmKiB(pid) };
      results.push(result);
      await child.stop();
      process.stdout.write(`round ${round} ${variant.name}: steady RSS ${(result.steadyKiB / 1024).toFixed(1)} MiB, peak ${(result.peakKiB / 1024).toFixed(1)} MiB\n`);
    }
  }
} finally {
  await cluster.destroy();
}

const summary = VARIANTS.map((variant) => {
  const mine = results.filter((r) => r.variant === variant.name);
  return { variant: variant.name, steadyMiB: median(mine.map((r) => r.steadyKiB)) / 1024, peakMiB: Math.max(...mine.map((r) => r.peakKiB)) / 1024 };
});
for (const line of summary) process.stdout.write(`${line.variant.padEnd(11)} steady RSS (median) ${line.steadyMiB.toFixed(1)} MiB, peak ${line.peakMiB.toFixed(1)} MiB\n`);
process.stdout.write(`${JSON.stringify({ bench: 'dist-rss', seconds, rounds, summary, results })}\n`);
