// The daemon with `--dataplane nftables` when its long-lived `nft -i` is lost, on this host's
// kernel in network namespaces: stopped (SIGSTOP: wedged, as a starved or stuck nft looks from
// outside) or killed, while a master dies or the table is flushed. The daemon must notice, say so
// in its log, replace nft and still make the change in the same reconcile pass, instead of failing
// the pass (and, before, waiting 5 s for the timeout first).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { BackgroundProcess } from '../harness/netns.ts';
import { Cluster, waitFor } from '../kernel/lib/cluster.ts';
import { requireTools } from './lib.ts';

// Generous bounds: these tests prove behaviour, the failover benchmark measures speed.
const CHANGE_MS = 20_000;

/** The `nft` processes whose parent is `pid` (the daemon's nft -i). */
function nftChildren(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so parse from the last ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'nft' && ppid === pid) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

function sorted(weights: Record<string, number>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(weights).sort(([a], [b]) => a.localeCompare(b))));
}

/** The daemon's output from `marker` on (the lines it wrote after the fault). */
function outputSince(daemon: BackgroundProcess, marker: number): string {
  return daemon.output().slice(marker);
}

describe('lvscare care --dataplane nftables: its nft -i lost', () => {
  let cluster: Cluster;
  let daemon: BackgroundProcess;

  before(async () => {
    requireTools();
    cluster = await Cluster.create({ dataplane: 'nftables' });
    daemon = cluster.startDaemon();
    await waitFor(() => Object.keys(cluster.weights()).length === 3, 90_000, 'the daemon to program three masters', () => daemon.output());
  });

  after(async () => {
    await cluster?.destroy();
  });

  const describeState = (): string => `table ${JSON.stringify(cluster.weights())}\nnft children ${JSON.stringify(nftChildren(daemon.pid!))}\ndaemon output:\n${daemon.output().slice(-3000)}`;

  test('a stopped (wedged) nft -i is killed after two intervals and the pending change is made on a new one, in the same pass', async (t) => {
    const [wedged] = nftChildren(daemon.pid!);
    assert.ok(wedged !== undefined, `the daemon runs one nft -i: ${describeState()}`);
    const marker = daemon.output().length;
    process.kill(wedged, 'SIGSTOP');
    const victim = cluster.masters[0]!;
    const faultAt = performance.now();
    await victim.kill();
    await waitFor(() => !(victim.endpoint in cluster.weights()), CHANGE_MS, `${victim.name} to leave the table`, describeState);
    t.diagnostic(`killed master out of the table ${(performance.now() - faultAt).toFixed(0)} ms after the fault, with nft -i stopped`);
    await waitFor(() => new RegExp(`nftables: delete ${victim.endpoint.replaceAll('.', '\\.')}`).test(outputSince(daemon, marker)), CHANGE_MS, 'the delete log line', describeState);
    const lines = outputSince(daemon, marker);
    // What happened, in order: the wedge found and killed, the command sent again, its answer, the delete.
    const lost = lines.search(new RegExp(`WARN +nftables: \`[^\`]+\`: nft -i \\(pid ${wedged}\\) did not finish the command within 2000 ms \\(stopped, starved or stuck\\); killed it; retrying it on a new nft -i`));
    const answered = lines.search(/the retry of `[^`]+` on a new nft -i \(pid \d+\) answered/);
    const deleted = lines.search(new RegExp(`nftables: delete ${victim.endpoint.replaceAll('.', '\\.')}`));
    assert.ok(lost >= 0 && answered > lost && deleted > lost, `the log tells the story in order:\n${lines}`);
    assert.doesNotMatch(lines, /reconcile failed/, 'no reconcile pass failed: the retry made the change in the same pass');
    for (const line of lines.split('\n').filter((l) => / WARN +nftables: /.test(l))) t.diagnostic(line);
    // The wedged process is gone (killed, reaped) and exactly one new nft -i runs.
    await waitFor(() => !nftChildren(daemon.pid!).includes(wedged), CHANGE_MS, `the stopped nft (pid ${wedged}) to be gone`, describeState);
    const now = nftChildren(daemon.pid!);
    assert.equal(now.length, 1, `one nft -i: ${JSON.stringify(now)}`);
    await victim.start();
    await waitFor(() => sorted(cluster.weights()) === sorted(cluster.allWeights(1)), CHANGE_MS, 'every master back at weight 1', describeState);
  });

  test('a killed nft -i is noticed and replaced, and a flushed table is restored by the next pass', async (t) => {
    const [killed] = nftChildren(daemon.pid!);
    assert.ok(killed !== undefined, `the daemon runs one nft -i: ${describeState()}`);
    const marker = daemon.output().length;
    process.kill(killed, 'SIGKILL');
    await cluster.worker.netns.exec(['nft', 'flush', 'ruleset']);
    await waitFor(() => sorted(cluster.weights()) === sorted(cluster.allWeights(1)), CHANGE_MS, 'the flushed table to be restored', describeState);
    await waitFor(() => /nft -i \(pid \d+\) exited \(signal SIGKILL\)/.test(outputSince(daemon, marker)), CHANGE_MS, 'the log line about the killed nft -i', describeState);
    const lines = outputSince(daemon, marker);
    assert.match(lines, new RegExp(`nft -i \\(pid ${killed}\\) exited \\(signal SIGKILL\\) (while idle; starting a new one|before the command)`));
    assert.doesNotMatch(lines, /reconcile failed/);
    for (const line of lines.split('\n').filter((l) => / WARN +nftables: /.test(l))) t.diagnostic(line);
    const now = nftChildren(daemon.pid!);
    assert.equal(now.length, 1, `one nft -i: ${JSON.stringify(now)}`);
    assert.notEqual(now[0], killed);
  });
});
