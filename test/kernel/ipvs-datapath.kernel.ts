// The rules our libraries write carry real traffic: route mode on a worker (RouteClient adds
// VIP/32 via the worker's address, IpvsClient the service) balancing HTTP connections over two
// masters; weights steer new connections; counters move and zero() clears them.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { IpvsClient, RouteClient, type ServiceKey } from '@lvscare/ipvs-native';
import { buildTopology, type BackgroundProcess, type Topology, type TopologyNode } from '../harness/netns.ts';
import { repoRoot } from '../harness/paths.ts';

const VIP = '10.103.97.2';
const PORT = 6443;
const fixtures = path.join(repoRoot, 'test', 'harness', 'fixtures');
const service: ServiceKey = { protocol: 'tcp', address: VIP, port: PORT };

let topology: Topology;
let worker: TopologyNode;
let servers: BackgroundProcess[] = [];
let ipvs: IpvsClient;
let routes: RouteClient;

before(async () => {
  topology = await buildTopology({ masters: 2, workers: 1 });
  const first = topology.workers[0];
  assert.ok(first);
  worker = first;
  servers = topology.masters.map((master) =>
    master.netns.spawn([process.execPath, path.join(fixtures, 'name-server.ts'), master.name, master.ipv4, String(PORT)]),
  );
  await Promise.all(servers.map((server) => server.waitForOutput('listening')));
  ipvs = IpvsClient.open({ netns: worker.netns.name });
  routes = RouteClient.open({ netns: worker.netns.name });
});

after(async () => {
  ipvs?.close();
  routes?.close();
  await topology?.destroy();
});

async function probe(count: number): Promise<string[]> {
  const result = await worker.netns.exec([process.execPath, path.join(fixtures, 'http-probe.ts'), `http://${VIP}:${PORT}/`, String(count)]);
  const { bodies, errors } = JSON.parse(result.stdout) as { bodies: string[]; errors: string[] };
  assert.deepEqual(errors, []);
  return bodies.sort();
}

/** Waits for the kernel's estimator (it folds per-CPU counters every 2 s) to report `conns`. */
async function waitForServiceConns(expected: number): Promise<number> {
  let conns = -1;
  for (let attempt = 0; attempt < 50; attempt++) {
    conns = ipvs.getService(service)?.stats.conns ?? -1;
    if (conns >= expected) return conns;
    await sleep(200);
  }
  return conns;
}

it('route mode: connections to the VIP are balanced round robin over both masters', async () => {
  ipvs.addService({ ...service, scheduler: 'rr' });
  for (const master of topology.masters) ipvs.addDestination(service, { address: master.ipv4, port: PORT });
  routes.addRoute({ destination: `${VIP}/32`, gateway: worker.ipv4, metric: 50 });
  assert.deepEqual(await probe(4), ['master1', 'master1', 'master2', 'master2']);
  // The kernel tracked two connections per destination.
  const perDestination = ipvs.listDestinations(service).map((d) => [d.address, d.activeConns + d.inactiveConns]);
  assert.deepEqual(perDestination.sort(), topology.masters.map((m) => [m.ipv4, 2]).sort());
});

it('weight 0 quiesces a master: new connections go to the other one', async () => {
  const [master1] = topology.masters;
  assert.ok(master1);
  ipvs.updateDestination(service, { address: master1.ipv4, port: PORT, weight: 0 });
  assert.deepEqual(await probe(3), ['master2', 'master2', 'master2']);
  ipvs.updateDestination(service, { address: master1.ipv4, port: PORT, weight: 1 });
});

it('counters count the connections and zero() resets them', async () => {
  assert.ok((await waitForServiceConns(7)) >= 7, 'the estimator reported the 7 connections made so far');
  const before = ipvs.getService(service);
  assert.ok(before !== undefined && before.stats.inPackets > 0 && before.stats.inBytes > 0);
  ipvs.zero(service);
  const after = ipvs.getService(service);
  assert.deepEqual(after && [after.stats.conns, after.stats.inPackets, after.stats.inBytes], [0, 0, 0]);
  for (const destination of ipvs.listDestinations(service)) assert.equal(destination.stats.conns, 0);
  const stats = (await worker.netns.exec(['ipvsadm', '-L', '-n', '--stats', '--exact', '-t', `${VIP}:${PORT}`])).stdout;
  assert.match(stats, new RegExp(`TCP {2}${VIP.replaceAll('.', '\\.')}:${PORT}\\s+0\\s+0\\s+0\\s+0\\s+0`));
});
