/**
 * apply() for a backend that changes its table one op at a time (IPVS: one netlink request per
 * op): check the whole list first, then apply in order and stop at the first refusal, saying
 * which op was refused and which took effect (the contract in types.ts).
 */
import { DataplaneApplyError, DataplaneError, isDataplaneError } from "./error.ts";
import { OPERATION_NAMES } from "./ops.ts";
import type { DataplaneCapabilities, DataplaneOp } from "./types.ts";
import { findInvalidOp } from "./validate.ts";

export async function applyInOrder(
  ops: readonly DataplaneOp[],
  capabilities: DataplaneCapabilities,
  applyOne: (op: DataplaneOp) => Promise<void> | void,
): Promise<void> {
  const invalid = findInvalidOp(ops, capabilities);
  if (invalid !== undefined) throw new DataplaneApplyError(ops, invalid.index, 0, invalid.error);
  for (const [index, op] of ops.entries()) {
    try {
      await applyOne(op);
    } catch (err) {
      throw new DataplaneApplyError(ops, index, index, withCode(op, err));
    }
  }
}

/** A refusal as an error with an errno name; anything without one counts as EIO. */
export function withCode(op: DataplaneOp, err: unknown): Error & { code: string } {
  if (isDataplaneError(err)) return err;
  return new DataplaneError(OPERATION_NAMES[op.kind], "EIO", err instanceof Error ? err.message : String(err));
}
