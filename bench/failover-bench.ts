// Failover benchmark of the lvscare daemon, side by side with HAProxy configured as kubespray
// configures its node-local balancer, on a real kernel (the qemu VM). In one run:
//   steady    probes per second per master over a healthy period (lvscare_probes_total), CPU, RSS;
//   failover  per fault (SIGKILLed master; blackholed master) and system, N trials, interleaved so
//             machine noise hits both alike: fault -> out of rotation, fault -> the client's first
//             success, where the victim is the master the client's connection is on;
//   dataplanes IPVS against nftables (a second daemon with --dataplane nftables on a VIP of its own;
//             its trials above are the "nftables" system): connection setup cost through each VIP,
//             each daemon's dataplane call latency, the VIP's downtime during a simulated
//             kube-proxy restart (bench/lib/dataplane-compare.ts);
//   soak      one master flapping for M minutes: a healthy master is never removed or quiesced
//             (table sampled every 20 ms); the daemon's RSS and CPU every minute.
// Prints tables, then one JSON line ({"bench":"failover",...}) with every figure and every trial.
//
//   npx node test/harness/vm-run.ts --timeout 7200 -- node bench/failover-bench.ts --trials 20
//   (or, with the host's facts and the TCG calibration: npx node bench/failover-run.ts --trials 20)
//
// Exit status: 0 when the run completed (a missed target is reported, not an error), 1 when a
// healthy master was disturbed during the soak or the run failed, 2 on bad usage.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { calibrate, type Calibration } from './lib/calibrate.ts';
import { FAULTS, type Fault, runTrial, SYSTEMS, type System, type TrialLimits, type TrialResult } from './lib/failover-trial.ts';
import { faultTable, type FaultFigures, figuresFor, trialLine } from './lib/failover-report.ts';
import { comparisonText, type DataplaneComparison, measureConnectSetup, measureKubeProxyRestarts, measureUpdates } from './lib/dataplane-compare.ts';
import { HAPROXY_BIN } from './lib/haproxy.ts';
import { runSoak, type SoakResult } from './lib/soak.ts';
import { jsonNumber } from './lib/stats.ts';
import { measureSteadyCost, probeRateVerdict, type SteadyCost } from './lib/steady-cost.ts';
import { Testbed } from './lib/testbed.ts';

const PARTS = ['steady', 'failover', 'dataplanes', 'soak'] as const;
type Part = (typeof PARTS)[number];

const USAGE = `usage: failover-bench.ts [--trials N] [--faults kill,blackhole] [--systems lvscare,nftables,haproxy]
       [--parts steady,failover,dataplanes,soak] [--connections N] [--restarts N] [--soak-minutes M] [--steady-seconds S] [--seed N]
       [--min-phase-ms MS] [--max-phase-ms MS] [--client-interval-ms MS] [--client-timeout-ms MS] [--daemon-debug] [--dry-run]
  defaults: 20 trials per fault and system, all parts, 10000 connections per path, 10 kube-proxy restarts, a 20-minute soak, a 60-second steady period,
  flapper phases 400-6000 ms, the client sends a request every 50 ms with a 1000 ms timeout.
  --daemon-debug: diagnostics, not figures: the daemon logs every probe (--logger DEBG), kept per lvscare trial.
  --dry-run: check the options, print them as JSON, touch nothing.
  Needs a kernel with IPVS: run it in the VM (npx node bench/failover-run.ts ...). Only --systems nftables,haproxy with
  --parts failover runs on a kernel without IPVS (this host, no emulation): sudo npx node bench/failover-bench.ts --systems nftables,haproxy --parts failover`;

export interface Options {
  trials: number;
  faults: Fault[];
  systems: System[];
  parts: Part[];
  soakMinutes: number;
  steadySeconds: number;
  connections: number;
  restarts: number;
  seed: number;
  minPhaseMs: number;
  maxPhaseMs: number;
  clientIntervalMs: number;
  clientTimeoutMs: number;
  daemonDebug: boolean;
}

function usage(problem: string): never {
  process.stderr.write(`failover-bench: ${problem}\n${USAGE}\n`);
  process.exit(2);
}

function list<T extends string>(text: string | undefined, allowed: readonly T[], what: string): T[] {
  if (text === undefined) return [...allowed];
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = items.filter((item) => !(allowed as readonly string[]).includes(item));
  if (items.length === 0 || unknown.length > 0) usage(`--${what} takes a comma list of ${allowed.join(', ')}; got ${JSON.stringify(text)}`);
  return allowed.filter((item) => items.includes(item));
}

function number(text: string | undefined, fallback: number, what: string, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) usage(`--${what} must be a number >= ${min}, got ${JSON.stringify(text)}`);
  return value;
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        trials: { type: 'string' },
        faults: { type: 'string' },
        systems: { type: 'string' },
        parts: { type: 'string' },
        'soak-minutes': { type: 'string' },
        connections: { type: 'string' },
        restarts: { type: 'string' },
        'steady-seconds': { type: 'string' },
        seed: { type: 'string' },
        'min-phase-ms': { type: 'string' },
        'max-phase-ms': { type: 'string' },
        'client-interval-ms': { type: 'string' },
        'client-timeout-ms': { type: 'string' },
        'dry-run': { type: 'boolean' },
        'daemon-debug': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const options: Options = {
    trials: Math.floor(number(values.trials, 20, 'trials', 1)),
    faults: list(values.faults, FAULTS, 'faults'),
    systems: list(values.systems, SYSTEMS, 'systems'),
    parts: list(values.parts, PARTS, 'parts'),
    soakMinutes: number(values['soak-minutes'], 20, 'soak-minutes', 0.5),
    steadySeconds: number(values['steady-seconds'], 60, 'steady-seconds', 5),
    connections: Math.floor(number(values.connections, 10_000, 'connections', 1)),
    restarts: Math.floor(number(values.restarts, 10, 'restarts', 1)),
    seed: Math.floor(number(values.seed, 1, 'seed', 0)),
    minPhaseMs: Math.floor(number(values['min-phase-ms'], 400, 'min-phase-ms', 100)),
    maxPhaseMs: Math.floor(number(values['max-phase-ms'], 6000, 'max-phase-ms', 100)),
    clientIntervalMs: Math.floor(number(values['client-interval-ms'], 50, 'client-interval-ms', 10)),
    clientTimeoutMs: Math.floor(number(values['client-timeout-ms'], 1000, 'client-timeout-ms', 100)),
    daemonDebug: values['daemon-debug'] === true,
  };
  if (options.minPhaseMs > options.maxPhaseMs) usage('--min-phase-ms must not exceed --max-phase-ms');
  if (values['dry-run']) {
    // The host wrapper checks the options here before it boots a VM for an hour.
    process.stdout.write(`${JSON.stringify(options)}\n`);
    process.exit(0);
  }
  return options;
}

/**
 * Whether the run needs the IPVS daemon: its system, or a part that measures it (steady cost and
 * soak watch it; dataplanes compares it with nftables).
 */
function needsIpvs(options: Options): boolean {
  return options.systems.includes('lvscare') || options.parts.some((part) => part !== 'failover');
}

/** What must be there before anything is touched. */
function checkEnvironment(options: Options): void {
  if (process.getuid?.() !== 0) fail('must run as root (network namespaces, IPVS)');
  if (needsIpvs(options) && !existsSync('/proc/net/ip_vs')) {
    fail(
      'this kernel has no IPVS; run the benchmark in the VM (npx node bench/failover-run.ts ...), or measure only nftables and HAProxy here: --systems nftables,haproxy --parts failover',
    );
  }
  if (options.systems.includes('haproxy') && HAPROXY_BIN === undefined) fail('haproxy is not installed: apt-get install -y haproxy');
  if (spawnSync('nft', ['--version'], { stdio: 'ignore' }).error) fail('nft is not installed (the nftables dataplane): apt-get install -y nftables');
  for (const tool of ['openssl', 'getconf']) {
    if (spawnSync(tool, ['version'], { stdio: 'ignore' }).error) fail(`${tool} is not installed (apt-get install -y ${tool === 'getconf' ? 'libc-bin' : tool})`);
  }
}

function fail(message: string): never {
  process.stderr.write(`failover-bench: ${message}\n`);
  process.exit(1);
}

const benchStart = Date.now();
function progress(line: string): void {
  const elapsed = ((Date.now() - benchStart) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[${elapsed} s] ${line}\n`);
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function machine(): Record<string, string | number> {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const haproxy = spawnSync(HAPROXY_BIN as string, ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
  return { kernel: os.release(), cpu, cpus: os.cpus().length, memoryMiB: Math.round(os.totalmem() / 1048576), node: process.version, haproxy: haproxy.trim() };
}

/** Appends to `results` as it goes, so a failure late in the run keeps the trials done so far. */
async function runFailover(bed: Testbed, options: Options, results: TrialResult[]): Promise<void> {
  const limits: TrialLimits = { failoverMs: { lvscare: 60_000, nftables: 60_000, haproxy: 240_000 }, recoveryMs: 180_000 };
  const total = options.trials * options.faults.length * options.systems.length;
  for (let round = 0; round < options.trials; round++) {
    for (const fault of options.faults) {
      // Alternate which system goes first, so neither always follows the other's recovery.
      const order = round % 2 === 0 ? options.systems : [...options.systems].reverse();
      for (const system of order) {
        let result: TrialResult | undefined;
        for (let attempt = 1; result === undefined; attempt++) {
          result = await runTrial(bed, system, fault, limits);
          if (result === undefined) {
            if (attempt >= 5) throw new Error(`the ${system} client kept moving between victim choice and fault (${attempt} attempts)`);
            progress(`trial ${fault} ${system}: the client had reconnected just before the fault; repeating`);
          }
        }
        results.push(result);
        progress(trialLine(results.length, total, result));
      }
    }
  }
}

function printSteady(cost: SteadyCost): void {
  const lines = [`Steady cost over ${cost.seconds.toFixed(1)} s with every master healthy`];
  for (const [endpoint, rate] of Object.entries(cost.probesPerSecond)) {
    const probes = cost.probes[endpoint] ?? 0;
    lines.push(
      `  ${endpoint}: ${probes} lvscare probes = ${rate.toFixed(3)}/s (hedges ${(cost.hedgesPerSecond[endpoint] ?? 0).toFixed(3)}/s, failed ${cost.failedProbes[endpoint]}), ` +
        `target <= 1/s: ${probeRateVerdict(probes, cost.seconds)}; the master saw ${(cost.healthzSeenPerSecond[endpoint] ?? 0).toFixed(3)} /healthz per s (lvscare + HAProxy)`,
    );
  }
  lines.push(`  daemon: ${cost.daemonCpuPercent.toFixed(2)}% of one vCPU (TCG), RSS ${(cost.daemonRssKiB / 1024).toFixed(1)} MiB; HAProxy: ${cost.haproxyCpuPercent.toFixed(2)}%, RSS ${(cost.haproxyRssKiB / 1024).toFixed(1)} MiB`);
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

function printSoak(soak: SoakResult): void {
  const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
  const table = soak.table;
  const perMinute = soak.daemonUsage.cpuPercentPerMinute;
  const lines = [
    `Soak: ${soak.minutes.toFixed(1)} min, ${soak.flapper} flapping (${soak.flapperHealthSwitches} /healthz switches), ${soak.healthy.join(' and ')} healthy`,
    `  IPVS table sampled ${table.samples} times: gap p50 ${table.gapP50Ms} ms, p99 ${table.gapP99Ms} ms, max ${table.maxGapMs} ms, ${table.gapsOver50ms} gaps over 50 ms` +
      `${table.niceRaised ? '' : ' (sampler priority NOT raised)'}`,
    `  healthy master removed or quiesced: ${table.violations === 0 ? 'never' : `in ${table.violations} samples, e.g. ${JSON.stringify(table.violationExamples[0])}`}`,
    `  flapper left the table ${table.flapperRemovals}x and came back ${table.flapperReturns}x; daemon transitions ${JSON.stringify(soak.daemonTransitions)}`,
    `  HAProxy: flapper went DOWN ${soak.haproxyFlapperDowns}x; samples with a healthy master not UP: ${soak.haproxyHealthyNotUp}`,
    `  client failures: lvscare ${soak.clients.lvscare.failures}/${soak.clients.lvscare.requests} ${JSON.stringify(soak.clients.lvscare.errors)}, ` +
      `HAProxy ${soak.clients.haproxy.failures}/${soak.clients.haproxy.requests} ${JSON.stringify(soak.clients.haproxy.errors)}`,
    `  daemon RSS (VmRSS) ${mib(soak.daemonUsage.rssMinKiB)}..${mib(soak.daemonUsage.rssMaxKiB)} (smaps_rollup ${mib(soak.daemonUsage.smapsRssMinKiB)}..${mib(soak.daemonUsage.smapsRssMaxKiB)}), CPU ${soak.daemonUsage.cpuPercent.toFixed(2)}% of one vCPU over the soak (TCG)` +
      (perMinute.length > 0 ? ` (per interval ${Math.min(...perMinute).toFixed(2)}..${Math.max(...perMinute).toFixed(2)}%)` : ''),
    `  for scale: a bare Node 24 HTTPS client (the vip client) has RSS ${mib(soak.baselineNodeRssKiB)}`,
    `  HAProxy RSS ${mib(soak.haproxyUsage.rssMinKiB)}..${mib(soak.haproxyUsage.rssMaxKiB)}, CPU ${soak.haproxyUsage.cpuPercent.toFixed(2)}% (it also carries the client's bytes; IPVS does that in the kernel)`,
    `  VM: ${soak.vmBusyPercent.toFixed(1)}% of both vCPUs busy; top: ${soak.topProcesses.map((p) => `${p.command.slice(0, 40)} ${p.cpuPercent.toFixed(1)}%`).join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

/** JSON has no Infinity: never-completed trials become null. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' ? jsonNumber(v) : v));
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  checkEnvironment(options);
  const loadStart = loadAverage();
  const facts = machine();
  progress(`start ${new Date().toISOString()}; load average ${loadStart}; ${JSON.stringify(facts)}; options ${JSON.stringify(options)}`);
  const calibration: Calibration = await calibrate();
  progress(`calibration (this machine): ${JSON.stringify(calibration)}`);

  // Parts other than failover use all three systems (needsIpvs); failover alone builds only the chosen ones.
  const built: readonly System[] = options.parts.every((part) => part === 'failover') ? options.systems : SYSTEMS;
  const bed = await Testbed.create({ intervalMs: options.clientIntervalMs, timeoutMs: options.clientTimeoutMs, daemonDebug: options.daemonDebug, systems: built });
  let steady: SteadyCost | undefined;
  const trials: TrialResult[] = [];
  let soak: SoakResult | undefined;
  let dataplanes: Partial<DataplaneComparison> | undefined;
  let failure: string | undefined;
  try {
    await bed.waitSteady(Date.now(), 180_000);
    const described: Record<System, string> = { lvscare: 'lvscare with sealos arguments (IPVS)', nftables: 'lvscare --dataplane nftables', haproxy: 'HAProxy as kubespray' };
    progress(`testbed steady: three masters, ${built.map((system) => described[system]).join(', ')}, a client for each`);
    if (options.parts.includes('steady')) {
      steady = await measureSteadyCost(bed, options.steadySeconds);
      progress(`steady cost measured: ${JSON.stringify(steady.probesPerSecond)} probes/s`);
    }
    if (options.parts.includes('failover')) await runFailover(bed, options, trials);
    if (options.parts.includes('dataplanes')) {
      dataplanes = {};
      dataplanes.updates = await measureUpdates(bed);
      dataplanes.connect = await measureConnectSetup(bed, options.connections, progress);
      dataplanes.kubeProxyRestart = await measureKubeProxyRestarts(bed, options.restarts, progress);
    }
    if (options.parts.includes('soak')) {
      soak = await runSoak(bed, { minutes: options.soakMinutes, seed: options.seed, minPhaseMs: options.minPhaseMs, maxPhaseMs: options.maxPhaseMs }, progress);
    }
  } catch (error) {
    // Report what was measured before the failure, then fail.
    failure = error instanceof Error ? (error.stack ?? error.message) : String(error);
    progress(`RUN FAILED: ${failure}`);
  } finally {
    const problems = bed.daemonProblems();
    if (problems.length > 0) progress(`daemon error lines:\n${problems.slice(0, 20).join('\n')}`);
    await bed.destroy();
  }

  const failover: Partial<Record<Fault, FaultFigures>> = {};
  for (const fault of options.faults.filter((f) => trials.some((r) => r.fault === f))) {
    failover[fault] = figuresFor(trials, fault);
    process.stdout.write(`${faultTable(fault, failover[fault])}\n\n`);
  }
  if (dataplanes?.connect && dataplanes.updates && dataplanes.kubeProxyRestart) process.stdout.write(`${comparisonText(dataplanes as DataplaneComparison)}\n\n`);
  if (steady) printSteady(steady);
  if (soak) printSoak(soak);
  const loadEnd = loadAverage();
  progress(`end ${new Date().toISOString()}; load average ${loadEnd}`);
  const record = {
    bench: 'failover',
    date: new Date(benchStart).toISOString(),
    durationS: (Date.now() - benchStart) / 1000,
    machine: facts,
    loadAverage: { start: loadStart, end: loadEnd },
    options,
    calibration,
    steady,
    failover,
    soak,
    dataplanes,
    trials,
    daemonProblems: bed.daemonProblems().slice(0, 50),
    ...(failure === undefined ? {} : { failure }),
  };
  process.stdout.write(`${toJson(record)}\n`);
  return failure !== undefined || (soak !== undefined && soak.table.violations > 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`failover-bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
