// RouteClient on the VM's kernel, which has dummy links (this host's has not): the dummy link
// link mode binds the VIP to, its addresses, and route-mode routes, cross-checked with iproute2.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { IpvsError, RouteClient } from '@lvscare/ipvs-native';
import { ip } from '../harness/netns.ts';

let routes: RouteClient;
before(() => {
  routes = RouteClient.open();
});
after(() => routes.close());

interface IpLink {
  ifname: string;
  flags: string[];
  linkinfo?: { info_kind?: string };
}

function expectKernelError(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof IpvsError && err.kind === 'kernel' && err.code === code);
}

it('creates a dummy link (down, like kube-ipvs0), sets it up, deletes it', async () => {
  routes.addDummyLink('lvscare');
  const link = routes.getLink('lvscare');
  assert.equal(link?.kind, 'dummy');
  assert.equal(link?.up, false);
  const [shown] = JSON.parse(await ip(['-j', '-d', 'link', 'show', 'lvscare'])) as IpLink[];
  assert.equal(shown?.linkinfo?.info_kind, 'dummy');
  expectKernelError(() => routes.addDummyLink('lvscare'), 'EEXIST');

  routes.setLinkUp('lvscare');
  assert.equal(routes.getLink('lvscare')?.up, true);
  const [up] = JSON.parse(await ip(['-j', 'link', 'show', 'lvscare'])) as IpLink[];
  assert.ok(up?.flags.includes('UP'), JSON.stringify(up));

  routes.deleteLink('lvscare');
  assert.equal(routes.getLink('lvscare'), undefined);
  assert.doesNotMatch(await ip(['link', 'show']), /lvscare/);
});

it('binds IPv4 and IPv6 VIPs to a dummy link and removes them', async () => {
  routes.addDummyLink('vips0');
  try {
    routes.addAddress('vips0', '10.103.97.2/32');
    routes.addAddress('vips0', 'fd00:103::2/128', { noDad: true });
    const ours = routes.listAddresses('vips0').map((a) => `${a.address}/${a.prefixLength}`).sort();
    assert.deepEqual(ours, ['10.103.97.2/32', 'fd00:103::2/128']);
    const theirs = await ip(['-o', 'addr', 'show', 'dev', 'vips0']);
    assert.match(theirs, /inet 10\.103\.97\.2\/32/);
    assert.match(theirs, /inet6 fd00:103::2\/128/);
    expectKernelError(() => routes.addAddress('vips0', '10.103.97.2/32'), 'EEXIST');
    routes.deleteAddress('vips0', '10.103.97.2/32');
    routes.deleteAddress('vips0', 'fd00:103::2/128');
    assert.deepEqual(routes.listAddresses('vips0'), []);
  } finally {
    routes.deleteLink('vips0');
  }
});

it('adds VIP/32 and VIP/128 routes via the node address with metric 50 (route mode)', async () => {
  routes.addDummyLink('node0');
  try {
    routes.setLinkUp('node0');
    routes.addAddress('node0', '10.240.9.1/24');
    routes.addAddress('node0', 'fd00:240::1/64', { noDad: true });
    routes.addRoute({ destination: '10.103.97.2/32', gateway: '10.240.9.1', metric: 50 });
    // IPv6 refuses a local address as gateway (unlike IPv4), so the v6 route goes via a neighbour.
    assert.throws(
      () => routes.addRoute({ destination: 'fd00:103::2/128', gateway: 'fd00:240::1', metric: 50 }),
      (err: unknown) => err instanceof IpvsError && err.code === 'EINVAL' && /Gateway can not be a local address/.test(err.message),
    );
    routes.addRoute({ destination: 'fd00:103::2/128', gateway: 'fd00:240::9', metric: 50 });
    assert.match(await ip(['route', 'show', '10.103.97.2/32']), /10\.103\.97\.2 via 10\.240\.9\.1 dev node0 metric 50/);
    assert.match(await ip(['-6', 'route', 'show', 'fd00:103::2/128']), /fd00:103::2 via fd00:240::9 dev node0 metric 50/);
    // Upstream tolerates EEXIST when the route is already there; it must be recognisable.
    expectKernelError(() => routes.addRoute({ destination: '10.103.97.2/32', gateway: '10.240.9.1', metric: 50 }), 'EEXIST');
    assert.deepEqual(
      routes.listRoutes({ destination: '10.103.97.2/32' }).map((r) => [r.gateway, r.metric, r.linkIndex]),
      [['10.240.9.1', 50, routes.getLink('node0')?.index]],
    );
    routes.deleteRoute({ destination: '10.103.97.2/32', gateway: '10.240.9.1', metric: 50 });
    routes.deleteRoute({ destination: 'fd00:103::2/128', gateway: 'fd00:240::9', metric: 50 });
    assert.equal(await ip(['route', 'show', '10.103.97.2/32']), '');
    assert.deepEqual(routes.listRoutes({ destination: 'fd00:103::2/128' }), []);
    // The alternative for IPv6: an on-link route through the node's link with a preferred source.
    routes.addRoute({ destination: 'fd00:103::2/128', link: 'node0', source: 'fd00:240::1', metric: 50 });
    assert.deepEqual(
      routes.listRoutes({ destination: 'fd00:103::2/128' }).map((r) => [r.gateway, r.source, r.metric]),
      [[undefined, 'fd00:240::1', 50]],
    );
    routes.deleteRoute({ destination: 'fd00:103::2/128', link: 'node0' });
  } finally {
    routes.deleteLink('node0');
  }
});
