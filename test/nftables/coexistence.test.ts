// Our table beside kube-proxy's nftables mode and iptables-nft, on the host's kernel in a
// namespace. kube-proxy's `ip kube-proxy` table is rebuilt from its layout (chain names, hooks
// and priorities of pkg/proxy/nftables, as summarised in the project's nftables notes, section 4):
// a ClusterIP service, a service without endpoints, the service-CIDR drop. Neither is touched by
// anything we do, and both keep working beside our VIP, which lies inside kubeadm's service CIDR.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildNftCluster, desired, ep, IPTABLES_NFT_BIN, type NftCluster, requireTools, VIP4, virtualServer } from './lib.ts';

function kubeProxyTable(master1: string): string {
  return `table ip kube-proxy {
  comment "rules for kube-proxy"
  set cluster-ips {
    type ipv4_addr
    elements = { 10.96.0.1, 10.96.0.10 }
  }
  map service-ips {
    type ipv4_addr . inet_proto . inet_service : verdict
    elements = { 10.96.0.1 . tcp . 443 : goto service-default-kubernetes }
  }
  map no-endpoint-services {
    type ipv4_addr . inet_proto . inet_service : verdict
    elements = { 10.96.0.10 . tcp . 53 : goto reject-chain }
  }
  chain filter-prerouting {
    type filter hook prerouting priority -110; policy accept
    ct state new jump firewall-check
  }
  chain filter-input {
    type filter hook input priority -110; policy accept
    ct state new jump service-endpoints-check
  }
  chain filter-forward {
    type filter hook forward priority -110; policy accept
    ct state new jump service-endpoints-check
    ct state new jump cluster-ips-check
  }
  chain filter-output {
    type filter hook output priority -110; policy accept
    ct state new jump service-endpoints-check
    ct state new jump firewall-check
  }
  chain filter-output-post-dnat {
    type filter hook output priority -90; policy accept
    ct state new jump cluster-ips-check
  }
  chain nat-prerouting {
    type nat hook prerouting priority -100; policy accept
    jump services
  }
  chain nat-output {
    type nat hook output priority -100; policy accept
    jump services
  }
  chain nat-postrouting {
    type nat hook postrouting priority 100; policy accept
    jump masquerading
  }
  chain firewall-check { }
  chain service-endpoints-check {
    ip daddr . meta l4proto . th dport vmap @no-endpoint-services
  }
  chain cluster-ips-check {
    ip daddr @cluster-ips reject
    ip daddr { 10.96.0.0/12 } counter drop
  }
  chain reject-chain {
    reject
  }
  chain services {
    ip daddr . meta l4proto . th dport vmap @service-ips
  }
  chain masquerading {
    meta mark & 0x00004000 == 0 return
    meta mark set meta mark ^ 0x00004000
    masquerade fully-random
  }
  chain mark-for-masquerade {
    meta mark set meta mark | 0x00004000
  }
  chain service-default-kubernetes {
    numgen random mod 1 vmap { 0 : goto endpoint-default-kubernetes-master1 }
  }
  chain endpoint-default-kubernetes-master1 {
    ip saddr ${master1} jump mark-for-masquerade
    meta l4proto tcp dnat to ${master1}:6443
  }
}
`;
}

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
