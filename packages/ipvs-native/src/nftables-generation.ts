import { malformed } from './errors.ts';
import { AF_UNSPEC, NETLINK_NETFILTER, NFGENMSG_LEN, NFNETLINK_V0, NLMSG_HDRLEN, NFNL_SUBSYS_NFTABLES, NFTA_GEN, NFT_MSG } from './kernel-constants.ts';
import { NetlinkSocket } from './netlink.ts';
import { PayloadWriter, parseAttrs, type MessageHeader, type NetlinkRequest } from './nlmsg.ts';

// The nf_tables ruleset generation (NFT_MSG_GETGEN): a counter the kernel bumps on every committed
// nf_tables transaction in a network namespace, whoever sent it (nft, iptables-nft, kube-proxy).
// Reading it is one netlink round trip in-process, so a caller that keeps a copy of a table can
// tell "nothing in the ruleset changed since I listed it" without running nft. It says nothing
// about what changed: any change means "list again".

const GETGEN_TYPE = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG.GETGEN;
const NEWGEN_TYPE = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG.NEWGEN;

/** NFT_MSG_GETGEN: an nfgenmsg for no particular family, no attributes. */
export function encodeGetGeneration(): NetlinkRequest {
  const nfgenmsg = Buffer.from([AF_UNSPEC, NFNETLINK_V0, 0, 0]);
  return { command: 'NFT_MSG_GETGEN', flags: 0, payload: new PayloadWriter(8).raw(nfgenmsg).finish() };
}

/** The generation id of an NFT_MSG_NEWGEN answer; undefined for any other message. */
export function decodeGeneration(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length' | 'type'>): number | undefined {
  if (header.type !== NEWGEN_TYPE) return undefined;
  const start = header.offset + NLMSG_HDRLEN + NFGENMSG_LEN;
  const end = header.offset + header.length;
  if (start > end) throw malformed('NFT_MSG_NEWGEN', `message of ${header.length} bytes is shorter than its headers`);
  return parseAttrs(buf, start, end, 'NFT_MSG_NEWGEN').be32(NFTA_GEN.ID);
}

export interface NftGenerationClientOptions {
  /** Read the generation of /run/netns/<netns> instead of the current network namespace. */
  netns?: string;
}

/** Reads the nf_tables ruleset generation. Synchronous; errors are IpvsError (EPERM without CAP_NET_ADMIN). */
export class NftGenerationClient {
  private readonly socket: NetlinkSocket;

  private constructor(socket: NetlinkSocket) {
    this.socket = socket;
  }

  static open(options: NftGenerationClientOptions = {}): NftGenerationClient {
    return new NftGenerationClient(NetlinkSocket.open(NETLINK_NETFILTER, options.netns === undefined ? {} : { netns: options.netns }));
  }

  /** The current generation id (a u32 that wraps; compare for equality only). */
  generation(): number {
    let id: number | undefined;
    this.socket.request(GETGEN_TYPE, encodeGetGeneration(), {
      onMessage: (m) => {
        id ??= decodeGeneration(m.buf, m);
      },
    });
    if (id === undefined) throw malformed('NFT_MSG_GETGEN', 'the kernel answered without a generation');
    return id;
  }

  close(): void {
    this.socket.close();
  }
}
