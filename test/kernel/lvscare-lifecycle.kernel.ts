// The daemon's life on a real kernel: --run-once before kubeadm join, a restart with traffic flowing,
// a rewritten manifest (pruning), -C cleaning only what is ours, and bad input touching nothing.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, waitFor } from './lib/cluster.ts';

let cluster: Cluster;

before(async () => {
  cluster = await Cluster.create();
});

afterEach(async () => {
  // A failed test must not leave a daemon behind to disturb the next one.
  await cluster?.stopProcesses();
});

after(async () => {
  await cluster?.destroy();
});

function vipRoutes(): Array<{ gateway: string | undefined; metric: number }> {
  return cluster.vipRoutes().map((r) => ({ gateway: r.gateway, metric: r.metric }));
}

test('bad input: one line on stderr, exit 2, and the kernel table is untouched', async () => {
  const cases: string[][] = [
    ['care', '--vs', cluster.vs, '--rs', '10.240.0.11'],
    ['care', '--vs', cluster.vs, '--rs', '10.240.0.999:6443'],
    ['care', '--vs', cluster.vs, '--rs', cluster.masters[0]!.endpoint, '--scheduler', 'bogus'],
    ['care', '--vs', cluster.vs, '--rs', cluster.vs],
    ['care', '--vs', cluster.vs, '--rs', cluster.masters[0]!.endpoint, '--rs', cluster.masters[0]!.endpoint],
    ['care', '--vs', cluster.vs, '--rs', cluster.masters[0]!.endpoint, '--interval', '-5s'],
  ];
  for (const args of cases) {
    const result = await cluster.lvscare([...args, '--run-once']);
    assert.equal(result.code, 2, `${args.join(' ')}: exit ${result.code}\n${result.stderr}`);
    assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
    assert.equal(result.stdout, '');
  }
  assert.match((await cluster.lvscare(['care', '--vs', cluster.vs, '--rs', '1.2.3.4:6443', '--scheduler', 'bogus'])).stderr, /invalid flag "scheduler=bogus"/);
  assert.equal(cluster.ipvsClient.listServices().length, 0, 'no virtual server was created');
  assert.deepEqual(vipRoutes(), [], 'no route was added');
});

test('--run-once (before kubeadm join): programs the healthy masters and the route, then exits', async () => {
  await cluster.masters[2]!.setHealth('fail');
  try {
    const result = await cluster.lvscare([...cluster.sealosArgs(), '--run-once']);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const healthy = Object.fromEntries(cluster.masters.slice(0, 2).map((m) => [m.endpoint, 1]));
    assert.deepEqual(cluster.weights(), healthy);
    assert.deepEqual(vipRoutes(), [{ gateway: cluster.workerIp, metric: 50 }]);
  } finally {
    await cluster.masters[2]!.setHealth('ok');
  }
  // Run again with every master healthy: idempotent, the third one joins, nothing else changes.
  const again = await cluster.lvscare([...cluster.sealosArgs(), '--run-once']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(cluster.weights(), cluster.allWeights(1));
  assert.deepEqual(vipRoutes(), [{ gateway: cluster.workerIp, metric: 50 }]);
});

test('a daemon restart with traffic flowing: the table never changes and no request fails', async () => {
  let daemon = cluster.startDaemon();
  await waitFor(() => /first reconcile done/.test(daemon.output()), 90_000, 'the first daemon to be ready', () => daemon.output());
  const client = cluster.startClient(20, 2000);
  await client.waitForSuccesses(10, 0, 60_000);
  const before = cluster.destinations();

  const snapshots: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      snapshots.push(JSON.stringify(cluster.weights()));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const restartAt = Date.now();
  const first = daemon;
  const stopped = await daemon.stop();
  assert.equal(stopped.code, 0, `SIGTERM exits cleanly: ${JSON.stringify(stopped)}\n${daemon.output()}`);
  assert.deepEqual(cluster.weights(), cluster.allWeights(1), 'SIGTERM leaves the rules in place');
  daemon = cluster.startDaemon();
  await waitFor(() => /first reconcile done/.test(daemon.output()), 90_000, 'the restarted daemon to be ready', () => daemon.output());
  // A few more probe rounds with the new daemon in charge.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  sampling = false;
  await sampler;

  const expected = JSON.stringify(cluster.allWeights(1));
  assert.ok(snapshots.length > 20, `${snapshots.length} samples`);
  assert.deepEqual([...new Set(snapshots)], [expected], `the table stayed as it was through the restart\nfirst daemon:\n${first.output()}\nsecond daemon:\n${daemon.output()}`);
  // A destination deleted and re-added would have lost its connection counters.
  const afterRestart = cluster.destinations();
  for (const row of before) {
    const now = afterRestart.find((d) => d.endpoint === row.endpoint);
    assert.ok(now, `${row.endpoint} is still there`);
    assert.ok(now.activeConns + now.inactiveConns >= 0);
  }
  const during = client.records().filter((r) => r.t >= restartAt);
  assert.ok(during.length > 10, `${during.length} requests during the restart`);
  assert.deepEqual(during.filter((r) => !r.ok), [], 'no request failed during the restart');
  assert.doesNotMatch(daemon.output(), /ipvs: /, 'the new daemon adopted the table without a single IPVS change');
  await client.stop();
  await daemon.stop();
});

test('a rewritten manifest without a master prunes it (upstream never did)', async () => {
  const [keep1, keep2, gone] = cluster.masters as [typeof cluster.masters[0], typeof cluster.masters[0], typeof cluster.masters[0]];
  assert.ok(gone.endpoint in cluster.weights());
  const daemon = cluster.startDaemon(['care', '--vs', cluster.vs, '--health-path', '/healthz', '--health-schem', 'https', '--rs', keep1.endpoint, '--rs', keep2.endpoint]);
  // Converge rather than sample once: under emulation a probe of a kept master can miss its 1 s
  // timeout twice and take it out for a moment; what is proven here is that the table ends up
  // holding exactly the masters of the new manifest.
  const expected = JSON.stringify({ [keep1.endpoint]: 1, [keep2.endpoint]: 1 });
  await waitFor(() => JSON.stringify(cluster.weights()) === expected, 90_000, `${gone.name} to be pruned and the others kept`, () => `${JSON.stringify(cluster.weights())}\n${daemon.output()}`);
  assert.ok(!(gone.endpoint in cluster.weights()));
  await daemon.stop();
});

test('-C removes our virtual server and route, and nothing else', async () => {
  const run = await cluster.lvscare([...cluster.sealosArgs(), '--run-once']);
  assert.equal(run.code, 0, run.stderr);
  // Someone else's virtual server and route on the same node.
  await cluster.worker.netns.exec(['ipvsadm', '--add-service', '--tcp-service', '10.96.0.1:443', '--scheduler', 'rr']);
  await cluster.worker.netns.exec(['ip', 'route', 'add', '10.103.97.3/32', 'via', cluster.workerIp, 'metric', '50']);

  const clean = await cluster.lvscare(['care', '--vs', cluster.vs, '-C']);
  assert.equal(clean.code, 0, clean.stderr + clean.stdout);
  assert.equal(cluster.hasVirtualServer(), false, 'our virtual server is gone');
  assert.deepEqual(vipRoutes(), [], 'our route is gone');
  const services = cluster.ipvsClient.listServices().map((s) => ('address' in s ? `${s.address}:${s.port}` : ''));
  assert.deepEqual(services, ['10.96.0.1:443'], 'the foreign virtual server stays');
  const foreignRoute = await cluster.worker.netns.exec(['ip', 'route', 'show', '10.103.97.3/32']);
  assert.match(foreignRoute.stdout, /10\.103\.97\.3 via/, 'the foreign route stays');

  // --run-once -C cleans too (upstream cleaned nothing).
  assert.equal((await cluster.lvscare([...cluster.sealosArgs(), '--run-once'])).code, 0);
  const both = await cluster.lvscare([...cluster.sealosArgs(), '--run-once', '-C']);
  assert.equal(both.code, 0, both.stderr);
  assert.equal(cluster.hasVirtualServer(), false);
  assert.deepEqual(vipRoutes(), []);
  await cluster.worker.netns.exec(['ipvsadm', '--clear']);
});

test('lvscare ipvs list prints exactly what ipvsadm -Ln prints', async () => {
  assert.equal((await cluster.lvscare([...cluster.sealosArgs(), '--run-once'])).code, 0);
  // Foreign services of every kind, so order and formatting are compared too.
  const ipvsadm = (...args: string[]) => cluster.worker.netns.exec(['ipvsadm', ...args]);
  await ipvsadm('-A', '-u', '10.96.0.10:53', '-s', 'rr', '-p', '10800', '-M', '255.255.255.0');
  await ipvsadm('-A', '-t', '192.168.1.1:80', '-s', 'wlc');
  await ipvsadm('-a', '-t', '192.168.1.1:80', '-r', '192.168.1.20:80', '-g', '-w', '3');
  await ipvsadm('-a', '-t', '192.168.1.1:80', '-r', '192.168.1.3:80', '-g', '-w', '0');
  await ipvsadm('-A', '-t', '10.96.0.1:443', '-s', 'sh');
  await ipvsadm('-A', '-f', '7', '-6', '-s', 'wlc');
  await ipvsadm('-A', '-t', '[fd00::10]:6443', '-s', 'rr');
  await ipvsadm('-a', '-t', '[fd00::10]:6443', '-r', '[fd00::2]:6443', '-g', '-w', '0');
  await ipvsadm('-A', '-f', '3', '-s', 'rr');
  const ours = await cluster.lvscare(['ipvs', 'list']);
  assert.equal(ours.code, 0, ours.stderr);
  const theirs = await ipvsadm('-Ln');
  assert.equal(ours.stdout, theirs.stdout);
  const json = JSON.parse((await cluster.lvscare(['ipvs', 'list', '--json'])).stdout) as { services: Array<{ address?: string }> };
  assert.ok(json.services.some((service) => service.address === cluster.vs));
  await ipvsadm('-C');
});
