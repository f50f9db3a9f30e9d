/** What kernel IPVS supports, as the IPVS backend and its fake (which imitates it) declare it. */
import { MAX_WEIGHT } from "@lvscare/ipvs-native";
import type { DataplaneCapabilities } from "./types.ts";

/**
 * The schedulers a stock kernel builds (ipvs-netlink.md 4.5). Whether a module is loadable is only
 * known when the kernel is asked: a missing one is refused with ENOENT then.
 */
const IPVS_SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos", "none"];

/** ipvsadm's bound on a persistence timeout (31 days), which @lvscare/ipvs-native enforces too. */
const MAX_PERSISTENCE_TIMEOUT_S = 31 * 86_400;

export const IPVS_CAPABILITIES: DataplaneCapabilities = {
  schedulers: IPVS_SCHEDULERS,
  maxPersistenceTimeout: MAX_PERSISTENCE_TIMEOUT_S,
  maxWeight: MAX_WEIGHT,
  // bypass is how the kernel reports some foreign destinations; nobody can program it.
  forwardMethods: ["masq", "local", "tunnel", "route"],
  atomicApply: false,
};
