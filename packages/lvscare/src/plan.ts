/**
 * plan(desired, observed): the ops that turn the table we read into the one we want (pure).
 * Everything at our virtual server that we did not ask for is removed, and everything we asked for
 * that someone deleted comes back.
 */
import { sameEndpoint } from "./address.ts";
import type { DataplaneOp, DestinationState, ObservedVirtualServer, VirtualServerSpec } from "./dataplane/types.ts";
import type { DesiredState } from "./desired-state.ts";

export function plan(desired: DesiredState, observed: ObservedVirtualServer | undefined): DataplaneOp[] {
  const vs = desired.virtualServer;
  const at = vs.address;
  const adds: DataplaneOp[] = [];
  const updates: DataplaneOp[] = [];
  const removals: DataplaneOp[] = [];
  const current = observed?.destinations ?? [];

  if (observed === undefined) {
    adds.push({ kind: "add-virtual-server", spec: vs, reason: "virtual server missing" });
  } else {
    const difference = describeServiceDifference(vs, observed);
    if (difference !== undefined) updates.push({ kind: "update-virtual-server", spec: vs, reason: difference });
  }

  for (const want of desired.destinations) {
    const have = current.find((d) => sameEndpoint(d.address, want.address));
    if (!have) {
      if (want.weight !== "adopt") {
        adds.push({
          kind: "add-destination",
          virtualServer: at,
          destination: { address: want.address, weight: want.weight, forward: "masq" },
          reason: observed === undefined ? "virtual server recreated" : "missing from the table",
        });
      }
      continue;
    }
    const weight = want.weight === "adopt" ? have.weight : want.weight;
    if (have.weight !== weight || have.forward !== "masq") {
      const what = have.forward !== "masq" ? `forwarding ${have.forward} -> masq` : `weight ${have.weight} -> ${weight}`;
      updates.push({ kind: "update-destination", virtualServer: at, destination: { address: want.address, weight, forward: "masq" }, reason: what });
    }
  }

  for (const have of current) {
    if (desired.destinations.some((d) => sameEndpoint(d.address, have.address))) continue;
    const reason = desired.configured.some((c) => sameEndpoint(c, have.address)) ? "out of rotation" : "not in --rs";
    // Upstream's graceful order: quiesce (no new connections), then delete (tears down the rest
    // when expire_nodest_conn=1).
    if (have.weight !== 0) {
      removals.push({ kind: "update-destination", virtualServer: at, destination: { ...toSpec(have), weight: 0 }, reason: `quiesce before removal (${reason})` });
    }
    removals.push({ kind: "delete-destination", virtualServer: at, address: have.address, reason });
  }
  // Adds first so a failover never passes through an empty table; removals last.
  return [...adds, ...updates, ...removals];
}

function describeServiceDifference(want: VirtualServerSpec, have: ObservedVirtualServer): string | undefined {
  const changes: string[] = [];
  if (have.scheduler !== want.scheduler) changes.push(`scheduler ${have.scheduler} -> ${want.scheduler}`);
  if (have.persistenceTimeout !== want.persistenceTimeout) {
    changes.push(`persistence ${describePersistence(have.persistenceTimeout)} -> ${describePersistence(want.persistenceTimeout)}`);
  }
  for (const setting of have.extraSettings) changes.push(`${setting} -> off`);
  return changes.length === 0 ? undefined : changes.join(", ");
}

function describePersistence(seconds: number): string {
  return seconds === 0 ? "none" : `${seconds}s`;
}

function toSpec(state: DestinationState) {
  return { address: state.address, weight: state.weight, forward: state.forward };
}
