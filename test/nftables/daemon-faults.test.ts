// The daemon with `--dataplane nftables` on this host's kernel, in network namespaces: the real
// `lvscare` binary started as sealos's static pod starts it (plus --dataplane nftables), real
// HTTPS stand-in apiservers on three masters, and a kubelet-like client behind the VIP. The faults
// the IPVS dataplane is tested for in test/kernel/lvscare-faults.kernel.ts (same cluster helpers),
// plus what only nftables meets: `nft flush ruleset`, and kube-proxy's start-up cleanup. Link mode
// needs a dummy interface, which this host's kernel lacks: test/kernel/lvscare-nftables.kernel.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BackgroundProcess } from '../harness/netns.ts';
import { Cluster, type Master, type VipClient, waitFor } from '../kernel/lib/cluster.ts';
import { assertFlapSparesNeighbours } from '../kernel/lib/flap.ts';
import { kubeProxyTable, requireTools } from './lib.ts';

// Generous bounds: these tests prove behaviour, the failover benchmark measures speed.
const CHANGE_MS = 20_000;

function sorted(weights: Record<string, number>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(weights).sort(([a], [b]) => a.localeCompare(b))));
}

/** A fresh client connection through the VIP: who answered, or the error code. */
async function oneRequest(cluster: Cluster, timeoutMs = 5_000): Promise<{ ok: boolean; who?: string; code?: string; ms: number }> {
  const script = `
    const started = performance.now();
    const net = await import('node:net');
    const [host, port] = process.argv.slice(-2);
    const socket = net.connect({ host, port: Number(port) });
    socket.setTimeout(${timeoutMs}, () => { console.log(JSON.stringify({ ok: false, code: 'TIMEOUT', ms: performance.now() - started })); process.exit(0); });
    socket.on('connect', () => { console.log(JSON.stringify({ ok: true, ms: performance.now() - started })); process.exit(0); });
    socket.on('error', (e) => { console.log(JSON.stringify({ ok: false, code: e.code, ms: performance.now() - started })); process.exit(0); });`;
  const result = await cluster.worker.netns.exec([process.execPath, '--input-type=module', '-e', script, cluster.vip, '6443'], { timeoutMs: timeoutMs + 10_000 });
  return JSON.parse(result.stdout.trim()) as { ok: boolean; code?: string; ms: number };
}

describe('lvscare care --dataplane nftables: faults of a control plane (IPv4, route mode)', () => {
  let cluster: Cluster;
  let daemon: BackgroundProcess;
  let client: VipClient;

  before(async () => {
    requireTools();
    cluster = await Cluster.create({ dataplane: 'nftables' });
    daemon = cluster.startDaemon();
    await waitFor(() => Object.keys(cluster.weights()).length === 3, 90_000, 'the daemon to program three masters', () => daemon.output());
    client = cluster.startClient();
    await client.waitForSuccesses(5, 0, 60_000);
  });

  after(async () => {
    await cluster?.destroy();
  });

  const describeState = (): string => `table ${JSON.stringify(cluster.weights())}\ndaemon output:\n${daemon.output().slice(-3000)}`;
  const expectRemoved = (master: Master) => waitFor(() => !(master.endpoint in cluster.weights()), CHANGE_MS, `${master.name} to leave the table`, describeState);
  const expectAllBack = () => waitFor(() => sorted(cluster.weights()) === sorted(cluster.allWeights(1)), CHANGE_MS, 'every master back at weight 1', describeState);

  /** Successes after `since` that a live master answered, proving the VIP kept serving. */
  async function expectServedAfter(since: number, excluded: Master): Promise<void> {
    const records = await client.waitForSuccesses(5, since, CHANGE_MS);
    for (const record of records.filter((r) => r.ok).slice(-5)) assert.notEqual(record.who, excluded.name, `${excluded.name} cannot answer while it is down`);
  }

  test('sealos arguments + --dataplane nftables: every master at weight 1, our table only, the route, no IPVS sysctl, the choice logged', async () => {
    assert.equal(sorted(cluster.weights()), sorted(cluster.allWeights(1)));
    const ours = cluster.vipRoutes();
    assert.equal(ours.length, 1, JSON.stringify(ours));
    assert.equal(ours[0]?.gateway, cluster.workerIp);
    assert.equal(ours[0]?.metric, 50);
    assert.match(daemon.output(), /dataplane: nftables/);
    assert.doesNotMatch(daemon.output(), /expire_nodest_conn/);
    const tables = (await cluster.worker.netns.exec(['nft', 'list', 'tables'])).stdout;
    assert.equal(tables.trim(), 'table ip lvscare');
    const whoAnswered = new Set(client.records().filter((r) => r.ok).map((r) => r.who));
    assert.ok(whoAnswered.size >= 1, 'the client reaches the masters through the VIP');
    const listed = await cluster.lvscare(['list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^nftables dataplane/);
    for (const m of cluster.masters) assert.match(listed.stdout, new RegExp(`-> ${m.endpoint.replaceAll('.', '\\.')} +Masq +1 `));
  });

  test('a killed master leaves the table, the client keeps being served, and it comes back when restarted', async () => {
    const victim = cluster.masters[0]!;
    const faultAt = Date.now();
    await victim.kill();
    await expectRemoved(victim);
    await expectServedAfter(faultAt, victim);
    await victim.start();
    await expectAllBack();
  });

  test('a blackholed master (link down, no RST) leaves the table and returns when its link does', async () => {
    const victim = cluster.masters[1]!;
    const faultAt = Date.now();
    await victim.blackhole();
    try {
      await expectRemoved(victim);
      await expectServedAfter(faultAt, victim);
    } finally {
      await victim.unblackhole();
    }
    await expectAllBack();
  });

  test('/healthz answering 500, or slower than the probe timeout, takes a master out; healthy again brings it back', async () => {
    const victim = cluster.masters[2]!;
    for (const mode of ['fail', 'slow/3000'] as const) {
      await victim.setHealth(mode);
      await expectRemoved(victim);
      await victim.setHealth('ok');
      await expectAllBack();
    }
    assert.match(daemon.output(), /500/);
  });

  test('nft flush ruleset (Debian\'s nftables.conf starts with it) and a deleted table are restored within an interval', async (t) => {
    for (const wipe of [['flush', 'ruleset'], ['delete', 'table', 'ip', 'lvscare']]) {
      await cluster.worker.netns.exec(['nft', ...wipe]);
      const restoredAfter = await waitFor(() => sorted(cluster.weights()) === sorted(cluster.allWeights(1)), CHANGE_MS, `the table to be restored after nft ${wipe.join(' ')}`, describeState, 5);
      t.diagnostic(`nft ${wipe.join(' ')}: restored ${restoredAfter.toFixed(0)} ms later`);
    }
    const since = Date.now();
    await client.waitForSuccesses(3, since, CHANGE_MS);
  });

  test('kube-proxy restarting in nftables mode (its cleanup: flush IPVS if present, delete its own table): the VIP keeps answering, our table is untouched', async () => {
    await cluster.worker.netns.exec(['nft', '-f', '-'], { input: kubeProxyTable(cluster.masters[0]!.ip) });
    const before = (await cluster.worker.netns.exec(['nft', '-a', 'list', 'table', 'ip', 'lvscare'])).stdout;
    const since = Date.now();
    // ipvs.CleanupLeftovers: a flush of every IPVS service, when the kernel has IPVS at all.
    await cluster.worker.netns.exec(['ipvsadm', '--clear'], { allowFailure: true });
    // nftables.CleanupLeftovers of the previous run, then its fresh table.
    await cluster.worker.netns.exec(['nft', 'delete', 'table', 'ip', 'kube-proxy']);
    await cluster.worker.netns.exec(['nft', '-f', '-'], { input: kubeProxyTable(cluster.masters[0]!.ip) });
    const records = await client.waitForSuccesses(10, since, CHANGE_MS);
    assert.deepEqual(records.filter((r) => !r.ok), [], 'no request failed across the kube-proxy restart');
    const afterwards = (await cluster.worker.netns.exec(['nft', '-a', 'list', 'table', 'ip', 'lvscare'])).stdout;
    assert.equal(afterwards, before, 'our table, handles included, was not touched');
    await cluster.worker.netns.exec(['nft', 'delete', 'table', 'ip', 'kube-proxy']);
  });

  test('a flapping master never disturbs its healthy neighbours', async () => {
    // Each sample execs nft (tens of ms): fewer samples than the IPVS test's netlink reads.
    await assertFlapSparesNeighbours(cluster, { flaps: 6, minSamples: 20 });
    await expectAllBack();
  });

  test('every master failing (--all-down keep, the default): all stay in, fail open, said loudly', async () => {
    await Promise.all(cluster.masters.map((m) => m.setHealth('fail')));
    try {
      await waitFor(() => /all (masters|real servers).*(down|fail)/i.test(daemon.output()), CHANGE_MS, 'the all-down error line', describeState);
      await expectAllBack();
    } finally {
      await Promise.all(cluster.masters.map((m) => m.setHealth('ok')));
    }
    await expectAllBack();
  });

  test('restart adoption: a new daemon over an intact table changes nothing, not even rule handles', async () => {
    await cluster.stopProcesses();
    const before = (await cluster.worker.netns.exec(['nft', '-a', 'list', 'ruleset'])).stdout;
    daemon = cluster.startDaemon();
    await waitFor(() => (daemon.output().match(/master \S+ up: in rotation/g) ?? []).length >= 3, CHANGE_MS, 'the new daemon to see every master up', describeState);
    // A few intervals of the new daemon's loop.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const afterwards = (await cluster.worker.netns.exec(['nft', '-a', 'list', 'ruleset'])).stdout;
    assert.equal(afterwards, before, `the new daemon rewrote the table:\n${daemon.output().slice(-2000)}`);
    client = cluster.startClient();
    await client.waitForSuccesses(3, 0, CHANGE_MS);
  });

  test('all down with --all-down remove: new connections to the VIP are refused at once, not left hanging', async () => {
    await cluster.stopProcesses();
    await Promise.all(cluster.masters.map((m) => m.setHealth('fail')));
    try {
      daemon = cluster.startDaemon([...cluster.sealosArgs(), '--all-down', 'remove']);
      await waitFor(() => Object.keys(cluster.weights()).length === 0 && cluster.hasVirtualServer(), CHANGE_MS, 'an empty VIP', describeState);
      const attempt = await oneRequest(cluster);
      assert.equal(attempt.ok, false);
      assert.equal(attempt.code, 'ECONNREFUSED', `refused, not ${attempt.code ?? 'connected'}`);
    } finally {
      await Promise.all(cluster.masters.map((m) => m.setHealth('ok')));
    }
    await expectAllBack();
  });

  test('-C removes our tables and nothing else', async () => {
    await cluster.stopProcesses();
    await cluster.worker.netns.exec(['nft', '-f', '-'], { input: kubeProxyTable(cluster.masters[0]!.ip) });
    const clean = await cluster.lvscare(['care', '--vs', cluster.vs, '--dataplane', 'nftables', '-C']);
    assert.equal(clean.code, 0, clean.stderr + clean.stdout);
    const tables = (await cluster.worker.netns.exec(['nft', 'list', 'tables'])).stdout;
    assert.equal(tables.trim(), 'table ip kube-proxy');
    assert.deepEqual(cluster.vipRoutes(), []);
    const again = await cluster.lvscare(['care', '--vs', cluster.vs, '--dataplane', 'nftables', '-C']);
    assert.equal(again.code, 0, again.stderr + again.stdout);
  });
});

describe('lvscare care --dataplane nftables: IPv6 route mode', () => {
  const clusters: Cluster[] = [];
  after(async () => {
    for (const cluster of clusters.splice(0)) await cluster.destroy();
  });

  test('IPv6: a [v6]:port VIP balances over IPv6 masters and drops a killed one', async () => {
    requireTools();
    const cluster = await Cluster.create({ ipv6: true, masters: 2, dataplane: 'nftables' });
    clusters.push(cluster);
    const daemon = cluster.startDaemon();
    await waitFor(() => sorted(cluster.weights()) === sorted(cluster.allWeights(1)), 90_000, 'two IPv6 destinations', () => `${JSON.stringify(cluster.weights())}\n${daemon.output()}`);
    const client = cluster.startClient();
    await client.waitForSuccesses(5, 0, 60_000);
    const victim = cluster.masters[0]!;
    const faultAt = Date.now();
    await victim.kill();
    await waitFor(() => !(victim.endpoint in cluster.weights()), CHANGE_MS, `${victim.name} to leave`, () => daemon.output());
    const after = await client.waitForSuccesses(5, faultAt, CHANGE_MS);
    assert.ok(after.filter((r) => r.ok).slice(-5).every((r) => r.who !== victim.name));
    await cluster.stopProcesses();
  });
});
