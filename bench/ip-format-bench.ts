// Formatting a kernel dump's addresses from bytes: the hot path of listing 10,000 IPVS
// destinations, measured in-process on the host (no kernel needed).
//
//   npx node bench/ip-format-bench.ts [--baseline FILE.ts] [--rounds N] [--count N]
//
// Times formatIpv4 and formatIpv6 of @lvscare/contracts/ip over `count` addresses of each family
// (a realistic mix: 10.x.y.z; fd00::/64 hosts, link-local, IPv4-mapped). With --baseline, the
// same is timed for another module exporting formatIpv4/formatIpv6 (e.g. an older version saved
// with `git show REV:path > /tmp/old.ts`), interleaved round by round in one process, and the
// ratio of medians is printed. Prints medians in ns per address and a JSON line for the record.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import * as current from '@lvscare/contracts/ip';
import { median } from './lib/stats.ts';

interface Formatters {
  formatIpv4(bytes: Uint8Array, offset?: number): string;
  formatIpv6(bytes: Uint8Array, offset?: number): string;
}

const { values } = parseArgs({
  options: { baseline: { type: 'string' }, rounds: { type: 'string', default: '31' }, count: { type: 'string', default: '10000' } },
});
const ROUNDS = Number(values.rounds);
const COUNT = Number(values.count);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || !Number.isInteger(COUNT) || COUNT < 1) {
  process.stderr.write('ip-format-bench: --rounds and --count take positive whole numbers\n');
  process.exit(2);
}

function ipv4Dump(count: number): Uint8Array {
  const bytes = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) bytes.set([10, 64 + ((i >> 16) & 63), (i >> 8) & 255, i & 255], i * 4);
  return bytes;
}

function ipv6Dump(count: number): Uint8Array {
  const bytes = new Uint8Array(count * 16);
  for (let i = 0; i < count; i++) {
    const at = i * 16;
    switch (i % 4) {
      case 0: // fd00:10:240::<n>
      case 1:
        bytes.set([0xfd, 0, 0, 0x10, 0x02, 0x40], at);
        bytes.set([(i >> 8) & 255, i & 255], at + 14);
        break;
      case 2: // fe80::<eui-64-ish>
        bytes.set([0xfe, 0x80], at);
        bytes.set([0x02, 0x42, 0xac, 0xff, 0xfe, 0x11, (i >> 8) & 255, i & 255], at + 8);
        break;
      default: // ::ffff:10.x.y.z
        bytes.set([0xff, 0xff, 10, 1, (i >> 8) & 255, i & 255], at + 10);
    }
  }
  return bytes;
}

const v4 = ipv4Dump(COUNT);
const v6 = ipv6Dump(COUNT);
let sink = 0;

/** Nanoseconds per address for one pass over the dump. */
function pass(format: (bytes: Uint8Array, offset: number) => string, dump: Uint8Array, size: number): number {
  const start = process.hrtime.bigint();
  for (let offset = 0; offset < dump.length; offset += size) sink += format(dump, offset).length;
  return Number(process.hrtime.bigint() - start) / (dump.length / size);
}

async function load(file: string): Promise<Formatters> {
  const module = (await import(pathToFileURL(resolve(file)).href)) as Partial<Formatters>;
  if (typeof module.formatIpv4 !== 'function' || typeof module.formatIpv6 !== 'function') {
    process.stderr.write(`ip-format-bench: ${file} exports no formatIpv4/formatIpv6\n`);
    process.exit(2);
  }
  return module as Formatters;
}

const subjects: Array<{ name: string; module: Formatters }> = [{ name: 'contracts', module: current }];
if (values.baseline !== undefined) subjects.push({ name: 'baseline', module: await load(values.baseline) });

// Both must agree before their speed means anything.
for (const { name, module } of subjects.slice(1)) {
  for (let offset = 0; offset < v6.length; offset += 16) {
    if (module.formatIpv6(v6, offset) !== current.formatIpv6(v6, offset)) throw new Error(`${name} formats ${current.formatIpv6(v6, offset)} differently`);
  }
  for (let offset = 0; offset < v4.length; offset += 4) {
    if (module.formatIpv4(v4, offset) !== current.formatIpv4(v4, offset)) throw new Error(`${name} formats ${current.formatIpv4(v4, offset)} differently`);
  }
}

const samples = new Map(subjects.map(({ name }) => [name, { v4: [] as number[], v6: [] as number[] }]));
for (let round = 0; round < ROUNDS + 3; round++) {
  // Alternate the order so neither side always runs on a warmer cache; the first 3 rounds warm up.
  const order = round % 2 === 0 ? subjects : [...subjects].reverse();
  for (const { name, module } of order) {
    const ipv4 = pass(module.formatIpv4, v4, 4);
    const ipv6 = pass(module.formatIpv6, v6, 16);
    if (round < 3) continue;
    samples.get(name)?.v4.push(ipv4);
    samples.get(name)?.v6.push(ipv6);
  }
}

const record: Record<string, number> = { rounds: ROUNDS, count: COUNT };
for (const [name, { v4: ipv4, v6: ipv6 }] of samples) {
  record[`${name}_ipv4_ns`] = median(ipv4);
  record[`${name}_ipv6_ns`] = median(ipv6);
  process.stdout.write(`${name.padEnd(10)} IPv4 ${median(ipv4).toFixed(1).padStart(7)} ns/address   IPv6 ${median(ipv6).toFixed(1).padStart(7)} ns/address\n`);
}
if (values.baseline !== undefined) {
  const ratio = (family: 'v4' | 'v6'): number => median(samples.get('contracts')?.[family] ?? []) / median(samples.get('baseline')?.[family] ?? []);
  record['ratio_ipv4'] = ratio('v4');
  record['ratio_ipv6'] = ratio('v6');
  process.stdout.write(`contracts / baseline: IPv4 ${ratio('v4').toFixed(2)}x   IPv6 ${ratio('v6').toFixed(2)}x (medians; < 1 is faster)\n`);
}
process.stdout.write(`${JSON.stringify({ bench: 'ip-format', ...record, node: process.version, checksum: sink % 1000 })}\n`);
