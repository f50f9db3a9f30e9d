/**
 * Has the nftables ruleset changed since a listing? The kernel's nf_tables generation moves with
 * every committed transaction in the network namespace (ours, nft's, iptables-nft's,
 * kube-proxy's), and a flush or a deleted table is a transaction too. Our tables hold no dynamic
 * sets, timeouts or counters, so nothing in them changes without a commit: an unchanged
 * generation means an unchanged table.
 */
import { NftGenerationClient } from "@lvscare/ipvs-native";

export interface NftChangeCheck {
  /** A number that moves with every committed change of the ruleset; undefined when not known now (then list). */
  generation(): number | undefined;
  close(): void;
}

/**
 * Whether `after` is the generation right after `before`: the kernel bumps it by exactly one per
 * committed transaction (skipping 0 when the u32 wraps), so a transaction of ours that moved it
 * from `before` to `after` was the only commit in between, and the table is exactly what it wrote.
 */
export function isNextGeneration(before: number | undefined, after: number | undefined): boolean {
  if (before === undefined || after === undefined) return false;
  return after === (before >= 0xffff_ffff ? 1 : before + 1);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The generation over nfnetlink, in `netns` when given. When it cannot be read (no
 * CAP_NET_ADMIN, a kernel that refuses NFT_MSG_GETGEN) every read lists the table as before;
 * `warn` is told once, and again only after it has worked in between.
 */
export function openGenerationCheck(netns: string | undefined, warn: (message: string) => void): NftChangeCheck {
  let client: NftGenerationClient | undefined;
  try {
    client = NftGenerationClient.open(netns === undefined ? {} : { netns });
  } catch (err) {
    warn(`nftables change check unavailable (${message(err)}): every pass lists our tables through nft`);
    return { generation: () => undefined, close: () => undefined };
  }
  let failing = false;
  return {
    generation() {
      try {
        const id = client.generation();
        failing = false;
        return id;
      } catch (err) {
        if (!failing) warn(`nftables change check failed (${message(err)}): listing our tables through nft until it works again`);
        failing = true;
        return undefined;
      }
    },
    close: () => client.close(),
  };
}
