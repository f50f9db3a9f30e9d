// Resident memory of the daemon as shipped (dist/lvscare-linux-x64) next to the daemon from its
// TypeScript sources, a bare Node process and HAProxy (kubespray's per-node configuration), in one run on a kernel with IPVS: three masters
// (stand-in apiservers with TLS) and a worker in namespaces, sealos's arguments, the runs
// alternated. The static pod's memory request and limit come from these figures (BENCHMARKS.md).
//
//   npx node bench/dist-rss.ts [--seconds S] [--rounds N]     (root; in the qemu VM when this
//                                                              host's kernel has no IPVS)
//   npx node bench/dist-rss.ts --baseline FILE         (adds another lvscare executable, e.g. one
//                                                              built from an earlier commit, to every round)
//   npx node bench/dist-rss.ts --node-options '--lite-mode'  (adds the executable with the static
//                                                              pod's NODE_OPTIONS plus these V8 flags)
//   npx node bench/dist-rss.ts --soak-minutes 20               (the executable alone that long, with
//                                                              the static pod's NODE_OPTIONS, or those of
//                                                              --soak-node-options=..., RSS every 10 s)
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster, LVSCARE_BIN, waitFor } from '../test/kernel/lib/cluster.ts';
import type { BackgroundProcess } from '../test/harness/netns.ts';
import { Haproxy } from './lib/haproxy.ts';
import { runInVm } from '../test/harness/vm.ts';
import { executablePath } from '../release/lib/layout.ts';
import { clockTicksPerSecond, sampleProcess } from './lib/proc-usage.ts';
import { POD_NODE_OPTIONS } from '../packages/lvscare/src/static-pod.ts';
import { median } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '2' },
    'soak-minutes': { type: 'string', default: '0' },
    baseline: { type: 'string' },
    'node-options': { type: 'string' },
    'soak-node-options': { type: 'string' },
    'in-vm': { type: 'boolean', default: false },
  },
  strict: true,
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const soakMinutes = Number(values['soak-minutes']);
if (!Number.isInteger(seconds) || seconds < 10 || !Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(soakMinutes) || soakMinutes < 0) {
  process.stderr.write('usage: dist-rss.ts [--seconds S>=10] [--rounds N>=1] [--soak-minutes M]\n');
  process.exit(2);
}
const baseline = values.baseline === undefined ? undefined : path.resolve(values.baseline);
if (baseline !== undefined && !existsSync(baseline)) {
  process.stderr.write(`--baseline ${baseline}: no such file\n`);
  process.exit(2);
}
const extraNodeOptions = values['node-options'];
const soakNodeOptions = values['soak-node-options'];
const EXECUTABLE = executablePath('lvscare', 'x64');
if (!existsSync(EXECUTABLE)) {
  process.stderr.write(`${EXECUTABLE} is missing: run npm run dist first\n`);
  process.exit(2);
}

if (!existsSync('/proc/net/ip_vs') && !values['in-vm']) {
  // This kernel has no IPVS: the same command inside the VM, output streamed.
  const result = await runInVm({
    argv: ['node', path.join(import.meta.dirname, 'dist-rss.ts'), '--in-vm', '--seconds', String(seconds), '--rounds', String(rounds), '--soak-minutes', String(soakMinutes), ...(baseline === undefined ? [] : ['--baseline', baseline]), ...(extraNodeOptions === undefined ? [] : [`--node-options=${extraNodeOptions}`]), ...(soakNodeOptions === undefined ? [] : [`--soak-node-options=${soakNodeOptions}`])],
    timeoutMs: (soakMinutes > 0 ? soakMinutes * 60 + 600 : rounds * 5 * (seconds + 60) + 300) * 1000,
    onOutput: (chunk, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk),
  });
  process.exit(result.code);
}

interface Variant {
  readonly name: string;
  readonly start: (cluster: Cluster) => Promise<{ pid: number | undefined; stop: () => Promise<unknown> }>;
  /** Whether it programs the table (then sampling starts once it has). */
  readonly daemon: boolean;
}

const spawned = (child: BackgroundProcess) => ({ pid: child.pid, stop: () => child.stop() });

const VARIANTS: Variant[] = [
  { name: 'executable', start: async (c) => spawned(c.worker.netns.spawn([EXECUTABLE, ...c.sealosArgs()])), daemon: true },
  // As the static pod runs it: its NODE_OPTIONS (the heap cap) in the environment.
  { name: 'executable, pod flags', start: async (c) => spawned(c.worker.netns.spawn([EXECUTABLE, ...c.sealosArgs()], { env: { ...process.env, NODE_OPTIONS: POD_NODE_OPTIONS } })), daemon: true },
  ...(extraNodeOptions === undefined
    ? []
    : [
        {
          name: `executable, pod flags ${extraNodeOptions}`,
          start: async (c: Cluster) => spawned(c.worker.netns.spawn([EXECUTABLE, ...c.sealosArgs()], { env: { ...process.env, NODE_OPTIONS: `${POD_NODE_OPTIONS} ${extraNodeOptions}` } })),
          daemon: true,
        },
      ]),
  ...(baseline === undefined
    ? []
    : [{ name: 'baseline', start: async (c: Cluster) => spawned(c.worker.netns.spawn([baseline, ...c.sealosArgs()])), daemon: true }]),
  { name: 'sources', start: async (c) => spawned(c.worker.netns.spawn([process.execPath, LVSCARE_BIN, ...c.sealosArgs()])), daemon: true },
  { name: 'bare node', start: async (c) => spawned(c.worker.netns.spawn([process.execPath, '-e', 'setInterval(() => {}, 1000)'])), daemon: false },
  {
    name: 'haproxy',
    start: async (c) => {
      const haproxy = await Haproxy.start(c.worker.netns, c.masters.map((m) => ({ name: m.name, endpoint: m.endpoint })));
      return { pid: haproxy.pid, stop: () => haproxy.stop() };
    },
    daemon: false,
  },
];

interface Result {
  variant: string;
  /** Median VmRSS over the second half of the run, KiB. */
  steadyKiB: number;
  /** VmHWM at the end: the most it ever had resident, KiB. */
  peakKiB: number;
  /** CPU over the sampling window, percent of one CPU. */
  cpuPercent: number;
}

function vmHwmKiB(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`/proc/${pid}/status has no VmHWM`);
  return Number(match[1]);
}

const cluster = await Cluster.create();
const results: Result[] = [];
if (soakMinutes > 0) {
  try {
    // As shipped: the static pod's NODE_OPTIONS (--soak-node-options= overrides, empty for none).
    const nodeOptions = soakNodeOptions ?? POD_NODE_OPTIONS;
    process.stdout.write(`soak: NODE_OPTIONS=${JSON.stringify(nodeOptions)}\n`);
    const child = cluster.worker.netns.spawn([EXECUTABLE, ...cluster.sealosArgs()], { env: { ...process.env, NODE_OPTIONS: nodeOptions } });
    const pid = child.pid;
    if (pid === undefined) throw new Error('the executable did not start');
    await waitFor(() => cluster.destinations().length === 3, 120_000, 'three masters in the table');
    const samples: number[] = [];
    for (let s = 0; s < soakMinutes * 6; s++) {
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      samples.push(sampleProcess(pid).rssKiB);
      if (s % 6 === 5) process.stdout.write(`soak minute ${(s + 1) / 6}: RSS ${(samples.at(-1)! / 1024).toFixed(1)} MiB\n`);
    }
    const quarter = Math.max(1, Math.floor(samples.length / 4));
    const first = median(samples.slice(0, quarter)) / 1024;
    const last = median(samples.slice(-quarter)) / 1024;
    const peak = vmHwmKiB(pid) / 1024;
    await child.stop();
    process.stdout.write(`soak ${soakMinutes} min: median RSS first quarter ${first.toFixed(1)} MiB, last quarter ${last.toFixed(1)} MiB (x${(last / first).toFixed(3)}), peak ${peak.toFixed(1)} MiB\n`);
    process.stdout.write(`${JSON.stringify({ bench: 'dist-rss-soak', soakMinutes, firstMiB: first, lastMiB: last, samplesKiB: samples })}\n`);
  } finally {
    await cluster.destroy();
  }
  process.exit(0);
}
try {
  for (let round = 1; round <= rounds; round++) {
    for (const variant of VARIANTS) {
      const child = await variant.start(cluster);
      const pid = child.pid;
      if (pid === undefined) throw new Error(`${variant.name} did not start`);
      if (variant.daemon) await waitFor(() => cluster.destinations().length === 3, 120_000, `${variant.name}: three masters in the table`);
      const samples: number[] = [];
      const first = sampleProcess(pid);
      let last = first;
      for (let s = 0; s < seconds; s++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        last = sampleProcess(pid);
        samples.push(last.rssKiB);
      }
      const cpuPercent = ((last.cpuTicks - first.cpuTicks) / clockTicksPerSecond() / ((last.t - first.t) / 1000)) * 100;
      const result = { variant: variant.name, steadyKiB: median(samples.slice(Math.floor(samples.length / 2))), peakKiB: vmHwmKiB(pid), cpuPercent };
      results.push(result);
      await child.stop();
      process.stdout.write(`round ${round} ${variant.name}: steady RSS ${(result.steadyKiB / 1024).toFixed(1)} MiB, peak ${(result.peakKiB / 1024).toFixed(1)} MiB, CPU ${result.cpuPercent.toFixed(1)}%\n`);
    }
  }
} finally {
  await cluster.destroy();
}

const summary = VARIANTS.map((variant) => {
  const mine = results.filter((r) => r.variant === variant.name);
  return { variant: variant.name, steadyMiB: median(mine.map((r) => r.steadyKiB)) / 1024, peakMiB: Math.max(...mine.map((r) => r.peakKiB)) / 1024, cpuPercent: median(mine.map((r) => r.cpuPercent)) };
});
for (const line of summary) process.stdout.write(`${line.variant.padEnd(11)} steady RSS (median) ${line.steadyMiB.toFixed(1)} MiB, peak ${line.peakMiB.toFixed(1)} MiB, CPU ${line.cpuPercent.toFixed(1)}%\n`);
const bare = summary.find((line) => line.variant === 'bare node')?.steadyMiB;
for (const line of summary) if (bare) process.stdout.write(`${line.variant.padEnd(11)} / bare node: ${(line.steadyMiB / bare).toFixed(2)}\n`);
process.stdout.write(`${JSON.stringify({ bench: 'dist-rss', seconds, rounds, summary, results })}\n`);
