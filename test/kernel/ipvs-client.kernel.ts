// IpvsClient against a real IPVS kernel (run by test/kernel.test.ts, as root, in a fresh network
// namespace): every method, kernel errors as typed IpvsErrors, and ipvsadm as the independent
// witness in both directions (what we write it reads identically; what it writes we read identically).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import { IpvsClient, IpvsError, type ServiceKey } from '@lvscare/ipvs-native';
import { clientTable, ipvsadm, ipvsadmTable } from '@lvscare/ipvs-native/testing/ipvsadm';

function expectKernelError(fn: () => unknown, code: string, text: RegExp): IpvsError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof IpvsError, `expected IpvsError, got ${String(err)}`);
    assert.equal(err.kind, 'kernel', err.message);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, text);
    return err;
  }
  assert.fail(`expected the kernel to refuse with ${code}`);
}

const vip: ServiceKey = { protocol: 'tcp', address: '10.103.97.2', port: 6443 };

describe('IpvsClient on a real IPVS kernel', () => {
  let client: IpvsClient;
  before(() => {
    client = IpvsClient.open();
  });
  // Every test starts from an empty table, so one failure cannot cascade.
  beforeEach(() => client.flush());
  after(() => client.close());

  it('info() agrees with /proc/net/ip_vs', () => {
    const [, version, size] = /version (\d+\.\d+\.\d+) \(size=(\d+)\)/.exec(readFileSync('/proc/net/ip_vs', 'utf8')) ?? [];
    assert.deepEqual(client.info(), { version, connTableSize: Number(size) });
  });

  it('getTimeouts/setTimeouts agree with ipvsadm; omitted timeouts are kept', () => {
    const initial = client.getTimeouts();
    assert.match(ipvsadm('-L', '--timeout'), new RegExp(`: ${initial.tcp} ${initial.tcpFin} ${initial.udp}`));
    client.setTimeouts({ tcp: 1800, udp: 45 });
    assert.deepEqual(client.getTimeouts(), { tcp: 1800, tcpFin: initial.tcpFin, udp: 45 });
    assert.match(ipvsadm('-L', '--timeout'), new RegExp(`: 1800 ${initial.tcpFin} 45`));
    ipvsadm('--set', '900', '33', '300');
    assert.deepEqual(client.getTimeouts(), { tcp: 900, tcpFin: 33, udp: 300 });
    client.setTimeouts(initial);
  });

  it('adds, gets, updates and deletes a service', () => {
    client.addService({ ...vip, scheduler: 'rr' });
    const created = client.getService(vip);
    assert.ok(created !== undefined && 'address' in created);
    assert.deepEqual(
      [created.protocol, created.address, created.port, created.family, created.scheduler, created.persistent, created.netmask],
      ['tcp', '10.103.97.2', 6443, 'ipv4', 'rr', false, '255.255.255.255'],
    );
    assert.equal(created.flags & 0x2, 0x2, 'the kernel marks live services HASHED');
    client.updateService({ ...vip, scheduler: 'wrr', persistent: true, timeout: 120, netmask: 24 });
    const updated = client.getService(vip);
    assert.deepEqual(
      updated && [updated.scheduler, updated.persistent, updated.timeout, updated.netmask],
      ['wrr', true, 120, '255.255.255.0'],
    );
    assert.match(ipvsadm('-L', '-n'), /TCP {2}10\.103\.97\.2:6443 wrr persistent 120 mask 255\.255\.255\.0/);
    assert.equal(client.listServices().length, 1);
    client.deleteService(vip);
    assert.equal(client.getService(vip), undefined);
    assert.deepEqual(client.listServices(), []);
  });

  it('kernel refusals arrive as typed errors with ipvsadm\'s wording', () => {
    client.addService(vip);
    expectKernelError(() => client.addService(vip), 'EEXIST', /Service already exists/);
    const missing: ServiceKey = { ...vip, port: 1 };
    expectKernelError(() => client.updateService(missing), 'ESRCH', /No such service/);
    expectKernelError(() => client.deleteService(missing), 'ESRCH', /No such service/);
    expectKernelError(() => client.zero(missing), 'ESRCH', /No such service/);
    expectKernelError(() => client.addDestination(missing, { address: '10.1.1.1', port: 1 }), 'ESRCH', /Service not defined/);
    client.addDestination(vip, { address: '10.1.1.1', port: 6443 });
    expectKernelError(() => client.addDestination(vip, { address: '10.1.1.1', port: 6443 }), 'EEXIST', /Destination already exists/);
    expectKernelError(() => client.updateDestination(vip, { address: '10.1.1.2', port: 6443 }), 'ENOENT', /No such destination/);
    expectKernelError(() => client.deleteDestination(vip, { address: '10.1.1.2', port: 6443 }), 'ENOENT', /No such destination/);
    // The kernel, not our validation, refuses a broadcast destination.
    expectKernelError(() => client.addDestination(vip, { address: '255.255.255.255', port: 1 }), 'EINVAL', /Invalid operation/);
    // ENOENT also means "stale family id" to the client: it must look again, then report this one.
    expectKernelError(() => client.addService({ ...vip, port: 7, scheduler: 'nosuchsched' }), 'ENOENT', /Scheduler or persistence engine not found/);
    assert.equal(client.getService(missing), undefined);
    assert.deepEqual(client.listDestinations(missing), [], 'GET_DEST of a missing service is an empty dump');
    client.flush();
  });

  it('bad input is refused before anything reaches the kernel', () => {
    const before = ipvsadm('-S', '-n');
    assert.throws(() => client.addService({ ...vip, scheduler: 'x'.repeat(16) }), { kind: 'invalid-input' });
    assert.throws(() => client.addService({ protocol: 'tcp', address: 'fd00::1', port: 1, persistent: true, netmask: 129 }), { kind: 'invalid-input' });
    assert.throws(() => client.addDestination(vip, { address: '10.1.1.1', port: 1, weight: -1 }), { kind: 'invalid-input' });
    assert.throws(() => client.setTimeouts({ tcp: 0 }), { kind: 'invalid-input' });
    assert.equal(ipvsadm('-S', '-n'), before);
  });

  it('manages destinations: every forwarding method, weights, thresholds', () => {
    client.addService(vip);
    client.addDestination(vip, { address: '10.1.1.1', port: 6443 });
    client.addDestination(vip, { address: '10.1.1.2', port: 6443, forward: 'route', weight: 5 });
    client.addDestination(vip, { address: '10.1.1.3', port: 6443, forward: 'tunnel', upperThreshold: 100, lowerThreshold: 40 });
    client.addDestination(vip, { address: '10.1.1.4', port: 6443, forward: 'local', weight: 0 });
    const byAddress = new Map(client.listDestinations(vip).map((d) => [d.address, d]));
    assert.deepEqual(
      [...byAddress.values()].map((d) => [d.address, d.forward, d.weight, d.upperThreshold, d.lowerThreshold]).sort(),
      [
        ['10.1.1.1', 'masq', 1, 0, 0],
        ['10.1.1.2', 'route', 5, 0, 0],
        ['10.1.1.3', 'tunnel', 1, 100, 40],
        ['10.1.1.4', 'local', 0, 0, 0],
      ],
    );
    client.updateDestination(vip, { address: '10.1.1.1', port: 6443, weight: 0 });
    client.updateDestination(vip, { address: '10.1.1.3', port: 6443, forward: 'masq', weight: 9 });
    client.deleteDestination(vip, { address: '10.1.1.2', port: 6443 });
    assert.deepEqual(
      client.listDestinations(vip).map((d) => [d.address, d.forward, d.weight]).sort(),
      [
        ['10.1.1.1', 'masq', 0],
        ['10.1.1.3', 'masq', 9],
        ['10.1.1.4', 'local', 0],
      ],
    );
    assert.deepEqual(clientTable(client), ipvsadmTable());
    client.deleteService(vip);
    assert.deepEqual(client.listDestinations(vip), []);
  });

  // One configuration covering UDP, SCTP, IPv6, fwmark (v4 and v6), persistence with masks,
  // every forwarding method, thresholds and an IPv6 tunnel destination of an IPv4 service.
  const expected = [
    ['FWM 7 IPv6 wrr persistent 100 mask 64'],
    ['FWM 9 sh'],
    ['SCTP 10.0.0.2:99 lc persistent 60 mask 255.255.0.0'],
    [
      'TCP 10.0.0.1:80 rr',
      '-> 10.1.1.1:80 Masq 2 100 50',
      '-> 10.1.1.2:80 Tunnel 1 0 0',
      '-> 10.1.1.3:80 Route 1 0 0',
      '-> 127.0.0.1:80 Masq 1 0 0',
      '-> [fd00::5]:80 Tunnel 1 0 0',
    ],
    ['UDP [fd00::1]:53 sh persistent 360', '-> [fd00::2]:53 Masq 1 0 0', '-> [fd00::3]:53 Local 3 0 0'],
  ];

  it('what we write, ipvsadm reads identically', () => {
    const web: ServiceKey = { protocol: 'tcp', address: '10.0.0.1', port: 80 };
    const dns: ServiceKey = { protocol: 'udp', address: 'fd00::1', port: 53 };
    client.addService({ ...web, scheduler: 'rr' });
    client.addDestination(web, { address: '10.1.1.1', port: 80, weight: 2, upperThreshold: 100, lowerThreshold: 50 });
    client.addDestination(web, { address: '10.1.1.2', port: 80, forward: 'tunnel' });
    client.addDestination(web, { address: '10.1.1.3', port: 80, forward: 'route' });
    client.addDestination(web, { address: '127.0.0.1', port: 80 });
    client.addDestination(web, { address: 'fd00::5', port: 80, forward: 'tunnel' });
    client.addService({ fwmark: 7, family: 'ipv6', scheduler: 'wrr', persistent: true, timeout: 100, netmask: 64 });
    client.addService({ fwmark: 9, family: 'ipv4', scheduler: 'sh' });
    client.addService({ ...dns, scheduler: 'sh', persistent: true });
    client.addDestination(dns, { address: 'fd00::2', port: 53 });
    client.addDestination(dns, { address: 'FD00:0:0::3', port: 53, forward: 'local', weight: 3 });
    client.addService({ protocol: 'sctp', address: '10.0.0.2', port: 99, scheduler: 'lc', persistent: true, timeout: 60, netmask: '255.255.0.0' });
    assert.deepEqual(ipvsadmTable(), expected);
    assert.deepEqual(clientTable(client), expected);
  });

  it('what ipvsadm writes, we read identically', () => {
    ipvsadm('-C');
    assert.deepEqual(client.listServices(), []);
    const commands = [
      ['-A', '-t', '10.0.0.1:80', '-s', 'rr'],
      ['-a', '-t', '10.0.0.1:80', '-r', '10.1.1.1:80', '-m', '-w', '2', '-x', '100', '-y', '50'],
      ['-a', '-t', '10.0.0.1:80', '-r', '10.1.1.2:80', '-i'],
      ['-a', '-t', '10.0.0.1:80', '-r', '10.1.1.3:80', '-g'],
      ['-a', '-t', '10.0.0.1:80', '-r', '127.0.0.1:80', '-m'],
      ['-a', '-t', '10.0.0.1:80', '-r', '[fd00::5]:80', '-i'],
      ['-A', '-f', '7', '-6', '-s', 'wrr', '-p', '100', '-M', '64'],
      ['-A', '-f', '9', '-s', 'sh'],
      ['-A', '-u', '[fd00::1]:53', '-s', 'sh', '-p'],
      ['-a', '-u', '[fd00::1]:53', '-r', '[fd00::2]:53', '-m'],
      ['-a', '-u', '[fd00::1]:53', '-r', '[fd00::3]:53', '-w', '3', '--ipip'],
      ['-A', '--sctp-service', '10.0.0.2:99', '-s', 'lc', '-p', '60', '-M', '255.255.0.0'],
    ];
    for (const command of commands) ipvsadm(...command);
    // ipvsadm cannot express "Local"; the kernel reports what it got (Tunnel here).
    const fromIpvsadm = expected.map((block) => block.map((line) => line.replace('[fd00::3]:53 Local 3', '[fd00::3]:53 Tunnel 3')));
    assert.deepEqual(ipvsadmTable(), fromIpvsadm);
    assert.deepEqual(clientTable(client), fromIpvsadm);
    const fwmark6 = client.getService({ fwmark: 7, family: 'ipv6' });
    assert.deepEqual(fwmark6 && [fwmark6.persistent, fwmark6.timeout, fwmark6.netmask], [true, 100, 64]);
    client.flush();
    assert.equal(ipvsadm('-S', '-n'), '');
  });

  it('holds 1,000 destinations in one service and lists them all', () => {
    client.addService(vip);
    const addresses: string[] = [];
    for (let i = 1; i <= 1000; i++) addresses.push(`10.50.${i >> 8}.${i & 255}`);
    for (const address of addresses) client.addDestination(vip, { address, port: 6443 });
    const listed = client.listDestinations(vip);
    assert.equal(listed.length, 1000);
    assert.deepEqual(listed.map((d) => d.address).sort(), [...addresses].sort());
    const ipvsadmRows = ipvsadm('-L', '-n', '-t', '10.103.97.2:6443').split('\n').filter((line) => line.includes('-> 10.50.'));
    assert.equal(ipvsadmRows.length, 1000);
    client.deleteService(vip);
    assert.deepEqual(client.listDestinations(vip), []);
  });

  it('zero() without a key zeroes every service; flush() removes everything', () => {
    client.addService(vip);
    client.addService({ fwmark: 3, family: 'ipv4' });
    client.zero();
    assert.ok(client.listServices().every((s) => s.stats.conns === 0 && s.stats.inBytes === 0));
    client.flush();
    assert.deepEqual(client.listServices(), []);
    assert.equal(ipvsadm('-S', '-n'), '');
  });
});
