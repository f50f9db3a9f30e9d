// Our table beside kube-proxy's nftables mode and iptables-nft, on the host's kernel in a
// namespace. kube-proxy's `ip kube-proxy` table is rebuilt from its layout (chain names, hooks
// and priorities of pkg/proxy/nftables, as summarised in the project's nftables notes, section 4):
// a ClusterIP service, a service without endpoints, the service-CIDR drop. Neither is touched by
// anything we do, and both keep working beside our VIP, which lies inside kubeadm's service CIDR.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildNftCluster, desired, ep, IPTABLES_NFT_BIN, kubeProxyTable, type NftCluster, requireTools, VIP4, virtualServer } from './lib.ts';

describe('nftables dataplane beside kube-proxy (nftables mode) and iptables-nft', () => {
  let c: NftCluster;
  const iptables = (args: string[]) => c.worker.netns.exec([IPTABLES_NFT_BIN!, '-w', '5', ...args]);
  const rules = () => desired([virtualServer(VIP4, 'rr', [[c.master(1), 1], [c.master(2), 1], [c.master(3), 1]])]);
  /** Everything that is not ours, handles included. */
  const foreign = async () => [
    await c.nft(['-a', 'list', 'table', 'ip', 'kube-proxy']),
    await c.nft(['-a', 'list', 'table', 'ip', 'nat']),
    await c.nft(['-a', 'list', 'table', 'ip', 'filter']),
  ];

  before(async () => {
    requireTools({ iptablesNft: true });
    c = await buildNftCluster({ masters: 3 });
    await c.worker.netns.ip(['route', 'add', '10.96.0.0/12', 'dev', c.worker.ifname, 'src', c.worker.ipv4]);
    await c.worker.netns.ip(['route', 'add', '192.0.2.10/32', 'dev', c.worker.ifname, 'src', c.worker.ipv4]);
    await c.worker.netns.exec(['nft', '-f', '-'], { input: kubeProxyTable(c.master(1).ip) });
    await iptables(['-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.10/32', '-p', 'tcp', '--dport', '80', '-j', 'DNAT', '--to-destination', `${c.master(2).ip}:6443`]);
    await iptables(['-A', 'OUTPUT', '-p', 'tcp', '-d', c.master(3).ip, '--dport', '6443', '-j', 'ACCEPT']);
    await c.backend.apply(rules());
  });
  after(async () => {
    await c?.destroy();
  });

  it('the VIP, kube-proxy\'s services and iptables-nft\'s DNAT all work side by side', async () => {
    assert.deepEqual(await c.agent.burst(VIP4, 6), { servers: { master1: 2, master2: 2, master3: 2 }, errors: {} });
    assert.equal((await c.agent.open(ep('10.96.0.1:443'))).server, 'master1');
    assert.equal((await c.agent.open(ep('10.96.0.10:53'))).code, 'ECONNREFUSED');
    assert.equal((await c.agent.open(ep('192.0.2.10:80'))).server, 'master2');
    // An unallocated address in the service CIDR is dropped by kube-proxy, as it should be.
    assert.equal((await c.agent.open(ep('10.96.0.99:443'), 1_500)).code, 'TIMEOUT');
    assert.match(await c.nft(['list', 'chain', 'ip', 'kube-proxy', 'cluster-ips-check']), /counter packets [1-9]/);
  });

  it('nothing we do touches their tables: updates, removal reset, a restore after our table is deleted, -C', async () => {
    const before = await foreign();
    await c.backend.apply(desired([virtualServer(VIP4, 'rr', [[c.master(1), 1], [c.master(2), 0]])]));
    await c.backend.apply(desired([virtualServer(VIP4, 'wrr', [[c.master(1), 2]])]));
    await c.nft(['delete', 'table', 'ip', 'lvscare']);
    assert.equal((await c.backend.read(4)).status, 'absent');
    await c.backend.apply(rules());
    await c.backend.remove();
    assert.deepEqual(await foreign(), before);
    await c.backend.apply(rules());
    assert.deepEqual(await foreign(), before);
    assert.equal((await c.agent.open(ep('10.96.0.1:443'))).server, 'master1');
  });

  it('kube-proxy\'s cleanup (delete its table) and iptables-nft flushes leave our table and the VIP alone', async () => {
    const ours = await c.nft(['-a', 'list', 'table', 'ip', 'lvscare']);
    await c.nft(['delete', 'table', 'ip', 'kube-proxy']);
    await iptables(['-t', 'nat', '-F']);
    await iptables(['-t', 'nat', '-X']);
    await iptables(['-F']);
    await c.worker.netns.exec([IPTABLES_NFT_BIN!.replace(/iptables-nft$/, 'iptables-nft-restore')], { input: '*nat\nCOMMIT\n*filter\nCOMMIT\n' });
    assert.equal(await c.nft(['-a', 'list', 'table', 'ip', 'lvscare']), ours);
    assert.equal((await c.backend.read(4)).status, 'intact');
    assert.deepEqual(await c.agent.burst(VIP4, 3), { servers: { master1: 1, master2: 1, master3: 1 }, errors: {} });
  });
});
