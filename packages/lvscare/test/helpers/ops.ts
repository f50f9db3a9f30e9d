/** Short builders for dataplane ops in tests (setting up a table, or someone else changing it). */
import type { Endpoint } from "../../src/address.ts";
import type { Dataplane, DataplaneOp, DestinationSpec, ForwardMethod, VirtualServerSpec } from "../../src/dataplane/types.ts";

export const addVirtualServer = (spec: VirtualServerSpec): DataplaneOp => ({ kind: "add-virtual-server", spec });
export const updateVirtualServer = (spec: VirtualServerSpec): DataplaneOp => ({ kind: "update-virtual-server", spec });
export const deleteVirtualServer = (address: Endpoint): DataplaneOp => ({ kind: "delete-virtual-server", address });

export const destination = (address: Endpoint, weight: number, forward: ForwardMethod = "masq"): DestinationSpec => ({ address, weight, forward });
export const addDestination = (virtualServer: Endpoint, spec: DestinationSpec): DataplaneOp => ({ kind: "add-destination", virtualServer, destination: spec });
export const updateDestination = (virtualServer: Endpoint, spec: DestinationSpec): DataplaneOp => ({ kind: "update-destination", virtualServer, destination: spec });
export const deleteDestination = (virtualServer: Endpoint, address: Endpoint): DataplaneOp => ({ kind: "delete-destination", virtualServer, address });

/** A virtual server with masq destinations at the given weights, in one apply. */
export async function seed(dataplane: Dataplane, spec: VirtualServerSpec, weights: ReadonlyArray<readonly [Endpoint, number]> = []): Promise<void> {
  await dataplane.apply([addVirtualServer(spec), ...weights.map(([address, weight]) => addDestination(spec.address, destination(address, weight)))]);
}
