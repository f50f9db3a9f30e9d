// Samples the kernel's IPVS table every INTERVAL_MS for DURATION_MS and checks that the given
// healthy masters are present at weight 1 in every sample; tracks the flapper leaving and coming
// back. A process of its own, at raised priority and with a blocking sleep between samples, so
// the benchmark's event loop (clients' records, HAProxy polls) cannot stretch the interval; the
// gaps that remain are the VM's own scheduling, and they are reported.
// Prints one JSON line (SamplerReport) when done.
//
// usage: node table-sampler.ts NETNS VIP PORT HEALTHY_ENDPOINTS FLAPPER_ENDPOINT INTERVAL_MS DURATION_MS
import os from 'node:os';
import { IpvsClient } from '@lvscare/ipvs-native';
import { hostPort } from '../../test/kernel/lib/cluster.ts';
import { percentile } from './stats.ts';

export interface SamplerReport {
  samples: number;
  firstAt: number;
  lastAt: number;
  /** Gaps between consecutive samples. */
  gapP50Ms: number;
  gapP99Ms: number;
  maxGapMs: number;
  gapsOver50ms: number;
  violations: number;
  violationExamples: Array<{ t: number; weights: Record<string, number> }>;
  flapperRemovals: number;
  flapperReturns: number;
  /** Whether the priority could be raised (root). */
  niceRaised: boolean;
}

const [netns, vip, portText, healthyText, flapper, intervalText, durationText] = process.argv.slice(2);
const port = Number(portText);
const intervalMs = Number(intervalText);
const durationMs = Number(durationText);
if (!netns || !vip || !healthyText || !flapper || !(port > 0) || !(intervalMs > 0) || !(durationMs > 0)) {
  console.error('usage: table-sampler.ts NETNS VIP PORT HEALTHY_ENDPOINTS(comma) FLAPPER_ENDPOINT INTERVAL_MS DURATION_MS');
  process.exit(2);
}
const healthy = healthyText.split(',');

let niceRaised = true;
try {
  os.setPriority(-10);
} catch {
  niceRaised = false;
}

const ipvs = IpvsClient.open({ netns });
const pause = new Int32Array(new SharedArrayBuffer(4));
const gaps: number[] = [];
const violationExamples: SamplerReport['violationExamples'] = [];
let violations = 0;
let removals = 0;
let returns = 0;
let flapperIn = true;
let samples = 0;
let previous: number | undefined;
const firstAt = Date.now();
const endAt = firstAt + durationMs;
let now = firstAt;
while (now < endAt) {
  const weights: Record<string, number> = {};
  for (const d of ipvs.listDestinations({ protocol: 'tcp', address: vip, port })) weights[hostPort(d.address, d.port)] = d.weight;
  now = Date.now();
  samples += 1;
  if (previous !== undefined) gaps.push(now - previous);
  previous = now;
  if (healthy.some((endpoint) => weights[endpoint] !== 1)) {
    violations += 1;
    if (violationExamples.length < 5) violationExamples.push({ t: now, weights });
  }
  const inNow = (weights[flapper] ?? 0) > 0;
  if (flapperIn && !inNow) removals += 1;
  if (!flapperIn && inNow) returns += 1;
  flapperIn = inNow;
  Atomics.wait(pause, 0, 0, intervalMs);
}
ipvs.close();

const report: SamplerReport = {
  samples,
  firstAt,
  lastAt: now,
  gapP50Ms: percentile(gaps, 50),
  gapP99Ms: percentile(gaps, 99),
  maxGapMs: Math.max(0, ...gaps),
  gapsOver50ms: gaps.filter((g) => g > 50).length,
  violations,
  violationExamples,
  flapperRemovals: removals,
  flapperReturns: returns,
  niceRaised,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
