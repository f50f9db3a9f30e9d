// IPVS client benchmark, side by side in one run on a kernel with IPVS (the qemu VM):
//   1. add + delete of one destination: @lvscare/ipvs-native vs one ipvsadm process per operation;
//   2. listing a service with 10,000 destinations: our dump + decode vs merely receiving the
//      same dump's bytes from the socket (the kernel's own cost) vs `ipvsadm -Ln`.
// Prints medians and ratios, and a JSON line for the record. Targets: library >= 50x ipvsadm's
// operation rate; dump + decode within 2x of the raw receive and faster than ipvsadm.
//
//   npx node test/harness/vm-run.ts --timeout 900 -- node bench/ipvs-bench.ts
//
// Options (environment): IPVS_BENCH_DESTS (10000), IPVS_BENCH_ROUNDS (15).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { IpvsClient, type AddressServiceKey } from '@lvscare/ipvs-native';
import { checkServiceKey, encodeGetDests, openIpvsChannel } from '@lvscare/ipvs-native/internals';

const DESTS = Number(process.env['IPVS_BENCH_DESTS'] ?? 10_000);
const ROUNDS = Number(process.env['IPVS_BENCH_ROUNDS'] ?? 15);
const LIBRARY_PAIRS_PER_ROUND = 500;
const IPVSADM_PAIRS_PER_ROUND = 10;

const service: AddressServiceKey = { protocol: 'tcp', address: '10.103.97.2', port: 6443 };
const probeDest = { address: '10.9.0.1', port: 6443 };
const IPVSADM = ['/usr/sbin/ipvsadm', '/sbin/ipvsadm'].find((path) => existsSync(path));

function fail(message: string): never {
  process.stderr.write(`ipvs-bench: ${message}\n`);
  process.exit(1);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Milliseconds taken by `fn`. */
function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs ipvsadm; its listing goes to /dev/null (it still formats and writes every line). */
function ipvsadm(args: string[], output: 'ignore' | 'pipe' = 'ignore'): string {
  const result = spawnSync(IPVSADM as string, args, { stdio: ['ignore', output, 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) fail(`ipvsadm ${args.join(' ')} failed: ${result.stderr.toString().trim()}`);
  return result.stdout?.toString() ?? '';
}

function format(ms: number): string {
  return ms >= 10 ? `${ms.toFixed(1)} ms` : ms >= 0.1 ? `${ms.toFixed(3)} ms` : `${(ms * 1000).toFixed(1)} us`;
}

if (IPVSADM === undefined) fail('ipvsadm is not installed (apt-get install ipvsadm)');
if (!existsSync('/proc/net/ip_vs')) fail('this kernel has no IPVS; run it in the VM: npx node test/harness/vm-run.ts -- node bench/ipvs-bench.ts');

const client = IpvsClient.open();
if (client.listServices().length > 0) fail('the IPVS table of this namespace is not empty; refusing to touch it');
const vip = `${service.address}:${service.port}`;

try {
  client.addService({ ...service, scheduler: 'rr' });

  // 1. One destination added and deleted, again and again.
  const libraryPair: number[] = [];
  const ipvsadmPair: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < LIBRARY_PAIRS_PER_ROUND; i++) {
      libraryPair.push(
        time(() => {
          client.addDestination(service, probeDest);
          client.deleteDestination(service, probeDest);
        }),
      );
    }
    for (let i = 0; i < IPVSADM_PAIRS_PER_ROUND; i++) {
      ipvsadmPair.push(
        time(() => {
          ipvsadm(['-a', '-t', vip, '-r', `${probeDest.address}:${probeDest.port}`, '-m']);
          ipvsadm(['-d', '-t', vip, '-r', `${probeDest.address}:${probeDest.port}`]);
        }),
      );
    }
  }

  // 2. A service with DESTS destinations, listed three ways, interleaved round by round.
  for (let i = 0; i < DESTS; i++) {
    client.addDestination(service, { address: `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 6443 });
  }
  // ipvsadm must see the same table; checked once, outside the timed runs.
  const rows = ipvsadm(['-L', '-n', '-t', vip], 'pipe').split('\n').filter((line) => line.includes('->')).length - 1;
  if (rows !== DESTS) fail(`ipvsadm lists ${rows} destinations, expected ${DESTS}`);
  const channel = openIpvsChannel();
  const wireKey = checkServiceKey('bench', service);
  const raw: number[] = [];
  const decoded: number[] = [];
  const listed: number[] = [];
  let rawBytes = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      raw.push(
        time(() => {
          rawBytes = channel.receiveDumpBytes(encodeGetDests(wireKey));
        }),
      );
      decoded.push(
        time(() => {
          const destinations = client.listDestinations(service);
          if (destinations.length !== DESTS) fail(`listed ${destinations.length} destinations, expected ${DESTS}`);
        }),
      );
      listed.push(time(() => ipvsadm(['-L', '-n', '-t', vip])));
    }
  } finally {
    channel.socket.close();
  }

  const library = median(libraryPair) / 2;
  const external = median(ipvsadmPair) / 2;
  const results = {
    kernel: os.release(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    rounds: ROUNDS,
    operation: {
      libraryMedianMs: library,
      ipvsadmMedianMs: external,
      libraryOpsPerSecond: 1000 / library,
      ipvsadmOpsPerSecond: 1000 / external,
      speedup: external / library,
      samples: { library: libraryPair.length * 2, ipvsadm: ipvsadmPair.length * 2 },
    },
    dump: {
      destinations: DESTS,
      bytes: rawBytes,
      rawReceiveMedianMs: median(raw),
      dumpDecodeMedianMs: median(decoded),
      ipvsadmListMedianMs: median(listed),
      decodeOverRaw: median(decoded) / median(raw),
      ipvsadmOverDecode: median(listed) / median(decoded),
    },
  };
  const lines = [
    `IPVS client benchmark: kernel ${results.kernel}, ${results.cpus} CPU (${results.cpuModel}), node ${results.node}, ${ROUNDS} rounds`,
    '',
    'add + delete one destination (per operation, median)',
    `  @lvscare/ipvs-native   ${format(library).padStart(10)}   ${results.operation.libraryOpsPerSecond.toFixed(0).padStart(8)} ops/s`,
    `  ipvsadm (1 process/op) ${format(external).padStart(10)}   ${results.operation.ipvsadmOpsPerSecond.toFixed(1).padStart(8)} ops/s`,
    `  library / ipvsadm rate: ${results.operation.speedup.toFixed(0)}x (target >= 50x)`,
    '',
    `list a service with ${DESTS} destinations (${(rawBytes / 1024 / 1024).toFixed(2)} MiB of dump, median)`,
    `  raw receive of the dump ${format(results.dump.rawReceiveMedianMs).padStart(10)}`,
    `  dump + decode           ${format(results.dump.dumpDecodeMedianMs).padStart(10)}   ${results.dump.decodeOverRaw.toFixed(2)}x raw (target <= 2x)`,
    `  ipvsadm -Ln             ${format(results.dump.ipvsadmListMedianMs).padStart(10)}   ${results.dump.ipvsadmOverDecode.toFixed(2)}x ours (target > 1x)`,
    '',
    `JSON ${JSON.stringify(results)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  client.flush();
  client.close();
}
