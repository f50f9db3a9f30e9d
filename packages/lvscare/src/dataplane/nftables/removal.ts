/**
 * Which destinations get their established connections reset (pure). A destination deleted from
 * a VIP, or whose VIP was deleted, joins the removed set; one that is (again) a destination of
 * a VIP on the same address, at any weight, leaves it: quiesced destinations keep their
 * connections, exactly like IPVS with expire_nodest_conn=1 and weight 0.
 */
import { formatEndpoint, sameEndpoint } from "../../address.ts";
import type { NftFamilyState, NftVirtualServer, RemovedDestination } from "./model.ts";

function key(removed: RemovedDestination): string {
  return `${removed.vip} ${formatEndpoint(removed.destination)}`;
}

/**
 * The next state of a family: `next` plus the removed set carried over from `previous` (the
 * table as it was; undefined when unknown, e.g. it was damaged) and extended by what `next` drops.
 */
export function withRemovals(previous: NftFamilyState | undefined, next: Omit<NftFamilyState, "removed">): NftFamilyState {
  const removed = new Map<string, RemovedDestination>();
  for (const r of previous?.removed ?? []) removed.set(key(r), r);
  for (const vs of previous?.virtualServers ?? []) {
    const kept: NftVirtualServer | undefined = next.virtualServers.find((n) => sameEndpoint(n.address, vs.address));
    for (const d of vs.destinations) {
      if (kept?.destinations.some((k) => sameEndpoint(k.address, d.address)) === true) continue;
      const r = { vip: vs.address.ip, destination: d.address };
      removed.set(key(r), r);
    }
  }
  for (const vs of next.virtualServers) {
    for (const d of vs.destinations) removed.delete(key({ vip: vs.address.ip, destination: d.address }));
  }
  return { ...next, removed: [...removed.values()] };
}
