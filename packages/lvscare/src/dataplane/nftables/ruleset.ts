/**
 * The layout of our table, and the step from the model to what each chain and set holds (pure).
 * Both renderers work from this one description: render-script.ts writes the nft transaction,
 * render-listing.ts what `nft -j list table` must show for it, which is how parse.ts tells our
 * intact table from a damaged one.
 *
 * Chains and why their priorities (kube-proxy's nftables mode uses -110 filter, -100 nat, -90
 * post-DNAT filter and 100 srcnat; iptables-nft's nat OUTPUT is -100 and filter OUTPUT 0):
 * - `filter-output` (filter, output, -110): refuses new connections to a VIP without a live
 *   destination. A filter chain before the NAT core: a reject inside a nat chain makes clients
 *   hang instead of failing (measured), and here the destination is still the VIP.
 * - `nat-output` (nat, output, -101): the DNAT of locally generated connections to a VIP. nat
 *   chains all run inside the NAT core's hook at -100; among them the lowest priority goes first
 *   and the first binding wins, so -101 puts our DNAT before kube-proxy's and iptables-nft's: a
 *   Service that happened to be given the VIP's address and port cannot take apiserver traffic.
 * - `filter-output-post-dnat` (filter, output, -95): after the NAT core, so a packet's destination
 *   is already the master; resets established connections to removed destinations. Before
 *   kube-proxy's post-DNAT check (-90) and any iptables-nft filter OUTPUT (0), no ties.
 * - `nat-postrouting` (nat, postrouting, 100 = srcnat): masquerade where the source would not be
 *   routable (link mode: the VIP is a local address and would become the source).
 */
import { type Endpoint, formatEndpoint, type IpFamily } from "../../address.ts";
import type { Scheduler } from "../../config.ts";
import { type NftFamilyState, normalizeFamilyState, type RemovedDestination } from "./model.ts";
import { SCHEDULER_MEANING, type Selector, type Slots, slotsFor } from "./schedule.ts";

export interface ChainSpec {
  readonly name: string;
  readonly type: "nat" | "filter";
  readonly hook: "output" | "postrouting";
  readonly priority: number;
}

export const NAT_OUTPUT: ChainSpec = { name: "nat-output", type: "nat", hook: "output", priority: -101 };
export const FILTER_OUTPUT: ChainSpec = { name: "filter-output", type: "filter", hook: "output", priority: -110 };
export const FILTER_OUTPUT_POST_DNAT: ChainSpec = { name: "filter-output-post-dnat", type: "filter", hook: "output", priority: -95 };
export const NAT_POSTROUTING: ChainSpec = { name: "nat-postrouting", type: "nat", hook: "postrouting", priority: 100 };
/** Declaration order, which is also the order nft lists them in. */
export const CHAINS: readonly ChainSpec[] = [NAT_OUTPUT, FILTER_OUTPUT, FILTER_OUTPUT_POST_DNAT, NAT_POSTROUTING];

/** VIP . VIP port . destination . destination port : weight. The model's store of weights (0 included); no rule reads it. */
export const WEIGHTS_MAP = "weights";
/** VIP . destination . destination port of removed destinations; the reset rule looks connections up in it. */
export const REMOVED_SET = "removed";

export const TABLE_COMMENT = "managed by lvscare (nftables dataplane): rewritten whole on every change, do not edit";

export interface WeightElement {
  readonly vip: Endpoint;
  readonly destination: Endpoint;
  readonly weight: number;
}

export interface DnatRule {
  readonly vip: Endpoint;
  readonly scheduler: Scheduler;
  readonly selector: Selector;
  readonly slots: Slots;
}

export interface RefuseRule {
  readonly vip: Endpoint;
  readonly scheduler: Scheduler;
}

/** One rule of ours, by what it does; renderers turn it into nft text or nft's JSON. */
export type Rule =
  | ({ readonly kind: "dnat" } & DnatRule)
  | ({ readonly kind: "refuse" } & RefuseRule)
  | { readonly kind: "reset-removed" }
  | { readonly kind: "masquerade"; readonly vip: Endpoint };

export interface Ruleset {
  readonly family: IpFamily;
  readonly weights: readonly WeightElement[];
  readonly removed: readonly RemovedDestination[];
  /** nat-output: one rule per VIP with a live destination. */
  readonly dnat: readonly DnatRule[];
  /** filter-output: one rule per VIP without one. */
  readonly refuse: readonly RefuseRule[];
  /** nat-postrouting: one rule per masqueraded VIP. */
  readonly masquerade: readonly Endpoint[];
}

/** Rule comments carry what the rules alone cannot: which VIP a rule is for and its scheduler name. */
export function virtualServerComment(vip: Endpoint, scheduler: Scheduler): string {
  return `lvscare vip=${formatEndpoint(vip)} scheduler=${scheduler}`;
}

export function masqueradeComment(vip: Endpoint): string {
  return `lvscare masquerade=${formatEndpoint(vip)}`;
}

/** The rules of each chain, in the order they go into it. */
export function rulesByChain(ruleset: Ruleset): Array<{ readonly chain: ChainSpec; readonly rules: readonly Rule[] }> {
  return [
    { chain: NAT_OUTPUT, rules: ruleset.dnat.map((rule): Rule => ({ kind: "dnat", ...rule })) },
    { chain: FILTER_OUTPUT, rules: ruleset.refuse.map((rule): Rule => ({ kind: "refuse", ...rule })) },
    { chain: FILTER_OUTPUT_POST_DNAT, rules: [{ kind: "reset-removed" }] },
    { chain: NAT_POSTROUTING, rules: ruleset.masquerade.map((vip): Rule => ({ kind: "masquerade", vip })) },
  ];
}

/** The comment a rule carries, if any. */
export function ruleComment(rule: Rule): string | undefined {
  switch (rule.kind) {
    case "dnat":
    case "refuse":
      return virtualServerComment(rule.vip, rule.scheduler);
    case "masquerade":
      return masqueradeComment(rule.vip);
    case "reset-removed":
      return undefined;
  }
}

/** The state must be valid (validate.ts). */
export function rulesetOf(input: NftFamilyState): Ruleset {
  const state = normalizeFamilyState(input);
  const dnat: DnatRule[] = [];
  const refuse: RefuseRule[] = [];
  for (const vs of state.virtualServers) {
    const slots = slotsFor(vs.scheduler, vs.destinations, vs.rotation);
    if (slots === undefined) refuse.push({ vip: vs.address, scheduler: vs.scheduler });
    else dnat.push({ vip: vs.address, scheduler: vs.scheduler, selector: SCHEDULER_MEANING[vs.scheduler].selector, slots });
  }
  return {
    family: state.family,
    weights: state.virtualServers.flatMap((vs) => vs.destinations.map((d) => ({ vip: vs.address, destination: d.address, weight: d.weight }))),
    removed: state.removed,
    dnat,
    refuse,
    masquerade: state.masquerade,
  };
}
