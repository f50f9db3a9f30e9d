// What the daemon costs while nothing happens: probes per second per master over a healthy
// period, from its own lvscare_probes_total counter and, as a cross-check, from the /healthz
// requests each stand-in apiserver counted (those include HAProxy's checks, one per 15 s).
import { CONTROL_PORT, hostPort } from '../../test/kernel/lib/cluster.ts';
import { fetchInNetns } from './netns-fetch.ts';
import { cpuPercent, sampleProcess } from './proc-usage.ts';
import { parsePromText, sumWhere } from './prom-text.ts';
import { METRICS_ADDR, type Testbed } from './testbed.ts';

export interface SteadyCost {
  seconds: number;
  /** endpoint -> lvscare probes counted in the period (primary + hedge, any result). */
  probes: Record<string, number>;
  /** endpoint -> the same per second. */
  probesPerSecond: Record<string, number>;
  /** endpoint -> hedge probes per second (a hedge goes out when a probe is slower than 250 ms). */
  hedgesPerSecond: Record<string, number>;
  /** endpoint -> failed probes in the period (a healthy period should have none). */
  failedProbes: Record<string, number>;
  /** endpoint -> GET /healthz per second as the master counted them (lvscare and HAProxy). */
  healthzSeenPerSecond: Record<string, number>;
  daemonCpuPercent: number;
  daemonRssKiB: number;
  haproxyCpuPercent: number;
  haproxyRssKiB: number;
}

interface Snapshot {
  t: number;
  metrics: ReturnType<typeof parsePromText>;
  healthz: Record<string, number>;
}

/**
 * "met" when at most one probe per second was counted; "met within counting resolution" when one
 * probe fewer would be (a window of T seconds at one probe per second holds T or T+1 probes
 * depending on where its edges fall between ticks); otherwise "MISSED".
 */
export function probeRateVerdict(probes: number, seconds: number): 'met' | 'met within counting resolution' | 'MISSED' {
  if (probes / seconds <= 1) return 'met';
  return (probes - 1) / seconds <= 1 ? 'met within counting resolution' : 'MISSED';
}

export async function measureSteadyCost(bed: Testbed, seconds: number): Promise<SteadyCost> {
  await bed.waitSteady(Date.now() - 1000, 120_000);
  const haproxyPid = bed.haproxy.pid;
  if (haproxyPid === undefined) throw new Error('haproxy has no pid');
  const daemonStart = sampleProcess(bed.daemonPid);
  const haproxyStart = sampleProcess(haproxyPid);
  const first = await snapshot(bed);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const last = await snapshot(bed);
  const daemonEnd = sampleProcess(bed.daemonPid);
  const haproxyEnd = sampleProcess(haproxyPid);

  const elapsed = (last.t - first.t) / 1000;
  const cost: SteadyCost = {
    seconds: elapsed,
    probes: {},
    probesPerSecond: {},
    hedgesPerSecond: {},
    failedProbes: {},
    healthzSeenPerSecond: {},
    daemonCpuPercent: cpuPercent(daemonStart, daemonEnd),
    daemonRssKiB: daemonEnd.rssKiB,
    haproxyCpuPercent: cpuPercent(haproxyStart, haproxyEnd),
    haproxyRssKiB: haproxyEnd.rssKiB,
  };
  for (const master of bed.cluster.masters) {
    const delta = (where: Record<string, string>): number =>
      sumWhere(last.metrics, 'lvscare_probes_total', { master: master.endpoint, ...where }) - sumWhere(first.metrics, 'lvscare_probes_total', { master: master.endpoint, ...where });
    const all = delta({});
    cost.probes[master.endpoint] = all;
    cost.probesPerSecond[master.endpoint] = all / elapsed;
    cost.hedgesPerSecond[master.endpoint] = delta({ role: 'hedge' }) / elapsed;
    cost.failedProbes[master.endpoint] = all - delta({ result: 'ok' });
    cost.healthzSeenPerSecond[master.endpoint] = ((last.healthz[master.name] ?? 0) - (first.healthz[master.name] ?? 0)) / elapsed;
  }
  if (Object.values(cost.probesPerSecond).every((rate) => rate === 0)) {
    throw new Error('lvscare_probes_total did not move: is the metric still exported under that name?');
  }
  return cost;
}

async function snapshot(bed: Testbed): Promise<Snapshot> {
  const masters = bed.cluster.masters;
  const bodies = await fetchInNetns(bed.cluster.worker.netns, [
    `http://${METRICS_ADDR}/metrics`,
    ...masters.map((m) => `http://${hostPort(m.ip, CONTROL_PORT)}/stats`),
  ]);
  const [metrics, ...stats] = bodies;
  if (!metrics) throw new Error('no metrics answer');
  const healthz: Record<string, number> = {};
  masters.forEach((m, i) => {
    healthz[m.name] = (JSON.parse(stats[i]?.body ?? '{}') as { healthzRequests?: number }).healthzRequests ?? 0;
  });
  return { t: metrics.t, metrics: parsePromText(metrics.body), healthz };
}
