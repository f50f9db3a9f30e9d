// RouteClient against this host's kernel, in a throwaway network namespace with a veth pair.
// iproute2 is the independent witness: what we write, `ip` must read; what `ip` writes, we read.
// (Dummy links need CONFIG_DUMMY, absent here: they are covered by the VM kernel suite.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IpvsError } from '../src/errors.ts';
import { NETLINK_ROUTE } from '../src/kernel-constants.ts';
import { NetlinkSocket } from '../src/netlink.ts';
import { encodeGetAddresses } from '../src/rtnetlink-codec.ts';
import { RouteClient } from '../src/rtnetlink.ts';
import { createNetns, deleteNetns, ip, ipJson } from './host-netns.ts';

interface IpRoute {
  dst: string;
  gateway?: string;
  metric?: number;
  dev?: string;
}
interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
}

function expectError(fn: () => unknown, kind: IpvsError['kind'], code: string): IpvsError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof IpvsError, String(err));
    assert.equal(err.kind, kind, err.message);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${kind} ${code}`);
}

describe('RouteClient in a network namespace', () => {
  let ns: string;
  let client: RouteClient;
  const routes = (...args: string[]): IpRoute[] => ipJson<IpRoute[]>('-n', ns, ...args);

  before(() => {
    ns = createNetns('rtnl');
    ip('-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    client = RouteClient.open({ netns: ns });
    client.setLinkUp('lo');
    client.setLinkUp('v0');
    client.setLinkUp('v1');
    client.addAddress('v0', '192.168.77.1/24');
    client.addAddress('v0', 'fd00:77::1/64', { noDad: true });
  });
  after(() => {
    client.close();
    deleteNetns(ns);
  });

  it('gets links by name with index, flags and kind', () => {
    const lo = client.getLink('lo');
    assert.equal(lo?.index, 1);
    assert.equal(lo?.up, true);
    assert.equal(lo?.kind, undefined);
    const v0 = client.getLink('v0');
    assert.equal(v0?.kind, 'veth');
    assert.equal(v0?.up, true);
    const fromIp = ipJson<Array<{ ifindex: number }>>('-n', ns, 'link', 'show', 'v0');
    assert.equal(v0?.index, fromIp[0]?.ifindex);
    assert.equal(client.getLink('nope0'), undefined);
  });

  it('sets a link down and up again', () => {
    client.setLinkDown('v1');
    assert.equal(client.getLink('v1')?.up, false);
    assert.ok(!ip('-n', ns, 'link', 'show', 'v1').includes('<BROADCAST,MULTICAST,UP'));
    client.setLinkUp('v1');
    assert.equal(client.getLink('v1')?.up, true);
  });

  it('adds, lists and deletes IPv4 and IPv6 addresses; ip agrees', () => {
    client.addAddress('v1', '10.20.30.40/28');
    client.addAddress('v1', '2001:db8:5::7/120', { noDad: true });
    const ours = client.listAddresses('v1').map((a) => `${a.address}/${a.prefixLength}`);
    assert.ok(ours.includes('10.20.30.40/28') && ours.includes('2001:db8:5::7/120'), ours.join(' '));
    const theirs = ipJson<Array<{ addr_info: IpAddrInfo[] }>>('-n', ns, 'addr', 'show', 'dev', 'v1')[0]?.addr_info ?? [];
    assert.ok(theirs.some((a) => a.local === '10.20.30.40' && a.prefixlen === 28));
    assert.ok(theirs.some((a) => a.local === '2001:db8:5::7' && a.prefixlen === 120));
    expectError(() => client.addAddress('v1', '10.20.30.40/28'), 'kernel', 'EEXIST');
    client.deleteAddress('v1', '10.20.30.40/28');
    client.deleteAddress('v1', '2001:db8:5::7/120');
    assert.deepEqual(
      client.listAddresses('v1').filter((a) => a.family === 'ipv4'),
      [],
    );
    expectError(() => client.deleteAddress('v1', '10.20.30.40/28'), 'kernel', 'EADDRNOTAVAIL');
  });

  it('reads addresses that ip added', () => {
    ip('-n', ns, 'addr', 'add', '172.16.5.5/16', 'dev', 'v1');
    const found = client.listAddresses('v1', 'ipv4');
    assert.deepEqual(
      found.map((a) => [a.address, a.prefixLength, a.family]),
      [['172.16.5.5', 16, 'ipv4']],
    );
    ip('-n', ns, 'addr', 'del', '172.16.5.5/16', 'dev', 'v1');
  });

  it('adds VIP/32 via GW metric 50; ip sees it; a second add is EEXIST; delete removes it', () => {
    const route = { destination: '10.103.97.2/32', gateway: '192.168.77.2', metric: 50 };
    client.addRoute(route);
    assert.deepEqual(
      routes('route', 'show', '10.103.97.2/32').map((r) => [r.dst, r.gateway, r.metric, r.dev]),
      [['10.103.97.2', '192.168.77.2', 50, 'v0']],
    );
    const listed = client.listRoutes({ destination: '10.103.97.2/32' });
    assert.equal(listed.length, 1);
    assert.deepEqual(
      [listed[0]?.destination, listed[0]?.gateway, listed[0]?.metric, listed[0]?.table, listed[0]?.linkIndex],
      ['10.103.97.2/32', '192.168.77.2', 50, 254, client.getLink('v0')?.index],
    );
    const duplicate = expectError(() => client.addRoute(route), 'kernel', 'EEXIST');
    assert.equal(duplicate.command, 'RTM_NEWROUTE');
    assert.match(duplicate.message, /10\.103\.97\.2\/32 via 192\.168\.77\.2 metric 50/);
    client.deleteRoute(route);
    assert.deepEqual(routes('route', 'show', '10.103.97.2/32'), []);
    expectError(() => client.deleteRoute(route), 'kernel', 'ESRCH');
  });

  it('replace overwrites the gateway of an existing route', () => {
    client.addRoute({ destination: '10.103.97.3/32', gateway: '192.168.77.2', metric: 50 });
    client.replaceRoute({ destination: '10.103.97.3/32', gateway: '192.168.77.3', metric: 50 });
    assert.deepEqual(
      client.listRoutes({ destination: '10.103.97.3/32' }).map((r) => r.gateway),
      ['192.168.77.3'],
    );
    client.deleteRoute({ destination: '10.103.97.3/32' });
    assert.deepEqual(client.listRoutes({ destination: '10.103.97.3/32' }), []);
  });

  it('IPv6: VIP/128 via GW metric 50, both ways', () => {
    client.addRoute({ destination: 'fd01::2/128', gateway: 'fd00:77::2', metric: 50 });
    assert.deepEqual(
      routes('-6', 'route', 'show', 'fd01::2/128').map((r) => [r.dst, r.gateway, r.metric]),
      [['fd01::2', 'fd00:77::2', 50]],
    );
    ip('-n', ns, '-6', 'route', 'add', 'fd01::3/128', 'via', 'fd00:77::3', 'metric', '77');
    const theirs = client.listRoutes({ destination: 'fd01::3/128' });
    assert.deepEqual(
      theirs.map((r) => [r.family, r.destination, r.gateway, r.metric]),
      [['ipv6', 'fd01::3/128', 'fd00:77::3', 77]],
    );
    client.deleteRoute({ destination: 'fd01::2/128', gateway: 'fd00:77::2', metric: 50 });
    client.deleteRoute({ destination: 'fd01::3/128' });
    assert.deepEqual(routes('-6', 'route', 'show', 'fd01::2/128'), []);
    assert.deepEqual(routes('-6', 'route', 'show', 'fd01::3/128'), []);
  });

  it('reads a route that ip added, and an on-link route through a named link', () => {
    ip('-n', ns, 'route', 'add', '10.9.9.9/32', 'via', '192.168.77.9', 'metric', '77');
    assert.deepEqual(
      client.listRoutes({ destination: '10.9.9.9/32' }).map((r) => [r.gateway, r.metric]),
      [['192.168.77.9', 77]],
    );
    client.addRoute({ destination: '10.8.0.0/16', link: 'v1' });
    assert.deepEqual(
      routes('route', 'show', '10.8.0.0/16').map((r) => [r.dst, r.dev, r.gateway]),
      [['10.8.0.0/16', 'v1', undefined]],
    );
  });

  it('lists a routing table larger than one dump datagram (1,000 routes)', () => {
    for (let i = 0; i < 1000; i++) {
      client.addRoute({ destination: `10.200.${i >> 8}.${i & 255}/32`, gateway: '192.168.77.2', metric: 60 });
    }
    const ours = client.listRoutes().filter((r) => r.destination.startsWith('10.200.'));
    assert.equal(ours.length, 1000);
    assert.equal(routes('route', 'show').filter((r) => r.dst.startsWith('10.200.')).length, 1000);
  });

  it('reports a dump the kernel marks as interrupted by a concurrent change (EINTR)', () => {
    for (let i = 0; i < 600; i++) client.addAddress('v1', `10.30.${i >> 8}.${i & 255}/32`);
    const other = NetlinkSocket.open(NETLINK_ROUTE, { netns: ns });
    try {
      let changed = false;
      const request = encodeGetAddresses('ipv4');
      const dump = (): void =>
        other.request(request.type, request, {
          onMessage: () => {
            // Between two datagrams of the dump, change the address list through another socket.
            if (!changed) client.addAddress('v1', '10.31.0.1/32');
            changed = true;
          },
        });
      expectError(dump, 'kernel', 'EINTR');
      // Without concurrent changes the same dump is consistent, and the client sees everything.
      assert.equal(client.listAddresses('v1', 'ipv4').length, 601);
    } finally {
      other.close();
    }
  });

  it('rejects bad input before sending anything', () => {
    const before = ip('-n', ns, 'route', 'show');
    expectError(() => client.addRoute({ destination: '10.103.97.2/24', gateway: '192.168.77.2' }), 'invalid-input', 'EINVAL');
    expectError(() => client.addRoute({ destination: '10.103.97.2/32', gateway: 'fd00::1' }), 'invalid-input', 'EINVAL');
    expectError(() => client.addRoute({ destination: '10.103.97.256/32', gateway: '192.168.77.2' }), 'invalid-input', 'EINVAL');
    expectError(() => client.addRoute({ destination: '10.103.97.2/32' }), 'invalid-input', 'EINVAL');
    expectError(() => client.addRoute({ destination: '10.103.97.2/32', gateway: '192.168.77.2', metric: -1 }), 'invalid-input', 'EINVAL');
    expectError(() => client.getLink('bad/name'), 'invalid-input', 'EINVAL');
    expectError(() => client.addAddress('v0', '1.2.3.4/33'), 'invalid-input', 'EINVAL');
    assert.equal(ip('-n', ns, 'route', 'show'), before);
  });

  it('reports a missing link as ENODEV', () => {
    expectError(() => client.setLinkUp('nope0'), 'kernel', 'ENODEV');
  });
});
