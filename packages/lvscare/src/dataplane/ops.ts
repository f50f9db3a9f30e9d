/** Words for dataplane ops: log lines, error messages, metric labels. */
import { formatEndpoint } from "../address.ts";
import type { DataplaneOp, DataplaneOpKind } from "./types.ts";

/**
 * The name each op kind goes by in the `operation` label of the dataplane metric and in the
 * fake's operation log (the names of the IPVS calls they are).
 */
export const OPERATION_NAMES = {
  "add-virtual-server": "addVirtualServer",
  "update-virtual-server": "updateVirtualServer",
  "delete-virtual-server": "deleteVirtualServer",
  "add-destination": "addDestination",
  "update-destination": "updateDestination",
  "delete-destination": "deleteDestination",
} as const satisfies Record<DataplaneOpKind, string>;

/** "add 10.0.0.1:6443 weight 1", "delete virtual server 10.103.97.2:6443", ... */
export function describeOp(op: DataplaneOp): string {
  switch (op.kind) {
    case "add-virtual-server":
      return `add virtual server ${formatEndpoint(op.spec.address)} ${op.spec.scheduler}`;
    case "update-virtual-server":
      return `update virtual server ${formatEndpoint(op.spec.address)}`;
    case "delete-virtual-server":
      return `delete virtual server ${formatEndpoint(op.address)}`;
    case "add-destination":
      return `add ${formatEndpoint(op.destination.address)} weight ${op.destination.weight}`;
    case "update-destination":
      return `set ${formatEndpoint(op.destination.address)} weight ${op.destination.weight}`;
    case "delete-destination":
      return `delete ${formatEndpoint(op.address)}`;
  }
}
