// Link mode (a real server on the worker itself, as on a control-plane node) and an IPv6 VIP in
// route mode, on a real kernel.
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitForAnswersFromEvery } from './lib/answers.ts';
import { Cluster, type Master, waitFor } from './lib/cluster.ts';

const clusters: Cluster[] = [];
afterEach(async () => {
  for (const cluster of clusters) await cluster.stopProcesses();
});
after(async () => {
  for (const cluster of clusters.splice(0)) await cluster.destroy();
});

test('link mode: the VIP on a dummy interface plus masquerade reaches a master on this very host and the others', async () => {
  const cluster = await Cluster.create({ masters: 2 });
  clusters.push(cluster);
  const local = await cluster.startLocalMaster();
  const masters = [local, ...cluster.masters];
  const args = ['care', '--vs', cluster.vs, '--mode', 'link', '--health-path', '/healthz', '--health-schem', 'https', ...masters.flatMap((m) => ['--rs', m.endpoint])];
  const daemon = cluster.startDaemon(args);
  const expected = Object.fromEntries(masters.map((m) => [m.endpoint, 1]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  await waitFor(() => JSON.stringify(cluster.weights()) === JSON.stringify(expected), 90_000, 'three destinations', () => daemon.output());

  const link = await cluster.worker.netns.exec(['ip', '-o', 'addr', 'show', 'dev', 'lvscare']);
  assert.match(link.stdout, new RegExp(`inet ${cluster.vip.replaceAll('.', '\\.')}/32`));
  const details = await cluster.worker.netns.exec(['ip', '-d', 'link', 'show', 'dev', 'lvscare']);
  assert.match(details.stdout, /dummy/);
  const table = await cluster.worker.netns.exec(['nft', 'list', 'table', 'ip', 'lvscare']);
  assert.match(table.stdout, /masquerade/);
  assert.match(table.stdout, new RegExp(cluster.vip.replaceAll('.', '\\.')));
  assert.equal((await cluster.worker.netns.exec(['cat', '/proc/sys/net/ipv4/vs/conntrack'])).stdout.trim(), '1');

  // Several new connections (fresh client each time) land on every destination, the local one included.
  await waitForAnswersFromEvery(cluster, masters, 'answers from the local master and both remote ones through the VIP');

  // The local master dies: it leaves the table like any other.
  await local.kill();
  await waitFor(() => !(local.endpoint in cluster.weights()), 30_000, 'the local master to leave', () => daemon.output());

  await cluster.stopProcesses();
  const clean = await cluster.lvscare(['care', '--vs', cluster.vs, '--mode', 'link', '-C']);
  assert.equal(clean.code, 0, clean.stderr + clean.stdout);
  assert.equal(cluster.hasVirtualServer(), false);
  const gone = await cluster.worker.netns.exec(['ip', 'link', 'show', 'dev', 'lvscare'], { allowFailure: true });
  assert.notEqual(gone.code, 0, 'the dummy interface is gone');
  const noTable = await cluster.worker.netns.exec(['nft', 'list', 'table', 'ip', 'lvscare'], { allowFailure: true });
  assert.notEqual(noTable.code, 0, 'our nftables table is gone');
  const eth = await cluster.worker.netns.exec(['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
  assert.match(eth.stdout, new RegExp(cluster.workerIp.replaceAll('.', '\\.')), 'the node address is untouched');
});

test('link mode with LVSCARE_MASQUERADE=iptables: chains of our own, traffic to the local master, -C removes them', async () => {
  const cluster = await Cluster.create({ masters: 1 });
  clusters.push(cluster);
  const local = await cluster.startLocalMaster();
  const masters = [local, ...cluster.masters];
  const args = ['care', '--vs', cluster.vs, '--mode', 'link', '--masqueradebit', '14', ...masters.flatMap((m) => ['--rs', m.endpoint])];
  const env = { LVSCARE_MASQUERADE: 'iptables' };
  const daemon = cluster.startDaemon(args, env);
  await waitFor(() => Object.keys(cluster.weights()).length === 2, 90_000, 'two destinations', () => daemon.output());
  const nat = (await cluster.worker.netns.exec(['iptables', '-w', '5', '-t', 'nat', '-S'])).stdout;
  assert.match(nat, /-A OUTPUT .*-j LVSCARE-SERVICES/);
  assert.match(nat, new RegExp(`-A LVSCARE-SERVICES -d ${cluster.vip.replaceAll('.', '\\.')}/32 -p tcp -m tcp --dport 6443 -j MARK --set-xmark 0x4000/0x4000`));
  assert.match(nat, /-A LVSCARE-POSTROUTING -m mark --mark 0x4000\/0x4000 -j MASQUERADE/);
  const noTable = await cluster.worker.netns.exec(['nft', 'list', 'table', 'ip', 'lvscare'], { allowFailure: true });
  assert.notEqual(noTable.code, 0, 'no nftables table of ours in iptables mode');

  await waitForAnswersFromEvery(cluster, masters, 'answers from the local master and the remote one through the VIP');

  await cluster.stopProcesses();
  const clean = await cluster.lvscare(['care', '--vs', cluster.vs, '--mode', 'link', '--masqueradebit', '14', '-C'], env);
  assert.equal(clean.code, 0, clean.stderr + clean.stdout);
  const after = (await cluster.worker.netns.exec(['iptables', '-w', '5', '-t', 'nat', '-S'])).stdout;
  assert.doesNotMatch(after, /LVSCARE/, 'our chains and jumps are gone');
  const filter = (await cluster.worker.netns.exec(['iptables', '-w', '5', '-S', 'OUTPUT'])).stdout;
  assert.doesNotMatch(filter, /lvscare/, 'the filter ACCEPT rule is gone');
});

test('IPv6: a [v6]:port VIP in route mode balances over IPv6 masters and drops a killed one', async () => {
  const cluster = await Cluster.create({ ipv6: true });
  clusters.push(cluster);
  const daemon = cluster.startDaemon();
  await waitFor(() => JSON.stringify(cluster.weights()) === JSON.stringify(cluster.allWeights(1)), 90_000, 'three IPv6 destinations', () => `${JSON.stringify(cluster.weights())}\n${daemon.output()}`);
  const ours = cluster.vipRoutes();
  assert.equal(ours.length, 1, JSON.stringify(ours));
  assert.equal(ours[0]?.source, cluster.workerIp);
  assert.equal(ours[0]?.metric, 50);
  const client = cluster.startClient();
  await client.waitForSuccesses(5, 0, 60_000);
  const victim = cluster.masters[0] as Master;
  const faultAt = Date.now();
  await victim.kill();
  await waitFor(() => !(victim.endpoint in cluster.weights()), 30_000, `${victim.name} to leave`, () => daemon.output());
  const after = await client.waitForSuccesses(5, faultAt, 30_000);
  assert.ok(after.filter((r) => r.ok).every((r) => r.who !== victim.name));
  await cluster.stopProcesses();
  const clean = await cluster.lvscare(['care', '--vs', cluster.vs, '-C']);
  assert.equal(clean.code, 0, clean.stderr);
  assert.equal(cluster.hasVirtualServer(), false);
});
