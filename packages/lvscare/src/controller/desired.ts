import type { Endpoint } from "../address.ts";
import type { AllDownPolicy } from "../config.ts";
import type { DesiredDestination } from "../desired-state.ts";
import type { Health } from "./health.ts";

export interface MasterHealth {
  readonly address: Endpoint;
  readonly health: Health;
}

export interface DesiredDestinations {
  readonly destinations: DesiredDestination[];
  /** Every master is down; with policy keep they all stay in at weight 1 (fail open). */
  readonly allDown: boolean;
}

/**
 * Which masters should be in the table: up ones at weight 1, down ones out, unknown ones as the
 * kernel has them (adopted after a restart, added once healthy). When every master is down,
 * `keep` puts them all back at weight 1: a client that reaches a struggling apiserver is better
 * off than one that gets "connection refused" from an empty virtual server.
 */
export function desiredDestinations(masters: readonly MasterHealth[], policy: AllDownPolicy): DesiredDestinations {
  const allDown = masters.length > 0 && masters.every((m) => m.health === "down");
  if (allDown) {
    return {
      allDown,
      destinations: policy === "keep" ? masters.map((m) => ({ address: m.address, weight: 1 })) : [],
    };
  }
  const destinations: DesiredDestination[] = [];
  for (const master of masters) {
    if (master.health === "up") destinations.push({ address: master.address, weight: 1 });
    else if (master.health === "unknown") destinations.push({ address: master.address, weight: "adopt" });
  }
  return { allDown, destinations };
}
