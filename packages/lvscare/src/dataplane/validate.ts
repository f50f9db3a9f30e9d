/**
 * The checks every backend runs on a whole op list before its first change, so that bad input is
 * refused with the same errno everywhere and changes nothing, even on a backend that applies ops
 * one by one. What only the kernel can know (is the scheduler's module there? does the virtual
 * server exist?) is left to the backend.
 */
import { isUnspecifiedIp } from "../address.ts";
import { DataplaneError } from "./error.ts";
import { OPERATION_NAMES } from "./ops.ts";
import type { DataplaneCapabilities, DataplaneOp } from "./types.ts";

/** The first op a backend with `capabilities` must refuse, with the refusal; undefined when all pass. */
export function findInvalidOp(
  ops: readonly DataplaneOp[],
  capabilities: DataplaneCapabilities,
): { readonly index: number; readonly error: DataplaneError } | undefined {
  for (const [index, op] of ops.entries()) {
    const refusal = checkOp(op, capabilities);
    if (refusal !== undefined) return { index, error: new DataplaneError(OPERATION_NAMES[op.kind], refusal.code, refusal.detail) };
  }
  return undefined;
}

function checkOp(op: DataplaneOp, capabilities: DataplaneCapabilities): { code: string; detail: string } | undefined {
  switch (op.kind) {
    case "add-virtual-server":
    case "update-virtual-server": {
      const { scheduler, persistenceTimeout } = op.spec;
      if (!capabilities.schedulers.includes(scheduler)) {
        return { code: "ENOENT", detail: `Scheduler or persistence engine not found: "${scheduler}"` };
      }
      if (!Number.isInteger(persistenceTimeout) || persistenceTimeout < 0) {
        return { code: "EINVAL", detail: `persistence timeout ${persistenceTimeout} is not a whole number of seconds` };
      }
      if (persistenceTimeout > 0 && capabilities.maxPersistenceTimeout === 0) {
        return { code: "EOPNOTSUPP", detail: "this dataplane has no persistence" };
      }
      if (persistenceTimeout > capabilities.maxPersistenceTimeout) {
        return { code: "EINVAL", detail: `persistence timeout ${persistenceTimeout} s is above ${capabilities.maxPersistenceTimeout} s` };
      }
      return undefined;
    }
    case "add-destination":
    case "update-destination": {
      const { address, weight, forward } = op.destination;
      if (!Number.isInteger(weight) || weight < 0 || weight > capabilities.maxWeight) {
        return { code: "ERANGE", detail: `weight ${weight} is out of range 0..${capabilities.maxWeight}` };
      }
      if (!capabilities.forwardMethods.includes(forward)) {
        return { code: "EOPNOTSUPP", detail: `forwarding method ${forward} is not supported here` };
      }
      if (address.family !== op.virtualServer.family && forward !== "tunnel") {
        return { code: "EINVAL", detail: "address family differs from the virtual server's" };
      }
      if (isUnspecifiedIp(address.ip)) return { code: "EINVAL", detail: "destination address is not unicast" };
      return undefined;
    }
    case "delete-virtual-server":
    case "delete-destination":
      return undefined;
  }
}
