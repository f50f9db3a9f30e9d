// The daemon on a real kernel, started exactly as sealos's static pod starts it, facing the faults a
// control plane has: a master killed, blackholed, unhealthy (500), too slow, flapping; the table
// flushed behind its back; every master down. Asserts on the kernel's table and on what a
// kubelet-like client behind the VIP saw.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackgroundProcess } from '../harness/netns.ts';
import { Cluster, type Master, type VipClient, waitFor } from './lib/cluster.ts';
import { assertFlapSparesNeighbours } from './lib/flap.ts';

let cluster: Cluster;
let daemon: BackgroundProcess;
let client: VipClient;
// Generous bounds: these tests prove behaviour, the failover benchmark measures speed.
const CHANGE_MS = 20_000;

before(async () => {
  cluster = await Cluster.create();
  daemon = cluster.startDaemon();
  await waitFor(() => Object.keys(cluster.weights()).length === 3, 90_000, 'the daemon to program three masters', () => daemon.output());
  client = cluster.startClient();
  await client.waitForSuccesses(5, 0, 60_000);
});

after(async () => {
  await cluster?.destroy();
});

function describe(): string {
  return `table ${JSON.stringify(cluster.weights())}\ndaemon output:\n${daemon.output().slice(-3000)}`;
}

async function expectRemoved(master: Master): Promise<void> {
  await waitFor(() => !(master.endpoint in cluster.weights()), CHANGE_MS, `${master.name} to leave the table`, describe);
}

async function expectAllBack(): Promise<void> {
  await waitFor(() => JSON.stringify(cluster.weights()) === JSON.stringify(cluster.allWeights(1)), CHANGE_MS, 'every master back at weight 1', describe);
}

/** Successes after `since` that a live master answered, proving the VIP kept serving. */
async function expectServedAfter(since: number, excluded: Master): Promise<void> {
  const records = await client.waitForSuccesses(5, since, CHANGE_MS);
  const late = records.filter((r) => r.ok).slice(-5);
  for (const record of late) assert.notEqual(record.who, excluded.name, `${excluded.name} cannot answer while it is down`);
}

test('sealos arguments: every master at weight 1, masquerading, route VIP/32 via the node IP metric 50, expire_nodest_conn=1', async () => {
  assert.deepEqual(cluster.weights(), cluster.allWeights(1));
  const service = cluster.ipvsClient.getService({ protocol: 'tcp', address: cluster.vip, port: 6443 });
  assert.equal(service?.scheduler, 'rr');
  for (const destination of cluster.ipvsClient.listDestinations({ protocol: 'tcp', address: cluster.vip, port: 6443 })) {
    assert.equal(destination.forward, 'masq');
  }
  const ours = cluster.vipRoutes();
  assert.equal(ours.length, 1, JSON.stringify(ours));
  assert.equal(ours[0]?.gateway, cluster.workerIp);
  assert.equal(ours[0]?.metric, 50);
  const sysctl = await cluster.worker.netns.exec(['cat', '/proc/sys/net/ipv4/vs/expire_nodest_conn']);
  assert.equal(sysctl.stdout.trim(), '1');
  assert.match(daemon.output(), /expire_nodest_conn/);
  const whoAnswered = new Set(client.records().filter((r) => r.ok).map((r) => r.who));
  assert.ok(whoAnswered.size >= 1, 'the client reaches the masters through the VIP');
});

test('a killed master (connections refused) leaves the table, the client keeps being served, and it comes back when restarted', async () => {
  const [victim] = cluster.masters as [Master];
  const faultAt = Date.now();
  await victim.kill();
  await expectRemoved(victim);
  await expectServedAfter(faultAt, victim);
  assert.match(daemon.output(), new RegExp(`${victim.ip.replaceAll('.', '\\.')}:6443.*(refused|ECONNREFUSED|closed|reset)`, 'i'));
  await victim.start();
  await expectAllBack();
});

test('a blackholed master (link down, no RST) leaves the table and returns when its link does', async () => {
  const victim = cluster.masters[1] as Master;
  const faultAt = Date.now();
  await victim.blackhole();
  try {
    await expectRemoved(victim);
    await expectServedAfter(faultAt, victim);
    assert.match(daemon.output(), /timeout|timed out/i);
  } finally {
    await victim.unblackhole();
  }
  await expectAllBack();
});

test('/healthz answering 500 takes a master out; healthy again brings it back', async () => {
  const victim = cluster.masters[2] as Master;
  await victim.setHealth('fail');
  await expectRemoved(victim);
  assert.match(daemon.output(), /500/);
  await victim.setHealth('ok');
  await expectAllBack();
});

test('/healthz slower than the probe timeout takes a master out; fast again brings it back', async () => {
  const victim = cluster.masters[0] as Master;
  await victim.setHealth('slow/3000');
  await expectRemoved(victim);
  await victim.setHealth('ok');
  await expectAllBack();
});

test('a virtual server flushed behind the daemon (kube-proxy cleanup) is restored', async (t) => {
  await cluster.worker.netns.exec(['ipvsadm', '--clear']);
  const restoredAfter = await waitFor(
    () => JSON.stringify(cluster.weights()) === JSON.stringify(cluster.allWeights(1)),
    CHANGE_MS,
    'the flushed virtual server to be restored',
    describe,
    5,
  );
  t.diagnostic(`restored ${restoredAfter.toFixed(0)} ms after the flush`);
  await cluster.worker.netns.exec(['ipvsadm', '--delete-server', '--tcp-service', cluster.vs, '--real-server', cluster.masters[1]!.endpoint]);
  await expectAllBack();
});

test('a flapping master never disturbs its healthy neighbours', async () => {
  await assertFlapSparesNeighbours(cluster, { flaps: 8, minSamples: 50 });
  await expectAllBack();
});

test('every master failing: the daemon fails open (all stay at weight 1) and says so loudly', async () => {
  await Promise.all(cluster.masters.map((m) => m.setHealth('fail')));
  try {
    await waitFor(() => /all (masters|real servers).*(down|fail)/i.test(daemon.output()), CHANGE_MS, 'the all-down error line', describe);
    // The first master seen failing may leave before the others fail; once all have, all are back.
    await expectAllBack();
    // Sample for a while: nothing may be removed or quiesced.
    for (let i = 0; i < 50; i++) {
      assert.deepEqual(cluster.weights(), cluster.allWeights(1));
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  } finally {
    await Promise.all(cluster.masters.map((m) => m.setHealth('ok')));
  }
  await expectAllBack();
});

test('the daemon logs state changes with reasons and no secrets, at a bounded rate', () => {
  const lines = daemon.output().split('\n').filter(Boolean);
  // Eight fault scenarios over a few minutes: a rate-limited log stays small.
  assert.ok(lines.length < 400, `${lines.length} log lines`);
  assert.doesNotMatch(daemon.output(), /PRIVATE KEY/);
});
