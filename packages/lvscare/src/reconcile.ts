/**
 * Reconcile: compare what the kernel has with what we want and list the operations that close the
 * gap (`plan`, pure), then carry them out (`applyPlan`). Everything at our virtual server that we
 * did not ask for is removed, and everything we asked for that someone deleted comes back.
 */
import { type Endpoint, formatEndpoint, sameEndpoint } from "./address.ts";
import { isDataplaneError } from "./dataplane/error.ts";
import type { Dataplane, DestinationSpec, DestinationState, VirtualServerSpec } from "./dataplane/types.ts";

/** A number, or "adopt": keep whatever weight the kernel has (health not known yet), add nothing. */
export type DesiredWeight = number | "adopt";

export interface DesiredDestination {
  readonly address: Endpoint;
  readonly weight: DesiredWeight;
}

export interface DesiredState {
  readonly virtualServer: VirtualServerSpec;
  readonly destinations: readonly DesiredDestination[];
  /** Every configured real server (--rs), to tell "not ours" from "out of rotation" in reasons. */
  readonly configured: readonly Endpoint[];
}

export interface ObservedState {
  readonly virtualServer: VirtualServerSpec | undefined;
  readonly destinations: readonly DestinationState[];
}

export type Op =
  | { readonly kind: "add-virtual-server"; readonly spec: VirtualServerSpec; readonly reason: string }
  | { readonly kind: "update-virtual-server"; readonly spec: VirtualServerSpec; readonly reason: string }
  | { readonly kind: "add-destination"; readonly destination: DestinationSpec; readonly reason: string }
  | { readonly kind: "update-destination"; readonly destination: DestinationSpec; readonly reason: string }
  | { readonly kind: "delete-destination"; readonly address: Endpoint; readonly reason: string };

/** The kernel-internal "hashed" flag shows up in every dump; it is not part of a service's config. */
const IP_VS_SVC_F_HASHED = 0x2;

export function plan(desired: DesiredState, observed: ObservedState): Op[] {
  const vs = desired.virtualServer;
  const adds: Op[] = [];
  const updates: Op[] = [];
  const removals: Op[] = [];
  // GET_DEST on a missing service lists nothing; never trust leftovers when the service is gone.
  const current = observed.virtualServer === undefined ? [] : observed.destinations;

  if (observed.virtualServer === undefined) {
    adds.push({ kind: "add-virtual-server", spec: vs, reason: "virtual server missing" });
  } else {
    const difference = describeServiceDifference(vs, observed.virtualServer);
    if (difference !== undefined) updates.push({ kind: "update-virtual-server", spec: vs, reason: difference });
  }

  for (const want of desired.destinations) {
    const have = current.find((d) => sameEndpoint(d.address, want.address));
    if (!have) {
      if (want.weight !== "adopt") {
        adds.push({
          kind: "add-destination",
          destination: { address: want.address, weight: want.weight, forward: "masq" },
          reason: observed.virtualServer === undefined ? "virtual server recreated" : "missing from the table",
        });
      }
      continue;
    }
    const weight = want.weight === "adopt" ? have.weight : want.weight;
    if (have.weight !== weight || have.forward !== "masq") {
      const what = have.forward !== "masq" ? `forwarding ${have.forward} -> masq` : `weight ${have.weight} -> ${weight}`;
      updates.push({ kind: "update-destination", destination: { address: want.address, weight, forward: "masq" }, reason: what });
    }
  }

  for (const have of current) {
    if (desired.destinations.some((d) => sameEndpoint(d.address, have.address))) continue;
    const reason = desired.configured.some((c) => sameEndpoint(c, have.address)) ? "out of rotation" : "not in --rs";
    // Upstream's graceful order: quiesce (no new connections), then delete (tears down the rest
    // when expire_nodest_conn=1).
    if (have.weight !== 0) {
      removals.push({ kind: "update-destination", destination: { ...toSpec(have), weight: 0 }, reason: `quiesce before removal (${reason})` });
    }
    removals.push({ kind: "delete-destination", address: have.address, reason });
  }
  // Adds first so a failover never passes through an empty table; removals last.
  return [...adds, ...updates, ...removals];
}

function describeServiceDifference(want: VirtualServerSpec, have: VirtualServerSpec): string | undefined {
  const changes: string[] = [];
  if (have.scheduler !== want.scheduler) changes.push(`scheduler ${have.scheduler} -> ${want.scheduler}`);
  const haveFlags = have.flags & ~IP_VS_SVC_F_HASHED;
  if (haveFlags !== want.flags) changes.push(`flags 0x${haveFlags.toString(16)} -> 0x${want.flags.toString(16)}`);
  if (have.timeout !== want.timeout) changes.push(`timeout ${have.timeout} -> ${want.timeout}`);
  return changes.length === 0 ? undefined : changes.join(", ");
}

function toSpec(state: DestinationState): DestinationSpec {
  return { address: state.address, weight: state.weight, forward: state.forward };
}

export function describeOp(op: Op): string {
  switch (op.kind) {
    case "add-virtual-server":
      return `add virtual server ${formatEndpoint(op.spec.address)} ${op.spec.scheduler}`;
    case "update-virtual-server":
      return `update virtual server ${formatEndpoint(op.spec.address)}`;
    case "add-destination":
      return `add ${formatEndpoint(op.destination.address)} weight ${op.destination.weight}`;
    case "update-destination":
      return `set ${formatEndpoint(op.destination.address)} weight ${op.destination.weight}`;
    case "delete-destination":
      return `delete ${formatEndpoint(op.address)}`;
  }
}

export async function readObserved(dataplane: Dataplane, virtualServer: Endpoint): Promise<ObservedState> {
  const spec = await dataplane.getVirtualServer(virtualServer);
  const destinations = spec === undefined ? [] : await dataplane.listDestinations(virtualServer);
  return { virtualServer: spec, destinations };
}

/**
 * Applies ops in order and stops at the first real failure (later ops usually depend on it; the
 * next reconcile re-reads the kernel and plans again). Races with another writer are settled
 * here: a destination that appeared meanwhile is updated, one that vanished is not an error.
 * `onApplied` sees every op that took effect.
 */
export async function applyPlan(
  dataplane: Dataplane,
  virtualServer: Endpoint,
  ops: readonly Op[],
  onApplied: (op: Op) => void,
): Promise<void> {
  for (const op of ops) {
    switch (op.kind) {
      case "add-virtual-server":
        await dataplane.addVirtualServer(op.spec);
        break;
      case "update-virtual-server":
        await dataplane.updateVirtualServer(op.spec);
        break;
      case "add-destination":
        try {
          await dataplane.addDestination(virtualServer, op.destination);
        } catch (err) {
          if (!isDataplaneError(err, "EEXIST")) throw err;
          await dataplane.updateDestination(virtualServer, op.destination);
        }
        break;
      case "update-destination":
        try {
          await dataplane.updateDestination(virtualServer, op.destination);
        } catch (err) {
          // Quiescing a destination someone already deleted: nothing left to quiesce.
          if (!(isDataplaneError(err, "ENOENT") && op.destination.weight === 0)) throw err;
        }
        break;
      case "delete-destination":
        try {
          await dataplane.deleteDestination(virtualServer, op.address);
        } catch (err) {
          if (!isDataplaneError(err, "ENOENT")) throw err;
        }
        break;
    }
    onApplied(op);
  }
}
