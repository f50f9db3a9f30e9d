// The nftables engine's runners side by side, in one run, in a throw-away network namespace on
// this host (nftables works here; no VM):
//   1. one update = the whole-table replacement transaction for a VIP with 3 masters (one of them
//      toggled between weight 1 and 0 every update): `nft -f -` per update (ExecNftRunner) vs one
//      long-lived `nft -j -i` (InteractiveNftRunner);
//   2. one read = `nft -j list table ip lvscare`, both ways;
//   3. the engine's whole apply (render, transaction, read-back) and read (list, verify) on the
//      default runner: what the daemon pays per change and per reconcile.
// Rounds interleave the two runners (order alternating), so a noisy neighbour hits both alike.
// The benchmark re-runs itself inside the namespace (`ip netns exec` once), so every nft command
// starts as the daemon's would, without a per-command `ip netns exec`.
// Prints p50/p95/max per kind, the exec/interactive ratio of the medians, and a JSON line.
//
//   npx node bench/nft-bench.ts           (as root)
//
// Options (environment): NFT_BENCH_ROUNDS (10), NFT_BENCH_PER_ROUND (20).
import os from 'node:os';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseEndpoint, type Endpoint } from '@lvscare/lvscare';
import {
  ExecNftRunner,
  InteractiveNftRunner,
  NftablesBackend,
  type NftFamilyState,
  type NftRunner,
  renderTableReplacement,
} from '@lvscare/lvscare/nftables';
import { createNetns, IP_BIN } from '../test/harness/netns.ts';
import { summarize, median, type Summary } from './lib/stats.ts';

const ROUNDS = Number(process.env['NFT_BENCH_ROUNDS'] ?? 10);
const PER_ROUND = Number(process.env['NFT_BENCH_PER_ROUND'] ?? 20);
const ep = (text: string): Endpoint => parseEndpoint(text, 'nft-bench');
const VIP = ep('10.103.97.2:6443');
const MASTERS = [ep('10.240.0.11:6443'), ep('10.240.0.12:6443'), ep('10.240.0.13:6443')];

function stateFor(update: number): NftFamilyState {
  const weights = [1, update % 2, 1];
  return {
    family: 4,
    virtualServers: [{ address: VIP, scheduler: 'rr', destinations: MASTERS.map((address, i) => ({ address, weight: weights[i] as number })) }],
    masquerade: [],
    removed: [],
  };
}

async function timeMs(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function line(label: string, s: Summary): string {
  const f = (ms: number) => `${ms.toFixed(2)} ms`.padStart(10);
  return `${label.padEnd(44)} n=${String(s.n).padEnd(4)} p50 ${f(s.p50)}  p95 ${f(s.p95)}  max ${f(s.max)}`;
}

if (process.getuid?.() !== 0) {
  process.stderr.write('nft-bench: needs root (network namespaces, nftables)\n');
  process.exit(1);
}

async function measure(): Promise<void> {
  const runners: Record<'exec' | 'interactive', NftRunner> = {
    exec: await ExecNftRunner.open({}),
    interactive: await InteractiveNftRunner.open({}),
  };
  const samples: Record<string, number[]> = { 'update exec': [], 'update interactive': [], 'read exec': [], 'read interactive': [] };
  let update = 0;
  // Warm-up: start nft -i, create the table.
  await runners.interactive.run(renderTableReplacement(stateFor(update++)));
  for (let round = 0; round < ROUNDS; round += 1) {
    const order: Array<'exec' | 'interactive'> = round % 2 === 0 ? ['exec', 'interactive'] : ['interactive', 'exec'];
    for (const kind of order) {
      const runner = runners[kind];
      for (let i = 0; i < PER_ROUND; i += 1) {
        const script = renderTableReplacement(stateFor(update++));
        samples[`update ${kind}`]!.push(await timeMs(() => runner.run(script)));
      }
      for (let i = 0; i < PER_ROUND; i += 1) samples[`read ${kind}`]!.push(await timeMs(() => runner.listTable('ip', 'lvscare')));
    }
  }
  await runners.exec.close();
  await runners.interactive.close();

  const backend = await NftablesBackend.open({});
  samples['engine apply (interactive)'] = [];
  samples['engine read (interactive)'] = [];
  for (let i = 0; i < ROUNDS * PER_ROUND; i += 1) {
    const state = stateFor(update++);
    samples['engine apply (interactive)'].push(await timeMs(() => backend.apply({ virtualServers: state.virtualServers, masquerade: [] })));
    samples['engine read (interactive)'].push(await timeMs(() => backend.read(4)));
  }
  await backend.close();

  const nftVersion = execFileSync('nft', ['--version']).toString().trim();
  console.log(`nft-bench: ${ROUNDS} rounds x ${PER_ROUND}, ${nftVersion}, Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), kernel ${os.release()}`);
  const summaries: Record<string, Summary> = {};
  for (const [label, values] of Object.entries(samples)) {
    summaries[label] = summarize(values);
    console.log(line(label, summaries[label]));
  }
  const ratio = (a: string, b: string) => median(samples[a]!) / median(samples[b]!);
  console.log(`update: exec / interactive = ${ratio('update exec', 'update interactive').toFixed(1)}x (medians)`);
  console.log(`read:   exec / interactive = ${ratio('read exec', 'read interactive').toFixed(1)}x (medians)`);
  console.log(JSON.stringify({ bench: 'nft', rounds: ROUNDS, perRound: PER_ROUND, nft: nftVersion, summaries }));
}

if (process.env['NFT_BENCH_INSIDE'] === '1') {
  await measure();
} else {
  const netns = await createNetns('nftb');
  try {
    const self = fileURLToPath(import.meta.url);
    const child = spawnSync(IP_BIN, ['netns', 'exec', netns.name, process.execPath, self], { stdio: 'inherit', env: { ...process.env, NFT_BENCH_INSIDE: '1' } });
    process.exitCode = child.status ?? 1;
  } finally {
    await netns.delete();
  }
}
