/**
 * What an IPVS scheduler name means for nftables. nftables picks a destination per new connection
 * with a stateless expression mapped onto "slots" (`<expr> mod N map { 0-2 : A, 3 : B }`); it
 * has no per-destination connection counts. So:
 *
 * | scheduler | selector                 | weights                          | same as IPVS?                         |
 * |-----------|--------------------------|----------------------------------|---------------------------------------|
 * | rr        | `numgen inc` (a counter) | ignored (every live one 1 slot)  | yes: strict rotation                  |
 * | wrr       | `numgen inc`             | slots = weight / gcd             | same proportions; runs of a destination instead of IPVS's interleaving |
 * | lc        | `numgen random`          | ignored                          | no counts: uniform random instead     |
 * | wlc       | `numgen random`          | slots = weight / gcd             | no counts: weighted random instead    |
 * | sh        | `jhash ip saddr`         | slots = weight / gcd             | yes in effect: one source, one destination |
 * | dh        | `jhash ip daddr`         | ignored                          | yes in effect: one VIP, one destination |
 *
 * In every case weight 0 means quiesced: no slot, so no new connection, and established ones stay.
 * A rewrite restarts `numgen inc` at slot 0; the rotation (model.ts) says which destination that is.
 * The hash seed is fixed so that a rewrite of the table does not move sources around.
 */
import type { Scheduler } from "../../config.ts";
import type { Endpoint } from "../../address.ts";
import { liveDestinations, type NftDestination } from "./model.ts";

export type Selector =
  | { readonly kind: "numgen"; readonly mode: "inc" | "random" }
  | { readonly kind: "jhash"; readonly field: "saddr" | "daddr" };

export const JHASH_SEED = 0x6c7663;

interface SchedulerMeaning {
  readonly selector: Selector;
  readonly weighted: boolean;
}

export const SCHEDULER_MEANING: Readonly<Record<Scheduler, SchedulerMeaning>> = {
  rr: { selector: { kind: "numgen", mode: "inc" }, weighted: false },
  wrr: { selector: { kind: "numgen", mode: "inc" }, weighted: true },
  lc: { selector: { kind: "numgen", mode: "random" }, weighted: false },
  wlc: { selector: { kind: "numgen", mode: "random" }, weighted: true },
  sh: { selector: { kind: "jhash", field: "saddr" }, weighted: true },
  dh: { selector: { kind: "jhash", field: "daddr" }, weighted: false },
};

/** Destination `destination` gets the selector values `from`..`to` (inclusive). */
export interface Slot {
  readonly from: number;
  readonly to: number;
  readonly destination: Endpoint;
}

export interface Slots {
  /** The modulus: total number of slots, at least 1. */
  readonly modulus: number;
  readonly slots: readonly Slot[];
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Whether the scheduler's selector is a counter, which a rotation applies to. */
export function isRotating(scheduler: Scheduler): boolean {
  const selector = SCHEDULER_MEANING[scheduler].selector;
  return selector.kind === "numgen" && selector.mode === "inc";
}

/**
 * The slot layout for the live (weight > 0) destinations, in the given order starting at the
 * live one with index `rotation` (and wrapping), or undefined when none is live (the VIP then
 * refuses new connections instead: `numgen mod 0` does not exist).
 */
export function slotsFor(scheduler: Scheduler, destinations: readonly NftDestination[], rotation = 0): Slots | undefined {
  const inOrder = liveDestinations(destinations);
  if (inOrder.length === 0) return undefined;
  const live = [...inOrder.slice(rotation), ...inOrder.slice(0, rotation)];
  const weighted = SCHEDULER_MEANING[scheduler].weighted;
  const divisor = weighted ? live.reduce((g, d) => gcd(g, d.weight), 0) : 1;
  const slots: Slot[] = [];
  let next = 0;
  for (const d of live) {
    const size = weighted ? d.weight / divisor : 1;
    slots.push({ from: next, to: next + size - 1, destination: d.address });
    next += size;
  }
  return { modulus: next, slots };
}
