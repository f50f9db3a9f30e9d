// A small cluster network for tests: one namespace per node (masters and workers), all plugged
// into a bridge that lives in its own "switch" namespace, so nothing touches the namespace the
// test itself runs in.
import { addAddress, addBridge, addVethPair, attachToBridge, createNetns, setLinkUp } from './netns.ts';
import type { Netns } from './netns.ts';

export const TOPOLOGY_IPV4_PREFIX = '10.240.0.';
export const TOPOLOGY_IPV6_PREFIX = 'fd00:10:240::';
const MAX_NODES_PER_ROLE = 50;

export interface TopologyOptions {
  masters: number;
  workers: number;
  /** Also give every node an IPv6 address (DAD disabled, usable at once). */
  ipv6?: boolean;
}

export interface TopologyNode {
  /** "master1", "worker1", ... */
  name: string;
  role: 'master' | 'worker';
  netns: Netns;
  /** The node's link to the bridge, inside its namespace. */
  ifname: string;
  ipv4: string;
  /** Present when the topology was built with ipv6. */
  ipv6: string | undefined;
}

export interface Topology {
  switchNetns: Netns;
  bridge: string;
  masters: TopologyNode[];
  workers: TopologyNode[];
  nodes: TopologyNode[];
  ipv4PrefixLength: number;
  ipv6PrefixLength: number;
  /** Deletes every namespace (and so every link) of the topology. Safe to call twice. */
  destroy(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const NODE_IFNAME = 'eth0';
const BRIDGE = 'br0';

/**
 * masters get 10.240.0.11, .12, ... and workers 10.240.0.101, .102, ... (/24), and with ipv6
 * fd00:10:240::11, ... and fd00:10:240::101, ... (/64).
 */
export async function buildTopology(options: TopologyOptions): Promise<Topology> {
  for (const role of ['masters', 'workers'] as const) {
    const count = options[role];
    if (!Number.isInteger(count) || count < 0 || count > MAX_NODES_PER_ROLE) {
      throw new RangeError(`buildTopology: ${role} must be an integer from 0 to ${MAX_NODES_PER_ROLE}, got ${String(count)}`);
    }
  }
  if (options.masters + options.workers === 0) throw new RangeError('buildTopology: at least one master or worker');

  const created: Netns[] = [];
  const destroy = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const netns of created.splice(0).reverse()) {
      await netns.delete().catch((error: unknown) => errors.push(error));
    }
    if (errors.length > 0) throw new AggregateError(errors, 'buildTopology: cleanup failed');
  };

  try {
    const switchNetns = await createNetns('lvt-sw');
    created.push(switchNetns);
    await addBridge(BRIDGE, { netns: switchNetns.name });
    await setLinkUp(BRIDGE, { netns: switchNetns.name });

    const specs = [
      ...Array.from({ length: options.masters }, (_, i) => ({ role: 'master' as const, index: i + 1, hostPart: 11 + i })),
      ...Array.from({ length: options.workers }, (_, i) => ({ role: 'worker' as const, index: i + 1, hostPart: 101 + i })),
    ];
    const nodes: TopologyNode[] = [];
    for (const spec of specs) {
      const shortRole = spec.role === 'master' ? 'm' : 'w';
      const netns = await createNetns(`lvt-${shortRole}${spec.index}`);
      created.push(netns);
      // The switch-side end is named after the node so `bridge link` output is readable.
      const peer = `${shortRole}${spec.index}`;
      await addVethPair({ name: NODE_IFNAME, netns: netns.name }, { name: peer, netns: switchNetns.name });
      await attachToBridge(peer, BRIDGE, { netns: switchNetns.name });
      await setLinkUp(peer, { netns: switchNetns.name });
      const ipv4 = `${TOPOLOGY_IPV4_PREFIX}${spec.hostPart}`;
      const ipv6 = options.ipv6 ? `${TOPOLOGY_IPV6_PREFIX}${spec.hostPart}` : undefined;
      await addAddress(NODE_IFNAME, `${ipv4}/24`, { netns: netns.name });
      if (ipv6 !== undefined) await addAddress(NODE_IFNAME, `${ipv6}/64`, { netns: netns.name });
      await setLinkUp(NODE_IFNAME, { netns: netns.name });
      nodes.push({ name: `${spec.role}${spec.index}`, role: spec.role, netns, ifname: NODE_IFNAME, ipv4, ipv6 });
    }

    return {
      switchNetns,
      bridge: BRIDGE,
      masters: nodes.filter((node) => node.role === 'master'),
      workers: nodes.filter((node) => node.role === 'worker'),
      nodes,
      ipv4PrefixLength: 24,
      ipv6PrefixLength: 64,
      destroy,
      [Symbol.asyncDispose]: destroy,
    };
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
}
