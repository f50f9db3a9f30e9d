// The dataplane contract suite (packages/lvscare/test/dataplane-contract.ts) against the nftables
// dataplane on this host's kernel, in one network namespace for the whole file, with nft's own
// JSON listing as the independent witness of every result (read straight from the weights map
// and the rule comments, not through the engine's parser).
import { after, before } from 'node:test';
import { type Endpoint, formatEndpoint, parseEndpoint } from '@lvscare/lvscare';
import { createKernelDataplane } from '@lvscare/lvscare/dataplane';
import { dataplaneContract, type TableView } from '@lvscare/lvscare/testing/dataplane-contract';
import { createNetns, type Netns } from '../harness/netns.ts';
import { NFT_BIN, requireTools } from './lib.ts';

let netns: Netns | undefined;

before(async () => {
  requireTools();
  netns = await createNetns('nftc');
});

after(async () => {
  await netns?.delete();
});

function inNetns(): Netns {
  if (netns === undefined) throw new Error('the namespace was not created (see the first failure)');
  return netns;
}

async function nft(args: readonly string[], allowFailure = false): Promise<string> {
  return (await inNetns().exec([NFT_BIN!, ...args], { allowFailure })).stdout;
}

type NftJson = { nftables: Array<Record<string, { name?: string; chain?: string; comment?: string; elem?: unknown[] } | undefined>> };

/** Our virtual server at `address` as `nft -j list table` shows it, reduced to the contract's view. */
async function nftView(address: Endpoint): Promise<TableView | undefined> {
  const text = await nft(['-j', 'list', 'table', address.family === 6 ? 'ip6' : 'ip', 'lvscare'], true);
  if (text.trim() === '') return undefined;
  const items = (JSON.parse(text) as NftJson).nftables;
  const wanted = formatEndpoint(address);
  const comment = items.map((item) => item.rule?.comment ?? '').find((c) => c.startsWith(`lvscare vip=${wanted} `));
  if (comment === undefined) return undefined;
  const scheduler = /scheduler=(\S+)/.exec(comment)?.[1] ?? '?';
  const weights = items.find((item) => item.map?.name === 'weights')?.map?.elem ?? [];
  const destinations: Record<string, { weight: number; forward: 'masq' }> = {};
  for (const element of weights as Array<[{ concat: [string, number, string, number] }, number]>) {
    const [vip, port, master, masterPort] = element[0].concat;
    if (formatEndpoint(ep(vip, port)) !== wanted) continue;
    destinations[formatEndpoint(ep(master, masterPort))] = { weight: element[1], forward: 'masq' };
  }
  return { scheduler, persistenceTimeout: 0, destinations };
}

function ep(ip: string, port: number): Endpoint {
  return parseEndpoint(ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`, 'nft listing');
}

dataplaneContract({
  name: 'nftables (host kernel, network namespace), nft -j as witness',
  async open() {
    // Each scenario starts without our tables; nothing else is in this namespace.
    await nft(['delete', 'table', 'ip', 'lvscare'], true);
    await nft(['delete', 'table', 'ip6', 'lvscare'], true);
    return createKernelDataplane({ kind: 'nftables', netns: inNetns().name });
  },
  async flushExternally() {
    await nft(['flush', 'ruleset']);
  },
  witness: nftView,
});
