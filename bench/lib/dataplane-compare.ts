// IPVS against nftables on the same testbed (the failover benchmark's "dataplanes" part): the two
// lvscare daemons (sealos's arguments on the IPVS VIP, --dataplane nftables on NFT_VIP) balance the
// same three masters.
//   connect setup  COUNT short TCP connections (connect, close) through each VIP and straight to a
//                  master as the floor, in interleaved blocks of 1000 so machine noise hits all alike;
//   update latency each daemon's own dataplane histogram (lvscare_dataplane_operation_duration_seconds):
//                  IPVS per netlink op, nftables per transaction ("apply"), and the per-interval read;
//   kube-proxy     its start-up cleanup in nftables mode (ipvs.CleanupLeftovers: flush every IPVS
//   restart        service; nftables.CleanupLeftovers: delete its table) while a client opens a new
//                  connection through each VIP every 10 ms: how long each VIP refused or dropped them.
import path from 'node:path';
import { API_PORT } from '../../test/kernel/lib/cluster.ts';
import { repoRoot } from '../../test/harness/paths.ts';
import { kubeProxyTable } from '../../test/nftables/lib.ts';
import { fetchInNetns } from './netns-fetch.ts';
import { parsePromText, sumWhere } from './prom-text.ts';
import { percentile } from './stats.ts';
import { METRICS_ADDR, NFT_METRICS_ADDR, NFT_VIP, type Testbed } from './testbed.ts';

const PROBE = path.join(repoRoot, 'bench', 'lib', 'connect-probe.ts');
const BLOCK = 1000;
const LOOP_INTERVAL_MS = 10;
const LOOP_TIMEOUT_MS = 300;

export type Path = 'ipvs' | 'nftables' | 'direct';

export interface ConnectFigures {
  connections: number;
  errors: number;
  p50Us: number;
  p95Us: number;
  meanUs: number;
}

export interface OperationFigures {
  operation: string;
  count: number;
  meanMs: number;
}

export interface RestartTrial {
  /** From the first failed attempt to the end of the next successful one; 0 when none failed. */
  downtimeMs: Record<'ipvs' | 'nftables', number>;
  failedAttempts: Record<'ipvs' | 'nftables', number>;
  errors: Record<'ipvs' | 'nftables', Record<string, number>>;
}

export interface DataplaneComparison {
  connect: Record<Path, ConnectFigures>;
  updates: Record<'ipvs' | 'nftables', OperationFigures[]>;
  kubeProxyRestart: RestartTrial[];
}

interface Attempt {
  t: number;
  ok: boolean;
  ms: number;
  code?: string;
}

async function probe(bed: Testbed, args: readonly string[]): Promise<string> {
  const result = await bed.cluster.worker.netns.exec([process.execPath, PROBE, ...args], { timeoutMs: 600_000 });
  return result.stdout;
}

export async function measureConnectSetup(bed: Testbed, count: number, progress: (line: string) => void): Promise<Record<Path, ConnectFigures>> {
  const targets: Record<Path, string> = { ipvs: bed.cluster.vip, nftables: NFT_VIP, direct: bed.cluster.masters[0]!.ip };
  const samples: Record<Path, number[]> = { ipvs: [], nftables: [], direct: [] };
  const errors: Record<Path, number> = { ipvs: 0, nftables: 0, direct: 0 };
  const blocks = Math.max(1, Math.ceil(count / BLOCK));
  for (let block = 0; block < blocks; block++) {
    const order: Path[] = block % 2 === 0 ? ['ipvs', 'nftables', 'direct'] : ['direct', 'nftables', 'ipvs'];
    for (const pathName of order) {
      const out = JSON.parse(await probe(bed, ['burst', targets[pathName], String(API_PORT), String(Math.min(BLOCK, count - block * BLOCK))])) as { errors: number; connectUs: number[] };
      samples[pathName].push(...out.connectUs);
      errors[pathName] += out.errors;
    }
    // Running medians in the progress log: a run cut short by its time limit still says something.
    const p50 = (name: Path): string => `${name} ${percentile(samples[name], 50).toFixed(0)} us`;
    progress(`connect setup: block ${block + 1}/${blocks} done; p50 so far: ${p50('ipvs')}, ${p50('nftables')}, ${p50('direct')}`);
  }
  const figures = (name: Path): ConnectFigures => {
    const values = samples[name];
    return {
      connections: values.length + errors[name],
      errors: errors[name],
      p50Us: percentile(values, 50),
      p95Us: percentile(values, 95),
      meanUs: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
    };
  };
  return { ipvs: figures('ipvs'), nftables: figures('nftables'), direct: figures('direct') };
}

export async function measureUpdates(bed: Testbed): Promise<Record<'ipvs' | 'nftables', OperationFigures[]>> {
  const [ipvs, nftables] = await fetchInNetns(bed.cluster.worker.netns, [`http://${METRICS_ADDR}/metrics`, `http://${NFT_METRICS_ADDR}/metrics`]);
  const figures = (text: string): OperationFigures[] => {
    const samples = parsePromText(text);
    const name = 'lvscare_dataplane_operation_duration_seconds';
    const operations = [...new Set(samples.filter((s) => s.name === `${name}_count` && s.labels['result'] === 'ok').map((s) => s.labels['operation'] as string))].sort();
    return operations.map((operation) => {
      const countOf = sumWhere(samples, `${name}_count`, { operation, result: 'ok' });
      return { operation, count: countOf, meanMs: (sumWhere(samples, `${name}_sum`, { operation, result: 'ok' }) * 1000) / Math.max(1, countOf) };
    });
  };
  return { ipvs: figures(ipvs!.body), nftables: figures(nftables!.body) };
}

function downtime(attempts: readonly Attempt[]): { downtimeMs: number; failed: number; errors: Record<string, number> } {
  const failed = attempts.filter((a) => !a.ok);
  const errors: Record<string, number> = {};
  for (const a of failed) errors[a.code ?? '?'] = (errors[a.code ?? '?'] ?? 0) + 1;
  const first = failed[0];
  if (first === undefined) return { downtimeMs: 0, failed: 0, errors };
  const lastFailed = failed[failed.length - 1]!;
  const recovered = attempts.find((a) => a.ok && a.t > lastFailed.t);
  const end = recovered === undefined ? lastFailed.t + lastFailed.ms : recovered.t + recovered.ms;
  return { downtimeMs: end - first.t, failed: failed.length, errors };
}

/** kube-proxy (nftables mode) starting: its cleanup of IPVS and of its own old table, then its new table. */
async function kubeProxyRestart(bed: Testbed): Promise<void> {
  const netns = bed.cluster.worker.netns;
  await netns.exec(['ipvsadm', '--clear']);
  await netns.exec(['nft', 'delete', 'table', 'ip', 'kube-proxy'], { allowFailure: true });
  await netns.exec(['nft', '-f', '-'], { input: kubeProxyTable(bed.cluster.masters[0]!.ip) });
}

export async function measureKubeProxyRestarts(bed: Testbed, trials: number, progress: (line: string) => void): Promise<RestartTrial[]> {
  const results: RestartTrial[] = [];
  const netns = bed.cluster.worker.netns;
  await netns.exec(['nft', '-f', '-'], { input: kubeProxyTable(bed.cluster.masters[0]!.ip) });
  for (let trial = 0; trial < trials; trial++) {
    await bed.waitSteady(Date.now(), 180_000);
    const loops = [bed.cluster.vip, NFT_VIP].map((vip) => netns.spawn([process.execPath, PROBE, 'loop', vip, String(API_PORT), String(LOOP_INTERVAL_MS), '6000', String(LOOP_TIMEOUT_MS)], { maxOutputBytes: 16 << 20 }));
    // The cleanup starts only once both loops connect: a loop that started after the IPVS daemon
    // had restored its table would report no downtime at all.
    await Promise.all(loops.map((loop) => loop.waitForOutput('connected\n', 120_000)));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await kubeProxyRestart(bed);
    const [ipvs, nftables] = await Promise.all(loops.map(async (loop) => {
      const status = await loop.exited;
      const json = loop.output().split('\n').find((line) => line.startsWith('{"attempts"'));
      if (status.code !== 0 || json === undefined) throw new Error(`connect-probe loop failed (${JSON.stringify(status)}):\n${loop.output().slice(-2000)}`);
      return downtime((JSON.parse(json) as { attempts: Attempt[] }).attempts);
    })) as [ReturnType<typeof downtime>, ReturnType<typeof downtime>];
    results.push({
      downtimeMs: { ipvs: ipvs.downtimeMs, nftables: nftables.downtimeMs },
      failedAttempts: { ipvs: ipvs.failed, nftables: nftables.failed },
      errors: { ipvs: ipvs.errors, nftables: nftables.errors },
    });
    progress(`kube-proxy restart ${trial + 1}/${trials}: VIP down ${ipvs.downtimeMs.toFixed(0)} ms with IPVS (${ipvs.failed} failed), ${nftables.downtimeMs.toFixed(0)} ms with nftables (${nftables.failed} failed)`);
  }
  await netns.exec(['nft', 'delete', 'table', 'ip', 'kube-proxy'], { allowFailure: true });
  return results;
}

export function comparisonText(c: DataplaneComparison): string {
  const us = (v: number): string => `${v.toFixed(0)} us`;
  const lines = [`Connection setup through the VIP (${c.connect.ipvs.connections} short TCP connections per path, interleaved blocks of ${BLOCK})`];
  for (const name of ['ipvs', 'nftables', 'direct'] as const) {
    const f = c.connect[name];
    lines.push(`  ${name.padEnd(8)} p50 ${us(f.p50Us)}, p95 ${us(f.p95Us)}, mean ${us(f.meanUs)}, errors ${f.errors}`);
  }
  lines.push(`  nftables/IPVS p50 ${(c.connect.nftables.p50Us / c.connect.ipvs.p50Us).toFixed(2)}x, p95 ${(c.connect.nftables.p95Us / c.connect.ipvs.p95Us).toFixed(2)}x`);
  lines.push('Dataplane calls over the whole run (mean per call; IPVS per netlink op, nftables per transaction)');
  for (const name of ['ipvs', 'nftables'] as const) {
    lines.push(`  ${name.padEnd(8)} ${c.updates[name].map((o) => `${o.operation} ${o.meanMs.toFixed(2)} ms (n=${o.count})`).join(', ')}`);
  }
  const restarts = c.kubeProxyRestart;
  if (restarts.length > 0) {
    const col = (name: 'ipvs' | 'nftables'): string => {
      const values = restarts.map((r) => r.downtimeMs[name]);
      return `median ${percentile(values, 50).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms, failed connections ${restarts.map((r) => r.failedAttempts[name]).join('/')}`;
    };
    lines.push(`VIP downtime during a simulated kube-proxy restart (${restarts.length} trials, a new connection every ${LOOP_INTERVAL_MS} ms)`);
    lines.push(`  ipvs     ${col('ipvs')}`);
    lines.push(`  nftables ${col('nftables')}`);
  }
  return lines.join('\n');
}

