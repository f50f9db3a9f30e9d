/**
 * What the table should hold: the controller's verdict, the input of plan(). It sits below both
 * (imports only the config's and the dataplane's types), so neither has to import the other.
 */
import type { Endpoint } from "./address.ts";
import type { CareConfig } from "./config.ts";
import type { VirtualServerSpec } from "./dataplane/types.ts";

/** A number, or "adopt": keep whatever weight the table has (health not known yet), add nothing. */
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

/** Upstream's virtual server: TCP, the chosen scheduler, no persistence. */
export function virtualServerSpec(config: CareConfig): VirtualServerSpec {
  return { address: config.virtualServer, scheduler: config.scheduler, persistenceTimeout: 0 };
}

export function desiredState(config: CareConfig, destinations: readonly DesiredDestination[]): DesiredState {
  return { virtualServer: virtualServerSpec(config), destinations, configured: config.realServers };
}
