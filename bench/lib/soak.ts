// The soak: one master's /healthz flaps irregularly for many minutes while the other two stay
// healthy. A separate sampler process reads the kernel's table every 20 ms: a healthy master must
// never be removed or quiesced. Meanwhile the daemon's (and HAProxy's) resident memory and CPU time
// are read every minute, and both clients keep talking, so the cost of each removal of the flapper
// is visible too.
import path from 'node:path';
import { API_PORT, CONTROL_PORT, hostPort, type Master } from '../../test/kernel/lib/cluster.ts';
import { spawnBackground } from '../../test/harness/netns.ts';
import { repoRoot } from '../../test/harness/paths.ts';
import { onLines } from './line-tap.ts';
import { fetchInNetns } from './netns-fetch.ts';
import {
  cpuPercent,
  machineBusyPercent,
  type ProcSample,
  sampleAllProcesses,
  sampleMachineCpu,
  sampleProcess,
  topConsumers,
} from './proc-usage.ts';
import { parsePromText, sumWhere } from './prom-text.ts';
import type { SamplerReport } from './table-sampler.ts';
import { METRICS_ADDR, type Testbed } from './testbed.ts';
import type { TrackedClient } from './tracked-client.ts';

const FLAP_DRIVER = path.join(repoRoot, 'bench', 'lib', 'flap-driver.ts');
const TABLE_SAMPLER = path.join(repoRoot, 'bench', 'lib', 'table-sampler.ts');
const TABLE_SAMPLE_MS = 20;
const HAPROXY_SAMPLE_MS = 250;

export interface SoakOptions {
  minutes: number;
  seed: number;
  /** Shortest and longest fail/ok phase of the flapper. */
  minPhaseMs: number;
  maxPhaseMs: number;
}

export interface UsageSeries {
  samples: ProcSample[];
  rssMinKiB: number;
  rssMaxKiB: number;
  /** The same from smaps_rollup, as a cross-check of VmRSS. */
  smapsRssMinKiB: number;
  smapsRssMaxKiB: number;
  /** Over the whole soak, percent of one CPU. */
  cpuPercent: number;
  /** Per interval between consecutive samples. */
  cpuPercentPerMinute: number[];
}

export interface ClientTally {
  requests: number;
  failures: number;
  errors: Record<string, number>;
}

export interface SoakResult {
  minutes: number;
  flapper: string;
  healthy: string[];
  /** Health switches the flapper made (fail and ok both count). */
  flapperHealthSwitches: number;
  /** The sampler's account: samples, gaps, healthy-master violations, the flapper's exits and returns. */
  table: SamplerReport;
  /** From lvscare_master_transitions_total over the soak, master -> { to -> count }. */
  daemonTransitions: Record<string, Record<string, number>>;
  /** HAProxy: samples where a healthy master was not UP, and the flapper's UP -> DOWN changes. */
  haproxyHealthyNotUp: number;
  haproxyFlapperDowns: number;
  clients: { lvscare: ClientTally; haproxy: ClientTally };
  daemonUsage: UsageSeries;
  haproxyUsage: UsageSeries;
  /** RSS of the vip client at the end: what Node 24 with one HTTPS connection takes, for scale. */
  baselineNodeRssKiB: number;
  /** The whole VM: share of both vCPUs busy, and who used them. */
  vmBusyPercent: number;
  topProcesses: Array<{ pid: number; command: string; cpuPercent: number }>;
}

export async function runSoak(bed: Testbed, options: SoakOptions, progress: (line: string) => void): Promise<SoakResult> {
  const [steady1, steady2, flapper] = bed.cluster.masters as [Master, Master, Master];
  const healthy = [steady1, steady2];
  await bed.waitSteady(Date.now() - 1000, 120_000);
  const haproxyPid = bed.haproxy.pid;
  if (haproxyPid === undefined) throw new Error('haproxy has no pid');

  const transitionsBefore = await transitions(bed);
  const durationMs = Math.round(options.minutes * 60_000);
  const start = Date.now();
  const machineStart = sampleMachineCpu();
  const processesStart = sampleAllProcesses();
  const daemonSamples: ProcSample[] = [sampleProcess(bed.daemonPid)];
  const haproxySamples: ProcSample[] = [sampleProcess(haproxyPid)];

  const sampler = spawnBackground([
    process.execPath,
    TABLE_SAMPLER,
    bed.cluster.worker.netns.name,
    bed.cluster.vip,
    String(API_PORT),
    healthy.map((m) => m.endpoint).join(','),
    flapper.endpoint,
    String(TABLE_SAMPLE_MS),
    String(durationMs),
  ]);
  const driver = flapper.node.netns.spawn([
    process.execPath,
    FLAP_DRIVER,
    `http://${hostPort(flapper.ip, CONTROL_PORT)}`,
    String(options.seed),
    String(durationMs),
    String(options.minPhaseMs),
    String(options.maxPhaseMs),
  ]);
  let switches = 0;
  onLines(driver.child, (line, source) => {
    if (source === 'stdout' && line.startsWith('{')) switches += 1;
  });

  const usageTimer = setInterval(() => {
    daemonSamples.push(sampleProcess(bed.daemonPid));
    haproxySamples.push(sampleProcess(haproxyPid));
    const d = daemonSamples.at(-1) as ProcSample;
    progress(
      `soak minute ${daemonSamples.length - 1}/${options.minutes}: daemon rss ${(d.rssKiB / 1024).toFixed(1)} MiB, ` +
        `cpu ${cpuPercent(daemonSamples.at(-2) as ProcSample, d).toFixed(1)}% (VM); flapper switched ${switches}x`,
    );
  }, 60_000);

  let running = true;
  let haproxyHealthyNotUp = 0;
  let haproxyFlapperDowns = 0;
  const haproxySampler = (async () => {
    let flapperUp = true;
    while (running) {
      const servers = await bed.haproxyServers();
      if (healthy.some((m) => servers.get(m.name)?.status !== 'UP')) haproxyHealthyNotUp += 1;
      const upNow = servers.get(flapper.name)?.status.startsWith('UP') ?? false;
      if (flapperUp && !upNow) haproxyFlapperDowns += 1;
      flapperUp = upNow;
      await new Promise((resolve) => setTimeout(resolve, HAPROXY_SAMPLE_MS));
    }
  })();

  let table: SamplerReport;
  try {
    const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), durationMs + 120_000).unref());
    for (const [what, child] of [['flap driver', driver], ['table sampler', sampler]] as const) {
      const exit = await Promise.race([child.exited, late]);
      if (exit === 'late' || exit.code !== 0) throw new Error(`the ${what} ${exit === 'late' ? 'did not finish' : `failed (${JSON.stringify(exit)})`}:\n${child.output()}`);
    }
    const reportLine = sampler.output().split('\n').find((line) => line.startsWith('{'));
    if (reportLine === undefined) throw new Error(`the table sampler printed no report:\n${sampler.output()}`);
    table = JSON.parse(reportLine) as SamplerReport;
  } finally {
    clearInterval(usageTimer);
    running = false;
    await haproxySampler;
    await driver.stop(2000);
    await sampler.stop(2000);
  }
  const end = Date.now();
  daemonSamples.push(sampleProcess(bed.daemonPid));
  haproxySamples.push(sampleProcess(haproxyPid));
  const machineEnd = sampleMachineCpu();
  const processesEnd = sampleAllProcesses();
  const transitionsAfter = await transitions(bed);
  const daemonTransitions: Record<string, Record<string, number>> = {};
  for (const m of bed.cluster.masters) {
    const changes: Record<string, number> = {};
    for (const to of ['up', 'down']) changes[to] = (transitionsAfter[m.endpoint]?.[to] ?? 0) - (transitionsBefore[m.endpoint]?.[to] ?? 0);
    daemonTransitions[m.name] = changes;
  }

  return {
    minutes: (end - start) / 60_000,
    flapper: flapper.name,
    healthy: healthy.map((m) => m.name),
    flapperHealthSwitches: switches,
    table,
    daemonTransitions,
    haproxyHealthyNotUp,
    haproxyFlapperDowns,
    clients: { lvscare: tally(bed.vipClient, start, end), haproxy: tally(bed.haproxyClient, start, end) },
    daemonUsage: usageSeries(daemonSamples),
    haproxyUsage: usageSeries(haproxySamples),
    baselineNodeRssKiB: bed.vipClient.process.pid === undefined ? Number.NaN : sampleProcess(bed.vipClient.process.pid).rssKiB,
    vmBusyPercent: machineBusyPercent(machineStart, machineEnd),
    topProcesses: topConsumers(processesStart, processesEnd, (end - start) / 1000),
  };
}

/** endpoint -> { to -> lvscare_master_transitions_total }. */
async function transitions(bed: Testbed): Promise<Record<string, Record<string, number>>> {
  const [answer] = await fetchInNetns(bed.cluster.worker.netns, [`http://${METRICS_ADDR}/metrics`]);
  const samples = parsePromText(answer?.body ?? '');
  const result: Record<string, Record<string, number>> = {};
  for (const m of bed.cluster.masters) {
    result[m.endpoint] = {
      up: sumWhere(samples, 'lvscare_master_transitions_total', { master: m.endpoint, to: 'up' }),
      down: sumWhere(samples, 'lvscare_master_transitions_total', { master: m.endpoint, to: 'down' }),
    };
  }
  return result;
}

function tally(client: TrackedClient, start: number, end: number): ClientTally {
  const records = client.since(start).filter((r) => r.t <= end);
  const errors: Record<string, number> = {};
  for (const r of records) if (!r.ok) errors[r.error ?? '?'] = (errors[r.error ?? '?'] ?? 0) + 1;
  return { requests: records.length, failures: records.filter((r) => !r.ok).length, errors };
}

function usageSeries(samples: ProcSample[]): UsageSeries {
  const first = samples[0] as ProcSample;
  const last = samples.at(-1) as ProcSample;
  return {
    samples,
    rssMinKiB: Math.min(...samples.map((s) => s.rssKiB)),
    rssMaxKiB: Math.max(...samples.map((s) => s.rssKiB)),
    smapsRssMinKiB: Math.min(...samples.map((s) => s.smapsRssKiB)),
    smapsRssMaxKiB: Math.max(...samples.map((s) => s.smapsRssKiB)),
    cpuPercent: cpuPercent(first, last),
    cpuPercentPerMinute: samples.slice(1).map((s, i) => cpuPercent(samples[i] as ProcSample, s)),
  };
}
