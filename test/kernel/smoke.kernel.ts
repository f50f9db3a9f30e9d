// Proves the kernel-suite harness end to end with the kernel's own tools only (ipvsadm, iproute2),
// independent of our IPVS client: a VIP in route mode on a worker, balanced round robin over two
// real HTTP servers on two masters behind a bridge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addRoute, buildTopology, ip } from '../harness/netns.ts';
import { repoRoot } from '../harness/paths.ts';

const VIP = '10.103.97.2';
const PORT = 6443;
const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'dh', 'sed', 'nq', 'lblc', 'lblcr', 'mh', 'fo', 'ovf'];
const fixtures = path.join(repoRoot, 'test', 'harness', 'fixtures');

test('runs as root, in a fresh network namespace, on a kernel with IPVS', async () => {
  assert.equal(process.getuid?.(), 0);
  assert.ok(process.env.LVSCARE_KERNEL_ENV === 'vm' || process.env.LVSCARE_KERNEL_ENV === 'host', `LVSCARE_KERNEL_ENV=${process.env.LVSCARE_KERNEL_ENV}`);
  assert.ok(existsSync('/proc/net/ip_vs'), '/proc/net/ip_vs exists');
  assert.match(readFileSync('/proc/net/ip_vs', 'utf8'), /^IP Virtual Server version \d+\.\d+\.\d+/);
  const links = (await ip(['-o', 'link', 'show'])).trim().split('\n').map((line) => line.split(': ')[1]);
  assert.deepEqual(links, ['lo'], 'the namespace the file runs in has nothing but loopback');
  assert.match(await ip(['-o', 'link', 'show', 'lo']), /[<,]UP[,>]/, 'loopback is up');
});

test('every IPVS scheduler lvscare may use is available', () => {
  const builtin = new Set(
    (existsSync(`/lib/modules/${os.release()}/modules.builtin`) ? readFileSync(`/lib/modules/${os.release()}/modules.builtin`, 'utf8') : '')
      .split('\n')
      .map((line) => path.basename(line, '.ko')),
  );
  const missing = SCHEDULERS.map((name) => `ip_vs_${name}`).filter((module) => !existsSync(`/sys/module/${module}`) && !builtin.has(module));
  assert.deepEqual(missing, [], 'scheduler modules loaded');
});

test('ipvsadm: a round-robin VIP with two masquerading destinations reaches both masters from the worker', async () => {
  const topology = await buildTopology({ masters: 2, workers: 1 });
  try {
    const [worker] = topology.workers;
    assert.ok(worker);
    const servers = topology.masters.map((master) =>
      master.netns.spawn([process.execPath, path.join(fixtures, 'name-server.ts'), master.name, master.ipv4, String(PORT)]),
    );
    await Promise.all(servers.map((server) => server.waitForOutput('listening')));

    const service = `${VIP}:${PORT}`;
    await worker.netns.exec(['ipvsadm', '--add-service', '--tcp-service', service, '--scheduler', 'rr']);
    for (const master of topology.masters) {
      await worker.netns.exec(['ipvsadm', '--add-server', '--tcp-service', service, '--real-server', `${master.ipv4}:${PORT}`, '--masquerading']);
    }
    // Route mode: the VIP is routed via the worker's own address instead of being bound to a link.
    await addRoute({ to: `${VIP}/32`, via: worker.ipv4, netns: worker.netns.name });

    const table = (await worker.netns.exec(['ipvsadm', '--list', '--numeric', '--tcp-service', service])).stdout;
    assert.match(table, new RegExp(`TCP  ${VIP.replaceAll('.', '\\.')}:${PORT} rr`));
    for (const master of topology.masters) assert.match(table, new RegExp(`-> ${master.ipv4.replaceAll('.', '\\.')}:${PORT}\\s+Masq\\s+1\\s`));
    // The kernel's own view, in the worker's namespace only.
    const vipHex = VIP.split('.').map((octet) => Number(octet).toString(16).padStart(2, '0')).join('').toUpperCase();
    assert.match(await worker.netns.exec(['cat', '/proc/net/ip_vs']).then((r) => r.stdout), new RegExp(`TCP  ${vipHex}:${PORT.toString(16).toUpperCase().padStart(4, '0')} rr`));
    assert.doesNotMatch(readFileSync('/proc/net/ip_vs', 'utf8'), new RegExp(vipHex), 'the service exists only in the worker namespace');

    const probe = await worker.netns.exec([process.execPath, path.join(fixtures, 'http-probe.ts'), `http://${service}/`, '4']);
    const { bodies, errors } = JSON.parse(probe.stdout) as { bodies: string[]; errors: string[] };
    assert.deepEqual(errors, []);
    // Round robin over two destinations, four new connections: two each.
    assert.deepEqual([...bodies].sort(), ['master1', 'master1', 'master2', 'master2']);

    // The kernel's connection table (immediate, unlike --stats, which the estimator updates every 2 s).
    const connections = (await worker.netns.exec(['ipvsadm', '--list', '--numeric', '--connection'])).stdout;
    for (const master of topology.masters) {
      const rows = connections.split('\n').filter((line) => line.includes(`${VIP}:${PORT}`) && line.trim().endsWith(`${master.ipv4}:${PORT}`));
      assert.equal(rows.length, 2, `the kernel has two connections to ${master.name}:\n${connections}`);
    }
  } finally {
    await topology.destroy();
  }
});
