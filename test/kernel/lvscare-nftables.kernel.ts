// The nftables dataplane's link mode on a real kernel with dummy interfaces (this host's kernel has
// none, so it runs here, in the VM, beside the host tests of test/nftables/daemon-faults.test.ts):
// the VIP on a dummy interface, the masquerade in our own nftables table (never stacked with the
// IPVS dataplane's of the same name), a master on the worker itself reachable through the VIP.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitForAnswersFromEvery } from './lib/answers.ts';
import { Cluster, waitFor } from './lib/cluster.ts';

const CHANGE_MS = 20_000;
const clusters: Cluster[] = [];
after(async () => {
  for (const cluster of clusters.splice(0)) await cluster.destroy();
});

function sorted(weights: Record<string, number>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(weights).sort(([a], [b]) => a.localeCompare(b))));
}

test('link mode: the VIP on a dummy interface, masquerade in our own table, a master on this very host reachable; -C removes it all', async () => {
  const cluster = await Cluster.create({ masters: 1, dataplane: 'nftables' });
  clusters.push(cluster);
  const local = await cluster.startLocalMaster();
  const masters = [local, ...cluster.masters];
  const args = ['care', '--vs', cluster.vs, '--mode', 'link', '--dataplane', 'nftables', ...masters.flatMap((m) => ['--rs', m.endpoint])];
  const daemon = cluster.startDaemon(args);
  const expected = sorted(Object.fromEntries(masters.map((m) => [m.endpoint, 1])));
  await waitFor(() => sorted(cluster.weights()) === expected, 90_000, 'two destinations', () => daemon.output());
  assert.match((await cluster.worker.netns.exec(['ip', '-d', 'link', 'show', 'dev', 'lvscare'])).stdout, /dummy/);
  const table = (await cluster.worker.netns.exec(['nft', 'list', 'table', 'ip', 'lvscare'])).stdout;
  assert.match(table, /masquerade comment "lvscare masquerade=/);
  await waitForAnswersFromEvery(cluster, masters, 'answers from the local master and the remote one through the VIP');
  // A flush takes the masquerade too; it comes back with the table, not a minute later.
  await cluster.worker.netns.exec(['nft', 'flush', 'ruleset']);
  await waitFor(async () => /masquerade/.test((await cluster.worker.netns.exec(['nft', 'list', 'ruleset'])).stdout), CHANGE_MS, 'the masquerade restored');
  await cluster.stopProcesses();
  const clean = await cluster.lvscare(['care', '--vs', cluster.vs, '--mode', 'link', '--dataplane', 'nftables', '-C']);
  assert.equal(clean.code, 0, clean.stderr + clean.stdout);
  assert.equal((await cluster.worker.netns.exec(['nft', 'list', 'tables'])).stdout.trim(), '');
  assert.notEqual((await cluster.worker.netns.exec(['ip', 'link', 'show', 'dev', 'lvscare'], { allowFailure: true })).code, 0, 'the dummy interface is gone');
});
