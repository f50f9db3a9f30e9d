/**
 * The in-memory model of our nftables tables: per address family, the VIPs with their
 * destinations and weights, the VIPs whose traffic is masqueraded, and the destinations whose
 * established connections get reset. Every transaction is rendered from this model as a whole
 * (render-script.ts), and every listing of our table is parsed back into it (parse.ts).
 */
import type { Endpoint, IpFamily } from "../../address.ts";
import type { Scheduler } from "../../config.ts";
import { NFT_TABLE } from "../kernel-masquerade.ts";

/**
 * The table name is shared with the IPVS dataplane's link-mode masquerade on purpose: whichever
 * dataplane runs owns `ip lvscare` / `ip6 lvscare` whole and replaces it in one transaction, so a
 * switch between dataplanes leaves no stale chain behind, and `lvscare care -C` removes both kinds.
 */
export const TABLE = NFT_TABLE;

export type NftFamily = "ip" | "ip6";

export function nftFamily(family: IpFamily): NftFamily {
  return family === 6 ? "ip6" : "ip";
}

export interface NftDestination {
  readonly address: Endpoint;
  /** IPVS semantics: 0 = quiesced (no new connections, established ones kept), up to MAX_WEIGHT. */
  readonly weight: number;
}

export interface NftVirtualServer {
  /** The VIP, TCP. */
  readonly address: Endpoint;
  /** What the IPVS scheduler name means here: schedule.ts. */
  readonly scheduler: Scheduler;
  readonly destinations: readonly NftDestination[];
  /**
   * `numgen inc` schedulers (rr, wrr) only: which live destination, by its index in canonical
   * order, gets slot 0. Every rewrite of the table restarts nft's counter at slot 0, where IPVS's
   * rr keeps its place across changes; with slot 0 always on the first master, the first new
   * connection after every change went there (a client reconnecting after a timeout met a
   * blackholed first master twice). The backend picks it at random on each rewrite. Not part of
   * what a VIP holds: sameFamilyState ignores it. Absent means 0.
   */
  readonly rotation?: number;
}

/**
 * A destination taken out of a VIP (deleted, or its VIP deleted): established connections that
 * were DNATed from `vip` to it get a TCP reset on their next packet, like IPVS with
 * `expire_nodest_conn=1`. Keyed by the VIP's address only: nft cannot concatenate the original
 * destination port (see README).
 */
export interface RemovedDestination {
  readonly vip: string;
  readonly destination: Endpoint;
}

/** Everything our table of one family holds. */
export interface NftFamilyState {
  readonly family: IpFamily;
  readonly virtualServers: readonly NftVirtualServer[];
  /** VIPs whose connections are masqueraded on the way out (link mode: the VIP is a local address). */
  readonly masquerade: readonly Endpoint[];
  readonly removed: readonly RemovedDestination[];
}

/** What the caller wants our tables to hold, both families together. */
export interface NftDesiredState {
  readonly virtualServers: readonly NftVirtualServer[];
  readonly masquerade: readonly Endpoint[];
}

export function emptyFamilyState(family: IpFamily): NftFamilyState {
  return { family, virtualServers: [], masquerade: [], removed: [] };
}

export function isEmptyFamilyState(state: NftFamilyState): boolean {
  return state.virtualServers.length === 0 && state.masquerade.length === 0 && state.removed.length === 0;
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port;
}

/** Destinations in the canonical order (by address), which slots and rotations count in. */
export function inCanonicalOrder(destinations: readonly NftDestination[]): NftDestination[] {
  return [...destinations].sort((a, b) => compareEndpoints(a.address, b.address));
}

/** The destinations that take new connections (weight 0 is quiesced), in the given order. */
export function liveDestinations(destinations: readonly NftDestination[]): NftDestination[] {
  return destinations.filter((d) => d.weight > 0);
}

/**
 * One canonical order everywhere (sorted by address), so that a table rendered from a model and
 * parsed back yields the same model, and the scheduler's slots never depend on insertion order.
 */
export function normalizeFamilyState(state: NftFamilyState): NftFamilyState {
  return {
    family: state.family,
    virtualServers: [...state.virtualServers]
      .map((vs) => ({
        address: vs.address,
        scheduler: vs.scheduler,
        destinations: inCanonicalOrder(vs.destinations),
        ...(vs.rotation === undefined || vs.rotation === 0 ? {} : { rotation: vs.rotation }),
      }))
      .sort((a, b) => compareEndpoints(a.address, b.address)),
    masquerade: [...state.masquerade].sort(compareEndpoints),
    removed: [...state.removed].sort((a, b) => (a.vip < b.vip ? -1 : a.vip > b.vip ? 1 : compareEndpoints(a.destination, b.destination))),
  };
}

function withoutRotations(state: NftFamilyState): NftFamilyState {
  return { ...state, virtualServers: state.virtualServers.map(({ rotation: _rotation, ...vs }) => vs) };
}

/** Same content, in any order, whatever the rotations: a table that needs no rewrite. */
export function sameFamilyState(a: NftFamilyState, b: NftFamilyState): boolean {
  return JSON.stringify(normalizeFamilyState(withoutRotations(a))) === JSON.stringify(normalizeFamilyState(withoutRotations(b)));
}

/** Same content and the same rotations: the same table, rule for rule. */
export function identicalFamilyState(a: NftFamilyState, b: NftFamilyState): boolean {
  return JSON.stringify(normalizeFamilyState(a)) === JSON.stringify(normalizeFamilyState(b));
}
