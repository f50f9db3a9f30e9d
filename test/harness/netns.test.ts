// The namespace helpers against the host's real kernel (netns, veth and bridge exist here; IPVS
// does not, which these helpers do not need).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { addAddress, addRoute, buildTopology, createNetns, ip, setLinkDown, spawnBackground } from './netns.ts';
import type { Netns } from './netns.ts';
import { repoRoot } from './paths.ts';

const fixtures = path.join(repoRoot, 'test', 'harness', 'fixtures');

async function listNetns(): Promise<string[]> {
  return (await ip(['netns', 'list'])).split('\n').map((line) => line.split(' ')[0] ?? '').filter(Boolean);
}

test('netns helpers need root', () => {
  assert.equal(process.getuid?.(), 0, 'run the tests as root: network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN');
});

test('buildTopology: three masters and a worker reach each other over v4 and v6 through the bridge', async () => {
  const topology = await buildTopology({ masters: 3, workers: 1, ipv6: true });
  const names = topology.nodes.map((node) => node.netns.name).concat(topology.switchNetns.name);
  try {
    assert.equal(new Set(names).size, 5, 'every namespace has its own name');
    assert.deepEqual((await listNetns()).filter((name) => names.includes(name)).sort(), [...names].sort());
    assert.deepEqual(topology.masters.map((m) => m.ipv4), ['10.240.0.11', '10.240.0.12', '10.240.0.13']);
    assert.deepEqual(topology.workers.map((w) => w.ipv6), ['fd00:10:240::101']);

    const servers = topology.masters.map((master) =>
      master.netns.spawn([process.execPath, path.join(fixtures, 'name-server.ts'), master.name, '::', '8080']),
    );
    await Promise.all(servers.map((server) => server.waitForOutput('listening')));
    const worker = topology.workers[0];
    assert.ok(worker);
    for (const master of topology.masters) {
      for (const host of [master.ipv4, `[${master.ipv6 ?? ''}]`]) {
        const probe = await worker.netns.exec([process.execPath, path.join(fixtures, 'http-probe.ts'), `http://${host}:8080/`, '1']);
        assert.deepEqual(JSON.parse(probe.stdout), { bodies: [master.name], errors: [] }, `worker -> ${host}`);
      }
    }
  } finally {
    await topology.destroy();
  }
  assert.deepEqual((await listNetns()).filter((name) => names.includes(name)), [], 'destroy removes every namespace');
});

test('buildTopology rejects bad counts before creating anything', async () => {
  const before = await listNetns();
  await assert.rejects(buildTopology({ masters: -1, workers: 1 }), /masters must be an integer/);
  await assert.rejects(buildTopology({ masters: 1.5, workers: 1 }), /masters must be an integer/);
  await assert.rejects(buildTopology({ masters: 0, workers: 0 }), /at least one/);
  assert.deepEqual(await listNetns(), before);
});

test('addresses, routes, link state and sysctls land in the right namespace', async () => {
  const netns: Netns = await createNetns();
  try {
    await netns.ip(['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    await addAddress('v0', '192.0.2.1/24', { netns: netns.name });
    await addAddress('v0', '2001:db8::1/64', { netns: netns.name });
    await netns.ip(['link', 'set', 'v0', 'up']);
    await netns.ip(['link', 'set', 'v1', 'up']);
    await addRoute({ to: '198.51.100.7/32', via: '192.0.2.2', netns: netns.name });
    await addRoute({ to: '2001:db8:1::/64', via: '2001:db8::2', netns: netns.name });

    assert.match(await netns.ip(['route', 'show', '198.51.100.7']), /198\.51\.100\.7 via 192\.0\.2\.2 dev v0/);
    assert.match(await netns.ip(['-6', 'route', 'show', '2001:db8:1::/64']), /2001:db8:1::\/64 via 2001:db8::2 dev v0/);
    // nodad: the address is not "tentative", so a server can bind it immediately.
    const v6 = await netns.ip(['-6', 'address', 'show', 'dev', 'v0']);
    assert.match(v6, /2001:db8::1\/64/);
    assert.doesNotMatch(v6, /2001:db8::1\/64[^\n]*tentative/);

    await setLinkDown('v0', { netns: netns.name });
    assert.match(await netns.ip(['link', 'show', 'v0']), /state DOWN/);

    await netns.sysctl('net.ipv4.ip_forward', '1');
    assert.equal((await netns.exec(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim(), '1');
    // The namespace the test runs in is untouched.
    assert.doesNotMatch(await ip(['link', 'show']), /\bv0@/);
  } finally {
    await netns.delete();
  }
});

test('bad addresses and link names are refused before iproute2 runs', async () => {
  await assert.rejects(addAddress('v0', '192.0.2.1'), /CIDR/);
  await assert.rejects(addAddress('v0', '192.0.2.1/24; reboot'), /CIDR/);
  const { addVethPair } = await import('./netns.ts');
  await assert.rejects(addVethPair({ name: 'a-name-longer-than-15' }, { name: 'b' }), /bad link name/);
});

test('deleting a namespace stops the programs still running in it, and twice is harmless', async () => {
  const netns = await createNetns();
  const sleeper = netns.spawn(['sleep', '1000']);
  const outsider = spawnBackground(['sleep', '1000']);
  try {
    await netns.delete();
    const status = await sleeper.exited;
    assert.notEqual(status.signal, null, 'the program was killed');
    assert.equal(outsider.child.exitCode, null, 'a program outside the namespace is left alone');
    await netns.delete();
    assert.ok(!(await listNetns()).includes(netns.name));
  } finally {
    await outsider.stop();
  }
});
