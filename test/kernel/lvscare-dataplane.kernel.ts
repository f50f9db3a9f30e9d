// The dataplane contract suite (packages/lvscare/test/dataplane-contract.ts) against the kernel's
// IPVS: the same scenarios the fake passes on the host, here through lvscare's IPVS backend, in
// this file's fresh network namespace, with ipvsadm as the independent witness of every result
// and of the whole listing.
import { formatEndpoint, type Endpoint, type ForwardMethod } from '@lvscare/lvscare';
import { createKernelDataplane } from '@lvscare/lvscare/dataplane';
import { dataplaneContract, type TableView } from '@lvscare/lvscare/testing/dataplane-contract';
import { ipvsadm } from '@lvscare/ipvs-native/testing/ipvsadm';

const FORWARD_METHODS: Readonly<Record<string, ForwardMethod>> = { Masq: 'masq', Local: 'local', Tunnel: 'tunnel', Route: 'route' };

/** The TCP virtual server at `address` in an `ipvsadm -Ln` listing, reduced to the contract's view. */
function ipvsadmView(listing: string, address: Endpoint): TableView | undefined {
  const wanted = formatEndpoint(address);
  let found: { scheduler: string; persistenceTimeout: number; destinations: Record<string, { weight: number; forward: ForwardMethod }> } | undefined;
  let inWanted = false;
  for (const line of listing.split('\n').slice(3)) {
    if (line.trim() === '') continue;
    if (line.startsWith('  -> ')) {
      if (!inWanted || found === undefined) continue;
      const [, destination, forward, weight] = line.trim().split(/\s+/);
      const method = FORWARD_METHODS[forward ?? ''];
      if (destination === undefined || method === undefined) throw new Error(`ipvsadm line not understood: ${JSON.stringify(line)}`);
      found.destinations[destination] = { weight: Number(weight), forward: method };
      continue;
    }
    const [protocol, service, scheduler, ...flags] = line.trim().split(/\s+/);
    inWanted = protocol === 'TCP' && service === wanted;
    if (!inWanted) continue;
    const persistent = flags.indexOf('persistent');
    found = { scheduler: scheduler ?? '', persistenceTimeout: persistent >= 0 ? Number(flags[persistent + 1]) : 0, destinations: {} };
  }
  return found;
}

dataplaneContract({
  name: 'IPVS (kernel), ipvsadm as witness',
  async open() {
    ipvsadm('-C');
    return createKernelDataplane();
  },
  async flushExternally() {
    ipvsadm('-C');
  },
  witness: async (address) => ipvsadmView(ipvsadm('-L', '-n'), address),
  listing: async () => ipvsadm('-L', '-n'),
});
